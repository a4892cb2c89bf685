"""First-layer codes over a Hamming ball, counted by flip subsets of bit *types* (compiled with numba).

Flipping input bit i changes first-layer neuron j's dot product by
``d_ji = -2·W_ji·s(x_i)`` (``s(b) = 2b - 1``): by +2 or -2. Only the neurons
whose margin ``m_j = W_j·s(x) - θ_j`` satisfies ``-2r <= m_j < 2r`` can change
within radius ``r`` (the *unstable* ones, ``k`` of them); every other neuron
keeps the centre's bit. Bits with the same column of ``d`` on the unstable
neurons are interchangeable: a bit *type*, with a multiplicity ``n_t``.

A member of the ball is a set F of ``f <= r`` flipped bits. With ``p_j`` the
number of flipped bits that raise neuron j, its dot moves by ``4 p_j - 2 f``,
so it fires iff ``p_j >= t_j(f) = ceil((2 f - m_j) / 4)``: always when
``t_j(f) <= 0``, never when ``t_j(f) > f``. The kernel walks every multiset
of types (type t taken ``c <= n_t`` times, weight ``C(n_t, c)``, total at most
``r``) depth first, keeping ``p`` bit-sliced: ``ge[t]`` is the k-bit mask of
neurons with ``p_j >= t`` (adding c copies of column ``col``:
``ge[t] |= ge[t - c] & col``), so a member's code on the unstable neurons is
``always[f] | OR_t (ge[t] & at[f, t])`` — a few word operations, whatever the
width of the input. The last flip (every later type once) only matters on the
neurons on their *fence* (one raising flip from firing); when there are at most
:data:`FENCE_MAX` of them, their patterns over the later bits are counted by
popcounts of intersections of per-neuron bitsets, else type by type. Codes are summed in an open-addressing hash table, so
the answer is one exact count per distinct code, not one row per member.
The work is the number of type multisets, :func:`type_multisets` (at most
the ball's size: the members when every type has one bit).

Measured (``benchmarks/results/scale.md``): the radius-3 ball around
BNNQuanalyst's instance_0_784 on its 784-100-10 network (8.0·10^7 members,
k = 14, 738 types) in under a second, where the numpy dynamic programme over
types (:func:`bnnverify.engines.ball.ball_layer1`) took 53 s.

The same function without numba (:func:`count_codes` with ``compiled=False``)
runs the kernels as plain Python: the tests run both and compare them with
each other, with the numpy programme and with :mod:`bnnverify.semantics`.
Without numba installed, the Hamming-ball engine uses the numpy programme.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import HammingBall
>>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([3]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> plan = FlipPlan.of(BNN((h,), o), HammingBall(np.ones(3, np.uint8), 1))
>>> codes, counts = count_codes(plan, compiled=False)
>>> sorted(zip(codes[:, 0].tolist(), counts.tolist()))
[(0, 3), (1, 1)]
"""

from __future__ import annotations

import importlib.util
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import comb

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import HammingBall
from bnnverify.errors import DeadlineExceeded, InternalError

__all__ = [
    "HAVE_NUMBA",
    "MAX_UNSTABLE",
    "FlipPlan",
    "type_multisets",
    "count_codes",
    "find_flips",
]

# numba is imported (0.5 s) and the kernels loaded from its disk cache (0.5 s) only when a ball is
# counted: bnnverify.evaluation.flipkernels, through _kernels()
_NUMBA_SPEC = importlib.util.find_spec("numba")

#: Whether the compiled kernels are available.
HAVE_NUMBA: bool = _NUMBA_SPEC is not None

#: The kernel keeps a code of the unstable neurons in one int64 (the sign bit is
#: the hash table's empty marker): at most this many unstable neurons.
MAX_UNSTABLE: int = 63

#: The last flip is counted by bitset intersections (one walk over the patterns of the neurons it
#: can still decide) when at most this many neurons are on their fence, else type by type in a
#: small hash table; measured on the radius-4 ball of 784-100-10 (``benchmarks/results/scale.md``).
FENCE_MAX: int = 6  # radius 4: 61 s with 6, 117 s type by type, 169 s with 10 (load 1.3 rising to 6)

#: Work units (root types) per thread: small enough to check the deadline between
#: them and to balance the threads (a root's subtree shrinks with its index).
_CHUNKS_PER_THREAD: int = 16


