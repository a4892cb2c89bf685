"""Exact information measures of hidden layers, computed from exact counts.

A hidden layer T is a deterministic function of the input X, so
``I(X;T) = H(T)``. For a distribution over inputs — uniform on a region, the
empirical distribution of a data set, or a mixture of Hamming balls around
data-set images — we count exactly how many inputs reach each code ``t``
(``n_t``) and each (code, label) pair (``n_{t,y}``), then compute in bits

* ``H(T) = I(X;T)``, ``H(Y)``, ``H(T|Y)``, ``H(Y|T)``, ``I(T;Y) = H(Y) - H(Y|T)``.

The label Y is the data set's label, the network's own prediction (Ŷ) or the
class of a label network (e.g. a teacher).

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
import time
from math import comb
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import DEFAULT_BATCH, HammingBall, Region
from bnnverify.encoders.results import JointCounts

from bnnverify.engines.enumeration import DEFAULT_ENUM_LIMIT
from bnnverify.errors import BNNVerifyError, BudgetExceeded, DataError, RegionError
from bnnverify.evaluation.evaluator import Evaluator, pack_bits

__all__ = [
    "CountMethod",
    "LabelKind",
    "LayerInfo",
    "InfoReport",
    "ENUM_LIMIT",
    "entropy_bits",
    "conditional_entropy_bits",
    "layer_info_from_pairs",
    "layer_info_from_joint",
    "info_from_rows",
    "info_over_region",
    "info_over_dataset",
    "info_over_balls",
    "resolve_method",
]

#: Regions with at most this many members are enumerated by ``method="auto"``
#: (the enumeration engine's suggested limit).
ENUM_LIMIT = DEFAULT_ENUM_LIMIT

#: Bits of the packed (code, label) key of the fast counting path.
_KEY_BITS = 64

#: Totals below this are exact in float64, which enables the vectorised path.
_FLOAT_EXACT = 1 << 53

_LN2 = math.log(2.0)

Labels = Any  # "dataset" | "model" | BNN


class CountMethod(str, Enum):
    """How the exact counts were obtained."""

    ENUM = "enum"  #: every member of the region run through the evaluator
    BDD = "bdd"  #: the BDD engine's per-code counts
    BALL = "ball"  #: Hamming balls: a dynamic programme over flipped-bit types (first layer), then the evaluator
    EVALUATOR = "evaluator"  #: the rows of a data set run through the evaluator


class LabelKind(str, Enum):
    """What Y is."""

    DATASET = "dataset"  #: the data set's label
    MODEL = "model"  #: the network's own prediction Ŷ
    TEACHER = "teacher"  #: the class given by another network


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


@dataclass(frozen=True)
class InfoReport:
    """Per-layer information over one distribution.

    ``region`` is the region's ``describe()`` dict, or for data sets
    ``{"kind": "dataset", "name": ...}`` (plus the radius for ball mixtures);
    ``region_size`` is the exact total count (members, rows, or rows × ball size).
    """

    region: Mapping[str, Any]
    region_size: int
    H_Y: float
    labels: LabelKind
    method: CountMethod
    layers: tuple[LayerInfo, ...]
    seconds: float

    def to_json(self) -> dict:
        return {
            "region": dict(self.region),
            "region_size": int(self.region_size),
            "labels": self.labels.value,
            "method": self.method.value,
            "H_Y": self.H_Y,
            "layers": [li.to_json() for li in self.layers],
            "seconds": self.seconds,
        }


# --- entropy from exact integers -------------------------------------------


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
        raise BNNVerifyError(f"internal error: entropy of a distribution with total {total}")
    if total < _FLOAT_EXACT:
        nn = np.asarray(n, dtype=np.int64)
        mm = np.asarray(m, dtype=np.int64)
        keep = nn > 0
        nn, mm = nn[keep], mm[keep]
        if (mm < nn).any():
            raise BNNVerifyError("internal error: a group count is smaller than its part")
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
            raise BNNVerifyError("internal error: a group count is smaller than its part")
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
        raise BNNVerifyError("entropy of an empty distribution (all counts are zero)")
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


def _layer_info_arrays(layer: int, width: int, t_idx: np.ndarray, y: np.ndarray, n: np.ndarray) -> LayerInfo:
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


def _h_y_from_pairs(pairs: Mapping[tuple[int, int], int]) -> float:
    ny: dict[int, int] = {}
    for (_, y), v in pairs.items():
        ny[y] = ny.get(y, 0) + int(v)
    return entropy_bits(list(ny.values()))


# --- counting over rows (data sets, enumerated regions) ----------------------


def _label_kind(labels: Labels) -> LabelKind:
    if isinstance(labels, BNN):
        return LabelKind.TEACHER
    try:
        return LabelKind(labels)
    except ValueError:
        raise DataError(f"labels: must be 'dataset', 'model' or a model, got {labels!r}") from None


def _check_teacher(net: BNN, teacher: BNN) -> None:
    if teacher.n_inputs != net.n_inputs:
        raise DataError(
            f"labels: the label model has {teacher.n_inputs} inputs, the model has {net.n_inputs}"
        )


def _weighted_unique(y: np.ndarray, w: np.ndarray) -> tuple[list[int], list[int]]:
    vals, inv = np.unique(y, return_inverse=True)
    cnt = np.zeros(len(vals), np.int64)
    np.add.at(cnt, inv.reshape(-1), w)
    return [int(v) for v in vals], [int(c) for c in cnt]


class _RowCounter:
    """Accumulates exact (code, label) pair counts per layer from batches of rows."""

    def __init__(self, net: BNN) -> None:
        self.net = net
        self.parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in net.hidden]
        self.total = 0
        self.label_counts: dict[int, int] = {}

    def add(self, codes: Sequence[np.ndarray], y: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Add rows with packed codes per layer and labels ``y`` (weights default 1)."""
        y = np.asarray(y, dtype=np.uint64)
        w = np.ones(len(y), np.int64) if weight is None else np.asarray(weight, np.int64)
        self.total += int(w.sum())
        for yv, v in zip(*_weighted_unique(y, w)):
            self.label_counts[yv] = self.label_counts.get(yv, 0) + v
        y_bits = int(y.max()).bit_length() if len(y) else 0
        for l, c in enumerate(codes):
            width = self.net.hidden[l].n_outputs
            if c.shape[1] == 1 and width + y_bits <= _KEY_BITS:
                # one uint64 key per row: code in the low bits, label above (1-D unique is fast)
                key1 = c[:, 0].astype(np.uint64) | (y << np.uint64(width))
                if weight is None:
                    u1, cnt = np.unique(key1, return_counts=True)
                    cnt = cnt.astype(np.int64)
                else:
                    u1, inv = np.unique(key1, return_inverse=True)
                    cnt = np.zeros(len(u1), np.int64)
                    np.add.at(cnt, inv.reshape(-1), w)
                mask = np.uint64((1 << width) - 1)
                uniq = np.stack([u1 & mask, u1 >> np.uint64(width)], axis=1)
            else:
                key = np.concatenate([c.astype(np.uint64, copy=False), y[:, None]], axis=1)
                uniq, inv = np.unique(key, axis=0, return_inverse=True)
                cnt = np.zeros(len(uniq), np.int64)
                np.add.at(cnt, inv.reshape(-1), w)
            self.parts[l].append((uniq, cnt))

    def infos(self) -> tuple[LayerInfo, ...]:
        out = []
        for l, parts in enumerate(self.parts):
            keys = np.concatenate([p[0] for p in parts])
            cnt = np.concatenate([p[1] for p in parts])
            if len(parts) > 1:
                keys, inv = np.unique(keys, axis=0, return_inverse=True)
                merged = np.zeros(len(keys), np.int64)
                np.add.at(merged, inv.reshape(-1), cnt)
                cnt = merged
            if keys.shape[1] == 2:
                _, t_idx = np.unique(keys[:, 0], return_inverse=True)
            else:
                _, t_idx = np.unique(keys[:, :-1], axis=0, return_inverse=True)
            y = keys[:, -1].astype(np.int64)
            width = self.net.hidden[l].n_outputs
            out.append(_layer_info_arrays(l + 1, width, t_idx.reshape(-1), y, cnt))
        return tuple(out)

    def h_y(self) -> float:
        """``H(Y)`` of the labels added so far."""
        return entropy_bits(list(self.label_counts.values()))

    def pair_counts(self, layer: int) -> dict[tuple[int, int], int]:
        """Exact pair counts of hidden layer ``layer`` (1-based) as ``{(code, label): n}``."""
        from bnnverify.evaluation.evaluator import code_keys

        out: dict[tuple[int, int], int] = {}
        for keys, cnt in self.parts[layer - 1]:
            for t, yv, v in zip(code_keys(keys[:, :-1]), keys[:, -1].tolist(), cnt.tolist()):
                out[(t, int(yv))] = out.get((t, int(yv)), 0) + int(v)
        return out


