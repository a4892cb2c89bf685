"""Explanations against brute force on the semantics: reasons, prime implicants, essential features, Shapley values.

The engine-level checks of every engine that declares an explanation
capability are in the conformance battery (``tests/conformance.py``); here
the questions (``bnnverify.questions.explain``), their ``auto`` choices, the
Hamming-ball Shapley path, the refusals and the two commands.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explain_brute as bf
from bnnverify import semantics
from bnnverify.cli import main
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.encoders.regions import Cube, HammingBall, LinfBox, Whole
from bnnverify.engines.terms import free_bits
from bnnverify.errors import DataError, EngineError, RegionError
from bnnverify.files.modelio import save_model
from bnnverify.questions import explain as ex
from strategies import bit_vectors, networks, regions

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

#: Examples per property: a third of the profile's (20 by default), the networks are tiny.
EXAMPLES = max(1, settings.default.max_examples // 3)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def case(draw, kinds=("whole", "cube", "hamming", "hamming_mask"), max_inputs=6):
    net = draw(networks(n_inputs=st.integers(1, max_inputs), n_hidden=st.integers(1, 2), width=st.integers(1, 4)))
    x = draw(bit_vectors(net.n_inputs))
    region = bf.explain_region(draw(regions(net, kinds=kinds)), x)
    return net, region, x


@SETTINGS
@given(case(), st.sampled_from(["auto", "sat", "bdd", "enum"]))
def test_sufficient_reasons_are_sufficient_and_subset_minimal(c, method):
    net, region, x = c
    r = ex.sufficient_reason(net, x, region, method=method)
    assert r.proved and r.minimality == "subset"
    X, y = bf.table(net, region)
    target = semantics.classify(net, x)
    assert r.predicted_class == target
    assert bf.is_sufficient(X, y, x, r.kept, target)
    for i in r.kept:
        assert not bf.is_sufficient(X, y, x, [j for j in r.kept if j != i], target)
        w = r.witnesses[i]  # the replayed witness: agrees with x on the rest, another class
        assert semantics.classify(net, w) != target and bool(region.contains(w[None, :])[0])
    js = r.to_json()
    assert js["kept"] == list(r.kept) and js["asked"]["centre"] == "".join(map(str, x))


@SETTINGS
@given(case())
def test_cardinality_minimal_reasons_are_smallest(c):
    net, region, x = c
    r = ex.sufficient_reason(net, x, region, cardinality=True)
    X, y = bf.table(net, region)
    target = semantics.classify(net, x)
    free = free_bits(region)
    assert bf.is_sufficient(X, y, x, r.kept, target)
    best = min(k for k in range(len(free) + 1)
               if any(bf.is_sufficient(X, y, x, S, target) for S in itertools.combinations(free, k)))
    assert len(r.kept) == best and r.method == "bdd" and "no smaller set" in r.proof


@SETTINGS
@given(case(), st.data())
def test_prime_implicants_and_essential_features(c, data):
    net, region, x = c
    targets = sorted(data.draw(st.sets(st.integers(0, net.n_classes - 1), min_size=1)))
    r = ex.prime_implicants(net, region, targets, max_terms=50, seed=data.draw(st.integers(0, 3)))
    X, y = bf.table(net, region)
    for t, z in zip(r.terms, r.completions):
        assert bf.is_prime(X, y, t, targets)
        assert all(z[i] == b for i, b in t.items()) and semantics.classify(net, z) in targets
    primes = bf.all_primes(X, y, list(free_bits(region)), targets)
    if not primes:
        assert r.essential is None and r.target_count == 0
        return
    if r.covers and len(r.terms) < 50:
        assert {tuple(sorted(t.items())) for t in r.terms} <= {tuple(sorted(t.items())) for t in primes}
    shared = set.intersection(*(set(t.items()) for t in primes))
    assert set(r.essential.items()) == shared
    e = ex.essential_features(net, region, targets)
    assert e.essential == r.essential


@SETTINGS
@given(case(kinds=("whole", "cube")), st.data())
def test_shapley_values_on_cubes_equal_the_definition(c, data):
    net, region, x = c
    targets = sorted(data.draw(st.sets(st.integers(0, net.n_classes - 1), min_size=1)))
    r = ex.shapley_values(net, x, region, targets)
    X, y = bf.table(net, region)
    assert dict(r.values) == bf.shapley(X, y, x, list(free_bits(region)), targets)
    assert sum(r.values.values()) == r.at_x - r.expected
    assert r.expected == Fraction(int(np.isin(y, targets).sum()), len(X))
    assert all(isinstance(v, Fraction) for v in r.values.values())
    for i, q in r.influence.items():
        Z = X.copy()
        Z[:, i] ^= 1
        assert q == Fraction(sum(semantics.classify(net, z) != c for z, c in zip(Z, y)), len(X))


@SETTINGS
@given(case(kinds=("hamming", "hamming_mask"), max_inputs=5), st.data())
def test_shapley_values_on_balls_equal_the_definition(c, data):
    net, region, x = c
    targets = sorted(data.draw(st.sets(st.integers(0, net.n_classes - 1), min_size=1)))
    r = ex.shapley_values(net, x, region, targets)
    X, y = bf.table(net, region)
    assert dict(r.values) == bf.shapley(X, y, x, list(free_bits(region)), targets)
    assert sum(r.values.values()) == r.at_x - r.expected and "not a product" in r.exactness


@SETTINGS
@given(networks(n_inputs=st.integers(1, 6), n_hidden=st.integers(1, 2), width=st.integers(1, 4)), st.data())
def test_contrastive_reason_is_a_smallest_change(net, data):
    x = data.draw(bit_vectors(net.n_inputs))
    r = ex.contrastive_reason(net, x)
    pred = semantics.classify(net, x)
    X, y = bf.table(net, Whole(net.n_inputs))
    d = [int((z != x).sum()) for z, c in zip(X, y) if c != pred]
    if not d:
        assert r.status == "none" and r.changed is None
    else:
        assert r.status == "proved" and len(r.changed) == min(d)
        z = x.copy()
        z[list(r.changed)] ^= 1
        assert semantics.classify(net, z) == r.counterexample_class != pred


def _net():
    h = ThresholdLayer(np.array([[1, 1, 1, 1], [1, -1, 1, -1]], dtype=np.int8), np.array([2, 0]))
    o = ArgmaxLayer(np.array([[1, 1], [-1, -1], [1, -1]], dtype=np.int8), np.ones(3), np.zeros(3))
    return BNN((h,), o)


def test_refusals_name_what_is_wrong():
    net, x = _net(), np.array([1, 1, 0, 1], np.uint8)
    with pytest.raises(RegionError, match="centred at the input"):
        ex.sufficient_reason(net, x, HammingBall(np.zeros(4, np.uint8), 4))
    with pytest.raises(RegionError, match="does not contain"):
        ex.sufficient_reason(net, x, Cube.from_free(np.zeros(4, np.uint8), [0]))
    with pytest.raises(RegionError, match="'linf'"):
        ex.sufficient_reason(net, x, LinfBox(np.array([1, 1, 0, 0], np.uint8), 1, 2))
    with pytest.raises(EngineError, match="engine 'sat' does not answer min-sufficient-reason"):
        ex.sufficient_reason(net, x, cardinality=True, method="sat")
    with pytest.raises(EngineError, match="engine 'enum' does not answer shapley"):
        ex.shapley_values(net, x, method="enum")
    with pytest.raises(DataError, match="order"):
        ex.sufficient_reason(net, x, order=[0, 1])
    wide = BNN((ThresholdLayer(np.ones((1, 12), np.int8), np.array([0])),),
               ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    with pytest.raises(RegionError, match="not a product distribution"):
        ex.shapley_values(wide, np.ones(12, np.uint8), HammingBall(np.ones(12, np.uint8), 2))


# --------------------------------------------------------------------------- the commands


@pytest.fixture()
def model(tmp_path) -> Path:
    return save_model(_net(), tmp_path / "m.npz")


def _run(args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output
    return r


@pytest.mark.parametrize("kind", ["sufficient", "contrastive", "prime", "essential", "shapley"])
def test_explain_command_answers_every_kind(model, kind, tmp_path):
    png = tmp_path / f"{kind}.png"
    r = _run(["explain", model, "--input", "1101", "--kind", kind, "--json", "--png", png])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["kind"] == kind
    assert out["asked"]["models"][0]["path"] == str(model) and out["question"]["centre"] == "1101"
    assert out["schema"].startswith("bnnverify-result/")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = _run(["explain", model, "--input", "1101", "--kind", kind])
    assert text.exit_code == 0 and "engine:" in text.output


def test_explain_command_text_and_regions(model):
    r = _run(["explain", model, "--input", "1101", "--kind", "sufficient", "--minimal", "cardinality",
              "--hamming", "2"])
    assert r.exit_code == 0 and "cardinality-minimal, proved" in r.output
    r = _run(["explain", model, "--input", "1101", "--kind", "shapley", "--target", "0,2"])
    assert r.exit_code == 0 and "sum = f(x) - E[f]" in r.output


@pytest.mark.parametrize("args,message", [
    (["--input", "110", "--kind", "sufficient"], "3"),
    (["--input", "1101", "--kind", "prime", "--target", "7"], "--target: 7"),
    (["--kind", "sufficient"], "give exactly one input"),
    (["--input", "1101", "--kind", "sufficient", "--linf", "1"], "thermometer"),
    (["--input", "1101", "--kind", "shapley", "--engine", "sat"], "engine 'sat'"),
    (["--input", "1101", "--kind", "sufficient", "--target", "1"], "--target does not go"),
])
def test_explain_command_bad_input_exits_2(model, args, message):
    r = _run(["explain", model] + args)
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_limits_answer_unknown_or_timeout_with_exit_3(model, anchors, tmp_path):
    r = _run(["explain", model, "--input", "1101", "--kind", "sufficient", "--engine", "bdd", "--max-nodes", "1",
              "--json"])
    assert r.exit_code == 3 and json.loads(r.output)["status"] == "unknown"
    from bnnverify.importers.bnnquanalyst import import_bnnquanalyst

    big = save_model(import_bnnquanalyst(anchors / "models" / "mnist_bnn_1_blk_784_100_10"), tmp_path / "big.npz")
    r = _run(["explain", big, "--input", anchors / "inputs" / "instance_1_784.txt", "--kind", "sufficient",
              "--engine", "sat", "--timeout", "1", "--json"])
    assert r.exit_code == 3, r.output
    out = json.loads(r.output.splitlines()[0])
    assert out["status"] == "timeout" and out["kept"] is None


def test_run_queries_answers_bnnquanalyst_explain_queries(anchors, tmp_path):
    q = tmp_path / "queries"
    q.write_text("# a small explain query file\n"
                 "EF_explain: <mnist_bnn_2_blk_16_25_20_10,instance_0_16,hamming,3,single_target_0>;\n"
                 "PI_explain: <mnist_bnn_2_blk_16_25_20_10,instance_0_16,hamming,2,single_target_0,3>;\n"
                 "compute_SD: <mnist_bnn_2_blk_16_25_20_10,instance_0_16,2,0.1>;\n")
    r = _run(["run-queries", q, "--model", anchors / "models", "--root", anchors, "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [row["status"] for row in rows] == ["answered", "answered", "not run"]
    assert rows[0]["query"].startswith("EF_explain <mnist_bnn_2_blk_16_25_20_10")
    pi = rows[1]["results"][0]
    assert pi["target"] == 0 and len(pi["primes"]) <= 3
    text = _run(["run-queries", q, "--model", anchors / "models", "--root", anchors])
    assert text.exit_code == 0 and "line 2: EF_explain" in text.output
    bad = _run(["run-queries", q, "--model", tmp_path / "nowhere", "--root", anchors])
    assert bad.exit_code == 2 and "--model" in bad.output
