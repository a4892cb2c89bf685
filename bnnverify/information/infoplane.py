"""The information plane of BNN training, computed exactly per snapshot.

For the per-epoch model snapshots written by ``bnnverify train --snapshots
DIR`` (``DIR/epoch_0000.npz``, …), every hidden layer's ``(I(X;T), I(T;Y))``
per epoch over one distribution: uniform on a region, a data set's rows, or
the mixture of Hamming balls around a data set's rows. The counts are exact
(:mod:`bnnverify.information.measures`); nothing is binned or estimated.

Regions small enough are enumerated once and every snapshot runs over the
same member array (one evaluator trace gives all layers), which is what makes
hundreds of snapshots cheap.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import HammingBall, Region

from bnnverify.files.atomic import atomic_write
from bnnverify.errors import DataError, RegionError
from bnnverify.information.measures import (
    CountMethod,
    InfoReport,
    LabelKind,
    info_from_rows,
    info_over_balls,
    info_over_region,
    resolve_method,
)
from bnnverify.files.modelio import load_model

__all__ = [
    "Snapshot",
    "PlanePoint",
    "InfoPlane",
    "load_snapshots",
    "compute_infoplane",
    "write_csv",
    "plot_infoplane",
    "plot_vs_epoch",
    "CSV_COLUMNS",
    "MATERIALIZE_LIMIT",
]

#: Regions with at most this many members are enumerated once into memory and
#: reused for every snapshot; larger ones are counted per snapshot.
MATERIALIZE_LIMIT = 1 << 21

#: Columns of the CSV written by :func:`write_csv`, in order.
CSV_COLUMNS = ("epoch", "layer", "width", "codes", "I_XT", "I_TY", "H_T_given_Y", "H_Y", "region_size",
               "labels", "method", "snapshot")

_EPOCH_IN_NAME = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Snapshot:
    """One saved model of a training run."""

    epoch: int
    path: Path
    net: BNN


@dataclass(frozen=True)
class PlanePoint:
    """One layer at one epoch."""

    epoch: int
    layer: int
    width: int
    codes: int
    I_XT: float
    I_TY: float
    H_T_given_Y: float
    H_Y: float
    region_size: int
    snapshot: str


@dataclass(frozen=True)
class InfoPlane:
    """Every layer's information per epoch, plus where and how it was measured."""

    source: Mapping[str, Any]
    labels: LabelKind
    method: CountMethod
    points: tuple[PlanePoint, ...]
    seconds: float
    label_note: str = ""

    @property
    def epochs(self) -> tuple[int, ...]:
        return tuple(sorted({p.epoch for p in self.points}))

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted({p.layer for p in self.points}))

    def curve(self, layer: int) -> tuple[PlanePoint, ...]:
        """The points of one layer, by epoch."""
        return tuple(sorted((p for p in self.points if p.layer == layer), key=lambda p: p.epoch))


def _epoch_of(path: Path, net: BNN) -> int:
    meta = net.metadata.get("epoch")
    if meta is not None:
        try:
            return int(meta)
        except ValueError:
            raise DataError(f"{path}: metadata 'epoch' is {meta!r}, not an integer") from None
    m = _EPOCH_IN_NAME.findall(path.stem)
    if not m:
        raise DataError(f"{path}: no 'epoch' metadata and no epoch number in the file name")
    return int(m[-1])


def load_snapshots(directory: "str | os.PathLike[str]") -> list[Snapshot]:
    """The model snapshots (``*.npz``) of a directory, by epoch; they must share one architecture."""
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"snapshot directory {d}: no such directory")
    files = sorted(d.glob("*.npz"))
    if not files:
        raise DataError(f"snapshot directory {d}: holds no .npz model snapshots")
    snaps = []
    for f in files:
        net = load_model(f)
        snaps.append(Snapshot(_epoch_of(f, net), f, net))
    snaps.sort(key=lambda s: (s.epoch, s.path.name))
    seen: dict[int, Path] = {}
    for s in snaps:
        if s.epoch in seen:
            raise DataError(f"snapshot directory {d}: {seen[s.epoch].name} and {s.path.name} are both epoch {s.epoch}")
        seen[s.epoch] = s.path
        if s.net.widths != snaps[0].net.widths:
            raise DataError(
                f"{s.path}: architecture {s.net!r} differs from {snaps[0].path.name}'s {snaps[0].net!r}"
            )
    return snaps


def _labels_for(labels: Any, snaps: Sequence[Snapshot]) -> Any:
    """``"final"`` means: the last snapshot's classes are the labels for every epoch."""
    if isinstance(labels, str) and labels == "final":
        return snaps[-1].net
    return labels


