"""The BDD engine against closed forms and brute-force enumeration with the evaluator."""

from __future__ import annotations

import itertools
from collections import Counter
from math import comb

import dd.cudd as cudd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import all_inputs, bit_vectors, hamming_size, networks, regions

from bnnverify.engines.bdd import (
    bdd_class_counts,
    bdd_class_counts_by_radius,
    bdd_code_counts,
    bdd_code_summary,
    bdd_disagreements,
    bdd_find_class,
    bdd_joint_counts,
)
from bnnverify.errors import BudgetExceeded, DataError, RegionError, UsageError
from bnnverify.evaluation.evaluator import Evaluator, code_keys
from bnnverify.encoders.bdd import BDDBudget, BDDCompiler
from bnnverify.encoders.bdd_count import ExactCounter, exact_count, iter_level_paths
from bnnverify.encoders.cardinality_bdd import BallBuilder, agreement_threshold, ball_threshold_bdd, counter_bdd
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer, winner
from bnnverify.encoders.regions import Cube, HammingBall, LinfBox, Whole


def _manager(n: int):
    b = cudd.BDD()
    b.configure(reordering=False)
    names = [f"v{i}" for i in range(n)]
    b.declare(*names)
    return b, names


def _truth(b, u, names) -> np.ndarray:
    """Truth table of ``u`` over ``names`` (row r = assignment bits of r)."""
    X = all_inputs(len(names))
    return np.array([b.let({v: bool(x[i]) for i, v in enumerate(names)}, u) == b.true for x in X])


def _members(region) -> np.ndarray:
    X = all_inputs(region.n)
    return X[region.contains(X)]


# --- exact counting -------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(100, 3), (128, 7), (300, 2), (1100, 2)])
def test_exact_count_hamming_ball_closed_form(n, k):
    b, names = _manager(n)
    center = [i % 3 == 0 for i in range(n)]
    ball = BallBuilder(b, names, [int(c) for c in center], k).ball
    expect = sum(comb(n, i) for i in range(k + 1))
    assert exact_count(ball, 0, n) == expect
    assert exact_count(~ball, 0, n) == 2**n - expect  # complemented root edge
    # counting over a wider band multiplies by the free variables
    b.add_var("extra")
    assert exact_count(ball, 0, n + 1) == 2 * expect


def test_exact_count_agrees_with_cudd_on_small_and_exceeds_double():
    b, names = _manager(130)
    u = b.var("v0") | (b.var("v3") & ~b.var("v129"))
    assert exact_count(u, 0, 130) == 2**129 + 2**127  # far past 2**53
    small = b.var("v0") & ~b.var("v1")
    assert exact_count(small, 0, 20) == int(b.count(small, 20)) == 2**18
    assert exact_count(b.true, 0, 130) == 2**130
    assert exact_count(b.false, 0, 130) == 0
    with pytest.raises(ValueError, match="outside the counted levels"):
        exact_count(u, 1, 130)


def test_exact_count_shares_memo_and_keeps_nodes_alive():
    b, names = _manager(60)
    counter = ExactCounter(0, 60)
    total = 0
    for i in range(60):
        total += counter.count(b.var(names[i]) & ~b.var(names[(i + 1) % 60]))
    assert total == 60 * 2**58


@settings(max_examples=40)
@given(st.data())
def test_iter_level_paths_enumerates_reachable_assignments(data):
    n = data.draw(st.integers(2, 6))
    b, names = _manager(n)
    rows = data.draw(st.lists(st.integers(0, 2**n - 1), max_size=12))
    u = b.false
    for r in rows:
        u = u | b.cube({names[i]: bool((r >> i) & 1) for i in range(n)})
    top = data.draw(st.integers(0, n))
    got = Counter()
    for bits, rest in iter_level_paths(u, list(range(top))):
        got[bits] += exact_count(rest, top, n)
    expect = Counter(tuple((r >> i) & 1 for i in range(top)) for r in set(rows))
    assert got == expect


# --- counter constructions ------------------------------------------------------


