"""Exact answers by enumerating a region with the reference evaluator.

Every member of the region is classified by :class:`bnnverify.evaluation.evaluator.Evaluator`
(streamed in batches; no array larger than a batch is built), so the counts
are exact by construction. Three walks keep the work per member small:

* **whole space / cubes** — members are integers over the free bits; the
  first layer comes from per-chunk tables of partial dot products
  (:class:`bnnverify.evaluation.evaluator.InputTables`), compared with thresholds
  shifted by the high chunks' contribution: no bit rows are built;
* **Hamming balls** — a member differs from the centre ``x`` in at most
  ``k`` bits, so its first-layer dots are ``dot(x)`` plus the sum of the
  flipped bits' deltas ``-2 W[:, i] s(x_i)``; sums over the last ``p``
  flips come from a precomputed table, so a block of members is one
  comparison against shifted thresholds;
* anything else — ``region.members()`` rows through the packed evaluator.

Later layers with few inputs become lookup tables when the region is large
enough to pay for them (:meth:`bnnverify.evaluation.evaluator.Evaluator.finish`).
Members are visited in ``region.members()`` order, so "the first member"
means the same thing for every walk.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import Whole
>>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
>>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> enum_class_counts(BNN((h,), o), Whole(2)).counts
(3, 1)
"""

from __future__ import annotations

import time

import itertools
from dataclasses import dataclass
from math import comb
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from bnnverify.encoders.errors import RegionError
from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import Cube, HammingBall, Region, Whole
from bnnverify.encoders.results import ClassCounts, Disagreement, JointCounts

from bnnverify.engines.base import Reason, Support
from bnnverify.engines.base import Capability, EngineBase, Limits, Outcome, Search
from bnnverify.engines.policy import ENUM_LIMIT
from bnnverify.errors import BudgetExceeded, DataError
from bnnverify.evaluation.evaluator import MAX_CODED_BITS, TABLE_MAX_FANIN, Evaluator, InputTables, code_keys

__all__ = [
    "DEFAULT_ENUM_LIMIT",
    "enum_class_counts",
    "enum_find_class",
    "enum_disagreements",
    "enum_joint_counts",
    "enum_shells",
    "EnumEngine",
    "ENGINE",
]

#: The largest region the enumeration engine takes unless told otherwise
#: (the policy's :data:`~bnnverify.engines.policy.ENUM_LIMIT`).
DEFAULT_ENUM_LIMIT: int = ENUM_LIMIT

#: Members classified per batch when the radius search streams a ball by distance.
STREAM_BATCH: int = 1 << 14

#: Members classified per batch when the caller gives no batch size.
DEFAULT_BATCH = 1 << 16

#: Hamming balls: the sums of the last ``p`` flips' deltas are tabulated for
#: the largest ``p`` with at most this many ``p``-subsets (rows of the table).
SUFFIX_MAX_ROWS = 1 << 14

#: First layers with fewer neurons are computed as (neurons, members) blocks:
#: numpy's loops then run along the long members axis.
NARROW_FIRST_LAYER = 64


def _check_region(net: BNN, region: Region, what: str = "network") -> None:
    if int(region.n) != net.n_inputs:
        raise RegionError(
            f"region ({region.kind}) has n={int(region.n)} input bits, but the {what} {net!r} "
            f"expects n_inputs={net.n_inputs}"
        )


def _check_batch(batch_size: int | None) -> int:
    if batch_size is None:
        return DEFAULT_BATCH
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"batch_size: must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _check_layers(net: BNN, layers: Sequence[int]) -> tuple[int, ...]:
    out = []
    for l in layers:
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= len(net.hidden):
            raise DataError(f"layers: {l!r} is not a hidden layer of {net!r} (1..{len(net.hidden)})")
        out.append(int(l))
    return tuple(out)


# -- walks: a region cut into blocks, in members() order ---------------------------------


@dataclass(frozen=True)
class _Batch:
    """One batch of members: per network (kept codes, classes) and a row builder."""

    results: tuple[tuple[dict[int, np.ndarray], np.ndarray], ...]
    member: Callable[[int], np.ndarray]
    size: int


def _first_weights(net: BNN) -> np.ndarray:
    return net.hidden[0].weights if net.hidden else net.output.weights


