"""The CNF encodings against brute-force enumeration with the reference evaluator.

For random small networks and regions, every encoding (and the ball-aware
first layer on and off): the inputs projected from the formula's models are
*exactly* the members of the region with the asked class — by blocking-clause
enumeration, by Ganak's projected count (if ``pyganak`` is installed), and
through the DIMACS text with its projection lines.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver
from strategies import all_inputs, networks, regions

from bnnverify.evaluation.evaluator import Evaluator, unpack_bits
from bnnverify.encoders.cardinality_cnf import ENCODINGS, ClauseSink, resolve_encoding, unary_counter
from bnnverify.encoders.cnf import class_formula, disagreement_formula, encode
from bnnverify.encoders.errors import ModelError, SolverError
from bnnverify.encoders.regions import HammingBall, Whole

CLAUSAL = [e for e in ENCODINGS if e != "native"]


def projected_models(f, solver: str = "glucose4") -> set[tuple[int, ...]]:
    """Every distinct input projection of the formula's models (blocking clauses)."""
    seen: set[tuple[int, ...]] = set()
    with Solver(name=solver, bootstrap_with=f.clauses) as s:
        for lits, k in f.atmosts:
            s.add_atmost(lits, k)
        while s.solve():
            model = np.array(s.get_model())
            x = f.decode_inputs(model)
            key = tuple(int(b) for b in x)
            assert key not in seen, "a blocked input came back"
            seen.add(key)
            s.add_clause([-(i + 1) if x[i] else i + 1 for i in range(f.n_inputs)])
    return seen


def expected_members(net, region, classes, negate=False) -> set[tuple[int, ...]]:
    X = all_inputs(net.n_inputs)
    cls = Evaluator(net).classify(X)
    ok = region.contains(X) & (np.isin(cls, list(classes)) != negate)
    return {tuple(int(b) for b in row) for row in X[ok]}


@st.composite
def cases(draw, max_inputs: int = 7):
    thermo = draw(st.sampled_from([None, None, 2, 3]))
    net = draw(networks(n_inputs=st.integers(1, max_inputs), thermometer=thermo))
    region = draw(regions(net))
    classes = draw(st.lists(st.integers(0, net.n_classes - 1), min_size=1, max_size=2, unique=True))
    return net, region, classes


@given(cases(), st.sampled_from(list(ENCODINGS)), st.booleans(), st.booleans())
def test_projection_is_exactly_the_members(case, encoding, ball_aware, negate):
    net, region, classes = case
    f = class_formula(net, region, classes, negate=negate, encoding=encoding, ball_aware=ball_aware)
    solver = "minicard" if encoding == "native" else "glucose4"
    assert projected_models(f, solver) == expected_members(net, region, classes, negate)


@given(cases(), st.sampled_from([1.0, 0.125, -0.5, 3.0]), st.booleans(), st.sampled_from(["unary", "seqcounter"]))
def test_one_class_questions_over_equal_scales_are_exactly_the_members(case, scale, negate, encoding):
    # equal output scales: pairs become one cardinality constraint on the difference of the counts,
    # and "class is c" / "class is not c" build only c's pairs, in one direction
    from bnnverify.encoders.layers import BNN, ArgmaxLayer

    net, region, _ = case
    out = net.output
    net = BNN(net.hidden, ArgmaxLayer(out.weights, np.full(out.n_classes, scale), out.bias),
              thermometer_levels=net.thermometer_levels)
    for c in range(net.n_classes):
        f = class_formula(net, region, [c], negate=negate, encoding=encoding)
        assert projected_models(f) == expected_members(net, region, [c], negate)


@settings(max_examples=30)
@given(cases(max_inputs=6), st.sampled_from(CLAUSAL))
def test_models_decode_to_the_evaluators_codes(case, encoding):
    net, region, _ = case
    f = encode(net, region, encoding=encoding)
    ev = Evaluator(net)
    with Solver(name="cadical195", bootstrap_with=f.clauses) as s:
        for _ in range(8):
            if not s.solve():
                break
            model = np.array(s.get_model())
            x = f.decode_inputs(model)
            tr = ev.trace(x[None, :])
            for l, packed in enumerate(tr.codes):
                want = unpack_bits(packed, net.hidden[l].n_outputs)[0]
                assert np.array_equal(f.decode_codes(model)[l], want)
                const = np.array(f.networks[0].constants[l])
                fixed = const >= 0
                assert np.array_equal(want[fixed], const[fixed]), "a folded constant is wrong"
            cls = [c for c, lit in enumerate(f.networks[0].class_lits) if model[abs(lit) - 1] * np.sign(lit) > 0]
            assert cls == [int(tr.classes[0])]
            s.add_clause([-(i + 1) if x[i] else i + 1 for i in range(f.n_inputs)])


@settings(max_examples=30)
@given(st.data())
def test_miter_projection_is_exactly_the_disagreements(data):
    n = data.draw(st.integers(1, 6))
    net_a = data.draw(networks(n_inputs=st.just(n), n_classes=st.just(3)))
    net_b = data.draw(networks(n_inputs=st.just(n), n_classes=st.just(3)))
    region = data.draw(regions(net_a, kinds=("whole", "cube", "hamming", "hamming_mask")))
    enc = data.draw(st.sampled_from(CLAUSAL))
    f = disagreement_formula(net_a, net_b, region, encoding=enc)
    X = all_inputs(n)
    ok = region.contains(X) & (Evaluator(net_a).classify(X) != Evaluator(net_b).classify(X))
    assert projected_models(f) == {tuple(int(b) for b in r) for r in X[ok]}


