"""SAT questions: replayed witnesses, UNSAT against brute force, time limits that hold.

Hypothesis draws small networks and regions and a (solver, encoding) pair per
example (sampling the product rather than running all of it each time).
"""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import all_inputs, bit_vectors, networks, regions

from bnnverify.errors import ReplayMismatch, SolverError
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.engines.sat import (
    SatStatus,
    count_projected,
    replay_class_witness,
    sat_find_class,
    sat_find_disagreement,
    sat_find_each_class,
    sat_max_radius,
)
from bnnverify.encoders.cardinality_cnf import ENCODINGS
from bnnverify.encoders.regions import HammingBall, Whole
from bnnverify.encoders.solving import SOLVERS, SolverSession, resolve_solver

SOME_SOLVERS = ["cadical195", "glucose4", "minisat22", "kissat404", "lingeling", "maplechrono"]
CLAUSAL = [e for e in ENCODINGS if e != "native"]
#: Generous slack over a time limit for process start/kill on a loaded machine.
SLACK = 2.0


@st.composite
def solver_encoding(draw):
    enc = draw(st.sampled_from(list(ENCODINGS)))
    if enc == "native":
        return draw(st.sampled_from(["minicard", "gluecard3", "gluecard4"])), enc
    return draw(st.sampled_from(SOME_SOLVERS)), enc


@given(st.data(), solver_encoding(), st.booleans())
def test_find_class_agrees_with_enumeration(data, se, with_timeout):
    net = data.draw(networks(n_inputs=st.integers(1, 8), thermometer=data.draw(st.sampled_from([None, 2]))))
    region = data.draw(regions(net))
    classes = data.draw(st.lists(st.integers(0, net.n_classes - 1), min_size=1, max_size=2, unique=True))
    solver, enc = se
    r = sat_find_class(net, region, classes, solver=solver, encoding=enc, timeout=30.0 if with_timeout else None)
    X = all_inputs(net.n_inputs)
    exists = (region.contains(X) & np.isin(Evaluator(net).classify(X), classes)).any()
    assert r.status is (SatStatus.SAT if exists else SatStatus.UNSAT)
    if exists:
        assert region.contains(r.witness[None, :])[0]
        assert Evaluator(net).classify_one(r.witness) == r.witness_class in classes
    assert r.solver == resolve_solver(solver) and r.encoding == enc and r.n_vars > 0


@settings(max_examples=30)
@given(st.data())
def test_disagreement_agrees_with_enumeration(data):
    n = data.draw(st.integers(1, 7))
    a = data.draw(networks(n_inputs=st.just(n), n_classes=st.just(3)))
    b = data.draw(networks(n_inputs=st.just(n), n_classes=st.just(3)))
    region = data.draw(regions(a, kinds=("whole", "cube", "hamming", "hamming_mask")))
    r = sat_find_disagreement(a, b, region, solver=data.draw(st.sampled_from(SOME_SOLVERS)),
                              encoding=data.draw(st.sampled_from(CLAUSAL)))
    X = all_inputs(n)
    diff = region.contains(X) & (Evaluator(a).classify(X) != Evaluator(b).classify(X))
    assert r.status is (SatStatus.SAT if diff.any() else SatStatus.UNSAT)
    if diff.any():
        assert r.witness_class == (Evaluator(a).classify_one(r.witness), Evaluator(b).classify_one(r.witness))


@settings(max_examples=40)
@given(st.data())
def test_max_radius_is_the_brute_force_radius(data):
    net = data.draw(networks(n_inputs=st.integers(1, 8)))
    n = net.n_inputs
    center = data.draw(bit_vectors(n))
    mutable = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: np.array(v, bool))))
    solver = data.draw(st.sampled_from(["cadical195", "glucose4", "kissat404"]))
    max_radius = data.draw(st.one_of(st.none(), st.integers(0, n)))
    r = sat_max_radius(net, center, mutable=mutable, max_radius=max_radius, solver=solver,
                       timeout=data.draw(st.sampled_from([None, 30.0])))
    X = all_inputs(n)
    ev = Evaluator(net)
    moved = X != center
    ok = np.ones(len(X), bool) if mutable is None else ~moved[:, ~mutable].any(axis=1)
    dist = moved.sum(axis=1)
    bad = ok & (ev.classify(X) != ev.classify_one(center))
    first_bad = int(dist[bad].min()) if bad.any() else None
    limit = n if mutable is None else int(mutable.sum())
    if max_radius is not None:
        limit = min(limit, max_radius)
    if first_bad is not None and first_bad <= limit:
        assert r.status is SatStatus.SAT and r.radius == first_bad - 1
        assert int((r.counterexample != center).sum()) == first_bad
        assert ev.classify_one(r.counterexample) == r.counterexample_class != ev.classify_one(center)
    else:
        assert r.status is SatStatus.UNSAT and r.radius == limit and r.counterexample is None