def _table_limit(region: Region) -> int:
    """Largest layer table worth building for this region (its size, capped)."""
    return min(int(region.size), 1 << TABLE_MAX_FANIN)


def _finish(ev: Evaluator, first: np.ndarray, is_fires: bool, layers: tuple[int, ...], limit: int,
            transposed: bool = False):
    if is_fires:
        return ev.finish_fires(first, layers=layers, table_limit=limit, transposed=transposed)
    return ev.finish(first, layers=layers, table_limit=limit)


def _narrow(net: BNN) -> bool:
    """Whether the first layer is narrow enough for (neurons, members) blocks."""
    return bool(net.hidden) and net.hidden[0].n_outputs < NARROW_FIRST_LAYER


def _coded_walk(
    nets: Sequence[BNN], evs: Sequence[Evaluator], layers: Sequence[tuple[int, ...]],
    base: np.ndarray, free: np.ndarray, region: Region, batch: int,
) -> Iterator[_Batch]:
    """Whole space or cube: members are integers u over ``free`` (bit t = input free[t])."""
    tabs = [InputTables(_first_weights(net), base, free) for net in nets]
    lb = tabs[0].low_bits
    n_high = 1 << (len(free) - lb)
    per = max(1, batch >> lb)
    limit = _table_limit(region)
    for h0 in range(0, n_high, per):
        H = min(per, n_high - h0)
        results = []
        for net, ev, it, lay in zip(nets, evs, tabs, layers):
            if net.hidden:
                t = _narrow(net)
                f = it.fires_block(h0, H, net.hidden[0].thresholds, transposed=t)
                results.append(_finish(ev, f, True, lay, limit, transposed=t))
            else:
                results.append(_finish(ev, it.dots_block(h0, H), False, lay, limit))

        def member(t: int, h0: int = h0) -> np.ndarray:
            u = (h0 << lb) + int(t)
            x = base.copy()
            x[free] = [(u >> i) & 1 for i in range(len(free))]
            return x

        yield _Batch(tuple(results), member, H << lb)


def _combos(m: int, p: int) -> np.ndarray:
    """All p-subsets of range(m) in lexicographic order, (C(m, p), p) int64."""
    if p == 0:
        return np.zeros((1, 0), np.int64)
    return np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(m), p)),
                       dtype=np.int64, count=comb(m, p) * p).reshape(-1, p)


