"""The Hamming-ball kernel (bnnverify/evaluation/flips.py) against brute force on the semantics.

Every count the compiled kernel gives is compared with the same kernel run as
plain Python, with the numpy programme of the ball engine and with the first
layer's code of every member computed by bnnverify/semantics.py; the
witnesses it finds are replayed on the semantics.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import bit_vectors, nasty_networks, networks

from bnnverify import semantics
from bnnverify.encoders.regions import HammingBall
from bnnverify.engines.ball import ball_layer1, kernel_plan
from bnnverify.evaluation.flips import HAVE_NUMBA, FlipPlan, count_codes, find_flips, type_multisets

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


@st.composite
def balls(draw, n_inputs=st.integers(1, 14), radius_max=5):
    """A network (often with many neurons near their thresholds) and a Hamming ball, masked or not."""
    net = draw(st.one_of(networks(n_inputs=n_inputs, width=st.integers(1, 12)), nasty_networks(
        n_inputs=n_inputs, n_hidden=st.integers(1, 3))))
    n = net.n_inputs
    mask = None
    if draw(st.booleans()):
        mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return net, HammingBall(draw(bit_vectors(n)), draw(st.integers(0, min(n, radius_max))), mask)


def brute_codes(net, ball) -> dict[bytes, int]:
    """Exact first-layer code counts over the ball, one member at a time on the semantics."""
    out: dict[bytes, int] = {}
    for block in ball.members():
        for x in block:
            code = bytes(semantics.forward(net, x.tolist()).codes[0])
            out[code] = out.get(code, 0) + 1
    return out


def as_dict(codes: np.ndarray, counts: np.ndarray) -> dict[bytes, int]:
    assert len({bytes(c) for c in codes}) == len(codes)  # one row per distinct code
    return {bytes(c.astype(np.uint8)): int(v) for c, v in zip(codes, counts)}


@given(balls())
@settings(max_examples=150, deadline=None)
def test_kernel_counts_equal_brute_force_and_the_numpy_programme(case):
    net, ball = case
    if not net.hidden:
        return
    want = brute_codes(net, ball)
    assert sum(want.values()) == ball.size
    plan = FlipPlan.of(net, ball)
    assert as_dict(*count_codes(plan, compiled=False)) == want
    assert as_dict(*ball_layer1(net, ball, 10**6, kernel=False)) == want
    for fence in (0, 63):  # the last flip type by type, and always by bitsets
        assert as_dict(*count_codes(plan, compiled=False, fence=fence)) == want
    if HAVE_NUMBA:
        assert as_dict(*count_codes(plan, threads=2)) == want
        assert as_dict(*count_codes(plan, threads=2, fence=0)) == want
        assert as_dict(*count_codes(plan, threads=2, fence=63)) == want
        assert as_dict(*ball_layer1(net, ball, 10**6, kernel=True)) == want


@needs_numba
@given(balls(n_inputs=st.integers(14, 22), radius_max=4))
@settings(max_examples=25, deadline=None)
def test_kernel_on_wider_balls_equals_brute_force(case):
    """Wider inputs and radius up to 4: the last flip's table and many bit types are exercised."""
    net, ball = case
    if not net.hidden:
        return
    want = brute_codes(net, ball)
    for fence in (None, 0, 63):
        assert as_dict(*count_codes(FlipPlan.of(net, ball), threads=2, fence=fence)) == want


@given(balls(), st.data())
@settings(max_examples=100, deadline=None)
def test_found_members_are_in_the_ball_and_have_a_wanted_code(case, data):
    net, ball = case
    if not net.hidden:
        return
    plan = FlipPlan.of(net, ball)
    codes, _ = count_codes(plan, compiled=False)
    pick = data.draw(st.lists(st.integers(0, len(codes) - 1), min_size=1, max_size=3, unique=True))
    wanted = {bytes(codes[i]) for i in pick}
    for compiled in (False, True) if HAVE_NUMBA else (False,):
        x = find_flips(plan, ball.center, codes[pick], compiled=compiled)
        assert x is not None and bool(ball.contains(x[None, :])[0])
        assert bytes(semantics.forward(net, x.tolist()).codes[0]) in wanted
    # a code no member has: nothing is found
    absent = np.array([c for c in {bytes(r) for r in np.eye(len(plan.fixed), dtype=np.uint8)} | {
        bytes(np.zeros(len(plan.fixed), np.uint8)), bytes(np.ones(len(plan.fixed), np.uint8))}
        if c not in {bytes(r) for r in codes}], dtype=object)
    if len(absent):
        rows = np.array([np.frombuffer(c, np.uint8) for c in absent])
        assert find_flips(plan, ball.center, rows, compiled=False) is None


@given(st.lists(st.integers(1, 5), max_size=8), st.integers(0, 6))
def test_type_multisets_counts_bounded_multisets(mult, r):
    """The kernel's work: multisets of at most r elements with type t at most mult[t] times."""
    def brute(i: int, left: int) -> int:
        if i == len(mult):
            return 1
        return sum(brute(i + 1, left - c) for c in range(min(mult[i], left) + 1))

    assert type_multisets(np.array(mult, np.int64), r) == brute(0, r)
    if all(m == 1 for m in mult):  # one bit per type: the work is the ball's size
        assert type_multisets(np.array(mult, np.int64), r) == sum(comb(len(mult), j) for j in range(r + 1))


def test_kernel_plan_refuses_too_many_changing_neurons():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    n, m = 8, 70  # 70 neurons on their threshold at the centre: all can change
    net = BNN((ThresholdLayer(np.ones((m, n), np.int8), np.zeros(m, np.int64)),),
              ArgmaxLayer(np.ones((2, m), np.int8), np.ones(2), np.zeros(2)))
    ball = HammingBall(np.array([1, 0] * 4, np.uint8), 2)
    assert kernel_plan(net, ball) is None
    codes, counts = ball_layer1(net, ball, 10**6)  # the numpy programme answers instead
    assert int(counts.sum()) == ball.size
    assert as_dict(codes, counts) == brute_codes(net, ball)


@needs_numba
def test_auto_hands_a_ball_beyond_the_kernels_work_bound_to_the_next_engine(monkeypatch):
    """The kernel gives up at once (BudgetExceeded) on a ball with more type multisets than MAX_BALL_WORK:
    auto then counts with the next engine, the reason says so, and the counts are still exact."""
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
    from bnnverify.engines import ball as ball_engine
    from bnnverify.engines import policy, run

    rng = np.random.default_rng(5)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    n = 14
    net = BNN((ThresholdLayer(pm(6, n), rng.integers(-2, 3, 6)),), ArgmaxLayer(pm(3, 6), np.ones(3), np.zeros(3)))
    ball = HammingBall(rng.integers(0, 2, n).astype(np.uint8), 3)
    monkeypatch.setattr(policy, "AUTO_BALL_MIN", 1)  # auto: the kernel first
    want = run.class_counts(net, ball, method="enum").counts
    ans = run.class_counts(net, ball)
    assert ans.choice.name == "ball" and ans.counts == want
    monkeypatch.setattr(ball_engine, "MAX_BALL_WORK", 1)
    ans = run.class_counts(net, ball)
    assert ans.choice.name != "ball" and "ball gave up" in ans.choice.reason and ans.counts == want
    asked = run.class_counts(net, ball, method="ball")  # asked for by name: no hand-over, no partial count
    assert asked.counts is None and "flip-type combinations" in asked.search.note
