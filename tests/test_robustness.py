"""Robustness: every engine agrees with brute force (and with the others) on random networks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bnnverify.errors import EngineError, BudgetExceeded, DataError, RegionError, ReplayMismatch
from bnnverify.questions.robustness import (
    AUTO_ENUM_MAX_COUNT,
    AUTO_ENUM_MAX_DECIDE,
    check_robustness,
    choose_method,
    max_robust_radius,
)
from bnnverify.questions.verdict import Method, Verdict
from bnnverify.encoders.regions import HammingBall, Whole
from strategies import all_inputs, bit_vectors, networks, plain_forward, regions


#: Engines that decide (yes/no) and engines that count.
DECIDERS = [Method.ENUM, Method.SAT, Method.BDD]
COUNTERS = [Method.ENUM, Method.BDD]


def brute(net, region):
    """Members of the region and their classes, by the naive integer forward pass."""
    X = all_inputs(net.n_inputs)
    X = X[region.contains(X)]
    return X, plain_forward(net, X)[2]


def _region_around(data, net):
    """A random region that contains its centre x (x returned too)."""
    region = data.draw(regions(net))
    if isinstance(region, Whole):
        x = data.draw(bit_vectors(net.n_inputs))
    elif hasattr(region, "values"):
        x = np.asarray(region.values)
    else:
        x = np.asarray(region.center)
    return x, region


@settings(max_examples=40)
@given(st.data())
def test_verdicts_and_counterexamples_agree_with_brute_force(data):
    net = data.draw(networks(n_inputs=st.integers(1, 9)) | networks(n_inputs=st.integers(2, 9), thermometer=3))
    x, region = _region_around(data, net)
    X, cls = brute(net, region)
    pred = int(plain_forward(net, x[None, :])[2][0])
    adversarial = cls != pred
    for m in DECIDERS:
        r = check_robustness(net, x, region, method=m)
        assert r.method is m and r.predicted_class == pred
        assert r.region["size"] == region.size == len(X)
        if adversarial.any():
            assert r.verdict is Verdict.NOT_ROBUST, m
            w = r.counterexample
            assert region.contains(w)[0]
            assert int(plain_forward(net, w[None, :])[2][0]) == r.counterexample_class != pred
        else:
            assert r.verdict is Verdict.ROBUST and r.counterexample is None, m
        assert r.adversarial_count is None and r.class_counts is None


@settings(max_examples=40)
@given(st.data())
def test_counts_agree_with_brute_force(data):
    net = data.draw(networks(n_inputs=st.integers(1, 9)) | networks(n_inputs=st.integers(2, 9), thermometer=2))
    x, region = _region_around(data, net)
    X, cls = brute(net, region)
    pred = int(plain_forward(net, x[None, :])[2][0])
    expect = tuple(int(v) for v in np.bincount(cls, minlength=net.n_classes))
    for m in COUNTERS:
        r = check_robustness(net, x, region, method=m, count=True)
        assert r.class_counts == expect, m
        assert r.adversarial_count == len(X) - expect[pred]
        assert r.verdict is (Verdict.NOT_ROBUST if r.adversarial_count else Verdict.ROBUST)
        if r.counterexample is not None:
            assert region.contains(r.counterexample)[0]
            assert int(plain_forward(net, r.counterexample[None, :])[2][0]) == r.counterexample_class != pred


@settings(max_examples=40)
@given(st.data())
def test_max_radius_agrees_with_brute_force(data):
    net = data.draw(networks(n_inputs=st.integers(1, 9)))
    n = net.n_inputs
    x = data.draw(bit_vectors(n))
    mask = data.draw(st.none() | st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: np.array(v, bool)))
    cap = data.draw(st.none() | st.integers(0, n))
    X = all_inputs(n)
    diff = X != x
    inside = np.ones(len(X), bool) if mask is None else ~diff[:, ~mask].any(axis=1)
    cls = plain_forward(net, X)[2]
    pred = int(plain_forward(net, x[None, :])[2][0])
    n_mut = n if mask is None else int(mask.sum())
    limit = n_mut if cap is None else min(cap, n_mut)
    dist = diff.sum(axis=1)
    bad = inside & (cls != pred) & (dist <= limit)
    expect = int(dist[bad].min()) - 1 if bad.any() else limit
    for m in DECIDERS:
        r = max_robust_radius(net, x, mutable=mask, max_radius=cap, method=m)
        assert r.radius == expect and r.exact, (m, r)
        assert r.max_radius == limit
        if bad.any():
            assert r.verdict is Verdict.NOT_ROBUST
            assert int((r.counterexample != x).sum()) == expect + 1
            assert int(plain_forward(net, r.counterexample[None, :])[2][0]) == r.counterexample_class != pred
        else:
            assert r.verdict is Verdict.ROBUST and r.counterexample is None


def test_auto_choice_and_recorded_method():
    assert choose_method("auto", AUTO_ENUM_MAX_DECIDE, False) is Method.ENUM
    assert choose_method("auto", AUTO_ENUM_MAX_DECIDE + 1, False) is Method.SAT
    assert choose_method("auto", AUTO_ENUM_MAX_COUNT, True) is Method.ENUM
    assert choose_method("auto", AUTO_ENUM_MAX_COUNT + 1, True) is Method.BDD
    with pytest.raises(EngineError, match="SAT decides but does not count"):
        choose_method("sat", 10, True)
    with pytest.raises(EngineError, match="unknown engine 'magic'; valid names: auto, enum, bdd, sat"):
        choose_method("magic", 10, False)


def _tiny_net():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    h = ThresholdLayer(np.ones((1, 3), dtype=np.int8), np.array([3]))
    o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    return BNN((h,), o)


def test_bad_inputs_raise_project_errors():
    net = _tiny_net()
    x = np.ones(3, np.uint8)
    with pytest.raises(RegionError, match="does not contain the input"):
        check_robustness(net, x, HammingBall(np.zeros(3, np.uint8), 1))
    with pytest.raises(DataError, match="2 bits, the model expects 3"):
        check_robustness(net, np.ones(2, np.uint8), Whole(2))
    with pytest.raises(DataError, match="0 or 1"):
        check_robustness(net, np.array([1, 2, 1]), Whole(3))
    with pytest.raises(RegionError, match="between 0 and n=3"):
        max_robust_radius(net, x, max_radius=4)


def test_enumeration_beyond_its_limit_is_unknown_not_a_guess():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    n = 40
    net = BNN((ThresholdLayer(np.ones((1, n), np.int8), np.array([0])),),
              ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    r = check_robustness(net, np.ones(n, np.uint8), Whole(n), method="enum", count=True)
    assert r.verdict is Verdict.UNKNOWN and r.class_counts is None
    assert "budget exceeded" in r.note


def test_a_witness_that_does_not_replay_is_a_bug(monkeypatch):
    import bnnverify.engines.enumeration as en

    net = _tiny_net()
    x = np.ones(3, np.uint8)
    monkeypatch.setattr(en, "enum_find_class", lambda net, region, classes: np.ones(3, np.uint8))
    with pytest.raises(ReplayMismatch, match=r"enum witness 111 replays to class 0, not one of \[1\]"):
        check_robustness(net, x, HammingBall(x, 1), method="enum")


def test_engine_budget_and_timeout_become_undecided(monkeypatch):
    import bnnverify.engines.enumeration as en

    def over(*a, **k):
        raise BudgetExceeded("more than 10 nodes")

    monkeypatch.setattr(en, "enum_find_class", over)
    x = np.ones(3, np.uint8)
    r = check_robustness(_tiny_net(), x, HammingBall(x, 1), method="enum")
    assert r.verdict is Verdict.UNKNOWN and r.note == "budget exceeded: more than 10 nodes"
    assert r.to_json()["verdict"] == "unknown"


def test_sat_timeout_is_reported_never_guessed(monkeypatch):
    import bnnverify.engines.sat as sat

    def slow(net, region, classes, **kw):
        return sat.SatResult(sat.SatStatus.TIMEOUT, None, None, 2.5, "cadical195", "seqcounter", 10, 20)

    monkeypatch.setattr(sat, "sat_find_class", slow)
    monkeypatch.setattr(sat, "find_by_sampling", lambda *a, **k: None)  # the solver's answer, not sampling's
    x = np.ones(3, np.uint8)
    r = check_robustness(_tiny_net(), x, HammingBall(x, 1), method="sat", timeout=2.5)
    assert r.verdict is Verdict.TIMEOUT and r.counterexample is None
    assert "ran out of time" in r.note


def test_bdd_budget_exceeded_is_unknown():
    from bnnverify.encoders.bdd import BDDBudget
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    rng = np.random.default_rng(1)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    net = BNN((ThresholdLayer(pm(8, 24), np.zeros(8, np.int64)),), ArgmaxLayer(pm(3, 8), np.ones(3), np.zeros(3)))
    x = np.ones(24, np.uint8)
    r = check_robustness(net, x, Whole(24), method="bdd", count=True, budget=BDDBudget(max_nodes=20))
    assert r.verdict is Verdict.UNKNOWN and r.class_counts is None and r.adversarial_count is None
    assert r.note.startswith("budget exceeded")


def test_unknown_solver_and_encoding_names_fail_whatever_auto_picks():
    from bnnverify.errors import SolverError

    x = np.ones(3, np.uint8)
    with pytest.raises(SolverError, match="nosuchsolver"):
        check_robustness(_tiny_net(), x, HammingBall(x, 1), solver="nosuchsolver")
    with pytest.raises(SolverError, match="nosuchenc"):
        max_robust_radius(_tiny_net(), x, encoding="nosuchenc")


@settings(max_examples=15)
@given(st.data())
def test_auto_max_radius_switches_from_enumeration_to_sat(data):
    import bnnverify.questions.robustness as rb

    net = data.draw(networks(n_inputs=st.integers(4, 9)))
    x = data.draw(bit_vectors(net.n_inputs))
    exact = max_robust_radius(net, x, method="enum")
    old = rb.AUTO_ENUM_MAX_DECIDE
    rb.AUTO_ENUM_MAX_DECIDE = 1 + net.n_inputs  # enumeration stops after radius 1
    try:
        r = max_robust_radius(net, x, method="auto")
    finally:
        rb.AUTO_ENUM_MAX_DECIDE = old
    assert (r.radius, r.verdict) == (exact.radius, exact.verdict)


def test_auto_max_radius_keeps_the_radius_enumeration_proved(monkeypatch):
    """When SAT gives up, auto's lower bound is still what enumeration already proved."""
    import bnnverify.questions.robustness as rob
    import bnnverify.engines.sat as sat_mod
    from bnnverify.questions.verdict import Verdict as _V
    from bnnverify.encoders.layers import BNN as _BNN, ArgmaxLayer as _Arg, ThresholdLayer as _Thr
    from bnnverify.encoders.solving import SatStatus as _St

    n = 30
    # one always-on neuron: every input has class 0, so x is robust at every radius
    net = _BNN((_Thr(np.ones((1, n), np.int8), np.array([-n], np.int64)),),
               _Arg(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    import bnnverify.engines.policy as policy

    monkeypatch.setattr(policy, "AUTO_ENUM_MAX_DECIDE", 100)  # enumeration stops after its first batch
    seen = {}

    def gives_up(*args, **kwargs):
        seen.update(kwargs)
        return sat_mod.RadiusResult(_St.TIMEOUT, 0, None, 0.0)

    monkeypatch.setattr(sat_mod, "sat_max_radius", gives_up)
    r = rob.max_robust_radius(net, np.zeros(n, np.uint8), method="auto", timeout=5)
    assert r.verdict is _V.TIMEOUT
    from bnnverify.engines.enumeration import enum_shells

    by_enum, _, finished = enum_shells(net, np.zeros(n, np.uint8), n, None, 100, None)
    assert not finished and by_enum >= 1
    assert r.radius == by_enum  # proven by enumeration, not lost when SAT gives up
    assert seen["max_radius"] is None  # no user cap: SAT grows its own stages
