"""Entropies and mutual information in bits from exact integer counts.

Accuracy with totals up to ``2^n`` for any n: every entropy is written as a sum
of non-negative terms ``(n_i/N) · log2(m_i/n_i)`` with ``m_i ≥ n_i``
(``m = N`` for ``H(T)``; ``m = n_y`` for ``H(T|Y)``), so the sum has no
cancellation (:func:`math.fsum`). ``n_i/N`` is Python's correctly rounded
integer division; ``log2(m/n)`` is ``log1p((m-n)/n)/ln 2`` when ``m < 2n``
(keeping tiny logarithms accurate) and ``e + log2(m/(n·2^e))`` otherwise, with
the exponent ``e`` an exact integer. No float ever holds a total.

>>> from fractions import Fraction
>>> entropy_bits([1, 1, 2])
1.5
>>> big = 2 ** 300
>>> entropy_bits([big // 2 + 1, big // 2 - 1])
1.0
>>> round(entropy_bits([big - 1, 1]) * 2 ** 300, 6)  # ≈ (300 + 1/ln 2) · 2^-300
301.442695
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from bnnverify.encoders.results import JointCounts
from bnnverify.errors import DataError, InternalError

__all__ = [
    "LayerInfo",
    "entropy_bits",
    "conditional_entropy_bits",
    "layer_info_from_pairs",
    "layer_info_arrays",
    "layer_info_from_joint",
    "h_y_from_pairs",
]

#: Totals below this are exact in float64, which enables the vectorised path.
_FLOAT_EXACT = 1 << 53

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class LayerInfo:
    """Exact information measures of one hidden layer (1-based), in bits."""

    layer: int
    width: int
    codes: int
    H_T: float
    I_XT: float
    H_T_given_Y: float
    H_Y_given_T: float
    I_TY: float

    def to_json(self) -> dict:
        return {
            "layer": self.layer,
            "width": self.width,
            "codes": self.codes,
            "H_T": self.H_T,
            "I_XT": self.I_XT,
            "H_T_given_Y": self.H_T_given_Y,
            "H_Y_given_T": self.H_Y_given_T,
            "I_TY": self.I_TY,
        }


def _log2_ratio(m: int, n: int) -> float:
    """``log2(m / n)`` for integers ``m ≥ n ≥ 1``, accurate however large they are."""
    d = m - n
    if d < n:  # ratio in [1, 2): keep small logarithms accurate
        return math.log1p(d / n) / _LN2
    e = m.bit_length() - n.bit_length()
    return e + math.log2(m / (n << e)) if e >= 0 else math.log2(m / n)


def _plogratio(n: Sequence[int] | np.ndarray, m: Sequence[int] | np.ndarray, total: int) -> float:
    """``Σ_i (n_i / total) · log2(m_i / n_i)`` over ``n_i > 0`` (requires ``m_i ≥ n_i``).

    Every term is non-negative, so the sum is free of cancellation.
    """
    total = int(total)
    if total <= 0:
        raise InternalError(f"entropy of a distribution with total {total}")
    if total < _FLOAT_EXACT:
        nn = np.asarray(n, dtype=np.int64)
        mm = np.asarray(m, dtype=np.int64)
        keep = nn > 0
        nn, mm = nn[keep], mm[keep]
        if (mm < nn).any():
            raise InternalError("a group count is smaller than its part")
        nf, mf = nn.astype(np.float64), mm.astype(np.float64)
        d = mf - nf
        small = d < nf
        lr = np.empty_like(nf)
        lr[small] = np.log1p(d[small] / nf[small]) / _LN2
        lr[~small] = np.log2(mf[~small] / nf[~small])
        return math.fsum((nf / float(total)) * lr)
    terms = []
    for ni, mi in zip(n, m):
        ni, mi = int(ni), int(mi)
        if ni == 0:
            continue
        if mi < ni:
            raise InternalError("a group count is smaller than its part")
        terms.append((ni / total) * _log2_ratio(mi, ni))
    return math.fsum(terms)


def entropy_bits(counts: Iterable[int] | np.ndarray) -> float:
    """Shannon entropy (bits) of the distribution ``counts / sum(counts)``; counts are exact ints.

    >>> entropy_bits([5])
    0.0
    >>> entropy_bits([3, 3, 3, 3])
    2.0
    """
    c = [int(v) for v in counts]
    total = sum(c)
    if total == 0:
        raise DataError("entropy of an empty distribution (all counts are zero)")
    return _plogratio(c, [total] * len(c), total)


def conditional_entropy_bits(joint: Mapping[tuple[Any, Any], int]) -> float:
    """``H(A|B)`` in bits from exact joint counts ``joint[(a, b)]``.

    >>> conditional_entropy_bits({(0, 0): 1, (1, 0): 1, (0, 1): 2})
    0.5
    """
    nb: dict[Any, int] = {}
    for (_, b), v in joint.items():
        nb[b] = nb.get(b, 0) + int(v)
    total = sum(nb.values())
    keys = list(joint)
    return _plogratio([int(joint[k]) for k in keys], [nb[k[1]] for k in keys], total)


def _clamp_mi(h_y: float, h_y_given_t: float, h_t: float) -> float:
    """``I(T;Y) = H(Y) - H(Y|T)`` clamped to its exact bounds ``[0, min(H(T), H(Y))]``."""
    return min(max(0.0, h_y - h_y_given_t), h_t, h_y)


def layer_info_from_pairs(layer: int, width: int, pairs: Mapping[tuple[int, int], int]) -> LayerInfo:
    """:class:`LayerInfo` from exact counts ``pairs[(code, label)]`` (Python ints, any size).

    >>> li = layer_info_from_pairs(1, 2, {(0, 0): 2, (3, 1): 2})
    >>> (li.codes, li.H_T, li.I_TY, li.H_T_given_Y)
    (2, 1.0, 1.0, 0.0)
    """
    nt: dict[int, int] = {}
    ny: dict[int, int] = {}
    keys = [k for k, v in pairs.items() if int(v) > 0]
    for t, y in keys:
        v = int(pairs[(t, y)])
        nt[t] = nt.get(t, 0) + v
        ny[y] = ny.get(y, 0) + v
    total = sum(nt.values())
    counts = [int(pairs[k]) for k in keys]
    tv = list(nt.values())
    h_t = _plogratio(tv, [total] * len(tv), total)
    yv = list(ny.values())
    h_y = _plogratio(yv, [total] * len(yv), total)
    h_t_y = _plogratio(counts, [ny[y] for _, y in keys], total)
    h_y_t = _plogratio(counts, [nt[t] for t, _ in keys], total)
    return LayerInfo(layer, width, len(nt), h_t, h_t, h_t_y, h_y_t, _clamp_mi(h_y, h_y_t, h_t))


def layer_info_arrays(layer: int, width: int, t_idx: np.ndarray, y: np.ndarray, n: np.ndarray) -> LayerInfo:
    """Vectorised :func:`layer_info_from_pairs` for int64 pair counts (total < 2^53).

    ``t_idx`` numbers the distinct codes 0..k-1; ``y`` are the labels (≥ 0).
    """
    total = int(n.sum())
    nt = np.zeros(int(t_idx.max()) + 1 if len(t_idx) else 0, dtype=np.int64)
    np.add.at(nt, t_idx, n)
    ny = np.zeros(int(y.max()) + 1 if len(y) else 0, dtype=np.int64)
    np.add.at(ny, y, n)
    nt_pos, ny_pos = nt[nt > 0], ny[ny > 0]
    h_t = _plogratio(nt_pos, np.full(len(nt_pos), total, np.int64), total)
    h_y = _plogratio(ny_pos, np.full(len(ny_pos), total, np.int64), total)
    h_t_y = _plogratio(n, ny[y], total)
    h_y_t = _plogratio(n, nt[t_idx], total)
    return LayerInfo(layer, width, int((nt > 0).sum()), h_t, h_t, h_t_y, h_y_t, _clamp_mi(h_y, h_y_t, h_t))


def layer_info_from_joint(jc: JointCounts, layer: int, width: int, code_pos: int, label_pos: int) -> LayerInfo:
    """:class:`LayerInfo` of one layer from engine :class:`JointCounts` (key positions given)."""
    return layer_info_from_pairs(layer, width, jc.marginal((code_pos, label_pos)))


def h_y_from_pairs(pairs: Mapping[tuple[int, int], int]) -> float:
    ny: dict[int, int] = {}
    for (_, y), v in pairs.items():
        ny[y] = ny.get(y, 0) + int(v)
    return entropy_bits(list(ny.values()))
