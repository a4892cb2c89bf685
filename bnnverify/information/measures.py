"""Exact information measures of hidden layers, computed from exact counts.

A hidden layer T is a deterministic function of the input X, so
``I(X;T) = H(T)``. For a distribution over inputs — uniform on a region, the
empirical distribution of a data set, or a mixture of Hamming balls around
data-set images — we count exactly how many inputs reach each code ``t``
(``n_t``) and each (code, label) pair (``n_{t,y}``), then compute in bits

* ``H(T) = I(X;T)``, ``H(Y)``, ``H(T|Y)``, ``H(Y|T)``, ``I(T;Y) = H(Y) - H(Y|T)``.

The label Y is the data set's label, the network's own prediction (Ŷ) or the
class of a label network (e.g. a teacher).

Counts come from the engines through :func:`bnnverify.engines.run.layer_labels`
(enumeration, the Hamming-ball programme, the BDD — whichever the one policy
or ``method`` chooses); the bits are computed by
:mod:`bnnverify.information.entropy`, accurate with totals up to ``2^n`` for
any n. No float ever holds a total.

>>> entropy_bits([1, 1, 2])
1.5
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import HammingBall, Region
from bnnverify.engines import run
from bnnverify.engines.base import Limits
from bnnverify.engines.policy import ENUM_LIMIT
from bnnverify.engines.registry import AUTO, ENGINES
from bnnverify.errors import DataError, EngineError, RegionError, check_network, check_region
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.information.codecounts import (
    LabelKind,
    Labels,
    RowCounter,
    check_teacher,
    label_kind,
    labels_for,
)
from bnnverify.information.entropy import (
    LayerInfo,
    conditional_entropy_bits,
    entropy_bits,
    h_y_from_pairs,
    layer_info_from_joint,
    layer_info_from_pairs,
)
from bnnverify.questions.verdict import CountMethod, Method, engine_label

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


@dataclass(frozen=True)
class InfoReport:
    """Per-layer information over one distribution.

    ``region`` is the region's ``describe()`` dict, or for data sets
    ``{"kind": "dataset", "name": ...}`` (plus the radius for ball mixtures);
    ``region_size`` is the exact total count (members, rows, or rows × ball size);
    ``method`` the engine that counted (``evaluator`` for a data set's rows).
    """

    region: Mapping[str, Any]
    region_size: int
    H_Y: float
    labels: LabelKind
    method: "Method | str"
    layers: tuple[LayerInfo, ...]
    seconds: float

    def to_json(self) -> dict:
        return {
            "region": dict(self.region),
            "region_size": int(self.region_size),
            "labels": self.labels.value,
            "method": str(self.method),
            "H_Y": self.H_Y,
            "layers": [li.to_json() for li in self.layers],
            "seconds": self.seconds,
        }


# --- counting over rows (data sets) ------------------------------------------


def info_from_rows(net: BNN, X: np.ndarray, *, labels: Labels = "model", y: np.ndarray | None = None,
                   region: Mapping[str, Any] | None = None, method: CountMethod = CountMethod.EVALUATOR,
                   evaluator: Evaluator | None = None) -> InfoReport:
    """Information over the empirical distribution of the rows of ``X`` (duplicates count).

    ``labels``: ``"dataset"`` (then ``y`` gives them), ``"model"`` (the net's own
    class) or a label :class:`BNN`. One trace gives every layer at once.
    """
    t0 = time.perf_counter()
    kind = label_kind(labels)
    if isinstance(labels, BNN):
        check_teacher(net, labels)
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
    yy = labels_for(net, tr.classes, X, labels, y, Evaluator(labels) if isinstance(labels, BNN) else None)
    rc = RowCounter(net)
    rc.add(tr.codes, yy)
    infos = rc.infos()
    h_y = rc.h_y()
    return InfoReport(dict(region or {"kind": "rows"}), rc.total, h_y, kind, method, infos,
                      time.perf_counter() - t0)


# --- regions ------------------------------------------------------------------


def resolve_method(region: Region, method: "str | Method" = "auto", *, allow_ball: bool = False) -> "Method | str":
    """The engine that counts per-code information over ``region`` (by the one policy).

    ``auto``: the policy's order (:func:`bnnverify.engines.policy.prefer`): the
    Hamming-ball kernel for Hamming balls beyond ``AUTO_BALL_MIN_INFO`` members
    (if ``allow_ball``, i.e. no label network, and numba is installed), else
    enumeration up to :data:`ENUM_LIMIT` members; beyond, the Hamming-ball
    programme for Hamming balls, else the BDD. An explicit engine that cannot count this region
    is refused by name.
    """
    from bnnverify.engines.base import Capability, lacks
    from bnnverify.engines.policy import prefer

    name = ENGINES.resolve(None if method is None else str(method))
    if name == AUTO:
        return engine_label(prefer(Capability.LAYER_LABELS, region, label_net=not allow_ball)[0])
    engine = ENGINES.get(name)
    missing = lacks(engine, Capability.LAYER_LABELS)
    if missing:
        raise EngineError(missing)
    if region.kind not in engine.region_kinds:
        raise EngineError(f"engine {name!r} counts Hamming balls only, not a {region.kind} region"
                          if engine.region_kinds == frozenset({"hamming"})
                          else f"engine {name!r} does not take {region.kind!r} regions")
    return engine_label(name)


def _counter(net: BNN, region: Region, labels: Labels, method: Any, budget: Any,
             const_label: int | None = None, limits: Limits | None = None) -> tuple[Any, "Method | str"]:
    """Exact per-layer (code, label) counts from the engine the policy (or ``method``) chooses."""
    if isinstance(labels, BNN) and const_label is None and ENGINES.resolve(str(method)) == "ball":
        raise DataError("method 'ball' cannot use a label model (it never sees the inputs); use enum or bdd")
    counter, choice = run.layer_labels(net, region, labels, const_label=const_label, method=str(method),
                                       limits=limits or Limits(budget=budget))
    return counter, engine_label(choice.name)


def info_over_region(net: BNN, region: Region, *, labels: Labels = "model", method: "str | Method" = "auto",
                     budget: Any = None, timeout: float | None = None, progress: Any = None) -> InfoReport:
    """Exact per-layer information for the uniform distribution on ``region``.

    ``labels``: ``"model"`` (Y = the network's prediction Ŷ) or a label
    :class:`BNN` (e.g. a teacher); a region has no data-set labels.
    ``method``: an engine that counts per code (``enum``: every member
    through the evaluator; ``bdd``: per-code counts from the BDD, ``budget``
    bounds it and :class:`~bnnverify.errors.BudgetExceeded` is raised beyond
    it; ``ball``: Hamming balls only, the flip-type programme, not with a
    label model) or ``auto`` (the policy: enumeration up to
    :data:`ENUM_LIMIT` members, then ``ball`` for Hamming balls, else the
    BDD); the report records which was used. ``timeout`` (seconds) bounds the
    counting: :class:`~bnnverify.errors.DeadlineExceeded` beyond it, never a partial count.
    """
    t0 = time.perf_counter()
    limits = Limits(budget=budget, timeout=timeout, started=t0, progress=progress)
    check_network(net)
    check_region(region)
    kind = label_kind(labels)
    if kind is LabelKind.DATASET:
        raise RegionError("labels 'dataset' need a data set (a region has no labels): use labels 'model' or a label model")
    if isinstance(labels, BNN):
        check_teacher(net, labels)
    if region.n != net.n_inputs:
        raise RegionError(f"the region has {region.n} bits, the model expects {net.n_inputs}")
    resolve_method(region, method, allow_ball=not isinstance(labels, BNN) or str(method) == "ball")
    counter, used = _counter(net, region, labels, method, budget, limits=limits)
    return InfoReport(region.describe(), region.size, counter.h_y(), kind, used, counter.infos(),
                      time.perf_counter() - t0)


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
                    indices: Sequence[int] | None = None, method: "str | Method" = "auto",
                    budget: Any = None, timeout: float | None = None, progress: Any = None) -> InfoReport:
    """Information over the mixture of Hamming balls around data-set rows.

    The distribution: pick one of the rows (uniformly), then an input uniformly
    in the Hamming ball of ``radius`` around it; with ``labels="dataset"`` its
    label is the row's label. All balls have the same size, so the exact
    mixture counts are the sums of the per-ball counts (total = rows × ball size).
    ``timeout`` bounds the whole mixture (:class:`~bnnverify.errors.DeadlineExceeded`).
    """
    t0 = time.perf_counter()
    limits = Limits(budget=budget, timeout=timeout, started=t0, progress=progress)
    kind = label_kind(labels)
    if isinstance(labels, BNN):
        check_teacher(net, labels)
    X, y = _dataset_rows(net, dataset)
    idx = list(range(len(X))) if indices is None else [int(i) for i in indices]
    if not idx:
        raise DataError("info over balls: no rows selected")
    for i in idx:
        if not 0 <= i < len(X):
            raise DataError(f"row index {i} is outside 0..{len(X) - 1} of data set {dataset.name!r}")
    pairs: list[dict[tuple[int, int], int]] = [{} for _ in net.hidden]
    rows = RowCounter(net)  # the counters of enum and ball, merged as arrays (no Python dict per ball)
    total = 0
    used = set()
    for i in idx:
        ball = HammingBall(X[i], radius)
        const = int(y[i]) if kind is LabelKind.DATASET else None
        resolve_method(ball, method, allow_ball=const is not None or not isinstance(labels, BNN))
        counter, m = _counter(net, ball, "model" if const is not None else labels, method, budget, const, limits)
        used.add(m)
        total += ball.size
        if isinstance(counter, RowCounter):
            rows.merge(counter)
            continue
        for l in range(1, len(net.hidden) + 1):
            acc = pairs[l - 1]
            for k, v in counter.pair_counts(l).items():
                acc[k] = acc.get(k, 0) + v
    # Measured (load ~6): the 360 radius-3 balls around the digits test images on a 64-32-10 net
    # (15.7 M members, 13.5 M distinct first-layer codes) by the ball kernel: 202 s when every
    # ball's counts went through a Python dictionary, 124 s merged as arrays with np.unique(axis=0),
    # 37 s with the lexicographic grouping of codecounts._group_rows (enumeration: 50 s).
    if rows.total:  # a mixture of RowCounters and BDD pair counts: the counters joined as dictionaries
        for l in range(1, len(net.hidden) + 1):
            if pairs[l - 1]:
                acc = pairs[l - 1]
                for k, v in rows.pair_counts(l).items():
                    acc[k] = acc.get(k, 0) + v
    if not any(pairs):
        infos, h_y = rows.infos(), rows.h_y()
    else:
        infos = tuple(layer_info_from_pairs(l + 1, net.hidden[l].n_outputs, p) for l, p in enumerate(pairs))
        h_y = h_y_from_pairs(pairs[0])
    region = {"kind": "dataset-balls", "name": str(dataset.name), "radius": int(radius), "rows": len(idx)}
    meth = used.pop() if len(used) == 1 else Method.BDD
    return InfoReport(region, total, h_y, kind, meth, infos, time.perf_counter() - t0)
