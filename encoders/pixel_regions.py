"""Regions over integer features (pixels): boxes (L∞ balls) and L0 balls.

A network that declares integer features (``BNN.inputs``) is asked about
sets of integer images:

* :class:`IntBox` (kind ``box``) — every feature in its own range
  ``[lo_f, hi_f]``; :func:`linf_box` builds the L∞ ball
  ``|p'_f - p_f| <= eps`` around an image, intersected with the features'
  declared ranges, optionally only over a mask of features (the others
  fixed at the centre's value).
* :class:`L0Ball` (kind ``l0``) — at most ``k`` features differ from the
  centre, each changed feature taking any value of its range (the declared
  range, or within ``eps`` of the centre: :func:`l0_ball`).

Sizes are exact Python ints (a product of ranges; the L0 size by dynamic
programming over the features); membership is vectorised; members stream
in batches (mixed-radix digits), like the bit regions of :mod:`.regions`.
The engines meet these regions through :mod:`.order` (the order encoding).

>>> import numpy as np
>>> box = linf_box(np.array([0, 5, 255]), 2, np.zeros(3, np.int64), np.full(3, 255))
>>> box.lo.tolist(), box.hi.tolist(), box.size
([0, 3, 253], [2, 7, 255], 45)
>>> l0 = L0Ball(np.array([1, 1, 1]), 1, np.zeros(3, np.int64), np.full(3, 2))
>>> l0.size, sum(len(b) for b in l0.members())
(7, 7)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import prod
from typing import Iterator

import numpy as np

from .errors import RegionError
from .regions import DEFAULT_BATCH

__all__ = ["IntBox", "L0Ball", "linf_box", "l0_ball", "PIXEL_REGION_KINDS"]

#: The region kinds over integer features.
PIXEL_REGION_KINDS = frozenset({"box", "l0"})


def _ints(a: object, name: str, n: int | None = None) -> np.ndarray:
    v = np.asarray(a)
    if v.dtype == np.bool_ or not (np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)):
        raise RegionError(f"{name}: must be integers, got dtype {v.dtype}")
    if v.ndim != 1:
        raise RegionError(f"{name}: must be a vector of features, got shape {v.shape}")
    if np.issubdtype(v.dtype, np.floating) and (not np.all(np.isfinite(v)) or np.any(v != np.round(v))):
        i = int(np.flatnonzero(~np.isfinite(v) | (v != np.round(v)))[0])
        raise RegionError(f"{name}: feature {i} is {v[i]}, not an integer")
    if n is not None and v.shape[0] != n:
        raise RegionError(f"{name}: has {v.shape[0]} features, expected {n}")
    return v.astype(np.int64)


def _rows(X: np.ndarray, n: int) -> np.ndarray:
    A = np.asarray(X)
    A = A[None, :] if A.ndim == 1 else A
    if A.ndim != 2 or A.shape[1] != n:
        raise RegionError(f"members: expected rows of {n} features, got shape {np.asarray(X).shape}")
    return A.astype(np.int64)


def _mixed_radix(lo: np.ndarray, span: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Every vector ``lo + d`` with ``0 <= d_f < span_f``, in batches (first feature fastest)."""
    free = np.flatnonzero(span > 1)
    total = prod(int(s) for s in span[free])
    for start in range(0, total, batch_size):
        k = np.arange(start, min(total, start + batch_size), dtype=np.int64)
        out = np.broadcast_to(lo, (len(k), len(lo))).copy()
        for f in free:
            out[:, f] += k % span[f]
            k //= span[f]
        yield out


@dataclass(frozen=True, eq=False)
class IntBox:
    """Every feature ``f`` in ``[lo[f], hi[f]]`` (a box; an L∞ ball when built by :func:`linf_box`).

    ``center`` and ``eps`` are kept when the box is an L∞ ball (what was asked);
    they do not change the members.
    """

    lo: np.ndarray
    hi: np.ndarray
    center: np.ndarray | None = None
    eps: int | None = None

    kind = "box"

    def __post_init__(self) -> None:
        lo = _ints(self.lo, "box lo")
        hi = _ints(self.hi, "box hi", lo.shape[0])
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            f = int(bad[0])
            raise RegionError(f"box: feature {f} has an empty range [{int(lo[f])}, {int(hi[f])}]")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        if self.center is not None:
            object.__setattr__(self, "center", _ints(self.center, "centre", lo.shape[0]))

    @property
    def n(self) -> int:
        return int(self.lo.shape[0])

    @property
    def widths(self) -> np.ndarray:
        """``hi - lo`` per feature (the number of order bits each needs)."""
        return self.hi - self.lo

    @property
    def size(self) -> int:
        return prod(int(w) + 1 for w in self.widths.tolist())

    def contains(self, X: np.ndarray) -> np.ndarray:
        A = _rows(X, self.n)
        return ((A >= self.lo[None, :]) & (A <= self.hi[None, :])).all(axis=1)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        yield from _mixed_radix(self.lo, self.widths + 1, batch_size)

    def describe(self) -> dict:
        d = {"kind": self.kind, "features": self.n, "free_features": int((self.widths > 0).sum()),
             "size": self.size}
        if self.eps is not None:
            d["eps"] = self.eps
        return d