def _labels_for(net: BNN, trace_classes: np.ndarray, X: np.ndarray, labels: Labels,
                y_data: np.ndarray | None, teacher_ev: Evaluator | None) -> np.ndarray:
    kind = _label_kind(labels)
    if kind is LabelKind.MODEL:
        return trace_classes
    if kind is LabelKind.TEACHER:
        assert teacher_ev is not None
        return teacher_ev.classify(X)
    if y_data is None:
        raise RegionError("labels 'dataset' need a data set (a region has no labels): use --labels model or a label model")
    return y_data


def info_from_rows(net: BNN, X: np.ndarray, *, labels: Labels = "model", y: np.ndarray | None = None,
                   region: Mapping[str, Any] | None = None, method: CountMethod = CountMethod.EVALUATOR,
                   evaluator: Evaluator | None = None) -> InfoReport:
    """Information over the empirical distribution of the rows of ``X`` (duplicates count).

    ``labels``: ``"dataset"`` (then ``y`` gives them), ``"model"`` (the net's own
    class) or a label :class:`BNN`. One trace gives every layer at once.
    """
    t0 = time.perf_counter()
    kind = _label_kind(labels)
    if isinstance(labels, BNN):
        _check_teacher(net, labels)
    if len(X) == 0:
        raise DataError("the distribution has no rows")
    ev = evaluator if evaluator is not None else Evaluator(net)
    tr = ev.trace(X)
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise DataError(f"labels: expected {len(X)} labels, got shape {y.shape}")
        if (y < 0).any():
            raise DataError("labels: must be non-negative integers")
    yy = _labels_for(net, tr.classes, X, labels, y, Evaluator(labels) if isinstance(labels, BNN) else None)
    rc = _RowCounter(net)
    rc.add(tr.codes, yy)
    infos = rc.infos()
    h_y = rc.h_y()
    return InfoReport(dict(region or {"kind": "rows"}), rc.total, h_y, kind, method, infos,
                      time.perf_counter() - t0)


