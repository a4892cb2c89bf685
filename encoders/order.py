"""The order (unary) encoding: a network over a box of integer features as a bit network.

Every engine of bnnverify reasons about bits. A question about a network
that reads integer features (``quantize`` or ``integer-threshold`` first
layer) over a box or an L0 ball of integer images becomes, exactly, a
question about a bit network over a thermometer region:

* feature ``f`` of the box ``[lo_f, hi_f]`` is represented by the order bits
  ``u_{f,j} = [p_f >= t_{f,j}]`` for increasing cut points
  ``lo_f < t_{f,1} < t_{f,2} < ...  <= hi_f``, stored as the thermometer
  feature ``f`` (bits ``[f*L, (f+1)*L)``) of a :class:`~.regions.LevelBox`
  (valid codes only: ``u_{f,j+1} -> u_{f,j}``);
* mode ``pixels`` cuts at *every* value (``t_{f,j} = lo_f + j``): thermometer
  codes and images of the box are in bijection, ``p_f = lo_f + level_f``,
  so every count over the bit network is a count of images (pixel space);
* mode ``cuts`` (networks whose first layers are all ``quantize``) cuts only
  at the quantizer thresholds inside the box: codes and distinct quantizer
  outputs are in bijection, so counts are in bit space, decisions are the
  same (the network sees nothing else of a pixel), and the encoding is
  far smaller;
* the first layer becomes ``linear`` over the order bits, kept by rows
  (each neuron lists the order bits of the pixels it reads, never a dense
  matrix): a ``quantize`` bit
  ``[p_f >= C]`` is the single order bit at cut ``C`` (or a constant when
  ``C`` is outside the box); an ``integer-threshold`` neuron
  ``sum_f W_f p_f >= theta`` is
  ``sum_f W_f sum_j u_{f,j} >= theta - sum_f W_f lo_f`` (coefficient
  ``W_f`` on every order bit of ``f``: a ±1 row stays a cardinality
  constraint over literals);
* an L0 ball becomes a :class:`~.regions.LevelL0` (at most ``k`` features
  off their centre level).

:meth:`Lowering.decode` maps a code back to an image of the region (for
``cuts``, the value of each interval closest to the centre);
:meth:`Lowering.encode` maps images to codes. ``tests/test_order.py``
checks on random networks and boxes that the lowered network gives every
image's code the original network's hidden codes and class.

Rejected: a weighted model count over the quantizer bits (the pixel count
of a code is the product of its intervals' lengths) — exact, but it needs
weighted counting in every engine; the ``pixels`` mode gives the same
numbers with the engines' plain counts, at the price of more variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .errors import RegionError
from .sparse_linear import SparseLinearLayer, rows_from_dense
from .layers import BNN
from .pixel_regions import IntBox, L0Ball
from .regions import LevelBox, LevelL0

__all__ = ["Lowering", "lower", "MODES", "mode_for", "MAX_LOWERED_ENTRIES"]

#: ``pixels``: an order bit per value (counts in pixel space); ``cuts``: only at quantizer thresholds.
MODES = ("pixels", "cuts")

#: The lowered first layer is kept by rows (:mod:`.sparse_linear`: each neuron lists the order bits
#: of the pixels it reads): refuse above this many stored terms (two int64 arrays, 1 GiB) rather than
#: exhaust memory. An L∞ ball of eps 5 on 784 pixels under 100 integer-threshold neurons needs
#: 7.8 million; on the 48x48x3 benchmark network's integer-conv layer (36,864 neurons, 27 pixels
#: each) 10 million; a quantizer needs one term per bit.
MAX_LOWERED_ENTRIES = 1 << 26


def mode_for(nets: Sequence[BNN], counting_pixels: bool) -> str:
    """``cuts`` when every network starts with ``quantize`` and pixel counts are not needed."""
    if not counting_pixels and all(n.hidden and n.hidden[0].kind == "quantize" for n in nets):
        return "cuts"
    return "pixels"


@dataclass(frozen=True, eq=False)
class Lowering:
    """Networks over integer features rewritten over the order bits of one region."""

    nets: tuple[BNN, ...]  #: the lowered bit networks (same hidden codes and classes)
    region: Any  #: LevelBox or LevelL0 over the order bits
    original: Any  #: the IntBox or L0Ball asked about
    cuts: tuple[np.ndarray, ...]  #: per feature, the increasing cut points of its order bits
    mode: str
    levels: int

    @property
    def n_bits(self) -> int:
        return self.region.n

    def encode(self, P: np.ndarray) -> np.ndarray:
        """Images (rows of features) as their order codes (rows of bits)."""
        P = np.atleast_2d(np.asarray(P, dtype=np.int64))
        F, L = len(self.cuts), self.levels
        out = np.zeros((P.shape[0], F * L), dtype=np.uint8)
        for f, t in enumerate(self.cuts):
            if len(t):
                out[:, f * L: f * L + len(t)] = P[:, f, None] >= t[None, :]
        return out

    def decode(self, bits: np.ndarray) -> np.ndarray:
        """An image of the region with this code (``cuts``: each feature's value closest to the centre)."""
        b = np.asarray(bits, dtype=np.int64).reshape(-1)
        F, L = len(self.cuts), self.levels
        lv = b.reshape(F, L).sum(axis=1)
        reg = self.original
        lo, hi = (reg.lo, reg.hi)
        centre = getattr(reg, "center", None)
        p = np.empty(F, dtype=np.int64)
        for f, t in enumerate(self.cuts):
            l = int(lv[f])
            a = int(lo[f]) if l == 0 else int(t[l - 1])
            z = int(hi[f]) if l == len(t) else int(t[l]) - 1
            want = int(centre[f]) if centre is not None else a
            p[f] = min(max(want, a), z)
        return p


def _cut_points(nets: Sequence[BNN], lo: np.ndarray, hi: np.ndarray, mode: str) -> list[np.ndarray]:
    F = lo.shape[0]
    if mode == "pixels":
        return [np.arange(int(lo[f]) + 1, int(hi[f]) + 1, dtype=np.int64) for f in range(F)]
    if mode != "cuts":
        raise RegionError(f"order encoding: mode must be one of {MODES}, got {mode!r}")
    cuts: list[set[int]] = [set() for _ in range(F)]
    for net in nets:
        first = net.hidden[0]
        if first.kind != "quantize":
            raise RegionError(f"order encoding: mode 'cuts' needs a quantize first layer, not {first.kind!r}")
        for f, row in enumerate(first.thresholds.tolist()):
            cuts[f].update(c for c in row if lo[f] < c <= hi[f])
    return [np.array(sorted(c), dtype=np.int64) for c in cuts]


def _pixel_rows(layer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An integer first layer by rows over the pixels: ``(index, weights, thresholds)``, pad index F."""
    if layer.kind == "integer-conv":
        return layer.rows()
    index, w = rows_from_dense(layer.weights)
    return index, w, layer.thresholds.astype(np.int64)


def _first_layer(layer: Any, lo: np.ndarray, cuts: list[np.ndarray], L: int) -> SparseLinearLayer:
    F = len(cuts)
    n = F * L
    if layer.kind == "quantize":
        K = layer.levels
        index = np.full((F * K, 1), n, dtype=np.int64)
        b = np.zeros(F * K, dtype=np.int64)
        for f in range(F):
            pos = {int(t): j for j, t in enumerate(cuts[f].tolist())}
            for k in range(K):
                c, row = int(layer.thresholds[f, k]), f * K + k
                if c <= lo[f]:
                    b[row] = 0  # always on
                elif c in pos:
                    index[row, 0] = f * L + pos[c]
                    b[row] = 1
                else:
                    b[row] = 1  # above the box (or, in 'cuts' mode, impossible): always off
        return SparseLinearLayer(index, (index < n).astype(np.int64), b, n, name=layer.name)
    if layer.kind not in ("integer-threshold", "integer-conv"):
        raise RegionError(f"order encoding: layer kind {layer.kind!r} does not read integer features")
    for f in range(F):
        w = len(cuts[f])
        if w and not (int(cuts[f][0]) == int(lo[f]) + 1 and int(cuts[f][-1]) == int(lo[f]) + w):
            raise RegionError("order encoding: an integer-threshold layer needs every value cut ('pixels' mode)")
    pidx, W, theta = _pixel_rows(layer)
    m, K = pidx.shape
    if m * K * L > MAX_LOWERED_ENTRIES:
        raise RegionError(
            f"order encoding: the first layer over this region would need {m} x {K * L} terms "
            f"(more than {MAX_LOWERED_ENTRIES}); ask about a smaller box"
        )
    # pixel f's order bits are f*L + j for j < (its number of cuts); each carries the pixel's weight
    valid = pidx < F
    f = np.where(valid, pidx, 0)
    ncut = np.array([len(t) for t in cuts], dtype=np.int64)
    present = np.arange(L)[None, None, :] < np.where(valid, ncut[f], 0)[:, :, None]  # (m, K, L)
    index = np.where(present, f[:, :, None] * L + np.arange(L)[None, None, :], n).reshape(m, K * L)
    coef = np.where(present, W[:, :, None], 0).reshape(m, K * L)
    b = theta - (W * np.where(valid, lo.astype(np.int64)[f], 0)).sum(axis=1)
    return SparseLinearLayer(index, coef, b, n, name=layer.name)


def lower(nets: "BNN | Sequence[BNN]", region: Any, mode: str = "pixels") -> Lowering:
    """Rewrite ``nets`` (over integer features) and ``region`` (IntBox or L0Ball) over order bits."""
    seq = (nets,) if isinstance(nets, BNN) else tuple(nets)
    for net in seq:
        if net.inputs is None:
            raise RegionError(f"order encoding: {net!r} reads bits, not integer features")
        if region.n != net.n_inputs:
            raise RegionError(f"region: ranges over {region.n} features, the model expects {net.n_inputs}")
    if isinstance(region, IntBox):
        lo, hi = region.lo, region.hi
    elif isinstance(region, L0Ball):
        lo, hi = region.lo, region.hi
    else:
        raise RegionError(f"order encoding: region kind {getattr(region, 'kind', type(region).__name__)!r} "
                          "is not over integer features")
    cuts = _cut_points(seq, lo, hi, mode)
    L = max(1, max(len(t) for t in cuts))
    lowered = tuple(
        BNN((_first_layer(net.hidden[0], lo, cuts, L), *net.hidden[1:]), net.output,
            thermometer_levels=L, metadata=net.metadata)
        for net in seq
    )
    box = LevelBox(L, np.zeros(len(cuts), np.int64), np.array([len(t) for t in cuts], dtype=np.int64))
    if isinstance(region, L0Ball):
        centre_levels = np.array([int((t <= c).sum()) for t, c in zip(cuts, region.center.tolist())], np.int64)
        bit_region: Any = LevelL0(box, centre_levels, region.k)
    else:
        bit_region = box
    return Lowering(lowered, bit_region, region, tuple(cuts), mode, L)