@settings(max_examples=60)
@given(st.data())
def test_counter_bdd_is_the_table(data):
    n = data.draw(st.integers(0, 7))
    b, names = _manager(max(n, 1))
    pols = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    groups = data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    n0, n1 = groups.count(0), groups.count(1)
    table = np.array(data.draw(st.lists(st.booleans(), min_size=(n0 + 1) * (n1 + 1), max_size=(n0 + 1) * (n1 + 1))))
    table = table.reshape(n0 + 1, n1 + 1)
    u = counter_bdd(b, list(zip(names[:n], pols)), groups, table)
    X = all_inputs(max(n, 1))[:, :n] if n else np.zeros((2, 0), dtype=np.uint8)
    lit = X == np.array(pols, dtype=np.uint8)[None, :]
    g = np.array(groups)
    a0 = lit[:, g == 0].sum(1)
    a1 = lit[:, g == 1].sum(1)
    expect = table[a0, a1]
    got = _truth(b, u, names)[: len(X)] if n else np.array([u == b.true] * 2)
    assert (got == expect).all()


@settings(max_examples=60)
@given(st.data())
def test_ball_threshold_is_neuron_and_ball(data):
    n = data.draw(st.integers(1, 8))
    b, names = _manager(n)
    center = data.draw(bit_vectors(n))
    r = data.draw(st.integers(0, n))
    agree = data.draw(bit_vectors(n))
    k = data.draw(st.integers(-2, n + 2))
    u = ball_threshold_bdd(BallBuilder(b, names, center, r), agree, k)
    X = all_inputs(n)
    expect = ((X != center).sum(1) <= r) & ((X == agree).sum(1) >= k)
    assert (_truth(b, u, names) == expect).all()


def test_agreement_threshold_matches_dot_rule():
    for n in range(1, 8):
        for theta in range(-n - 3, n + 4):
            k = agreement_threshold(n, theta)
            for a in range(n + 1):
                assert (a >= k) == (2 * a - n >= theta)


@settings(max_examples=40)
@given(st.data())
def test_region_bdds_are_the_regions(data):
    net = data.draw(networks(n_inputs=st.integers(1, 9), thermometer=data.draw(st.sampled_from([None, 3]))))
    region = data.draw(regions(net))
    comp = BDDCompiler(net.n_inputs)
    u = comp.region_bdd(region)
    assert exact_count(u, *comp.input_band()) == region.size
    b = comp.bdd
    X = all_inputs(net.n_inputs)
    inside = [b.let({comp.input_names[i]: bool(x[i]) for i in range(net.n_inputs)}, u) == b.true for x in X]
    assert (np.array(inside) == region.contains(X)).all()


# --- networks against brute force -------------------------------------------------


def _reference(net, region):
    X = _members(region)
    return X, Evaluator(net).trace(X)


@settings(max_examples=50)
@given(st.data())
def test_class_counts_and_witnesses_match_enumeration(data):
    therm = data.draw(st.sampled_from([None, None, 2, 3]))
    net = data.draw(networks(n_inputs=st.integers(1, 12), thermometer=therm))
    region = data.draw(regions(net))
    X, tr = _reference(net, region)
    method = data.draw(st.sampled_from(["relation", "below"]))
    composable = method == "below" and bool(net.hidden)
    classes_method = data.draw(st.sampled_from(["auto", "images"] + (["compose"] if composable else [])))
    nb = BDDCompiler(net.n_inputs).compile(net, region, first_layer=method, classes=classes_method)
    expect = np.bincount(tr.classes, minlength=net.n_classes).tolist()
    assert list(nb.class_counts()) == expect
    assert nb.class_method == ("images" if not composable or classes_method == "images" else classes_method)
    assert bdd_class_counts(net, region).counts == tuple(expect)
    classes = data.draw(st.lists(st.integers(0, net.n_classes - 1), max_size=3, unique=True))
    w = bdd_find_class(net, region, classes)
    if np.isin(tr.classes, classes).any():
        assert w is not None and w.dtype == np.uint8 and w.shape == (net.n_inputs,)
        assert region.contains(w[None, :])[0]
        assert Evaluator(net).classify_one(w) in classes
    else:
        assert w is None


