"""Input regions: the sets of inputs a question ranges over.

Every region knows its number of input bits ``n``, its exact size (a Python
int, however large), a vectorised membership test and a streaming
enumeration of its members in batches (for regions small enough to
enumerate). Regions are plain numeric descriptions, so the compilers in
``encoders`` can consume them; ``bnnverify`` re-exports them.

>>> import numpy as np
>>> ball = HammingBall(np.zeros(10, dtype=np.uint8), radius=2)
>>> ball.size  # 1 + 10 + 45
56
>>> sum(len(b) for b in ball.members(batch_size=7))
56
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb, prod
from typing import Iterator, Protocol, runtime_checkable

import numpy as np

from .errors import RegionError

__all__ = [
    "Region",
    "Whole",
    "Cube",
    "HammingBall",
    "LinfBox",
    "LevelBox",
    "LevelL0",
    "thermometer_levels_of",
    "thermometer_bits",
    "DEFAULT_BATCH",
]

#: Default number of members per enumerated batch.
DEFAULT_BATCH = 1 << 16


@runtime_checkable
class Region(Protocol):
    """What every region offers."""

    @property
    def n(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def contains(self, X: np.ndarray) -> np.ndarray: ...

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]: ...

    def describe(self) -> dict: ...


def _bits(x: object, name: str, n: int | None = None) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise RegionError(f"{name}: must be a 1-D bit vector, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise RegionError(f"{name}: has {a.shape[0]} bits, expected {n}")
    if a.size and not np.isin(a, (0, 1)).all():
        bad = a[~np.isin(a, (0, 1))][0]
        raise RegionError(f"{name}: entries must be 0 or 1, found {bad!r}")
    out = a.astype(np.uint8)
    out.setflags(write=False)
    return out


def _as_matrix(X: np.ndarray, n: int) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n:
        raise RegionError(f"inputs must have shape (N, {n}), got {X.shape}")
    return X.astype(np.uint8, copy=False)


def _int_to_bits(codes: np.ndarray, width: int) -> np.ndarray:
    """Rows of bits (LSB = column 0) of non-negative integers < 2**width."""
    shifts = np.arange(width, dtype=np.uint64)
    return ((codes.astype(np.uint64)[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)


def _free_assignments(n_free: int, batch_size: int) -> Iterator[np.ndarray]:
    """All 2**n_free assignments of ``n_free`` bits, in batches, counting up."""
    total = 1 << n_free
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        yield _int_to_bits(np.arange(start, stop, dtype=np.uint64), n_free)


@dataclass(frozen=True, eq=False)
class Whole:
    """The whole cube ``{0,1}^n``."""

    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.n, (int, np.integer)) or self.n < 1:
            raise RegionError(f"n: must be a positive integer, got {self.n!r}")

    kind = "whole"

    @property
    def size(self) -> int:
        return 1 << int(self.n)

    def contains(self, X: np.ndarray) -> np.ndarray:
        X = _as_matrix(X, self.n)
        return np.isin(X, (0, 1)).all(axis=1)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        return _free_assignments(int(self.n), batch_size)

    def describe(self) -> dict:
        return {"kind": self.kind, "n": int(self.n), "size": self.size}


@dataclass(frozen=True, eq=False)
class Cube:
    """Inputs whose bits at ``fixed_mask`` equal ``values``; the other bits are free.

    Build it from a centre and the indices that may change with
    :meth:`from_free` (BNNQuanalyst's fixed-set files list those indices).
    """

    values: np.ndarray
    fixed_mask: np.ndarray

    kind = "cube"

    def __post_init__(self) -> None:
        v = _bits(self.values, "cube values")
        m = np.asarray(self.fixed_mask)
        if m.shape != v.shape:
            raise RegionError(f"cube fixed_mask: shape {m.shape} differs from values {v.shape}")
        m = m.astype(bool)
        m.setflags(write=False)
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "fixed_mask", m)

    @classmethod
    def from_free(cls, center: np.ndarray, free: "np.ndarray | list[int]") -> "Cube":
        c = _bits(center, "centre")
        idx = np.asarray(free, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= c.shape[0]):
            bad = idx[(idx < 0) | (idx >= c.shape[0])][0]
            raise RegionError(f"free index {int(bad)} is outside 0..{c.shape[0] - 1}")
        mask = np.ones(c.shape[0], dtype=bool)
        mask[idx] = False
        return cls(c, mask)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def free(self) -> np.ndarray:
        return np.flatnonzero(~self.fixed_mask)

    @property
    def size(self) -> int:
        return 1 << int((~self.fixed_mask).sum())

    def contains(self, X: np.ndarray) -> np.ndarray:
        X = _as_matrix(X, self.n)
        return (X[:, self.fixed_mask] == self.values[self.fixed_mask]).all(axis=1) & np.isin(
            X, (0, 1)
        ).all(axis=1)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        free = self.free
        for assign in _free_assignments(len(free), batch_size):
            out = np.broadcast_to(self.values, (len(assign), self.n)).copy()
            out[:, free] = assign
            yield out

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "free": [int(i) for i in self.free],
            "size": self.size,
        }


@dataclass(frozen=True, eq=False)
class HammingBall:
    """``{x' : d_H(x, x') <= radius}``, flips restricted to ``mutable`` if given."""

    center: np.ndarray
    radius: int
    mutable: np.ndarray | None = None

    kind = "hamming"

    def __post_init__(self) -> None:
        c = _bits(self.center, "centre")
        n = c.shape[0]
        if isinstance(self.radius, (bool, np.bool_)) or not isinstance(self.radius, (int, np.integer)):
            raise RegionError(f"radius: must be an integer, got {self.radius!r}")
        if self.radius < 0 or self.radius > n:
            raise RegionError(f"radius: must be between 0 and n={n}, got {self.radius}")
        mut = None
        if self.mutable is not None:
            mut = np.asarray(self.mutable)
            if mut.dtype != bool:
                raise RegionError(f"mutable: must be a boolean mask of length {n}, got dtype {mut.dtype}")
            if mut.shape != (n,):
                raise RegionError(f"mutable: mask has shape {mut.shape}, expected ({n},)")
            mut = mut.copy()
            mut.setflags(write=False)
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "radius", int(self.radius))
        object.__setattr__(self, "mutable", mut)

    @property
    def n(self) -> int:
        return int(self.center.shape[0])

    @property
    def mutable_indices(self) -> np.ndarray:
        if self.mutable is None:
            return np.arange(self.n)
        return np.flatnonzero(self.mutable)

    @property
    def effective_radius(self) -> int:
        return min(self.radius, len(self.mutable_indices))

    @property
    def size(self) -> int:
        m = len(self.mutable_indices)
        return sum(comb(m, i) for i in range(self.effective_radius + 1))

    def contains(self, X: np.ndarray) -> np.ndarray:
        X = _as_matrix(X, self.n)
        diff = X != self.center
        ok = diff.sum(axis=1) <= self.radius
        if self.mutable is not None:
            ok &= ~(diff[:, ~self.mutable]).any(axis=1)
        return ok & np.isin(X, (0, 1)).all(axis=1)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        """Members by increasing distance: the centre, then every 1-flip, ..."""
        idx = self.mutable_indices
        buf: list[np.ndarray] = []
        pending = 0
        for r in range(self.effective_radius + 1):
            if r == 0:
                buf.append(self.center[None, :].copy())
                pending += 1
            else:
                for chunk in _combination_chunks(len(idx), r, batch_size):
                    rows = np.broadcast_to(self.center, (len(chunk), self.n)).copy()
                    cols = idx[chunk]
                    ar = np.arange(len(chunk))[:, None]
                    rows[ar, cols] ^= 1
                    buf.append(rows)
                    pending += len(rows)
                    if pending >= batch_size:
                        yield from _drain(buf, batch_size)
                        pending = sum(len(b) for b in buf)
        if buf:
            yield np.concatenate(buf)

    def describe(self) -> dict:
        d = {"kind": self.kind, "radius": self.radius, "size": self.size}
        if self.mutable is not None:
            d["mutable"] = [int(i) for i in self.mutable_indices]
        return d


def _drain(buf: list[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    allrows = np.concatenate(buf)
    buf.clear()
    full = (len(allrows) // batch_size) * batch_size
    for s in range(0, full, batch_size):
        yield allrows[s : s + batch_size]
    if full < len(allrows):
        buf.append(allrows[full:])


def _combination_chunks(m: int, r: int, batch_size: int) -> Iterator[np.ndarray]:
    """All r-subsets of range(m) as rows of an int array, in chunks."""
    it = itertools.combinations(range(m), r)
    step = max(1, batch_size)
    while True:
        block = list(itertools.islice(it, step))
        if not block:
            return
        yield np.array(block, dtype=np.int64).reshape(len(block), r)


def thermometer_levels_of(x: np.ndarray, levels: int) -> np.ndarray:
    """Levels of a thermometer-coded input (bits ``1^l 0^(L-l)`` per feature).

    Raises :class:`RegionError` naming the first feature that is not a valid code.
    """
    x = _bits(x, "input")
    if levels < 1 or x.shape[0] % levels:
        raise RegionError(f"thermometer: {levels} levels do not divide {x.shape[0]} input bits")
    f = x.reshape(-1, levels)
    lv = f.sum(axis=1)
    valid = (f == (np.arange(levels)[None, :] < lv[:, None])).all(axis=1)
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise RegionError(
            f"input: feature {i} (bits {i * levels}..{(i + 1) * levels - 1}) is "
            f"{''.join(map(str, f[i]))}, not a thermometer code 1^l 0^(L-l)"
        )
    return lv.astype(np.int64)


def thermometer_bits(lv: np.ndarray, levels: int) -> np.ndarray:
    """Thermometer bits of rows of levels: (N, F) -> (N, F*levels)."""
    lv = np.asarray(lv)
    single = lv.ndim == 1
    lv2 = lv[None, :] if single else lv
    bits = (np.arange(levels)[None, None, :] < lv2[:, :, None]).astype(np.uint8)
    out = bits.reshape(lv2.shape[0], -1)
    return out[0] if single else out


@dataclass(frozen=True, eq=False)
class LinfBox:
    """L-infinity box over thermometer features: each level within ``±eps`` of the centre's.

    ``center`` is the thermometer-coded input (n = F·L bits); members are
    valid thermometer codes whose every feature level ``l'_f`` satisfies
    ``|l'_f − l_f| ≤ eps`` and ``0 ≤ l'_f ≤ L``.
    """

    center: np.ndarray
    eps: int
    levels: int

    kind = "linf"

    def __post_init__(self) -> None:
        if isinstance(self.levels, bool) or not isinstance(self.levels, (int, np.integer)) or self.levels < 1:
            raise RegionError(f"levels: must be a positive integer, got {self.levels!r}")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, np.integer)) or self.eps < 0:
            raise RegionError(f"eps: must be a non-negative integer, got {self.eps!r}")
        c = _bits(self.center, "centre")
        thermometer_levels_of(c, int(self.levels))  # validates
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "eps", int(self.eps))
        object.__setattr__(self, "levels", int(self.levels))

    @property
    def n(self) -> int:
        return int(self.center.shape[0])

    @property
    def center_levels(self) -> np.ndarray:
        return thermometer_levels_of(self.center, self.levels)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature inclusive level bounds ``(lo, hi)``."""
        lv = self.center_levels
        return np.maximum(lv - self.eps, 0), np.minimum(lv + self.eps, self.levels)

    @property
    def size(self) -> int:
        lo, hi = self.bounds
        return prod(int(h - l + 1) for l, h in zip(lo, hi))

    def contains(self, X: np.ndarray) -> np.ndarray:
        X = _as_matrix(X, self.n)
        L = self.levels
        f = X.reshape(X.shape[0], -1, L)
        lv = f.sum(axis=2)
        valid = (f == (np.arange(L)[None, None, :] < lv[:, :, None])).all(axis=(1, 2))
        lo, hi = self.bounds
        return valid & ((lv >= lo) & (lv <= hi)).all(axis=1)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        lo, hi = self.bounds
        span = (hi - lo + 1).astype(np.int64)
        free = np.flatnonzero(span > 1)
        total = prod(int(s) for s in span[free])
        for start in range(0, total, batch_size):
            stop = min(total, start + batch_size)
            k = np.arange(start, stop, dtype=np.int64)
            lv = np.broadcast_to(lo, (len(k), len(lo))).copy()
            for f in free:  # mixed-radix digits
                lv[:, f] += k % span[f]
                k //= span[f]
            yield thermometer_bits(lv, self.levels)

    def describe(self) -> dict:
        return {"kind": self.kind, "eps": self.eps, "levels": self.levels, "size": self.size}