# --- regions ------------------------------------------------------------------


def resolve_method(region: Region, method: str | CountMethod = "auto", *, allow_ball: bool = False) -> CountMethod:
    """The counting method for ``region``.

    ``auto``: enumeration up to :data:`ENUM_LIMIT` members; beyond, the
    Hamming-ball programme for Hamming balls (if ``allow_ball``), else the BDD.
    """
    m = str(getattr(method, "value", method))
    if m == "auto":
        if region.size <= ENUM_LIMIT:
            return CountMethod.ENUM
        return CountMethod.BALL if allow_ball and isinstance(region, HammingBall) else CountMethod.BDD
    valid = ("enum", "bdd", "ball") if allow_ball else ("enum", "bdd")
    if m not in valid:
        raise DataError(f"method: must be {', '.join(repr(v) for v in valid)} or 'auto', got {method!r}")
    if m == "ball" and not isinstance(region, HammingBall):
        raise DataError(f"method 'ball' counts Hamming balls only, not a {region.kind} region")
    return CountMethod(m)


def _ball_layer1(net: BNN, ball: HammingBall, max_states: int) -> tuple[np.ndarray, np.ndarray]:
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
        raise BNNVerifyError(f"internal error: Hamming-ball counts add up to {int(counts.sum())}, not {ball.size}")
    return codes, counts


#: States the Hamming-ball programme may hold before it gives up (BudgetExceeded).
MAX_BALL_STATES = 2_000_000
#: Its counts are int64: balls must be smaller than this.
_BALL_MAX_SIZE = 1 << 62


def _ball_dp_counter(net: BNN, ball: HammingBall, labels: Labels, const_label: int | None = None,
                     max_states: int = MAX_BALL_STATES) -> _RowCounter:
    """Exact per-layer (code, label) counts over a Hamming ball by :func:`_ball_layer1`.

    Every later layer and the class are functions of the first layer's code,
    so the distinct first-layer codes go through the rest of the network
    (reference evaluator), weighted by their counts. The label is the class
    or ``const_label``; a label network needs the inputs themselves (use enum or bdd).
    """
    if isinstance(labels, BNN) and const_label is None:
        raise DataError("method 'ball' cannot use a label model (it never sees the inputs); use enum or bdd")
    if ball.size >= _BALL_MAX_SIZE:
        raise BudgetExceeded(f"Hamming-ball counting: the ball has {ball.size} members, beyond 2^62")
    codes1, counts = _ball_layer1(net, ball, max_states)
    rest = BNN(net.hidden[1:], net.output)
    tr = Evaluator(rest).trace(codes1)
    y = tr.classes if const_label is None else np.full(len(counts), const_label, np.int64)
    rc = _RowCounter(net)
    rc.add((pack_bits(codes1),) + tuple(tr.codes), y, weight=counts)
    return rc