@settings(max_examples=40)
@given(st.data())
def test_joint_counts_match_enumeration(data):
    net = data.draw(networks(n_inputs=st.integers(1, 10), thermometer=data.draw(st.sampled_from([None, 2]))))
    region = data.draw(regions(net))
    L = len(net.hidden)
    layers = data.draw(st.lists(st.integers(1, L), min_size=1, max_size=2, unique=True))
    with_class = data.draw(st.booleans())
    label = data.draw(st.one_of(st.none(), networks(n_inputs=st.just(net.n_inputs), n_hidden=st.integers(1, 2))))
    X, tr = _reference(net, region)
    keys = [code_keys(tr.codes[l - 1]) for l in layers]
    if with_class:
        keys.append(tr.classes.tolist())
    if label is not None:
        keys.append(Evaluator(label).classify(X).tolist())
    expect = Counter(zip(*keys))
    got = bdd_joint_counts(net, region, layers, with_class=with_class, label_net=label)
    assert dict(got.counts) == dict(expect)
    assert got.region_size == region.size
    # both exact methods of the engine agree
    comp = BDDCompiler(net.n_inputs)
    part = None
    if label is not None:
        lab = comp.compile(label, region, prefix="u")
        part = [lab.inputs_of([c]) for c in range(label.n_classes)]
    nb = comp.compile(net, region, first_layer=data.draw(st.sampled_from(["relation", "below"])))
    paths = Counter()
    for k, v in nb.iter_joint_counts(layers, with_class=with_class, partition=part, method="paths"):
        paths[k] += v
    assert dict(paths) == dict(expect)


@settings(max_examples=40)
@given(st.data())
def test_per_code_counts_stream(data):
    net = data.draw(networks(n_inputs=st.integers(1, 12)))
    region = data.draw(regions(net, kinds=("whole", "cube", "hamming", "hamming_mask")))
    layer = data.draw(st.integers(1, len(net.hidden)))
    X, tr = _reference(net, region)
    got = dict(bdd_code_counts(net, region, layer))
    assert got == dict(Counter(code_keys(tr.codes[layer - 1])))
    assert sum(got.values()) == region.size
    summary = bdd_code_summary(net, region, layer)
    assert (summary.codes, summary.total) == (len(got), region.size)


@settings(max_examples=30)
@given(st.data())
def test_first_layer_output_splitting_both_leaf_modes(data):
    net = data.draw(networks(n_inputs=st.integers(1, 12)))
    region = data.draw(regions(net, kinds=("whole", "cube", "hamming", "hamming_mask")))
    X, tr = _reference(net, region)
    expect = Counter(code_keys(tr.codes[0]))
    nb = BDDCompiler(net.n_inputs).compile(net, region)
    for small in (0, 1, 64):
        got = Counter()
        for code, n in nb.iter_first_layer_counts(small_leaf=small):
            got[code] += n
        assert got == expect


@settings(max_examples=40)
@given(st.data())
def test_disagreements_match_enumeration(data):
    net_a = data.draw(networks(n_inputs=st.integers(1, 10), n_classes=st.just(3)))
    same = data.draw(st.booleans())
    net_b = net_a if same else data.draw(networks(n_inputs=st.just(net_a.n_inputs), n_classes=st.integers(2, 4)))
    region = data.draw(regions(net_a, kinds=("whole", "cube", "hamming", "hamming_mask")))
    X = _members(region)
    ca, cb = Evaluator(net_a).classify(X), Evaluator(net_b).classify(X)
    d = bdd_disagreements(net_a, net_b, region)
    assert dict(d.confusion) == dict(Counter(zip(ca.tolist(), cb.tolist())))
    assert d.count == int((ca != cb).sum())
    if d.count:
        w = d.witness
        assert Evaluator(net_a).classify_one(w) != Evaluator(net_b).classify_one(w)
        assert region.contains(w[None, :])[0]
    else:
        assert d.witness is None


@settings(max_examples=25)
@given(st.data())
def test_counts_by_radius_match_shells(data):
    net = data.draw(networks(n_inputs=st.integers(1, 10)))
    center = data.draw(bit_vectors(net.n_inputs))
    R = data.draw(st.integers(0, net.n_inputs))
    mutable = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=net.n_inputs, max_size=net.n_inputs)))
    mask = None if mutable is None else np.array(mutable, dtype=bool)
    shells = bdd_class_counts_by_radius(net, center, R, mutable=mask)
    X = _members(HammingBall(center, R, mask))
    dist = (X != center).sum(1)
    cls = Evaluator(net).classify(X)
    for r, cc in enumerate(shells):
        assert list(cc.counts) == np.bincount(cls[dist == r], minlength=net.n_classes).tolist()