def _ball_walk(
    nets: Sequence[BNN], evs: Sequence[Evaluator], layers: Sequence[tuple[int, ...]],
    region: HammingBall, batch: int, suffix_rows: int = SUFFIX_MAX_ROWS,
) -> Iterator[_Batch]:
    """Hamming ball: first-layer dots = dot(centre) + sum of the flipped bits' deltas."""
    center = region.center
    idx = region.mutable_indices
    mm, R = len(idx), region.effective_radius
    P = 0
    while P < R and comb(mm, P + 1) <= suffix_rows:
        P += 1
    combos = [_combos(mm, p) for p in range(P + 1)]
    firsts = [c[:, 0] if c.shape[1] else np.zeros(0, np.int64) for c in combos]
    limit = _table_limit(region)
    s_c = 2 * center.astype(np.int64) - 1
    per_net = []
    for net in nets:
        W = _first_weights(net).astype(np.int64)
        d0 = W @ s_c
        D = (-2 * W[:, idx] * s_c[idx][None, :]).T  # (mm, m1): what flipping idx[t] adds
        # |sums| <= 2 * R <= 2 * n: int16 whenever it fits (halves the passes' memory)
        dt = np.int16 if 2 * net.n_inputs < np.iinfo(np.int16).max else np.int32
        sums = [np.zeros((1, W.shape[0]), dt)]
        for p in range(1, P + 1):
            sums.append(sum(D[combos[p][:, q]] for q in range(p)).astype(dt))
        theta = net.hidden[0].thresholds.astype(np.int64) if net.hidden else None
        if _narrow(net):  # (m1, rows): compare along the long axis
            sums = [np.ascontiguousarray(t.T) for t in sums]
        per_net.append((d0, D, sums, theta, _narrow(net)))

    def segments() -> Iterator[tuple[tuple[int, ...], int, int]]:
        """(prefix flips, p, start row of the suffix table) in members() order."""
        for r in range(R + 1):
            p = min(r, P)
            for pre in itertools.combinations(range(mm), r - p):
                start = 0 if not pre else int(np.searchsorted(firsts[p], pre[-1], side="right"))
                if start < len(combos[p]) or p == 0:
                    yield pre, p, start

    pending: list[tuple[tuple[int, ...], int, int]] = []
    rows = 0

    def flush(segs: list[tuple[tuple[int, ...], int, int]]) -> _Batch:
        results = []
        for net, ev, lay, (d0, D, sums, theta, tr) in zip(nets, evs, layers, per_net):
            parts = []
            for pre, p, start in segs:
                shift = d0 + D[list(pre)].sum(axis=0) if pre else d0
                if theta is None:
                    parts.append(sums[p][start:].astype(np.int64) + shift[None, :])
                    continue
                info = np.iinfo(sums[p].dtype)  # |sums| < info.max: clipping keeps every comparison
                lim = np.clip(theta - shift, info.min, info.max).astype(sums[p].dtype)
                parts.append(sums[p][:, start:] >= lim[:, None] if tr else sums[p][start:] >= lim[None, :])
            first = np.concatenate(parts, axis=1 if tr else 0) if len(parts) > 1 else parts[0]
            results.append(_finish(ev, first, theta is not None, lay, limit, transposed=tr))
        bounds = np.cumsum([0] + [len(combos[p]) - start for _, p, start in segs])

        def member(t: int) -> np.ndarray:
            s = int(np.searchsorted(bounds, t, side="right")) - 1
            pre, p, start = segs[s]
            flips = list(pre) + [int(v) for v in combos[p][start + t - int(bounds[s])]]
            x = center.copy()
            x[idx[flips]] ^= 1
            return x

        return _Batch(tuple(results), member, int(bounds[-1]))

    for seg in segments():
        pending.append(seg)
        rows += len(combos[seg[1]]) - seg[2]
        if rows >= batch:
            yield flush(pending)
            pending, rows = [], 0
    if pending:
        yield flush(pending)


def _rows_walk(
    nets: Sequence[BNN], evs: Sequence[Evaluator], layers: Sequence[tuple[int, ...]],
    region: Region, batch: int,
) -> Iterator[_Batch]:
    """Any region: its members() rows through the packed evaluator."""
    for X in region.members(batch):
        results = []
        for ev, lay in zip(evs, layers):
            if lay:
                tr = ev.trace(X)
                results.append(({l: tr.codes[l - 1] for l in lay}, tr.classes))
            else:
                results.append(({}, ev.classify(X)))
        yield _Batch(tuple(results), lambda t, X=X: np.asarray(X[t], dtype=np.uint8).copy(), len(X))


def _walk(
    nets: Sequence[BNN], region: Region, layers: Sequence[tuple[int, ...]] | None = None,
    batch: int = DEFAULT_BATCH, suffix_rows: int = SUFFIX_MAX_ROWS, limits: Limits | None = None,
) -> Iterator[_Batch]:
    """Batches of ``region`` with every network's classes (and kept codes).

    With ``limits``, every batch is a step (:meth:`Limits.step`: progress, and
    :class:`DeadlineExceeded` after the first batch that ends past the deadline;
    a batch takes milliseconds).
    """
    layers = layers if layers is not None else [()] * len(nets)
    evs = [Evaluator(net) for net in nets]
    if any(net.hidden and net.hidden[0].kind != "threshold" for net in nets):
        walk = _rows_walk(nets, evs, layers, region, batch)  # the coded paths need a threshold first layer
    elif isinstance(region, Whole) and int(region.n) <= MAX_CODED_BITS:
        n = int(region.n)
        walk = _coded_walk(nets, evs, layers, np.zeros(n, np.uint8), np.arange(n), region, batch)
    elif isinstance(region, Cube) and len(region.free) <= MAX_CODED_BITS:
        walk = _coded_walk(nets, evs, layers, region.values.copy(), region.free, region, batch)
    elif isinstance(region, HammingBall):
        walk = _ball_walk(nets, evs, layers, region, batch, suffix_rows)
    else:
        walk = _rows_walk(nets, evs, layers, region, batch)
    return walk if limits is None or not limits.paced else _paced(walk, limits)


