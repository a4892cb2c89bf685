"""The Hamming-ball engine: exact per-code counts over a Hamming ball without enumerating it.

Only the first-layer neurons whose margin is within reach of the radius can
change; input bits with the same column on those neurons are
interchangeable (bit *types*), so subsets of flips are counted by type with
exact binomials. Two implementations, which the tests compare with each
other and with brute force on the semantics:

* the compiled kernel (:mod:`bnnverify.evaluation.flips`, numba): a depth-first
  walk over the multisets of types, bit-sliced per-neuron counts, codes
  summed in a hash table — the default wherever numba is installed and at
  most :data:`~bnnverify.evaluation.flips.MAX_UNSTABLE` neurons can change;
  it refuses (``BudgetExceeded``) a ball with more than :data:`MAX_BALL_WORK`
  type multisets, so ``auto`` goes on to the next engine;
* the numpy dynamic programme (:func:`ball_layer1` with ``kernel=False``):
  states (clamped dot products of the changing neurons, flips used) merged
  after every type, bounded by ``max_states``.

Every later layer is a function of the first layer's code, so the distinct
codes go through the rest of the network weighted by their counts.
Measured (``benchmarks/results/scale.md``): the radius-3 ball of 784-100-10
around instance_0_784 (8.0·10^7 members) in ~1 s with the kernel (numpy
programme: 53 s); radius 4 (1.6·10^10 members) in ~90 s; the radius-5 ball
of 100-50-20-10 (7.9·10^7) in ~4 s.

It answers per-layer (code, label) counts, with the label the network's
class or a constant (a label network needs the inputs themselves), and the
per-class counts they add up to; the kernel also finds a member of a counted
class (a walk that stops at the first flip set with a wanted code); with the
numpy programme that witness comes from the SAT engine.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import HammingBall
>>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([3]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> codes, counts = ball_layer1(BNN((h,), o), HammingBall(np.ones(3, np.uint8), 1), 100)
>>> sorted(zip(codes[:, 0].tolist(), counts.tolist()))
[(0, 3), (1, 1)]
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import HammingBall
from bnnverify.engines.base import Capability, EngineBase, Limits, Support
from bnnverify.errors import BudgetExceeded, DataError, InternalError
from bnnverify.evaluation.evaluator import Evaluator, pack_bits
from bnnverify.evaluation.flips import HAVE_NUMBA, MAX_UNSTABLE, FlipPlan, count_codes, find_flips
from bnnverify.information.codecounts import Labels, RowCounter

__all__ = ["MAX_BALL_STATES", "MAX_BALL_WORK", "ball_layer1", "ball_counter", "kernel_plan", "BallEngine",
           "ENGINE"]

#: The most type multisets the compiled kernel walks before it gives up (BudgetExceeded): measured
#: (``benchmarks/results/scale.md``) 1.5·10^10 of them (the radius-4 ball of 784-100-10) in ~90 s on
#: one busy core of this machine, so this bounds a count to about five minutes.
MAX_BALL_WORK: int = 5 * 10**10


def kernel_plan(net: BNN, ball: HammingBall) -> FlipPlan | None:
    """The compiled kernel's plan for ``ball``, or None when the kernel cannot take it (numba missing,
    no hidden layer, more than MAX_UNSTABLE neurons within reach of the radius)."""
    if not HAVE_NUMBA or not net.hidden:
        return None
    h = net.hidden[0]
    s = 2 * ball.center.astype(np.int64) - 1
    marg = h.weights.astype(np.int64) @ s - h.thresholds.astype(np.int64)
    r = ball.effective_radius
    if int(((marg >= -2 * r) & (marg < 2 * r)).sum()) > MAX_UNSTABLE:
        return None
    return FlipPlan.of(net, ball)


def ball_layer1(net: BNN, ball: HammingBall, max_states: int, *, kernel: bool | None = None,
                deadline: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact counts of the first hidden layer's codes over a Hamming ball, without enumerating it:
    by the compiled kernel when it takes the ball (``kernel=None``: whenever it can; ``True``: it
    must), else by the numpy programme below (``kernel=False``: always)."""
    if kernel is not False:
        plan = kernel_plan(net, ball)
        if plan is not None:
            work = plan.work()
            if work > MAX_BALL_WORK:
                raise BudgetExceeded(f"Hamming-ball kernel: {work} flip-type combinations to visit "
                                     f"({plan.k} neurons within reach, {len(plan.cols)} bit types), "
                                     f"beyond {MAX_BALL_WORK}")
            return count_codes(plan, deadline=deadline)
        if kernel:
            raise InternalError("the Hamming-ball kernel does not take this ball")
    return _programme(net, ball, max_states)