@dataclass(frozen=True)
class FlipPlan:
    """What the kernels need for one ball: the unstable neurons, the bit types and the firing masks.

    ``cols[t]`` is type t's column (bit j set: flipping raises unstable neuron
    j), ``mult[t]`` its number of bits, ``bits_of[t]`` those bits' indices;
    ``always[f]`` the unstable neurons that fire after any f flips, ``at[f, t]``
    those that fire after f flips iff ``p_j >= t``; ``fixed`` the centre's code.
    """

    radius: int
    unstable: np.ndarray  # (k,) neuron indices
    fixed: np.ndarray  # (m,) uint8, the centre's first-layer code
    cols: np.ndarray  # (T,) int64 masks over the k unstable neurons
    mult: np.ndarray  # (T,) int64
    bits_of: tuple[np.ndarray, ...]
    always: np.ndarray  # (r + 1,) int64
    at: np.ndarray  # (r + 1, r + 1) int64
    size: int  # the ball's exact size

    @property
    def k(self) -> int:
        return len(self.unstable)

    @classmethod
    def of(cls, net: BNN, ball: HammingBall) -> "FlipPlan":
        h = net.hidden[0]
        s = 2 * ball.center.astype(np.int64) - 1
        W = h.weights.astype(np.int64)
        marg = W @ s - h.thresholds.astype(np.int64)
        r = ball.effective_radius
        mut = ball.mutable_indices
        unstable = np.flatnonzero((marg >= -2 * r) & (marg < 2 * r))
        k = len(unstable)
        if k > MAX_UNSTABLE:
            raise InternalError(f"flip kernel: {k} unstable neurons, beyond {MAX_UNSTABLE}")
        fixed = (marg >= 0).astype(np.uint8)
        raise_ = (W[np.ix_(unstable, mut)] * s[None, mut] < 0).T  # (mutable bits, k): flip adds +2
        weights = np.left_shift(np.int64(1), np.arange(k, dtype=np.int64))
        col_of_bit = (raise_.astype(np.int64) * weights[None, :]).sum(axis=1) if k else np.zeros(len(mut), np.int64)
        cols, inv = np.unique(col_of_bit, return_inverse=True)
        inv = inv.reshape(-1)
        order = np.argsort(inv, kind="stable")
        mult = np.bincount(inv, minlength=len(cols)).astype(np.int64)
        bits_of = tuple(np.split(mut[order], np.cumsum(mult)[:-1])) if len(cols) else ()
        always = np.zeros(r + 1, np.int64)
        at = np.zeros((r + 1, r + 1), np.int64)
        for j, mj in enumerate(marg[unstable].tolist()):
            for f in range(r + 1):
                t = -((mj - 2 * f) // 4)  # ceil((2f - m) / 4)
                if t <= 0:
                    always[f] |= 1 << j
                elif t <= f:
                    at[f, t] |= 1 << j
        return cls(r, unstable, fixed, cols.astype(np.int64), mult, bits_of, always, at, ball.size)

    def work(self) -> int:
        """The number of type multisets the kernel visits (:func:`type_multisets`)."""
        return type_multisets(self.mult, self.radius)

    def full_codes(self, keys: np.ndarray) -> np.ndarray:
        """First-layer codes (rows of bits) from the kernel's keys over the unstable neurons."""
        codes = np.broadcast_to(self.fixed, (len(keys), len(self.fixed))).copy()
        if self.k:
            codes[:, self.unstable] = ((keys[:, None] >> np.arange(self.k, dtype=np.int64)[None, :]) & 1)
        return codes

    def keys_of(self, codes: np.ndarray) -> np.ndarray:
        """The kernel's keys of first-layer codes (rows of bits): their bits on the unstable neurons."""
        weights = np.left_shift(np.int64(1), np.arange(self.k, dtype=np.int64))
        return (codes[:, self.unstable].astype(np.int64) * weights[None, :]).sum(axis=1)


def type_multisets(mult: np.ndarray, radius: int) -> int:
    """Exact number of multisets of at most ``radius`` elements taking type t at most ``mult[t]`` times
    (the coefficients of ``prod_t (1 + z + ... + z^min(n_t, r))`` up to ``z^r``)."""
    poly = [1] + [0] * radius
    for n in np.asarray(mult).tolist():
        top = min(int(n), radius)
        new = poly[:]
        for c in range(1, top + 1):
            for d in range(radius - c + 1):
                if poly[d]:
                    new[d + c] += poly[d]
        poly = new
    return sum(poly)


def _bitsets(plan: FlipPlan) -> tuple[np.ndarray, np.ndarray]:
    """Per unstable neuron, the bitset of the mutable bits (in type order) whose flip raises it, and
    a last row marking the bits that exist: (k + 1, words) uint64; the first bit position of every
    type, (T + 1,) int64."""
    start = np.concatenate([[0], np.cumsum(plan.mult)]).astype(np.int64)
    n_bits = int(start[-1])
    raises = ((plan.cols[:, None] >> np.arange(plan.k, dtype=np.int64)[None, :]) & 1).astype(bool)  # (T, k)
    per_bit = np.repeat(raises, plan.mult, axis=0).T  # (k, bits)
    words = max(1, (n_bits + 63) // 64)
    padded = np.zeros((plan.k + 1, words * 64), bool)
    padded[: plan.k, :n_bits] = per_bit
    padded[plan.k, :n_bits] = True
    S = np.packbits(padded, axis=1, bitorder="little").view(np.uint64).reshape(plan.k + 1, words)
    return np.ascontiguousarray(S), start


def _kernels():
    """The kernel module (importing it compiles or loads the kernels when numba is installed)."""
    from bnnverify.evaluation import flipkernels

    return flipkernels


def _binomials(mult: np.ndarray, radius: int) -> np.ndarray:
    top = int(mult.max()) if len(mult) else 0
    if top and comb(top, min(top, radius)) >= 1 << 62:
        raise InternalError("flip kernel: binomial beyond int64")
    return np.array([[comb(int(n), c) for c in range(radius + 1)] for n in mult.tolist()], np.int64).reshape(
        len(mult), radius + 1)


def _threads() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                      os.cpu_count() or 1))