def _paced(batches: Iterator[_Batch], limits: Limits) -> Iterator[_Batch]:
    for b in batches:
        yield b
        limits.step(b.size, "enumeration")


# -- the questions -------------------------------------------------------------------------


def enum_class_counts(net: BNN, region: Region, *, batch_size: int | None = None,
                      limits: Limits | None = None) -> ClassCounts:
    """Exact number of members of ``region`` per class of ``net``.

    >>> import numpy as np
    >>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
    >>> from bnnverify.encoders.regions import HammingBall
    >>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([1]))
    >>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    >>> enum_class_counts(BNN((h,), o), HammingBall(np.ones(3, np.uint8), 3)).counts  # majority vote
    (4, 4)
    """
    _check_region(net, region)
    counts = np.zeros(net.n_classes, dtype=np.int64)
    for b in _walk([net], region, batch=_check_batch(batch_size), limits=limits):
        counts += np.bincount(b.results[0][1], minlength=net.n_classes)
    return ClassCounts(region.size, tuple(int(c) for c in counts))


def enum_find_class(net: BNN, region: Region, classes: Iterable[int], *,
                    limits: Limits | None = None) -> np.ndarray | None:
    """The first member (in ``region.members()`` order) whose class is in ``classes``
    (uint8 bits), or None when no member has such a class."""
    _check_region(net, region)
    wanted = np.zeros(net.n_classes, dtype=bool)
    for c in classes:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise DataError(f"classes: {c!r} is not a class index")
        if not 0 <= int(c) < net.n_classes:
            raise DataError(f"classes: {int(c)} is outside 0..{net.n_classes - 1}")
        wanted[int(c)] = True
    if not wanted.any():
        return None
    for b in _walk([net], region, limits=limits):
        hit = np.flatnonzero(wanted[b.results[0][1]])
        if hit.size:
            return b.member(int(hit[0]))
    return None