def test_argmax_ties_and_rounding_follow_the_evaluator():
    # equal scores everywhere: the smallest index wins; tiny bias differences decide
    h = ThresholdLayer(np.array([[1, -1, 1], [1, 1, -1]], dtype=np.int8), np.array([0, -1]))
    w = np.array([[1, 1], [1, 1], [-1, 1]], dtype=np.int8)
    for scale, bias in [((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)), ((0.1, 0.1, 0.3), (0.2, 0.2 + 1e-17, 0.0)),
                        ((1e16, 1e16, 1.0), (1.0, 0.0, 0.0))]:
        net = BNN((h,), ArgmaxLayer(w, np.array(scale), np.array(bias)))
        expect = np.bincount(Evaluator(net).classify(all_inputs(3)), minlength=3).tolist()
        assert list(bdd_class_counts(net, Whole(3)).counts) == expect


def test_network_without_hidden_layers():
    out = ArgmaxLayer(np.array([[1, -1, 1, 1], [-1, 1, 1, -1]], dtype=np.int8), np.array([1.0, 2.0]), np.array([0.0, 0.5]))
    net = BNN((), out)
    for region in (Whole(4), Cube.from_free(np.array([1, 0, 1, 1], dtype=np.uint8), [0, 2]),
                   HammingBall(np.array([0, 0, 1, 1], dtype=np.uint8), 2)):
        cls = Evaluator(net).classify(_members(region))
        assert list(bdd_class_counts(net, region).counts) == np.bincount(cls, minlength=2).tolist()


# --- sizes, budgets, order --------------------------------------------------------------


def _wide_net(n: int, seed: int = 0) -> BNN:
    rng = np.random.default_rng(seed)
    w1 = np.where(rng.random((30, n)) < 0.5, 1, -1).astype(np.int8)
    w2 = np.where(rng.random((20, 30)) < 0.5, 1, -1).astype(np.int8)
    wo = np.where(rng.random((4, 20)) < 0.5, 1, -1).astype(np.int8)
    return BNN(
        (ThresholdLayer(w1, np.zeros(30, dtype=np.int64)), ThresholdLayer(w2, np.zeros(20, dtype=np.int64))),
        ArgmaxLayer(wo, np.ones(4), np.zeros(4)),
    )


def test_large_region_counts_are_exact_big_integers():
    # three neurons sharing one weight row: the class is a function of the number
    # a of agreeing inputs, so each class count is a sum of binomials
    n = 120
    rng = np.random.default_rng(5)
    row = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    theta = np.array([-8, 0, 6])
    h = ThresholdLayer(np.stack([row, row, row]), theta)
    out = ArgmaxLayer(np.array([[1, 1, 1], [-1, -1, 1], [1, -1, -1]], dtype=np.int8), np.array([1.0, 1.0, 0.5]),
                      np.array([0.0, 0.5, 0.0]))
    net = BNN((h,), out)
    expect = [0, 0, 0]
    for a in range(n + 1):
        code = (2 * a - n >= theta).astype(np.uint8)
        dots = (2 * code.astype(np.int64) - 1) @ out.weights.astype(np.int64).T
        expect[winner(out, dots)] += comb(n, a)
    assert list(bdd_class_counts(net, Whole(n)).counts) == expect
    center = row.copy()  # Hamming ball around the all-agreeing input
    center[row == -1] = 0
    center[row == 1] = 1
    k = 40
    ball_expect = [0, 0, 0]
    for d in range(k + 1):  # distance d = n - a
        code = (2 * (n - d) - n >= theta).astype(np.uint8)
        dots = (2 * code.astype(np.int64) - 1) @ out.weights.astype(np.int64).T
        ball_expect[winner(out, dots)] += comb(n, d)
    cc = bdd_class_counts(net, HammingBall(center, k))
    assert list(cc.counts) == ball_expect and cc.region_size == hamming_size(n, k) > 2**100