def _programme(net: BNN, ball: HammingBall, max_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact counts of the first hidden layer's codes over a Hamming ball, without enumerating it.

    Flipping input bit i changes neuron j's dot product by ``d_ji = -2·W_ji·s(x_i)``.
    Neurons whose margin exceeds what ``radius`` flips can change are constant;
    for the others, bits with the same ``d`` column are interchangeable, so a
    dynamic programme over these bit *types* tracks (dot products of the
    unstable neurons, flips used) with exact multiplicities ``C(n_type, c)``;
    a dot product that no remaining flips can move across its threshold is
    clamped, which merges states. Returns the distinct codes as (P, m) bits
    and their exact counts (int64; they add up to ``ball.size``).
    """
    h = net.hidden[0]
    x = ball.center
    s = 2 * x.astype(np.int64) - 1
    W = h.weights.astype(np.int64)
    theta = h.thresholds.astype(np.int64)
    base = W @ s
    mut = ball.mutable_indices
    r = ball.effective_radius
    marg = base - theta
    unstable = np.flatnonzero((marg >= -2 * r) & (marg < 2 * r))
    fixed = (marg >= 0).astype(np.uint8)
    k = len(unstable)
    th = theta[unstable]
    hi, lo = th + 2 * r, th - 2 * r - 1  # clamped values: fires / stays off whatever follows
    S = base[unstable][None, :]
    f = np.zeros(1, np.int64)
    w = np.ones(1, np.int64)
    if k and len(mut) and r:
        D = -2 * (W[np.ix_(unstable, mut)] * s[None, mut]).T  # (mutable bits, k)
        types, n_of = np.unique(D, axis=0, return_counts=True)
        for d, nt in zip(types, n_of.tolist()):
            parts_S, parts_f, parts_w = [], [], []
            for c in range(0, min(nt, r) + 1):
                ok = f + c <= r
                if not ok.any():
                    break
                parts_S.append(S[ok] + c * d[None, :])
                parts_f.append(f[ok] + c)
                parts_w.append(w[ok] * comb(nt, c))
            S, f, w = np.concatenate(parts_S), np.concatenate(parts_f), np.concatenate(parts_w)
            rem = 2 * (r - f)[:, None]
            S = np.where(S - th >= rem, hi, np.where(S - th < -rem, lo, S))
            key = np.concatenate([S, f[:, None]], axis=1)
            uniq, inv = np.unique(key, axis=0, return_inverse=True)
            if len(uniq) > max_states:
                raise BudgetExceeded(
                    f"Hamming-ball counting: more than {max_states} states after a bit type "
                    f"({k} neurons within reach of radius {r})"
                )
            merged = np.zeros(len(uniq), np.int64)
            np.add.at(merged, inv.reshape(-1), w)
            S, f, w = uniq[:, :k], uniq[:, k], merged
    else:  # no neuron can change: every member has the centre's code, but count all members
        w = np.array([ball.size], np.int64)
    bits_u = (S >= th[None, :]).astype(np.uint8) if k else np.zeros((len(w), 0), np.uint8)
    uniq, inv = np.unique(bits_u, axis=0, return_inverse=True)
    counts = np.zeros(len(uniq), np.int64)
    np.add.at(counts, inv.reshape(-1), w)
    codes = np.broadcast_to(fixed, (len(uniq), len(fixed))).copy()
    codes[:, unstable] = uniq
    if int(counts.sum()) != ball.size:
        raise InternalError(f"Hamming-ball counts add up to {int(counts.sum())}, not {ball.size}")
    return codes, counts


#: States the Hamming-ball programme may hold before it gives up (BudgetExceeded).
MAX_BALL_STATES = 2_000_000
#: Its counts are int64: balls must be smaller than this.
_BALL_MAX_SIZE = 1 << 62


def ball_counter(net: BNN, ball: HammingBall, labels: Labels, const_label: int | None = None,
                 max_states: int = MAX_BALL_STATES, *, kernel: bool | None = None,
                 deadline: float | None = None) -> RowCounter:
    """Exact per-layer (code, label) counts over a Hamming ball by :func:`ball_layer1`.

    Every later layer and the class are functions of the first layer's code,
    so the distinct first-layer codes go through the rest of the network
    (reference evaluator), weighted by their counts. The label is the class
    or ``const_label``; a label network needs the inputs themselves (use enum or bdd).
    """
    if isinstance(labels, BNN) and const_label is None:
        raise DataError("method 'ball' cannot use a label model (it never sees the inputs); use enum or bdd")
    if ball.size >= _BALL_MAX_SIZE:
        raise BudgetExceeded(f"Hamming-ball counting: the ball has {ball.size} members, beyond 2^62")
    return _count_rows(net, *ball_layer1(net, ball, max_states, kernel=kernel, deadline=deadline), const_label)


def _count_rows(net: BNN, codes1: np.ndarray, counts: np.ndarray, const_label: int | None) -> RowCounter:
    rest = BNN(net.hidden[1:], net.output)
    tr = Evaluator(rest).trace(codes1)
    y = tr.classes if const_label is None else np.full(len(counts), const_label, np.int64)
    rc = RowCounter(net)
    rc.add((pack_bits(codes1),) + tuple(tr.codes), y, weight=counts)
    return rc


class BallEngine(EngineBase):
    """Per-layer (code, label) counts over Hamming balls by the flip-type programme."""

    name = "ball"
    summary = "Hamming balls: exact per-code counts by flipped-bit types (compiled kernel, numpy programme without numba)"
    capabilities = frozenset({Capability.LAYER_LABELS, Capability.CLASS_COUNTS})
    region_kinds = frozenset({"hamming"})

    def check(self, nets: tuple[Any, ...], region: Any, capability: Capability) -> Support:
        if any(not net.hidden for net in nets):
            return Support(False, "engine 'ball' counts first-layer codes: the network has no hidden layer")
        if region.size >= _BALL_MAX_SIZE:
            return Support(False, f"engine 'ball' counts in int64: the ball has {region.size} members, beyond 2^62")
        return Support(True)

    def layer_labels(self, net: BNN, region: HammingBall, labels: Labels, const_label: int | None,
                     limits: Limits) -> RowCounter:
        return ball_counter(net, region, labels, const_label, deadline=limits.deadline)

    def class_counts(self, net: BNN, region: HammingBall, witness_of, limits: Limits):
        from bnnverify.encoders.results import ClassCounts
        from bnnverify.engines.sat import counted_witness

        codes1, counts = ball_layer1(net, region, MAX_BALL_STATES, deadline=limits.deadline)
        classes = Evaluator(BNN(net.hidden[1:], net.output)).classify(codes1)
        per_class = np.zeros(net.n_classes, dtype=object)
        np.add.at(per_class, classes, counts.astype(object))
        cc = ClassCounts(region.size, [int(v) for v in per_class])
        wanted = [c for c in witness_of if cc.counts[c] > 0]
        if not wanted:
            return cc, None
        plan = kernel_plan(net, region)
        if plan is None:  # the numpy programme never sees a member: SAT finds one
            return cc, counted_witness(net, region, cc, witness_of, limits)
        w = find_flips(plan, region.center, codes1[np.isin(classes, wanted)])
        if w is None:
            raise InternalError(f"Hamming-ball kernel counted members of classes {wanted} but finds none")
        return cc, w


ENGINE = BallEngine()