@settings(max_examples=20)
@given(st.data())
def test_each_class_on_one_formula(data):
    net = data.draw(networks(n_inputs=st.integers(1, 7)))
    region = data.draw(regions(net))
    res = sat_find_each_class(net, region, range(net.n_classes), solver=data.draw(st.sampled_from(SOME_SOLVERS)),
                              timeout=data.draw(st.sampled_from([None, 30.0])))
    X = all_inputs(net.n_inputs)
    present = set(Evaluator(net).classify(X)[region.contains(X)].tolist())
    for c, r in res.items():
        assert (r.status is SatStatus.SAT) == (c in present)
        assert r.status in (SatStatus.SAT, SatStatus.UNSAT)


@settings(max_examples=20)
@given(st.data())
def test_count_projected_equals_enumeration(data):
    pytest.importorskip("pyganak")
    net = data.draw(networks(n_inputs=st.integers(1, 9)))
    region = data.draw(regions(net))
    c = data.draw(st.integers(0, net.n_classes - 1))
    negate = data.draw(st.booleans())
    X = all_inputs(net.n_inputs)
    want = int((region.contains(X) & ((Evaluator(net).classify(X) == c) != negate)).sum())
    assert count_projected(net, region, [c], negate=negate, encoding=data.draw(st.sampled_from(list(ENCODINGS)))) == want


def _php(pigeons: int, holes: int) -> list[list[int]]:
    """The pigeonhole formula: unsatisfiable and exponentially hard for resolution."""
    v = lambda i, j: i * holes + j + 1  # noqa: E731
    cls = [[v(i, j) for j in range(holes)] for i in range(pigeons)]
    cls += [[-v(a, j), -v(b, j)] for j in range(holes) for a in range(pigeons) for b in range(a + 1, pigeons)]
    return cls


def _random_3sat(n: int, ratio: float, seed: int) -> list[list[int]]:
    r = random.Random(seed)
    out = []
    for _ in range(int(n * ratio)):
        out.append([v if r.random() < 0.5 else -v for v in r.sample(range(1, n + 1), 3)])
    return out


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_tiny_timeout_holds_for_every_solver(solver):
    hard = _php(12, 11) if solver != "lingeling" else _random_3sat(500, 4.26, 7)
    limit = 0.25
    t0 = time.perf_counter()
    with SolverSession(solver, hard) as s:
        out = s.solve(timeout=limit)
        assert out.status is SatStatus.TIMEOUT and out.model is None
        # the session survives a kill: an easy call afterwards still answers
        assert s.solve(timeout=limit).status is SatStatus.TIMEOUT  # a fresh worker, killed again
    assert time.perf_counter() - t0 < 2 * limit + SLACK


def test_session_is_incremental_and_restarts_after_timeout():
    with SolverSession("cadical195", _php(12, 11) + [[200]]) as s:
        assert s.solve(timeout=0.2).status is SatStatus.TIMEOUT
        s.add_clauses([[-1]])
        assert s.solve([-200], timeout=5).status is SatStatus.UNSAT  # conflict with a unit: immediate
    with SolverSession("glucose4", [[1, 2]]) as s:
        assert s.solve([-1], timeout=5).status is SatStatus.SAT
        s.add_clauses([[-2]])
        out = s.solve([-1], timeout=5)
        assert out.status is SatStatus.UNSAT


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(SolverError, match="valid names: cadical195"):
        resolve_solver("z3")
    with pytest.raises(SolverError, match="native cardinality"):
        SolverSession("cadical195", [[1]], [([1, 2], 1)])