def _points(rep: InfoReport, snap: Snapshot) -> list[PlanePoint]:
    return [
        PlanePoint(snap.epoch, li.layer, li.width, li.codes, li.I_XT, li.I_TY, li.H_T_given_Y, rep.H_Y,
                   rep.region_size, snap.path.name)
        for li in rep.layers
    ]


def compute_infoplane(
    snapshots: "Sequence[Snapshot] | str | os.PathLike[str]",
    *,
    region: Region | None = None,
    dataset: Any = None,
    radius: int | None = None,
    labels: Any = None,
    method: str | CountMethod = "auto",
    budget: int | None = None,
    progress: Any = None,
    timeout: float | None = None,
) -> InfoPlane:
    """The exact information plane of a run.

    ``timeout`` (seconds) bounds the whole plane: :class:`~bnnverify.errors.DeadlineExceeded`
    beyond it (a plane with some epochs missing is never returned).

    Exactly one of ``region`` (uniform on it) or ``dataset`` (its rows; with
    ``radius``, the mixture of Hamming balls of that radius around them).
    ``labels``: ``"dataset"`` (default with a data set), ``"model"`` (each
    snapshot's own prediction), ``"final"`` (default with a region: the last
    snapshot's prediction, a fixed target for every epoch) or a label :class:`BNN`.
    ``progress`` is called with each finished epoch if given.
    """
    t0 = time.perf_counter()
    deadline = None if timeout is None else t0 + float(timeout)
    snaps = list(snapshots) if not isinstance(snapshots, (str, os.PathLike)) else load_snapshots(snapshots)
    if not snaps:
        raise DataError("information plane: no snapshots")
    if (region is None) == (dataset is None):
        raise RegionError("information plane: give exactly one of a region or a data set")
    if labels is None:
        labels = "dataset" if dataset is not None else "final"
    lab = _labels_for(labels, snaps)
    net0 = snaps[0].net
    points: list[PlanePoint] = []
    if dataset is not None and radius is None:
        X = np.asarray(dataset.X, dtype=np.uint8)
        if X.ndim != 2 or X.shape[1] != net0.n_inputs:
            raise DataError(f"data set {dataset.name!r}: rows have {X.shape[-1]} bits, the model expects {net0.n_inputs}")
        y = np.asarray(dataset.y, dtype=np.int64)
        source: dict[str, Any] = {"kind": "dataset", "name": str(dataset.name), "size": len(X)}
        meth = CountMethod.EVALUATOR
        for s in snaps:
            points += _points(info_from_rows(s.net, X, labels=lab, y=y, region=source), s)
            _left(deadline)
            if progress:
                progress(s.epoch)
    elif dataset is not None:
        source = {"kind": "dataset-balls", "name": str(dataset.name), "radius": int(radius or 0), "rows": len(dataset.X)}
        meth = None
        mixture = _materialized_balls(dataset, int(radius or 0), net0, method)
        if mixture is not None:  # enumerate every ball once, reuse for every snapshot
            X, y = mixture
            meth = CountMethod.ENUM
            src = {**source, "size": len(X)}
            for s in snaps:
                points += _points(info_from_rows(s.net, X, labels=lab, y=y, region=src, method=meth), s)
                _left(deadline)
                if progress:
                    progress(s.epoch)
        for s in snaps if mixture is None else ():
            rep = info_over_balls(s.net, dataset, int(radius or 0), labels=lab, method=method, budget=budget,
                                  timeout=_left(deadline))
            meth = rep.method
            points += _points(rep, s)
            _left(deadline)
            if progress:
                progress(s.epoch)
    else:
        assert region is not None
        if region.n != net0.n_inputs:
            raise RegionError(f"the region has {region.n} bits, the model expects {net0.n_inputs}")
        source = region.describe()
        meth = resolve_method(region, method)
        if isinstance(lab, str) and lab == LabelKind.DATASET.value:
            raise RegionError("labels 'dataset' need a data set (a region has no labels): use model, final or a model file")
        if meth is CountMethod.ENUM and region.size <= MATERIALIZE_LIMIT:
            X = np.concatenate(list(region.members()))
            for s in snaps:
                points += _points(info_from_rows(s.net, X, labels=lab, region=source, method=meth), s)
                _left(deadline)
                if progress:
                    progress(s.epoch)
        else:
            for s in snaps:
                points += _points(info_over_region(s.net, region, labels=lab, method=meth, budget=budget,
                                                   timeout=_left(deadline)), s)
                _left(deadline)
                if progress:
                    progress(s.epoch)
    kind = LabelKind.TEACHER if isinstance(lab, BNN) else LabelKind(lab)
    note = {LabelKind.DATASET: "Y = data-set label", LabelKind.MODEL: "Y = each snapshot's own prediction"}.get(
        kind, "Y = the final snapshot's prediction" if isinstance(labels, str) and labels == "final"
        else "Y = a label model's prediction")
    return InfoPlane(source, kind, meth or CountMethod.BDD, tuple(points), time.perf_counter() - t0, note)