def enum_disagreements(net_a: BNN, net_b: BNN, region: Region, *, limits: Limits | None = None) -> Disagreement:
    """Exact confusion counts of two networks over ``region``; the witness is the
    first member (in ``region.members()`` order) where their classes differ."""
    _check_region(net_a, region, "first network")
    _check_region(net_b, region, "second network")
    cb = net_b.n_classes
    conf = np.zeros(net_a.n_classes * cb, dtype=np.int64)
    witness = None
    for b in _walk([net_a, net_b], region, limits=limits):
        ca, cbb = b.results[0][1], b.results[1][1]
        conf += np.bincount(ca * cb + cbb, minlength=len(conf))
        if witness is None:
            d = np.flatnonzero(ca != cbb)
            if d.size:
                witness = b.member(int(d[0]))
    confusion = {(int(k) // cb, int(k) % cb): int(v) for k, v in enumerate(conf) if v}
    return Disagreement(region.size, confusion, witness)


def _key_columns(fields: list[np.ndarray]) -> np.ndarray:
    """(N, K) uint64 matrix of every word of every key field (codes, then class columns)."""
    return np.ascontiguousarray(np.concatenate(fields, axis=1))


def enum_joint_counts(
    net: BNN,
    region: Region,
    layers: Iterable[int],
    *,
    with_class: bool = False,
    label_net: BNN | None = None,
    limits: Limits | None = None,
) -> JointCounts:
    """Exact counts of the keys ``(code of each layer in layers (1-based, as code_key ints),
    [class if with_class], [label_net's class if label_net])`` over ``region``."""
    _check_region(net, region)
    lay = _check_layers(net, list(layers))
    nets, lays = [net], [tuple(sorted(set(lay)))]
    if label_net is not None:
        _check_region(label_net, region, "label network")
        nets.append(label_net)
        lays.append(())
    words = [(net.hidden[l - 1].n_outputs + 63) // 64 for l in lay]
    # Every key field's width in bits: when they fit one uint64 together, keys are fused into one
    # integer column (a 1-D np.unique) and split again per distinct key only.
    widths = [net.hidden[l - 1].n_outputs for l in lay]
    widths += [max(1, (net.n_classes - 1).bit_length())] if with_class else []
    widths += [max(1, (label_net.n_classes - 1).bit_length())] if label_net is not None else []
    fused = sum(widths) <= 64
    counts: dict[tuple[int, ...], int] = {}
    for b in _walk(nets, region, lays, limits=limits):
        kept, cls = b.results[0]
        extra = ([cls] if with_class else []) + ([b.results[1][1]] if label_net is not None else [])
        fields = [kept[l] for l in lay] + [e.astype(np.uint64)[:, None] for e in extra]
        if not fields:
            counts[()] = counts.get((), 0) + b.size
            continue
        if fused:
            key = np.zeros(b.size, np.uint64)
            shift = 0
            for f, w in zip(fields, widths):
                key |= f[:, 0] << np.uint64(shift)
                shift += w
            uniq, cnt = np.unique(key, return_counts=True)
            cols: list[list[int]] = []
            shift = 0
            for w in widths:
                cols.append(((uniq >> np.uint64(shift)) & np.uint64((1 << w) - 1)).tolist())
                shift += w
        else:
            uniq, cnt = np.unique(_key_columns(fields), axis=0, return_counts=True)
            cols, pos = [], 0
            for w in words:
                cols.append(code_keys(uniq[:, pos : pos + w]))
                pos += w
            cols.extend(uniq[:, j].tolist() for j in range(pos, uniq.shape[1]))
        for k, c in zip(zip(*cols), cnt.tolist()):
            counts[k] = counts.get(k, 0) + c
    return JointCounts(region.size, lay, with_class, label_net is not None, counts)


def enum_shells(
    net: BNN, center: np.ndarray, cap: int, mutable: np.ndarray | None, limit: int, deadline: float | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, np.ndarray | None, bool]:
    """Stream the ball of radius ``cap`` around ``center`` by increasing distance.

    Returns (largest radius fully checked, first member of another class or
    None, whether the search finished). Stops once ``limit`` members were
    checked or the deadline passed, so the caller can go on with another engine.
    """
    ev = Evaluator(net)
    pred = ev.classify_one(center)
    ball = HammingBall(center, cap, mutable)
    checked = 0
    proven = 0
    for batch in ball.members(batch_size=STREAM_BATCH):
        cls = ev.classify(batch)
        bad = np.flatnonzero(cls != pred)
        dist = (batch != center[None, :]).sum(axis=1)
        if bad.size:
            return int(dist[bad[0]]) - 1, batch[bad[0]].copy(), True
        checked += len(batch)
        if progress is not None:
            progress(len(batch))
        last = int(dist[-1])
        proven = last if checked == ball.size else last - 1
        if checked >= limit or (deadline is not None and time.perf_counter() > deadline):
            return max(proven, 0), None, checked == ball.size
    return cap, None, True


class EnumEngine(EngineBase):
    """Every member of the region through the bit-packed evaluator (exact; stops at the first witness)."""

    name = "enum"
    aliases = ("enumerate", "enumeration")
    summary = "enumerate every member with the bit-packed evaluator"
    capabilities = frozenset({Capability.FIND_CLASS, Capability.CLASS_COUNTS, Capability.FIND_DISAGREEMENT,
                              Capability.DISAGREEMENTS, Capability.LAYER_LABELS, Capability.JOINT_COUNTS,
                              Capability.RADIUS, Capability.SUFFICIENT_REASON})
    layer_kinds = frozenset({"threshold", "linear", "conv", "maxpool", "argmax"})
    region_kinds = frozenset({"whole", "cube", "hamming", "linf", "level-l0"})
    why_not = {c: "it needs the BDD of a class (use bdd or auto)"
               for c in (Capability.MIN_SUFFICIENT_REASON, Capability.PRIME_IMPLICANTS, Capability.SHAPLEY,
                         Capability.INFLUENCE)}

    def check(self, nets, region, capability):
        if capability is Capability.RADIUS and any(n.hidden and n.hidden[0].kind != "threshold" for n in nets):
            return Support(False, "engine 'enum' searches Hamming shells only of networks whose first layer "
                                  "is 'threshold'")
        if capability is Capability.SUFFICIENT_REASON and region is not None and region.kind == "linf":
            return Support(False, "engine 'enum' does not take 'linf' regions for sufficient reasons "
                                  "(members agreeing with x on some bits are no L-infinity box)")
        return Support(True)

    def sufficient_reason(self, net: BNN, region: Region, x, target: int, order, limits: Limits) -> Reason:
        """Deletion over ``order``, each check an exhaustive pass over region ∩ {agree with x on S}."""
        from bnnverify.engines.terms import agree_region, free_bits

        self._guard(region, limits)
        others = [c for c in range(net.n_classes) if c != target]
        xb = np.asarray(x, np.uint8)
        keep = list(free_bits(region))
        witnesses: dict[int, np.ndarray] = {}
        checks = 0
        if others and enum_find_class(net, region, others, **self._timed(limits)) is None:  # robust: the empty set
            keep, checks = [], 1
        elif others:
            checks = 1
            for i in order:
                if limits.expired():
                    return Reason(Outcome.TIMEOUT, None, note=f"time limit {limits.timeout} s reached")
                trial = [j for j in keep if j != i]
                w = enum_find_class(net, agree_region(region, xb, trial), others, **self._timed(limits))
                checks += 1
                if w is None:
                    keep = trial
                else:
                    witnesses[int(i)] = np.asarray(w, np.uint8)
        else:
            keep = []
        return Reason(Outcome.FOUND, tuple(sorted(keep)), {i: witnesses[i] for i in keep}, checks,
                      "every dropped bit: an exhaustive pass finding no member of another class; "
                      "every kept bit: a witness")

    @staticmethod
    def _guard(region: Region, limits: Limits) -> None:
        limit = limits.enum_limit if limits.enum_limit is not None else DEFAULT_ENUM_LIMIT
        if region.size > limit:
            from bnnverify.engines.policy import size_text

            raise BudgetExceeded(
                f"the region has {size_text(region.size)} members, more than the enumeration limit of {limit}"
            )

    @staticmethod
    def _timed(limits: Limits) -> dict:
        return {"limits": limits} if limits.paced else {}

    def find_class(self, net: BNN, region: Region, classes, limits: Limits) -> Search:
        self._guard(region, limits)
        w = enum_find_class(net, region, classes, **self._timed(limits))
        return Search(Outcome.NONE) if w is None else Search(Outcome.FOUND, np.asarray(w, dtype=np.uint8))

    def class_counts(self, net: BNN, region: Region, witness_of, limits: Limits):
        self._guard(region, limits)
        cc = enum_class_counts(net, region, **self._timed(limits))
        wanted = [c for c in witness_of if c < len(cc.counts) and cc.counts[c] > 0]
        return cc, (enum_find_class(net, region, wanted, **self._timed(limits)) if wanted else None)

    def disagreements(self, net_a: BNN, net_b: BNN, region: Region, limits: Limits) -> Disagreement:
        self._guard(region, limits)
        return enum_disagreements(net_a, net_b, region, **self._timed(limits))

    def find_disagreement(self, net_a: BNN, net_b: BNN, region: Region, limits: Limits) -> Search:
        w = self.disagreements(net_a, net_b, region, limits).witness
        return Search(Outcome.NONE) if w is None else Search(Outcome.FOUND, np.asarray(w, dtype=np.uint8))

    def layer_labels(self, net: BNN, region: Region, labels, const_label, limits: Limits):
        from bnnverify.information.codecounts import enum_counter

        self._guard(region, limits)
        return enum_counter(net, region, labels, const_label=const_label, limits=limits)

    def joint_counts(self, net: BNN, region: Region, layers, with_class: bool, limits: Limits) -> JointCounts:
        self._guard(region, limits)
        return enum_joint_counts(net, region, layers, with_class=with_class, limits=limits)

    def max_radius(self, net: BNN, center: np.ndarray, mutable, cap: int, user_cap: bool, limits: Limits):
        limit = limits.enum_limit if limits.enum_limit is not None else DEFAULT_ENUM_LIMIT
        proven, w, finished = enum_shells(net, center, cap, mutable, limit, limits.deadline, limits.progress)
        if w is not None:
            return proven, Search(Outcome.FOUND, w)
        if finished:
            return cap, Search(Outcome.NONE)
        if limits.expired():
            return proven, Search(Outcome.TIMEOUT, note=f"time limit {limits.timeout} s reached")
        return proven, Search(Outcome.UNKNOWN, note=f"budget exceeded: enumeration limit of {limit} members reached")


ENGINE = EnumEngine()