def count_codes(plan: FlipPlan, *, compiled: bool = True, threads: int | None = None,
                deadline: float | None = None, fence: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact counts of the first-layer codes over the ball: the distinct codes as (P, m) bits and their
    counts (int64, summing to the ball's size). ``compiled=False`` runs the kernels as plain Python
    (for tests on small balls); ``deadline`` (a ``perf_counter()`` time) is checked between work units;
    ``fence`` overrides :data:`FENCE_MAX` (the tests run 0: never the bitsets, and 63: always)."""
    if compiled and not HAVE_NUMBA:
        raise InternalError("flip kernel: numba is not installed")
    kernels = _kernels()
    count = kernels._count_roots if compiled else kernels._count_roots.py_func
    T, R = len(plan.cols), plan.radius
    binom = _binomials(plan.mult, R)
    centre = int(plan.always[0])
    if T == 0 or R == 0:
        keys, vals = np.array([centre], np.int64), np.array([1], np.int64)
    else:
        n_threads = threads or _threads()
        n_units = min(T, n_threads * _CHUNKS_PER_THREAD) if compiled else 1
        units = [np.arange(u, T, n_units, dtype=np.int64) for u in range(n_units)]

        S, start = _bitsets(plan)

        def run(roots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if deadline is not None and time.perf_counter() > deadline:
                raise DeadlineExceeded("Hamming-ball counting: time limit reached")
            return count(plan.cols, plan.mult, binom, plan.always, plan.at, R, roots, kernels.INITIAL_TABLE_BITS,
                         S, start, FENCE_MAX if fence is None else fence)

        if n_threads > 1 and n_units > 1:
            with ThreadPoolExecutor(max_workers=n_threads) as pool:
                parts = list(pool.map(run, units))
        else:
            with np.errstate(over="ignore"):  # plain Python: numpy scalars wrap like the compiled code
                parts = [run(u) for u in units]
        keys = np.concatenate([p[0] for p in parts] + [np.array([centre], np.int64)])
        vals = np.concatenate([p[1] for p in parts] + [np.array([1], np.int64)])
    uniq, inv = np.unique(keys, return_inverse=True)
    counts = np.zeros(len(uniq), np.int64)
    np.add.at(counts, inv.reshape(-1), vals)
    if int(counts.sum()) != plan.size:
        raise InternalError(f"flip kernel: counts add up to {int(counts.sum())}, not the ball's {plan.size}")
    return plan.full_codes(uniq), counts


def find_flips(plan: FlipPlan, center: np.ndarray, codes: np.ndarray, *, compiled: bool = True) -> np.ndarray | None:
    """A member of the ball whose first-layer code is one of ``codes`` (rows of bits), or None."""
    codes = np.asarray(codes, np.uint8).reshape(-1, len(plan.fixed))
    stable = np.ones(len(plan.fixed), bool)
    stable[plan.unstable] = False
    codes = codes[(codes[:, stable] == plan.fixed[stable][None, :]).all(axis=1)]  # the others are no member's
    targets = np.unique(plan.keys_of(codes))
    if np.isin(int(plan.always[0]), targets):
        return center.copy()
    kernels = _kernels()
    find = kernels._find if compiled and HAVE_NUMBA else kernels._find.py_func
    copies = find(plan.cols, plan.mult, plan.always, plan.at, plan.radius, targets)
    if not copies.any():
        return None
    x = center.copy()
    for t in np.flatnonzero(copies).tolist():
        idx = plan.bits_of[t][: int(copies[t])]
        x[idx] ^= 1
    return x