def _left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (None: no limit); :class:`DeadlineExceeded` once it has passed."""
    if deadline is None:
        return None
    left = deadline - time.perf_counter()
    if left <= 0:
        from bnnverify.errors import DeadlineExceeded

        raise DeadlineExceeded("the information plane reached its time limit")
    return left


def _materialized_balls(dataset: Any, radius: int, net: BNN, method: str | CountMethod
                        ) -> tuple[np.ndarray, np.ndarray] | None:
    """All members of every ball (with the row's label), if enumeration is chosen and they fit in memory."""
    X = np.asarray(dataset.X, dtype=np.uint8)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise DataError(f"data set {dataset.name!r}: rows have {X.shape[-1]} bits, the model expects {net.n_inputs}")
    if len(X) == 0:
        raise DataError(f"data set {dataset.name!r}: no rows")
    ball = HammingBall(X[0], radius)
    if resolve_method(ball, method) is not CountMethod.ENUM or ball.size * len(X) > MATERIALIZE_LIMIT:
        return None
    parts, labels = [], []
    y = np.asarray(dataset.y, dtype=np.int64)
    for i in range(len(X)):
        members = np.concatenate(list(HammingBall(X[i], radius).members()))
        parts.append(members)
        labels.append(np.full(len(members), y[i], np.int64))
    return np.concatenate(parts), np.concatenate(labels)


def write_csv(plane: InfoPlane, path: "str | os.PathLike[str]") -> Path:
    """One row per (epoch, layer), columns :data:`CSV_COLUMNS`; written atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in sorted(plane.points, key=lambda p: (p.epoch, p.layer)):
        w.writerow([p.epoch, p.layer, p.width, p.codes, repr(p.I_XT), repr(p.I_TY), repr(p.H_T_given_Y),
                    repr(p.H_Y), p.region_size, plane.labels.value, str(plane.method), p.snapshot])
    path = Path(path)
    with atomic_write(path, "w") as fh:
        fh.write(buf.getvalue())
    return path


#: Marker per layer (cycled), so curves stay distinguishable without colour.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")

#: Beyond this many epochs the plot uses smaller markers and thinner lines.
_MANY_EPOCHS = 60


def describe_source(source: Mapping[str, Any]) -> str:
    """A short human description of where the plane was measured."""
    kind = source.get("kind")
    if kind == "dataset":
        return f"data set {source.get('name')} ({source.get('size')} rows)"
    if kind == "dataset-balls":
        return f"Hamming balls r={source.get('radius')} around {source.get('rows')} rows of {source.get('name')}"
    if kind == "whole":
        return f"all 2^{source.get('n')} inputs"
    if kind == "hamming":
        return f"Hamming ball r={source.get('radius')} ({source.get('size')} inputs)"
    return f"{kind} region ({source.get('size')} inputs)"


def _save_figure(fig: Any, path: "str | os.PathLike[str]", fmt: str, dpi: int) -> Path:
    """Render ``fig`` in ``fmt`` and write it atomically to ``path``; the figure is closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path


#: The image formats a plot is written in, by the file's extension.
PLOT_FORMATS = ("png", "pdf", "svg")


def plot_format(path: "str | os.PathLike[str]") -> str:
    """The format a plot file's extension names (png, pdf, svg); anything else is an error naming it."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise DataError(f"plot {path}: the extension must name an image format ({', '.join(PLOT_FORMATS)})")
    return fmt


def plot_infoplane(plane: InfoPlane, path: "str | os.PathLike[str]", title: str | None = None,
                   *, dpi: int = 110) -> Path:
    """Draw the information plane (x: I(X;T), y: I(T;Y); a curve per layer, colour = epoch).

    The file's extension chooses the format (:data:`PLOT_FORMATS`). Over a data
    set's rows, H(T) cannot exceed log2(N) for N rows: that ceiling is drawn.
    """
    fmt = plot_format(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    epochs = plane.epochs
    norm = Normalize(vmin=min(epochs), vmax=max(epochs) if max(epochs) > min(epochs) else min(epochs) + 1)
    cmap = plt.get_cmap("viridis")
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8.0, 5.2))
    sc = None
    handles = []
    many = len(epochs) > _MANY_EPOCHS
    for i, layer in enumerate(plane.layers):
        pts = plane.curve(layer)
        x = [p.I_XT for p in pts]
        y = [p.I_TY for p in pts]
        e = [p.epoch for p in pts]
        marker = _MARKERS[i % len(_MARKERS)]
        ax.plot(x, y, color="0.55", linewidth=0.4 if many else 0.8, zorder=1)
        sc = ax.scatter(x, y, c=e, cmap=cmap, norm=norm, s=10 if many else 26, marker=marker,
                        edgecolors="black", linewidths=0.15 if many else 0.3, zorder=2)
        ax.scatter([x[-1]], [y[-1]], s=90, marker=marker, facecolors="none", edgecolors="red", linewidths=1.2,
                   zorder=3)
        ax.annotate(f"L{layer}", (x[-1], y[-1]), textcoords="offset points", xytext=(6, 5), fontsize=9,
                    color="red", zorder=4)
        handles.append(Line2D([], [], linestyle="none", marker=marker, markerfacecolor="white",
                              markeredgecolor="black", label=f"layer {layer} ({pts[0].width} neurons)"))
    h_y = max(p.H_Y for p in plane.points)
    ax.axhline(h_y, color="tab:red", linestyle=":", linewidth=0.9)
    y_data = max(p.I_TY for p in plane.points)
    shown = h_y <= (y_data * 1.15 if y_data > 0 else h_y) * 1.5
    handles.append(Line2D([], [], color="tab:red", linestyle=":",
                          label=f"H(Y) = {h_y:.3f} bits (upper bound{'' if shown else ', above the axes'})"))
    handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", markeredgecolor="red",
                          markersize=9, label=f"last epoch ({max(epochs)})"))
    ax.set_xlabel("I(X;T) = H(T)  [bits]")
    ax.set_ylabel("I(T;Y)  [bits]")
    x_max = max(p.I_XT for p in plane.points)
    if str(plane.source.get("kind")) == "dataset" and plane.points:
        ceiling = math.log2(max(1, int(plane.points[0].region_size)))
        ax.axvline(ceiling, color="0.3", linestyle="--", linewidth=0.9)
        handles.append(Line2D([], [], color="0.3", linestyle="--",
                              label=f"log2(N) = {ceiling:.2f} bits: the most H(T) can be over N rows"))
        x_max = max(x_max, ceiling)
    ax.set_xlim(0, x_max * 1.05 if x_max > 0 else 1.0)
    y_max = max(p.I_TY for p in plane.points)
    # fitted to the data; the H(Y) bound stays in view when it is near the points
    y_top = y_max * 1.15 if y_max > 0 else (h_y * 1.05 if h_y > 0 else 1.0)
    if h_y <= y_top * 1.5:
        y_top = max(y_top, h_y * 1.05)
    ax.set_ylim(0, y_top)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    cb = fig.colorbar(sc, ax=ax, pad=0.02)
    cb.set_label("epoch")
    ax.set_title(title or f"Exact information plane — {describe_source(plane.source)}\n{plane.label_note}",
                 fontsize=10)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.18, 1.0), borderaxespad=0,
              title="marker = layer, colour = epoch", title_fontsize=7.5, frameon=False)
    return _save_figure(fig, path, fmt, dpi)


def plot_vs_epoch(plane: InfoPlane, path: "str | os.PathLike[str]", title: str | None = None,
                  *, dpi: int = 110) -> Path:
    """I(X;T) (top) and I(T;Y) (bottom) of every layer against the epoch; the format by the extension."""
    fmt = plot_format(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.0, 6.0), sharex=True)
    for i, layer in enumerate(plane.layers):
        pts = plane.curve(layer)
        e = [p.epoch for p in pts]
        marker = _MARKERS[i % len(_MARKERS)]
        label = f"layer {layer} ({pts[0].width} neurons)"
        top.plot(e, [p.I_XT for p in pts], marker=marker, markersize=3, linewidth=1.0, label=label)
        bottom.plot(e, [p.I_TY for p in pts], marker=marker, markersize=3, linewidth=1.0, label=label)
    h_y = max(p.H_Y for p in plane.points)
    bottom.axhline(h_y, color="tab:red", linestyle=":", linewidth=0.9, label=f"H(Y) = {h_y:.3f} bits")
    if str(plane.source.get("kind")) == "dataset" and plane.points:
        ceiling = math.log2(max(1, int(plane.points[0].region_size)))
        top.axhline(ceiling, color="0.3", linestyle="--", linewidth=0.9, label=f"log2(N) = {ceiling:.2f} bits")
    top.set_ylabel("I(X;T) = H(T)  [bits]")
    bottom.set_ylabel("I(T;Y)  [bits]")
    bottom.set_xlabel("epoch")
    for ax in (top, bottom):
        ax.grid(True, linewidth=0.3, alpha=0.5)
        ax.legend(fontsize=7.5, loc="best", frameon=False)
    top.set_title(title or f"Exact information per epoch — {describe_source(plane.source)}\n{plane.label_note}",
                  fontsize=10)
    return _save_figure(fig, path, fmt, dpi)