@settings(max_examples=40)
@given(st.lists(st.integers(-6, 6).filter(bool), min_size=1, max_size=6, unique_by=abs), st.integers(1, 7))
def test_unary_counter_is_exact(lits, cap):
    from pysat.formula import IDPool

    sink = ClauseSink(IDPool(start_from=7))
    outs = unary_counter(sink, lits, cap)
    assert len(outs) == min(cap, len(lits))
    with Solver(name="glucose4", bootstrap_with=sink.clauses) as s:
        for bits in all_inputs(6):
            assume = [v if bits[v - 1] else -v for v in range(1, 7)]
            assert s.solve(assumptions=assume)
            model = set(s.get_model())
            total = sum(1 for l in lits if (l > 0) == bool(bits[abs(l) - 1]))
            for j, o in enumerate(outs, start=1):
                assert (o in model) == (total >= j)


@settings(max_examples=25)
@given(cases(max_inputs=8), st.sampled_from(CLAUSAL))
def test_ganak_projected_count_equals_enumeration(case, encoding):
    pg = pytest.importorskip("pyganak")
    net, region, classes = case
    f = class_formula(net, region, classes, encoding=encoding)
    c = pg.Counter()
    c.new_vars(f.n_vars)
    c.add_clauses(f.clauses)
    c.set_sampling_set(list(f.input_vars))
    assert int(c.count()) == len(expected_members(net, region, classes))


@settings(max_examples=20)
@given(cases(max_inputs=6), st.sampled_from(CLAUSAL))
def test_dimacs_has_projection_lines_and_round_trips(case, encoding):
    net, region, classes = case
    f = class_formula(net, region, classes, encoding=encoding)
    text = f.to_dimacs(comments=["test"])
    lines = text.splitlines()
    header = next(l for l in lines if l.startswith("p cnf"))
    _, _, nv, nc = header.split()
    ind = " ".join(map(str, range(1, net.n_inputs + 1)))
    assert f"c ind {ind} 0" in lines and f"c p show {ind} 0" in lines
    body = [l for l in lines if l and not l.startswith(("c", "p"))]
    assert int(nv) == f.n_vars and int(nc) == len(body)
    clauses = [[int(t) for t in l.split()[:-1]] for l in body]
    assert all(l.split()[-1] == "0" for l in body)
    assert all(0 < abs(v) <= f.n_vars for c in clauses for v in c)

    class Parsed:  # the parsed text as a formula for the enumerator
        atmosts = []
        n_inputs = f.n_inputs
        decode_inputs = f.decode_inputs

    Parsed.clauses = clauses
    assert projected_models(Parsed) == expected_members(net, region, classes)


def _tiny_net():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    h = ThresholdLayer(np.array([[1, 1, -1, 1], [1, -1, -1, 1]], dtype=np.int8), np.array([0, 2]))
    o = ArgmaxLayer(np.array([[1, 1], [-1, 1]], dtype=np.int8), np.ones(2), np.zeros(2))
    return BNN((h,), o)


def test_native_formulas_cannot_be_exported():
    f = class_formula(_tiny_net(), Whole(4), [0], encoding="native")
    assert f.atmosts
    with pytest.raises(ModelError, match="native"):
        f.to_dimacs()


def test_encoding_names_resolve_and_unknown_names_fail():
    assert resolve_encoding(None) in ENCODINGS
    assert resolve_encoding("SEQ") == "seqcounter"
    with pytest.raises(SolverError, match="valid names: unary, seqcounter"):
        resolve_encoding("bogus")


def test_class_out_of_range_is_a_model_error():
    net = _tiny_net()
    with pytest.raises(ModelError, match="outside"):
        class_formula(net, Whole(net.n_inputs), [net.n_classes])


def test_hamming_ball_first_layer_folds_to_units():
    """On a radius-1 ball, a neuron with margin >= 2 is a unit clause, not a counter."""
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    w = np.ones((2, 6), dtype=np.int8)
    h = ThresholdLayer(w, np.array([-6, 6]))  # always on at distance <= 1, on only at all-ones
    o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
    net = BNN((h,), o)
    f = encode(net, HammingBall(np.zeros(6, np.uint8), 1))
    assert f.networks[0].constants[0] == (1, 0)


def test_cli_export_cnf_writes_a_counted_projection(tmp_path):
    from click.testing import CliRunner

    from bnnverify.files.modelio import save_model
    from bnnverify.cli import main

    net = _tiny_net()
    save_model(net, tmp_path / "m.npz")
    out = tmp_path / "q.cnf"
    res = CliRunner().invoke(main, ["export-cnf", str(tmp_path / "m.npz"), "--region", "whole",
                                    "--not-class", "0", "--encoding", "seqcounter", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    import json

    info = json.loads(res.output)
    text = out.read_text()
    assert "c ind 1 2 3 4 0" in text and info["n_vars"] == int(text.split("p cnf ")[1].split()[0])
    lines = [l for l in text.splitlines() if l and l[0] not in "cp"]

    class Parsed:
        atmosts = []
        n_inputs = 4
        clauses = [[int(t) for t in l.split()[:-1]] for l in lines]

        @staticmethod
        def decode_inputs(model):
            return (np.asarray(model)[:4] > 0).astype(np.uint8)

    assert projected_models(Parsed) == expected_members(net, Whole(4), [0], negate=True)
    bad = CliRunner().invoke(main, ["export-cnf", str(tmp_path / "m.npz"), "--region", "whole",
                                    "--class", "0", "--encoding", "native", "--out", str(out)])
    assert bad.exit_code == 2 and "native" in bad.output