def test_budget_exceeded_never_partial():
    net = _wide_net(40, 2)
    with pytest.raises(BudgetExceeded, match="max_nodes"):
        bdd_class_counts(net, Whole(40), budget=BDDBudget(max_nodes=500))
    with pytest.raises(BudgetExceeded, match="memory"):
        bdd_class_counts(_wide_net(60, 3), Whole(60), budget=BDDBudget(max_memory_bytes=20 << 20, max_nodes=None))


def test_region_size_mismatch_names_both_sizes():
    net = _wide_net(10)
    with pytest.raises(RegionError, match="5 input bits.*10 inputs"):
        bdd_class_counts(net, Whole(5))
    with pytest.raises(RegionError, match="5 input bits"):
        bdd_joint_counts(net, Whole(5), [1])
    with pytest.raises(DataError, match="not a hidden layer"):
        bdd_joint_counts(net, Whole(10), [3])
    with pytest.raises(DataError, match="not a hidden layer"):
        bdd_code_counts(net, Whole(10), 0)


def test_input_order_and_reordering_flag():
    net = _wide_net(8, 4)
    region = HammingBall(np.ones(8, dtype=np.uint8), 3)
    expect = bdd_class_counts(net, region).counts
    comp = BDDCompiler(8, input_order=list(reversed(range(8))))
    assert comp.bdd.configure()["reordering"] is False
    nb = comp.compile(net, region)
    assert nb.class_counts() == expect
    X = _members(region)
    assert nb.code_counts(2) == dict(Counter(code_keys(Evaluator(net).trace(X).codes[1])))
    with pytest.raises(ValueError, match="permutation"):
        BDDCompiler(3, input_order=[0, 0, 1])
    by_name = BDDCompiler(8, input_order=[f"x{i}" for i in (3, 1, 0, 2, 7, 6, 5, 4)])
    assert by_name.level("x3") == 0 and by_name.level("x4") == 7
    assert by_name.compile(net, region).class_counts() == expect
    with pytest.raises(ValueError, match="not an input name"):
        BDDCompiler(2, input_order=["x0", "y1"])


def test_linf_box_counts():
    L = 3
    h = ThresholdLayer(np.array([[1, 1, 1, -1, 1, 1], [1, -1, -1, 1, 1, -1]], dtype=np.int8), np.array([0, 1]))
    net = BNN((h,), ArgmaxLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.ones(2), np.zeros(2)), thermometer_levels=L)
    center = np.array([1, 1, 0, 1, 0, 0], dtype=np.uint8)
    for eps in range(4):
        box = LinfBox(center, eps, L)
        cls = Evaluator(net).classify(_members(box))
        assert list(bdd_class_counts(net, box).counts) == np.bincount(cls, minlength=2).tolist()


# --- BNNQuanalyst models ------------------------------------------------------------


def _import(anchors, name):
    imp = pytest.importorskip("bnnverify.importers.bnnquanalyst")
    return imp.import_bnnquanalyst(anchors / "models" / name)


def _instance(anchors, name) -> np.ndarray:
    return np.array([int(t) for t in (anchors / "inputs" / name).read_text().split()], dtype=np.uint8)


def test_bnnquanalyst_whole_space_counts(anchors):
    net = _import(anchors, "mnist_bnn_2_blk_16_25_20_10")
    cls = Evaluator(net).classify(all_inputs(16))
    cc = bdd_class_counts(net, Whole(16))
    assert list(cc.counts) == np.bincount(cls, minlength=10).tolist()


@pytest.mark.parametrize(
    "model,instance,radius",
    [
        ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100.txt", 2),
        ("mnist_bnn_2_blk_36_15_10_10", "instance_0_36.txt", 4),
        ("mnist_bnn_1_blk_784_100_10", "instance_1_784.txt", 1),
    ],
)
def test_bnnquanalyst_hamming_counts(anchors, model, instance, radius):
    net = _import(anchors, model)
    ball = HammingBall(_instance(anchors, instance), radius)
    X = np.concatenate(list(ball.members()))
    cls = Evaluator(net).classify(X)
    assert list(bdd_class_counts(net, ball).counts) == np.bincount(cls, minlength=10).tolist()


# --- the enumeration engine as a second reference ------------------------------------


