"""Exact (code, label) counting: the counts every information measure is computed from.

Engines produce these counts (enumeration and the Hamming-ball programme
through :class:`RowCounter`, the BDD through :class:`PairCounts`); the
measures in :mod:`bnnverify.information.measures` turn them into bits. Both
classes answer the same questions: ``total``, ``pair_counts(layer)``
(``{(code, label): n}``, Python ints), ``infos()`` and ``h_y()``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Mapping, Sequence

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import DEFAULT_BATCH, Region
from bnnverify.errors import DataError, InternalError, RegionError
from bnnverify.evaluation.evaluator import Evaluator, code_keys
from bnnverify.information.entropy import (
    LayerInfo,
    entropy_bits,
    h_y_from_pairs,
    layer_info_arrays,
    layer_info_from_pairs,
)

__all__ = [
    "Labels",
    "LabelKind",
    "label_kind",
    "check_teacher",
    "labels_for",
    "RowCounter",
    "PairCounts",
    "enum_counter",
]

#: Bits of the packed (code, label) key of the fast counting path.
_KEY_BITS = 64
#: :func:`layer_info_arrays` takes totals below this (its int64 sums and float64 ratios are exact
#: there); larger totals go through the Python-int :func:`layer_info_from_pairs`.
_ARRAY_TOTAL_MAX = 1 << 53

Labels = Any  # "dataset" | "model" | BNN


class LabelKind(str, Enum):
    """What Y is."""

    DATASET = "dataset"  #: the data set's label
    MODEL = "model"  #: the network's own prediction Ŷ
    TEACHER = "teacher"  #: the class given by another network


def label_kind(labels: Labels) -> LabelKind:
    if isinstance(labels, BNN):
        return LabelKind.TEACHER
    try:
        return LabelKind(labels)
    except ValueError:
        raise DataError(f"labels: must be 'dataset', 'model' or a model, got {labels!r}") from None


def check_teacher(net: BNN, teacher: BNN) -> None:
    if teacher.n_inputs != net.n_inputs:
        raise DataError(
            f"labels: the label model has {teacher.n_inputs} inputs, the model has {net.n_inputs}"
        )


def _group_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D uint64 array (sorted) and each row's index among them.

    ``np.unique(axis=0)`` sorts the rows as opaque byte strings; a lexicographic sort over the
    columns does the same grouping several times faster (measured on the 13.5 M (code, label)
    rows of 360 Hamming-3 balls of a 64-32-10 digits network: see ``merge``).
    """
    n = len(keys)
    if n == 0:
        return keys[:0], np.zeros(0, np.int64)
    order = np.lexsort(keys.T[::-1])
    srt = keys[order]
    new = np.ones(n, bool)
    new[1:] = (srt[1:] != srt[:-1]).any(axis=1)
    inv = np.empty(n, np.int64)
    inv[order] = np.cumsum(new) - 1
    return srt[new], inv