@dataclass(frozen=True, eq=False)
class LevelBox:
    """A box over thermometer features given by its per-feature level bounds (kind ``linf``).

    The general form of :class:`LinfBox`: feature ``f`` (bits ``[f*L, (f+1)*L)``)
    holds a valid thermometer code whose level lies in ``[lo[f], hi[f]]``
    (``0 <= lo <= hi <= L``). It is what a box of integer features becomes in
    the order encoding (:mod:`.order`): level = ``p_f - lo_f``. Engines that
    take ``linf`` regions read only ``levels`` and ``bounds``.
    """

    levels: int
    lo: np.ndarray
    hi: np.ndarray

    kind = "linf"

    def __post_init__(self) -> None:
        if isinstance(self.levels, bool) or not isinstance(self.levels, (int, np.integer)) or self.levels < 1:
            raise RegionError(f"levels: must be a positive integer, got {self.levels!r}")
        lo = np.asarray(self.lo, dtype=np.int64)
        hi = np.asarray(self.hi, dtype=np.int64)
        if lo.ndim != 1 or lo.shape != hi.shape or lo.size == 0:
            raise RegionError(f"level bounds: expected two equal-length vectors, got shapes {lo.shape} and {hi.shape}")
        if (lo < 0).any() or (hi > int(self.levels)).any() or (lo > hi).any():
            f = int(np.flatnonzero((lo < 0) | (hi > int(self.levels)) | (lo > hi))[0])
            raise RegionError(f"level bounds: feature {f} has [{int(lo[f])}, {int(hi[f])}], not within 0..{self.levels}")
        object.__setattr__(self, "levels", int(self.levels))
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def n(self) -> int:
        return int(self.lo.shape[0]) * self.levels

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature inclusive level bounds ``(lo, hi)``."""
        return self.lo, self.hi

    @property
    def size(self) -> int:
        return prod(int(h - l + 1) for l, h in zip(self.lo.tolist(), self.hi.tolist()))

    def levels_of(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: whether every feature is a valid thermometer code, and the (N, F) levels."""
        X = _as_matrix(X, self.n)
        L = self.levels
        f = X.reshape(X.shape[0], -1, L)
        lv = f.sum(axis=2)
        valid = (f == (np.arange(L)[None, None, :] < lv[:, :, None])).all(axis=(1, 2))
        return valid, lv

    def contains(self, X: np.ndarray) -> np.ndarray:
        valid, lv = self.levels_of(X)
        return valid & ((lv >= self.lo) & (lv <= self.hi)).all(axis=1)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        span = (self.hi - self.lo + 1).astype(np.int64)
        free = np.flatnonzero(span > 1)
        total = prod(int(s) for s in span[free])
        for start in range(0, total, batch_size):
            k = np.arange(start, min(total, start + batch_size), dtype=np.int64)
            lv = np.broadcast_to(self.lo, (len(k), len(self.lo))).copy()
            for f in free:  # mixed-radix digits
                lv[:, f] += k % span[f]
                k //= span[f]
            yield thermometer_bits(lv, self.levels)

    def describe(self) -> dict:
        return {"kind": self.kind, "levels": self.levels, "size": self.size}