def _enum_counter(net: BNN, region: Region, labels: Labels, batch_size: int = DEFAULT_BATCH) -> _RowCounter:
    ev = Evaluator(net)
    tev = Evaluator(labels) if isinstance(labels, BNN) else None
    rc = _RowCounter(net)
    for X in region.members(batch_size):
        tr = ev.trace(X)
        rc.add(tr.codes, _labels_for(net, tr.classes, X, labels, None, tev))
    if rc.total != region.size:
        raise BNNVerifyError(
            f"internal error: enumerated {rc.total} members, but the region has {region.size}"
        )
    return rc


def _budget(budget: Any) -> Any:
    """A :class:`bnnverify.encoders.bdd.BDDBudget` from an int (max live nodes), a budget, or None (the default)."""
    from bnnverify.encoders.bdd import BDDBudget

    if budget is None:
        return BDDBudget()
    if isinstance(budget, BDDBudget):
        return budget
    return BDDBudget(max_nodes=int(budget))


def _bdd_pairs(net: BNN, region: Region, labels: Labels, budget: Any,
               const_label: int | None = None) -> list[dict[tuple[int, int], int]]:
    """Exact (code, label) counts of every hidden layer from ONE compilation of ``net`` over ``region``.

    The label is the class (``"model"``), the label network's class, or ``const_label``.
    """
    from bnnverify.encoders.bdd import BDDCompiler

    comp = BDDCompiler(net.n_inputs, budget=_budget(budget))
    partition = None
    if isinstance(labels, BNN) and const_label is None:
        lab = comp.compile(labels, region, prefix="u")
        partition = [lab.inputs_of([c]) for c in range(labels.n_classes)]
    nb = comp.compile(net, region, prefix="t")
    out = []
    for l in range(1, len(net.hidden) + 1):
        pairs: dict[tuple[int, int], int] = {}
        if const_label is not None:
            it = ((k[0], const_label, v) for k, v in nb.iter_joint_counts([l]))
        elif partition is not None:
            it = ((k[0], k[1], v) for k, v in nb.iter_joint_counts([l], partition=partition))
        else:
            it = ((k[0], k[1], v) for k, v in nb.iter_joint_counts([l], with_class=True))
        for t, y, v in it:
            pairs[(t, y)] = pairs.get((t, y), 0) + int(v)
        if sum(pairs.values()) != region.size:
            raise BNNVerifyError(
                f"internal error: BDD counts of layer {l} add up to {sum(pairs.values())}, not {region.size}"
            )
        out.append(pairs)
    return out


def _bdd_infos(net: BNN, region: Region, labels: Labels, budget: Any) -> tuple[tuple[LayerInfo, ...], float]:
    per_layer = _bdd_pairs(net, region, labels, budget)
    infos = tuple(layer_info_from_pairs(l + 1, net.hidden[l].n_outputs, p) for l, p in enumerate(per_layer))
    return infos, _h_y_from_pairs(per_layer[0])


def info_over_region(net: BNN, region: Region, *, labels: Labels = "model", method: str | CountMethod = "auto",
                     budget: Any = None) -> InfoReport:
    """Exact per-layer information for the uniform distribution on ``region``.

    ``labels``: ``"model"`` (Y = the network's prediction Ŷ) or a label
    :class:`BNN` (e.g. a teacher); a region has no data-set labels.
    ``method``: ``"enum"`` (every member through the evaluator), ``"bdd"``
    (per-code counts from the BDD engine; ``budget`` bounds it and
    :class:`~bnnverify.errors.BudgetExceeded` is raised beyond it),
    ``"ball"`` (Hamming balls only: :func:`_ball_layer1`'s exact programme;
    not with a label model) or ``"auto"`` (enumeration up to
    :data:`ENUM_LIMIT` members, then ``ball`` for Hamming balls, else the
    BDD); the report records which was used.
    """
    t0 = time.perf_counter()
    kind = _label_kind(labels)
    if kind is LabelKind.DATASET:
        raise RegionError("labels 'dataset' need a data set (a region has no labels): use --labels model or a label model")
    if isinstance(labels, BNN):
        _check_teacher(net, labels)
    if region.n != net.n_inputs:
        raise RegionError(f"the region has {region.n} bits, the model expects {net.n_inputs}")
    m = resolve_method(region, method, allow_ball=not isinstance(labels, BNN) or str(method) == "ball")
    if m in (CountMethod.ENUM, CountMethod.BALL):
        rc = _enum_counter(net, region, labels) if m is CountMethod.ENUM else _ball_dp_counter(net, region, labels)
        infos = rc.infos()
        h_y = rc.h_y()
    else:
        infos, h_y = _bdd_infos(net, region, labels, budget)
    return InfoReport(region.describe(), region.size, h_y, kind, m, infos, time.perf_counter() - t0)