def linf_box(center: np.ndarray, eps: int, lo: np.ndarray, hi: np.ndarray,
             mask: np.ndarray | None = None) -> IntBox:
    """The L∞ ball ``|p' - center| <= eps`` within the feature ranges ``[lo, hi]``.

    With ``mask`` (booleans, one per feature) only the masked features move;
    the others stay at the centre's value. The centre must lie in the ranges.
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, np.integer)) or eps < 0:
        raise RegionError(f"must be a non-negative integer, got {eps!r}", param="eps")
    c = _ints(center, "centre")
    lo = _ints(lo, "feature lo", c.shape[0])
    hi = _ints(hi, "feature hi", c.shape[0])
    out = np.flatnonzero((c < lo) | (c > hi))
    if out.size:
        f = int(out[0])
        raise RegionError(f"centre: feature {f} is {int(c[f])}, outside its range [{int(lo[f])}, {int(hi[f])}]")
    a = np.maximum(c - int(eps), lo)
    b = np.minimum(c + int(eps), hi)
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != np.bool_ or m.shape != c.shape:
            raise RegionError(f"mask: expected {c.shape[0]} booleans, got dtype {m.dtype} shape {m.shape}")
        a = np.where(m, a, c)
        b = np.where(m, b, c)
    return IntBox(a, b, center=c, eps=int(eps))


@dataclass(frozen=True, eq=False)
class L0Ball:
    """At most ``k`` features differ from ``center``; a changed feature takes any value of ``[lo_f, hi_f]``."""

    center: np.ndarray
    k: int
    lo: np.ndarray
    hi: np.ndarray
    eps: int | None = None

    kind = "l0"

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 0:
            raise RegionError(f"must be a non-negative integer, got {self.k!r}", param="k")
        c = _ints(self.center, "centre")
        lo = _ints(self.lo, "l0 lo", c.shape[0])
        hi = _ints(self.hi, "l0 hi", c.shape[0])
        out = np.flatnonzero((c < lo) | (c > hi))
        if out.size:
            f = int(out[0])
            raise RegionError(f"centre: feature {f} is {int(c[f])}, outside its range [{int(lo[f])}, {int(hi[f])}]")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        object.__setattr__(self, "k", int(self.k))

    @property
    def n(self) -> int:
        return int(self.center.shape[0])

    @property
    def box(self) -> IntBox:
        """The box every member lies in (the L0 constraint dropped)."""
        return IntBox(self.lo, self.hi)

    @property
    def alternatives(self) -> np.ndarray:
        """Per feature, the number of values other than the centre's it may take."""
        return self.hi - self.lo

    @property
    def size(self) -> int:
        """``sum_{|S| <= k} prod_{f in S} alternatives_f`` by dynamic programming (exact)."""
        k = self.k
        ways = [1] + [0] * k  # ways[j]: images changing exactly j of the features seen so far
        for a in self.alternatives.tolist():
            if a:
                for j in range(k, 0, -1):
                    ways[j] += ways[j - 1] * int(a)
        return sum(ways)

    def contains(self, X: np.ndarray) -> np.ndarray:
        A = _rows(X, self.n)
        inside = ((A >= self.lo[None, :]) & (A <= self.hi[None, :])).all(axis=1)
        return inside & ((A != self.center[None, :]).sum(axis=1) <= self.k)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        movable = np.flatnonzero(self.alternatives > 0)
        buf: list[np.ndarray] = []
        held = 0
        for r in range(0, min(self.k, len(movable)) + 1):
            for S in itertools.combinations(movable.tolist(), r):
                idx = np.array(S, dtype=np.int64)
                # the changed features take the values of their range other than the centre's
                span = np.ones(self.n, dtype=np.int64)
                span[idx] = self.alternatives[idx]
                for d in _mixed_radix(np.zeros(self.n, np.int64), span, batch_size):
                    rows = np.broadcast_to(self.center, d.shape).copy()
                    if r:
                        v = self.lo[idx][None, :] + d[:, idx]
                        v = v + (v >= self.center[idx][None, :])  # skip the centre's own value
                        rows[:, idx] = v
                    buf.append(rows)
                    held += len(rows)
                    if held >= batch_size:
                        yield np.concatenate(buf)
                        buf, held = [], 0
        if buf:
            yield np.concatenate(buf)

    def describe(self) -> dict:
        d = {"kind": self.kind, "features": self.n, "k": self.k, "size": self.size}
        if self.eps is not None:
            d["eps"] = self.eps
        return d


def l0_ball(center: np.ndarray, k: int, lo: np.ndarray, hi: np.ndarray, eps: int | None = None,
            mask: np.ndarray | None = None) -> L0Ball:
    """At most ``k`` features changed, each within its range (and within ``eps`` when given; only
    masked features when ``mask`` is given)."""
    box = linf_box(center, eps if eps is not None else max(1, int(np.max(np.asarray(hi) - np.asarray(lo)))),
                   lo, hi, mask)
    return L0Ball(box.center, k, box.lo, box.hi, eps=eps)
