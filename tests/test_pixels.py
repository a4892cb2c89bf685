"""Networks over integer features (pixels): every layer rule, region, engine and search against brute force.

Random small networks with a ``quantize`` or ``integer-threshold`` first layer
(tests/strategies.py: thresholds on, beside and outside the feature ranges,
weights of every sign and 0, ranges not starting at 0) over random boxes,
masked L∞ balls and L0 balls; the truth is :mod:`bnnverify.semantics` on
every image of the region.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs, IntegerThresholdLayer, QuantizeLayer, ThresholdLayer
from bnnverify.encoders.order import lower
from bnnverify.encoders.pixel_regions import IntBox, L0Ball, l0_ball, linf_box
from bnnverify.engines import run
from bnnverify.engines.base import Outcome
from bnnverify.errors import ModelError, ModelFileError, RegionError
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.files.modelio import model_from_arrays, model_to_arrays
from bnnverify.questions.perturbation import linf_candidates, min_perturbation
from bnnverify.questions.robustness import check_robustness
from strategies import integer_networks, lowered_cases, pixel_regions

ENGINES = ("enum", "bdd", "sat")
#: Examples per property: the profile's (30 by default; ``HYPOTHESIS_PROFILE=thorough`` gives 600).
EXAMPLES = settings.default.max_examples
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def images(region) -> np.ndarray:
    return np.concatenate(list(region.members(batch_size=97)))


@SETTINGS
@given(data=st.data())
def test_every_implementation_of_the_integer_rules_agrees_with_the_semantics(data):
    net = data.draw(integer_networks())
    box = IntBox(net.inputs.lo, net.inputs.hi)
    P = images(box)
    truth = [semantics.forward(net, p) for p in P]
    tr = Evaluator(net).trace(P)
    assert tr.classes.tolist() == [t.label for t in truth]
    assert net.predict(P).tolist() == [t.label for t in truth]
    from bnnverify.evaluation.evaluator import unpack_bits

    for layer, codes in enumerate(tr.codes):
        got = unpack_bits(codes, net.hidden[layer].n_outputs)
        assert [tuple(r) for r in got.tolist()] == [t.codes[layer] for t in truth]


@SETTINGS
@given(data=st.data())
def test_region_sizes_members_and_membership_are_exact(data):
    net = data.draw(integer_networks())
    region = data.draw(pixel_regions(net))
    P = images(region)
    assert len(P) == region.size == len({tuple(r) for r in P.tolist()})
    assert region.contains(P).all()
    box = IntBox(net.inputs.lo, net.inputs.hi)
    everything = images(box)
    inside = {tuple(r) for r in everything[region.contains(everything)].tolist()}
    assert inside == {tuple(r) for r in P.tolist()}


@SETTINGS
@given(case=lowered_cases())
def test_the_order_encoding_keeps_every_code_and_class(case):
    nets, region, low = case
    P = images(region)
    B = low.encode(P)
    assert low.region.contains(B).all()
    for net, lnet in zip(nets, low.nets):
        a, b = Evaluator(lnet).trace(B), Evaluator(net).trace(P)
        assert (a.classes == b.classes).all()
        assert all((x == y).all() for x, y in zip(a.codes, b.codes))
    codes = images(low.region)
    if low.mode == "pixels":
        assert len(codes) == region.size
    else:  # one code per distinct quantizer output over the region
        first = [tuple(semantics.forward(nets[0], p).codes[0]) for p in P]
        assert len(codes) == len(set(first)) or len(nets) > 1
    for bits in codes[:40]:
        p = low.decode(bits)
        assert region.contains(p[None, :])[0]
        assert semantics.classify(nets[0], p) == semantics.classify(low.nets[0], bits)


@pytest.mark.parametrize("engine", ENGINES)
@SETTINGS
@given(data=st.data())
def test_engines_find_and_count_misclassified_images_like_brute_force(engine, data):
    net = data.draw(integer_networks())
    region = data.draw(pixel_regions(net))
    P = images(region)
    labels = [semantics.classify(net, p) for p in P]
    target = data.draw(st.lists(st.integers(0, net.n_classes - 1), unique=True, min_size=1))
    a = run.find_class(net, region, target, method=engine)
    exists = any(c in target for c in labels)
    assert a.search.outcome is (Outcome.FOUND if exists else Outcome.NONE)
    if exists:
        w = a.search.witness
        assert w.dtype == np.int64 and region.contains(w[None, :])[0] and semantics.classify(net, w) in target
    if engine == "sat":  # decides, does not count
        return
    cc = run.class_counts(net, region, target, method=engine)
    want = Counter(labels)
    assert list(cc.counts) == [want.get(c, 0) for c in range(net.n_classes)]
    if net.hidden[0].kind == "quantize":
        bits = run.class_counts(net, region, (), method=engine, space="bits")
        codes = {}
        for p, c in zip(P, labels):
            codes.setdefault(semantics.forward(net, p).codes[0], set()).add(c)
        assert all(len(v) == 1 for v in codes.values())  # the class is a function of the code
        per = Counter(next(iter(v)) for v in codes.values())
        assert list(bits.counts) == [per.get(c, 0) for c in range(net.n_classes)]


@pytest.mark.parametrize("engine", ("enum", "bdd"))
@SETTINGS
@given(case=lowered_cases(two=True, modes=("pixels",)))
def test_disagreements_between_two_integer_networks_are_counted_exactly(engine, case):
    (a, b), region, _ = case
    P = images(region)
    conf = Counter((semantics.classify(a, p), semantics.classify(b, p)) for p in P)
    want = {k: v for k, v in conf.items() if k[0] != k[1]}
    got = run.disagreements(a, b, region, method=engine)
    assert {k: v for k, v in got.counts.confusion.items() if k[0] != k[1]} == want
    found = run.find_disagreement(a, b, region, method="sat")
    assert (found.search.outcome is Outcome.FOUND) == bool(want)


@SETTINGS
@given(data=st.data())
def test_layer_labels_over_a_box_count_images_per_code(data):
    net = data.draw(integer_networks())
    region = data.draw(pixel_regions(net))
    P = images(region)
    counter, _ = run.layer_labels(net, region, "model", method=data.draw(st.sampled_from(["enum", "bdd"])))
    assert counter.total == region.size
    truth = [semantics.forward(net, p) for p in P]
    for layer in range(len(net.hidden)):
        want = Counter(t.codes[layer] for t in truth)
        got = counter.code_counts(layer + 1) if hasattr(counter, "code_counts") else None
        if got is not None:
            assert sorted(got.values()) == sorted(want.values())


def _misclassified_within(net, x, rule, region_of, values):
    """Brute force: the smallest value whose region holds an image misclassified under ``rule``."""
    pred = semantics.classify(net, x)
    for v in values:
        for p in images(region_of(v)):
            if semantics.misclassified(semantics.forward(net, p).scores, pred, rule):
                return v
    return None


@SETTINGS
@given(data=st.data())
def test_the_minimum_perturbation_is_the_brute_force_minimum_with_a_proof_below(data):
    net = data.draw(integer_networks(n_features=st.integers(1, 3), max_value=st.integers(1, 8)))
    lo, hi = net.inputs.lo, net.inputs.hi
    x = np.array([data.draw(st.integers(int(a), int(b))) for a, b in zip(lo, hi)], dtype=np.int64)
    rule = data.draw(st.sampled_from(list(semantics.TieRule)))
    norm = data.draw(st.sampled_from(["linf", "l0"]))
    engine = data.draw(st.sampled_from(["auto", "sat", "enum"]))
    r = min_perturbation(net, x, norm, ties=rule, method=engine)
    if semantics.misclassified(semantics.forward(net, x).scores, semantics.classify(net, x), rule):
        assert r.minimum == 0
        return
    if norm == "linf":
        span = int(max(np.max(x - lo), np.max(hi - x)))
        want = _misclassified_within(net, x, rule, lambda v: linf_box(x, v, lo, hi), range(1, span + 1))
        assert set(linf_candidates(net, x)) >= ({want} if want is not None and net.hidden[0].kind == "quantize" else set())
    else:
        want = _misclassified_within(net, x, rule, lambda v: l0_ball(x, v, lo, hi), range(1, len(x) + 1))
    assert r.minimum == want
    if want is None:
        assert r.verdict.value == "robust" and r.counterexample is None
    else:
        w = r.counterexample
        dist = int(np.abs(w - x).max()) if norm == "linf" else int((w != x).sum())
        assert dist == want and r.proof_at == want - 1
        assert semantics.misclassified(semantics.forward(net, w).scores, semantics.classify(net, x), rule)


@SETTINGS
@given(data=st.data())
def test_tie_rules_count_like_their_definition(data):
    net = data.draw(integer_networks())
    region = data.draw(pixel_regions(net, kinds=("linf", "l0")))
    x = region.center
    rule = data.draw(st.sampled_from(list(semantics.TieRule)))
    r = check_robustness(net, x, region, count=True, ties=rule, method=data.draw(st.sampled_from(["enum", "bdd"])))
    pred = semantics.classify(net, x)
    bad = sum(semantics.misclassified(semantics.forward(net, p).scores, pred, rule) for p in images(region))
    assert r.adversarial_count == bad
    assert r.verdict.value == ("robust" if bad == 0 else "not_robust")
    d = check_robustness(net, x, region, ties=rule, method="sat")
    assert d.verdict.value == r.verdict.value


def test_ties_adversarial_counts_a_tie_and_strict_does_not():
    # one feature, two classes with identical rows: every image ties
    q = QuantizeLayer(np.array([[5]]))
    o = ArgmaxLayer(np.array([[1], [1]], np.int8), np.ones(2), np.zeros(2))
    net = BNN((q,), o, inputs=IntegerInputs.pixels(1, 0, 9))
    box = linf_box(np.array([2]), 1, net.inputs.lo, net.inputs.hi)
    assert check_robustness(net, np.array([2]), box, ties="argmax").verdict.value == "robust"
    assert check_robustness(net, np.array([2]), box, ties="strict").verdict.value == "robust"
    adv = check_robustness(net, np.array([2]), box, ties="adversarial", count=True)
    assert adv.verdict.value == "not_robust" and adv.adversarial_count == box.size


def test_integer_models_round_trip_and_bad_keys_are_named():
    W = np.array([[1, -1, 0], [2, 1, -3]], np.int16)
    net = BNN((IntegerThresholdLayer(W, np.array([3, -7])),),
              ArgmaxLayer(np.array([[1, -1], [-1, 1]], np.int8), np.ones(2), np.zeros(2)),
              inputs=IntegerInputs.pixels(3, 0, 255, scale=np.full(3, 1 / 255), offset=np.zeros(3), shape=(1, 3),
                                          layout="HW"))
    a = model_to_arrays(net)
    assert model_from_arrays(a) == net
    with pytest.raises(ModelFileError, match="input_lo.*needs both"):
        model_from_arrays({k: v for k, v in a.items() if k != "input_hi"}, "m.npz")
    with pytest.raises(ModelFileError, match="feature 1 has hi 4 < lo 5"):
        model_from_arrays({**a, "input_lo": np.array([0, 5, 0]), "input_hi": np.array([255, 4, 255])}, "m.npz")
    q = {**a, "layer0_kind": np.array("quantize"), "layer0_thresholds": np.array([[3, 2], [0, 1], [4, 4]])}
    q.pop("layer0_weights")
    with pytest.raises(ModelFileError, match="row 0 decreases"):
        model_from_arrays(q, "m.npz")
    with pytest.raises(ModelError, match="feature 2 is 256, outside its range"):
        net.predict([[0, 0, 256]])
    with pytest.raises(ModelError, match="reads integer features, so it can only be the first layer"):
        BNN((ThresholdLayer(np.ones((3, 3), np.int8), np.zeros(3, np.int64)), IntegerThresholdLayer(W, np.zeros(2, np.int64))),
            net.output)


def test_a_bit_region_for_a_pixel_model_is_an_error_naming_both():
    from bnnverify.encoders.regions import Whole

    net = BNN((QuantizeLayer(np.array([[1], [2]])),), ArgmaxLayer(np.ones((2, 2), np.int8), np.ones(2), np.zeros(2)))
    with pytest.raises(RegionError, match="reads integer features"):
        run.find_class(net, Whole(2), [1])
    bitnet = BNN((ThresholdLayer(np.ones((1, 2), np.int8), np.zeros(1, np.int64)),), ArgmaxLayer(np.ones((2, 1), np.int8), np.ones(2), np.zeros(2)))
    with pytest.raises(RegionError, match="reads bits"):
        run.find_class(bitnet, IntBox(np.zeros(2), np.ones(2)), [1])


def test_the_lowering_keeps_rows_and_refuses_a_first_layer_too_large_to_hold():
    from bnnverify.encoders import order

    # a quantizer over the whole 0..255 range: one order bit per quantizer bit, kept by rows
    net = BNN((QuantizeLayer(np.full((784, 1), 128)),), ArgmaxLayer(np.ones((2, 784), np.int8), np.ones(2), np.zeros(2)))
    box = IntBox(np.zeros(784, np.int64), np.full(784, 255))
    first = order.lower(net, box, "pixels").nets[0].hidden[0]
    assert first.n_inputs == 784 * 255 and first.index.shape == (784, 1) and first.nnz == 784
    assert order.lower(net, box, "cuts").n_bits == 784  # one cut per pixel
    # an integer-threshold layer reads every order bit of every pixel: 400 x 784 x 255 terms
    wide = BNN((IntegerThresholdLayer(np.ones((400, 784), np.int16), np.zeros(400, np.int64)),),
               ArgmaxLayer(np.ones((2, 400), np.int8), np.ones(2), np.zeros(2)), inputs=IntegerInputs.pixels(784))
    with pytest.raises(RegionError, match="would need 400 x"):
        order.lower(wide, box, "pixels")


@pytest.mark.parametrize("theta, found", [(600, True), (700, True), (766, False)])
def test_auto_samples_a_large_box_before_proving(theta, found):
    # one neuron [p0 + p1 + p2 >= theta] over 0..255 (2^24 images): class 1 iff it fires
    first = IntegerThresholdLayer(np.ones((1, 3), np.int16), np.array([theta]))
    net = BNN((first,), ArgmaxLayer(np.array([[-1], [1]], np.int8), np.ones(2), np.zeros(2)),
              inputs=IntegerInputs.pixels(3))
    box = IntBox(np.zeros(3, np.int64), np.full(3, 255))
    a = run.find_class(net, box, [1])
    assert a.search.outcome == (Outcome.FOUND if found else Outcome.NONE)
    if found:
        assert "sampled" in a.choice.reason and int(a.search.witness.sum()) >= theta
        assert semantics.classify(net, a.search.witness) == 1
    else:
        assert "sampled" not in a.choice.reason
    # an explicit engine is never pre-empted by sampling
    assert "sampled" not in run.find_class(net, box, [1], method="sat").choice.reason