def _sum_by_row(keys: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``keys`` and the sums of the weights ``w`` (int64) of each."""
    uniq, inv = _group_rows(keys)
    cnt = np.zeros(len(uniq), np.int64)
    np.add.at(cnt, inv, w)
    return uniq, cnt


def _weighted_unique(y: np.ndarray, w: np.ndarray) -> tuple[list[int], list[int]]:
    vals, inv = np.unique(y, return_inverse=True)
    cnt = np.zeros(len(vals), np.int64)
    np.add.at(cnt, inv.reshape(-1), w)
    return [int(v) for v in vals], [int(c) for c in cnt]


class RowCounter:
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
                uniq, cnt = _sum_by_row(np.concatenate([c.astype(np.uint64, copy=False), y[:, None]], axis=1), w)
            self.parts[l].append((uniq, cnt))

    def merge(self, other: "RowCounter") -> None:
        """Add ``other``'s counts (a counter of the same network) to these: the mixture of the two
        distributions, unnormalised. Its arrays are appended (no Python dictionary), so a mixture
        of many regions is merged by one ``np.unique`` per layer in :meth:`infos`."""
        if other.net is not self.net and other.net != self.net:
            raise InternalError("RowCounter.merge: counters of different networks")
        for mine, theirs in zip(self.parts, other.parts):
            mine.extend(theirs)
        self.total += other.total
        for yv, v in other.label_counts.items():
            self.label_counts[yv] = self.label_counts.get(yv, 0) + v

    def infos(self) -> tuple[LayerInfo, ...]:
        if self.total >= _ARRAY_TOTAL_MAX:  # int64/float arithmetic of layer_info_arrays: exact below 2^53
            return tuple(layer_info_from_pairs(l + 1, self.net.hidden[l].n_outputs, self.pair_counts(l + 1))
                         for l in range(len(self.parts)))
        out = []
        for l, parts in enumerate(self.parts):
            keys = np.concatenate([p[0] for p in parts])
            cnt = np.concatenate([p[1] for p in parts])
            if len(parts) > 1:
                keys, cnt = _sum_by_row(keys, cnt)
            if keys.shape[1] == 2:
                _, t_idx = np.unique(keys[:, 0], return_inverse=True)
            else:
                _, t_idx = _group_rows(np.ascontiguousarray(keys[:, :-1]))
            y = keys[:, -1].astype(np.int64)
            width = self.net.hidden[l].n_outputs
            out.append(layer_info_arrays(l + 1, width, t_idx.reshape(-1), y, cnt))
        return tuple(out)

    def h_y(self) -> float:
        """``H(Y)`` of the labels added so far."""
        return entropy_bits(list(self.label_counts.values()))

    def pair_counts(self, layer: int) -> dict[tuple[int, int], int]:
        """Exact pair counts of hidden layer ``layer`` (1-based) as ``{(code, label): n}``."""
        out: dict[tuple[int, int], int] = {}
        for keys, cnt in self.parts[layer - 1]:
            for t, yv, v in zip(code_keys(keys[:, :-1]), keys[:, -1].tolist(), cnt.tolist()):
                out[(t, int(yv))] = out.get((t, int(yv)), 0) + int(v)
        return out


def labels_for(net: BNN, trace_classes: np.ndarray, X: np.ndarray, labels: Labels,
                y_data: np.ndarray | None, teacher_ev: Evaluator | None) -> np.ndarray:
    kind = label_kind(labels)
    if kind is LabelKind.MODEL:
        return trace_classes
    if kind is LabelKind.TEACHER:
        assert teacher_ev is not None
        return teacher_ev.classify(X)
    if y_data is None:
        raise RegionError("labels 'dataset' need a data set (a region has no labels): use labels 'model' or a label model")
    return y_data


def enum_counter(net: BNN, region: Region, labels: Labels, *, const_label: int | None = None,
                 batch_size: int = DEFAULT_BATCH, limits: Any = None) -> RowCounter:
    """Exact per-layer (code, label) counts of every member of ``region`` (the label: the class,
    a label network's class, or ``const_label``); every batch is a step of ``limits``
    (:meth:`bnnverify.engines.base.Limits.step`: progress, and the deadline)."""
    ev = Evaluator(net)
    tev = Evaluator(labels) if isinstance(labels, BNN) and const_label is None else None
    rc = RowCounter(net)
    for X in region.members(batch_size):
        tr = ev.trace(X)
        y = (np.full(len(X), const_label, np.int64) if const_label is not None
             else labels_for(net, tr.classes, X, labels, None, tev))
        rc.add(tr.codes, y)
        if limits is not None:
            limits.step(len(X), "enumeration")
    if rc.total != region.size:
        raise InternalError(f"enumerated {rc.total} members, but the region has {region.size}")
    return rc


class PairCounts:
    """Per-layer exact ``{(code, label): n}`` dictionaries (the BDD engine's counts), as a counter."""

    def __init__(self, net: BNN, pairs: Sequence[Mapping[tuple[int, int], int]], total: int) -> None:
        self.net = net
        self.pairs = [dict(p) for p in pairs]
        self.total = int(total)
        for l, p in enumerate(self.pairs):
            s = sum(p.values())
            if s != self.total:
                raise InternalError(f"counts of hidden layer {l + 1} add up to {s}, not {self.total}")

    def pair_counts(self, layer: int) -> dict[tuple[int, int], int]:
        return self.pairs[layer - 1]

    def infos(self) -> tuple[LayerInfo, ...]:
        return tuple(
            layer_info_from_pairs(l + 1, self.net.hidden[l].n_outputs, p) for l, p in enumerate(self.pairs)
        )

    def h_y(self) -> float:
        return h_y_from_pairs(self.pairs[0])