def test_replay_mismatch_is_raised():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    h = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([0]))
    o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    net = BNN((h,), o)
    x = np.array([1, 1], np.uint8)  # class 0
    with pytest.raises(ReplayMismatch, match="class 0"):
        replay_class_witness(net, Whole(2), x, [1])
    with pytest.raises(ReplayMismatch, match="not in the region"):
        replay_class_witness(net, HammingBall(np.zeros(2, np.uint8), 1), x, [0])


#: (model, input width, instance, radius): radius 2 on 784 inputs is 307,721 members, so only once.
ANCHOR_CASES = [
    ("mnist_bnn_1_blk_784_100_10", 784, "0", 1),
    ("mnist_bnn_1_blk_784_100_10", 784, "3", 1),
    ("mnist_bnn_1_blk_784_100_10", 784, "ID1322", 2),
    ("mnist_bnn_2_blk_100_50_20_10", 100, "1", 2),
    ("mnist_bnn_2_blk_100_50_20_10", 100, "ID5136", 2),
    ("mnist_bnn_1_blk_64_10_10", 64, "2", 2),
    ("mnist_bnn_1_blk_64_10_10", 64, "18", 2),
]


@pytest.mark.anchors
def test_bnnquanalyst_radius_1_2_against_enumeration(anchors):
    imp = pytest.importorskip("bnnverify.importers.bnnquanalyst")
    nets = {}
    for model, n, inst, k in ANCHOR_CASES:
        if model not in nets:
            nets[model] = imp.import_bnnquanalyst(anchors / "models" / model)
        net = nets[model]
        ev = Evaluator(net)
        x = imp.read_instance(anchors / "inputs" / f"instance_{inst}_{n}.txt", n)
        pred = ev.classify_one(x)
        ball = HammingBall(x, k)
        bad = any((ev.classify(batch) != pred).any() for batch in ball.members())
        r = sat_find_class(net, ball, [c for c in range(10) if c != pred], timeout=60)
        assert r.status is (SatStatus.SAT if bad else SatStatus.UNSAT), (model, inst, k)


def _daemon_probe(q, solver):
    try:
        with SolverSession(solver, _php(12, 11)) as s:
            t0 = time.perf_counter()
            out = s.solve(timeout=0.25)
            q.put((out.status.value, time.perf_counter() - t0))
    except SolverError as e:
        q.put(("error", str(e)))


@pytest.mark.parametrize("solver", ["glucose4", "cadical195"])
def test_time_limit_inside_a_daemonic_process(solver):
    """Dask/Pool workers are daemonic and cannot fork workers: interrupt, or refuse clearly."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_daemon_probe, args=(q, solver), daemon=True)
    p.start()
    status, info = q.get(timeout=30)
    p.join(10)
    if solver == "cadical195":
        assert status == "error" and "ignores interrupts" in info
    else:
        assert status == "timeout" and info < 0.25 + SLACK


def test_timeout_bounds_the_encoding_too():
    """A formula too large to build within the limit answers TIMEOUT promptly (cross-check bug 2)."""
    import time as _time

    from bnnverify.engines.sat import sat_find_class, sat_find_disagreement
    from bnnverify.encoders.layers import BNN as _BNN, ArgmaxLayer as _Arg, ThresholdLayer as _Thr
    from bnnverify.encoders.regions import Whole as _Whole
    from bnnverify.encoders.solving import SatStatus as _St

    rng = np.random.default_rng(7)
    widths = [400, 300, 300]
    hidden = tuple(
        _Thr(np.where(rng.random((widths[i + 1], widths[i])) < 0.5, 1, -1).astype(np.int8),
             rng.integers(-10, 10, widths[i + 1]), name=f"layer{i}")
        for i in range(2)
    )
    net = _BNN(hidden, _Arg(np.where(rng.random((10, 300)) < 0.5, 1, -1).astype(np.int8), np.ones(10), np.zeros(10)))
    limit = 0.5
    t0 = _time.perf_counter()
    r = sat_find_disagreement(net, net, _Whole(400), timeout=limit)
    assert r.status is _St.TIMEOUT and r.witness is None
    r2 = sat_find_class(net, _Whole(400), [1, 2], timeout=limit)
    assert r2.status is _St.TIMEOUT and r2.witness is None
    # one neuron's counter is the granularity of the check: generous slack for a loaded machine
    assert _time.perf_counter() - t0 < 30
