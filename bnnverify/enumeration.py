"""Exact answers by enumerating a region with the reference evaluator.

Every member of the region is classified by :class:`bnnverify.reference.Evaluator`
(streamed in batches; no array larger than a batch is built), so the counts
are exact by construction.

>>> import numpy as np
>>> from encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from encoders.regions import Whole
>>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
>>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> enum_class_counts(BNN((h,), o), Whole(2)).counts
(3, 1)
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from encoders.errors import RegionError
from encoders.layers import BNN
from encoders.regions import Region
from encoders.results import ClassCounts, Disagreement, JointCounts

from .errors import DataError
from .reference import Evaluator, code_keys

__all__ = [
    "DEFAULT_ENUM_LIMIT",
    "enum_class_counts",
    "enum_find_class",
    "enum_disagreements",
    "enum_joint_counts",
]

#: A suggestion for the largest region size worth enumerating (callers decide).
DEFAULT_ENUM_LIMIT: int = 10**7

#: Members classified per batch when the caller gives no batch size.
DEFAULT_BATCH = 1 << 16


def _check_region(net: BNN, region: Region, what: str = "network") -> None:
    if int(region.n) != net.n_inputs:
        raise RegionError(
            f"region ({region.kind}) has n={int(region.n)} input bits, but the {what} {net!r} "
            f"expects n_inputs={net.n_inputs}"
        )


def enum_class_counts(net: BNN, region: Region, *, batch_size: int | None = None) -> ClassCounts:
    """Exact number of members of ``region`` per class of ``net``."""
    _check_region(net, region)
    ev = Evaluator(net)
    counts = np.zeros(net.n_classes, dtype=np.int64)
    for X in region.members(batch_size or DEFAULT_BATCH):
        counts += np.bincount(ev.classify(X), minlength=net.n_classes)
    return ClassCounts(region.size, tuple(int(c) for c in counts))


def enum_find_class(net: BNN, region: Region, classes: Iterable[int]) -> np.ndarray | None:
    """The first member (in ``region.members()`` order) whose class is in ``classes``, or None."""
    _check_region(net, region)
    wanted = np.array(sorted({int(c) for c in classes}), dtype=np.int64)
    ev = Evaluator(net)
    for X in region.members(DEFAULT_BATCH):
        hit = np.flatnonzero(np.isin(ev.classify(X), wanted))
        if hit.size:
            return np.asarray(X[hit[0]], dtype=np.uint8).copy()
    return None


def enum_disagreements(net_a: BNN, net_b: BNN, region: Region) -> Disagreement:
    """Exact confusion counts of two networks over ``region``; witness = first differing member."""
    _check_region(net_a, region, "first network")
    _check_region(net_b, region, "second network")
    ea, eb = Evaluator(net_a), Evaluator(net_b)
    cb = net_b.n_classes
    conf = np.zeros(net_a.n_classes * cb, dtype=np.int64)
    witness = None
    for X in region.members(DEFAULT_BATCH):
        a, b = ea.classify(X), eb.classify(X)
        conf += np.bincount(a * cb + b, minlength=len(conf))
        if witness is None:
            d = np.flatnonzero(a != b)
            if d.size:
                witness = np.asarray(X[d[0]], dtype=np.uint8).copy()
    confusion = {(int(k) // cb, int(k) % cb): int(v) for k, v in enumerate(conf) if v}
    return Disagreement(region.size, confusion, witness)


def enum_joint_counts(
    net: BNN,
    region: Region,
    layers: Iterable[int],
    *,
    with_class: bool = False,
    label_net: BNN | None = None,
) -> JointCounts:
    """Exact counts of (code of each layer in ``layers`` (1-based), [class], [label class])."""
    _check_region(net, region)
    layers = tuple(int(l) for l in layers)
    for l in layers:
        if not 1 <= l <= len(net.hidden):
            raise DataError(f"layers: {l} is not a hidden layer of {net!r} (1..{len(net.hidden)})")
    if label_net is not None:
        _check_region(label_net, region, "label network")
    ev = Evaluator(net)
    el = Evaluator(label_net) if label_net is not None else None
    counts: dict[tuple[int, ...], int] = {}
    for X in region.members(DEFAULT_BATCH):
        tr = ev.trace(X)
        cols = [code_keys(tr.codes[l - 1]) for l in layers]
        if with_class:
            cols.append([int(c) for c in tr.classes])
        if el is not None:
            cols.append([int(c) for c in el.classify(X)])
        for key in zip(*cols):
            counts[key] = counts.get(key, 0) + 1
        if not cols:
            counts[()] = counts.get((), 0) + len(X)
    return JointCounts(region.size, layers, with_class, label_net is not None, counts)