@settings(max_examples=25)
@given(st.data())
def test_bdd_agrees_with_enumeration_engine(data):
    enumeration = pytest.importorskip("bnnverify.engines.enumeration")
    net = data.draw(networks(n_inputs=st.integers(1, 12), thermometer=data.draw(st.sampled_from([None, 3]))))
    region = data.draw(regions(net))
    assert bdd_class_counts(net, region) == enumeration.enum_class_counts(net, region)
    layers = data.draw(st.lists(st.integers(1, len(net.hidden)), min_size=1, max_size=2, unique=True))
    other = data.draw(networks(n_inputs=st.just(net.n_inputs), n_hidden=st.integers(1, 2)))
    got = bdd_joint_counts(net, region, layers, with_class=True, label_net=other)
    ref = enumeration.enum_joint_counts(net, region, layers, with_class=True, label_net=other)
    assert dict(got.counts) == dict(ref.counts)
    assert dict(bdd_disagreements(net, other, region).confusion) == dict(
        enumeration.enum_disagreements(net, other, region).confusion
    )


def test_class_set_composition_falls_back_to_images(monkeypatch):
    """``auto`` composes class sets; past the node cap it builds the images instead (same counts);
    ``compose`` alone then fails as a budget error, never a partial count."""
    import bnnverify.encoders.bdd as bdd_mod

    rng = np.random.default_rng(7)
    n = 10
    h1 = ThresholdLayer(rng.choice([-1, 1], size=(6, n)).astype(np.int8), rng.integers(-3, 4, 6))
    h2 = ThresholdLayer(rng.choice([-1, 1], size=(5, 6)).astype(np.int8), rng.integers(-2, 3, 5))
    out = ArgmaxLayer(rng.choice([-1, 1], size=(3, 5)).astype(np.int8), np.ones(3), np.zeros(3))
    net = BNN((h1, h2), out)
    region = Whole(n)
    X = all_inputs(n)
    expect = np.bincount(Evaluator(net).classify(X), minlength=3).tolist()
    nb = BDDCompiler(n).compile(net, region)
    assert list(nb.class_counts()) == expect and nb.class_method == "auto"
    monkeypatch.setattr(bdd_mod, "COMPOSE_NODE_CAP", 0)
    nb = BDDCompiler(n).compile(net, region)
    assert list(nb.class_counts()) == expect and nb.class_method == "images"
    with pytest.raises(BudgetExceeded, match="compose"):
        BDDCompiler(n).compile(net, region, classes="compose").class_counts()
    monkeypatch.setattr(bdd_mod, "COMPOSE_MAX_VARS", 4)  # layer 2 has 5 neurons: never composed
    nb = BDDCompiler(n).compile(net, region)
    assert list(nb.class_counts()) == expect and nb.class_method == "images"
    with pytest.raises(UsageError, match="compose"):
        BDDCompiler(n).compile(net, region, first_layer="relation", classes="compose")


@settings(max_examples=30)
@given(st.data())
def test_ball_relation_in_parts_counts_like_enumeration(data):
    """A Hamming ball's first-layer relation is kept in parts of ``RELATION_PART`` neurons; the
    counts and witnesses are those of enumeration whatever the part size (1 = a part per neuron)."""
    import bnnverify.encoders.bdd as bdd_mod

    net = data.draw(networks(n_inputs=st.integers(4, 12), width=st.integers(6, 12), n_hidden=st.integers(1, 2)))
    center = data.draw(bit_vectors(net.n_inputs))
    region = HammingBall(center, data.draw(st.integers(1, 4)))
    X, tr = _reference(net, region)
    expect = np.bincount(tr.classes, minlength=net.n_classes).tolist()
    part = data.draw(st.sampled_from([1, 2, 3, 5]))
    old = bdd_mod.RELATION_PART
    bdd_mod.RELATION_PART = part
    try:
        for classes in ("auto", "images"):
            nb = BDDCompiler(net.n_inputs).compile(net, region, classes=classes)
            assert list(nb.class_counts()) == expect
            if len(nb._varying1) > part:
                assert len(nb._parts) == -(-len(nb._varying1) // part)
            c = int(np.argmax(expect))
            w = nb.witness([c])
            assert w is not None and region.contains(w[None, :])[0] and Evaluator(net).classify_one(w) == c
    finally:
        bdd_mod.RELATION_PART = old