# --- data sets ------------------------------------------------------------------


def _dataset_rows(net: BNN, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(dataset.X)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise DataError(
            f"data set {dataset.name!r}: rows have {X.shape[-1] if X.ndim else 0} bits, the model expects {net.n_inputs}"
        )
    return X.astype(np.uint8, copy=False), np.asarray(dataset.y, dtype=np.int64)


def info_over_dataset(net: BNN, dataset: Any, *, labels: Labels = "dataset") -> InfoReport:
    """Per-layer information over the empirical distribution of a data set's rows.

    ``dataset`` is a :class:`bnnverify.data.datasets.Dataset` (``name``, ``X``, ``y``);
    ``labels`` is ``"dataset"`` (its labels), ``"model"`` (Ŷ) or a label :class:`BNN`.
    """
    X, y = _dataset_rows(net, dataset)
    return info_from_rows(net, X, labels=labels, y=y,
                          region={"kind": "dataset", "name": str(dataset.name), "size": len(X)})


def info_over_balls(net: BNN, dataset: Any, radius: int, *, labels: Labels = "dataset",
                    indices: Sequence[int] | None = None, method: str | CountMethod = "auto",
                    budget: Any = None) -> InfoReport:
    """Information over the mixture of Hamming balls around data-set rows.

    The distribution: pick one of the rows (uniformly), then an input uniformly
    in the Hamming ball of ``radius`` around it; with ``labels="dataset"`` its
    label is the row's label. All balls have the same size, so the exact
    mixture counts are the sums of the per-ball counts (total = rows × ball size).
    """
    t0 = time.perf_counter()
    kind = _label_kind(labels)
    if isinstance(labels, BNN):
        _check_teacher(net, labels)
    X, y = _dataset_rows(net, dataset)
    idx = list(range(len(X))) if indices is None else [int(i) for i in indices]
    if not idx:
        raise DataError("info over balls: no rows selected")
    for i in idx:
        if not 0 <= i < len(X):
            raise DataError(f"row index {i} is outside 0..{len(X) - 1} of data set {dataset.name!r}")
    pairs: list[dict[tuple[int, int], int]] = [{} for _ in net.hidden]
    total = 0
    used = set()
    for i in idx:
        ball = HammingBall(X[i], radius)
        const = int(y[i]) if kind is LabelKind.DATASET else None
        m = resolve_method(ball, method, allow_ball=const is not None or not isinstance(labels, BNN))
        used.add(m)
        total += ball.size
        if m is CountMethod.BDD:
            bdd_pairs = _bdd_pairs(net, ball, labels, budget, const_label=const)
        elif m is CountMethod.BALL:
            rc = _ball_dp_counter(net, ball, labels, const_label=const)
        else:
            rc = _ball_counter(net, ball, kind, labels, int(y[i]))
        for l in range(1, len(net.hidden) + 1):
            pc = bdd_pairs[l - 1] if m is CountMethod.BDD else rc.pair_counts(l)
            acc = pairs[l - 1]
            for k, v in pc.items():
                acc[k] = acc.get(k, 0) + v
    infos = tuple(layer_info_from_pairs(l + 1, net.hidden[l].n_outputs, p) for l, p in enumerate(pairs))
    h_y = _h_y_from_pairs(pairs[0])
    region = {"kind": "dataset-balls", "name": str(dataset.name), "radius": int(radius), "rows": len(idx)}
    meth = used.pop() if len(used) == 1 else CountMethod.BDD
    return InfoReport(region, total, h_y, kind, meth, infos, time.perf_counter() - t0)


def _ball_counter(net: BNN, ball: HammingBall, kind: LabelKind, labels: Labels, y_row: int) -> _RowCounter:
    if kind is LabelKind.DATASET:
        ev = Evaluator(net)
        rc = _RowCounter(net)
        for Xb in ball.members():
            tr = ev.trace(Xb)
            rc.add(tr.codes, np.full(len(Xb), y_row, np.int64))
        return rc
    return _enum_counter(net, ball, labels)