@dataclass(frozen=True, eq=False)
class LevelL0:
    """Thermometer features within level bounds, at most ``k`` of them off their centre level (kind ``level-l0``).

    What an L0 ball of integer features becomes in the order encoding.
    """

    box: LevelBox
    center_levels: np.ndarray  # one per feature, within the box
    k: int

    kind = "level-l0"

    def __post_init__(self) -> None:
        c = np.asarray(self.center_levels, dtype=np.int64)
        lo, hi = self.box.bounds
        if c.shape != lo.shape or ((c < lo) | (c > hi)).any():
            raise RegionError("level-l0: the centre levels must lie within the box, one per feature")
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 0:
            raise RegionError(f"k: must be a non-negative integer, got {self.k!r}")
        object.__setattr__(self, "center_levels", c)
        object.__setattr__(self, "k", int(self.k))

    @property
    def n(self) -> int:
        return self.box.n

    @property
    def levels(self) -> int:
        return self.box.levels

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.box.bounds

    @property
    def size(self) -> int:
        lo, hi = self.box.bounds
        ways = [1] + [0] * self.k
        for a in (hi - lo).tolist():
            if a:
                for j in range(self.k, 0, -1):
                    ways[j] += ways[j - 1] * int(a)
        return sum(ways)

    def contains(self, X: np.ndarray) -> np.ndarray:
        valid, lv = self.box.levels_of(X)
        lo, hi = self.box.bounds
        inside = valid & ((lv >= lo) & (lv <= hi)).all(axis=1)
        return inside & ((lv != self.center_levels[None, :]).sum(axis=1) <= self.k)

    def members(self, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        lo, hi = self.box.bounds
        movable = np.flatnonzero(hi > lo).tolist()
        for r in range(0, min(self.k, len(movable)) + 1):
            for S in itertools.combinations(movable, r):
                idx = np.array(S, dtype=np.int64)
                alt = (hi - lo)[idx]
                total = prod(int(a) for a in alt.tolist())
                for start in range(0, total, batch_size):
                    q = np.arange(start, min(total, start + batch_size), dtype=np.int64)
                    lv = np.broadcast_to(self.center_levels, (len(q), len(lo))).copy()
                    for j, f in enumerate(idx.tolist()):
                        v = lo[f] + q % alt[j]
                        q //= alt[j]
                        lv[:, f] = v + (v >= self.center_levels[f])  # skip the centre's level
                    yield thermometer_bits(lv, self.levels)

    def describe(self) -> dict:
        return {"kind": self.kind, "levels": self.levels, "k": self.k, "size": self.size}
