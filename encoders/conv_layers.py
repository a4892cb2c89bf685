"""Convolution and max-pooling layer kinds: ``conv``, ``maxpool``, ``integer-conv``.

A convolutional BNN's feature maps are stored flat, in the layer's
``layout``: ``CHW`` (channels first, torch/ONNX: feature ``(c, h, w)`` is
index ``c*H*W + h*W + w``) or ``HWC`` (channels last, larq/TF: index
``(h*W + w)*C + c``). A layer reads a map of ``shape = (C, H, W)`` and writes
its output map in the same layout. Output position ``(r, q)`` of a window of
``kernel = (kh, kw)`` with ``stride = (sh, sw)`` and ``pads = (top, left,
bottom, right)`` covers the input rows ``r*sh - top + i`` (``0 <= i < kh``)
and columns ``q*sw - left + j``; the output has
``H' = (H + top + bottom - kh) // sh + 1`` rows (likewise ``W'``).

* ``conv`` (bits, spins): ``y[o, r, q] = [sum W[o, c, i, j] * s(x[c, .., ..]) >= theta[o]]``,
  the sum over the window's positions *inside* the map: a padded position
  contributes 0 (torch and larq pad with 0, which is neither +1 nor -1; the dot
  product has fewer terms there). Weights ±1, one integer threshold per output
  channel (batch norm + sign folded exactly; a negative scale negates the
  channel's kernel).
* ``maxpool`` (bits): per channel, ``polarity[c] = +1``: the max of the window's
  spins — the OR of its bits; ``-1``: the min — the AND (what a max-pooling
  *before* a batch norm with negative scale becomes once the kernel is
  negated). Padded positions take no part (ONNX pads max-pooling with -inf).
* ``integer-conv`` (integer features, first layer only): ``y[o, r, q] =
  [sum W[o, c, i, j] * p[c, .., ..] >= theta[o, r, q]]`` with integer W (int16,
  ±1 the common case) over the pixels inside the map; one threshold per output
  *neuron*, so a normalisation ``p*a + b`` padded with 0 after it folds exactly
  (the border sums differ).

Every kind has an exact view for the encoders, kept by rows (each neuron lists
only its patch, :mod:`.sparse_linear`): :meth:`ConvLayer.as_linear` and
:meth:`MaxPoolLayer.as_linear` (a ``linear`` layer over bits: ``sum w s = 2 sum
w x - sum w`` over the valid positions, halved to ±1 coefficients; OR = ``[sum
x >= 1]``, AND = ``[sum x >= count]``), :meth:`IntegerConvLayer.rows` (the
integer kernel per patch, which the order encoding lowers row by row);
:meth:`IntegerConvLayer.as_dense` (an ``integer-threshold`` layer with zero
weights outside each patch) remains for small networks. The numpy rule
(:meth:`forward`) gathers patches (an index table with a zero column for
padding) and multiplies them with the kernel: it never builds the dense
matrix, so a 48x48x3 map stays cheap.

>>> import numpy as np
>>> c = ConvLayer(np.ones((1, 1, 2, 2), np.int8), np.array([4]), shape=(1, 2, 2))
>>> c.n_inputs, c.n_outputs
(4, 1)
>>> c.forward(np.array([[1, 1, 1, 1], [1, 1, 1, 0]])).tolist()
[[1], [0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from .errors import ModelError
from .integer_layers import MAX_INTEGER_WEIGHT, IntegerThresholdLayer
from .layer_base import BITS, HIDDEN, INTEGERS, ArrayKey, frozen
from .sparse_linear import SparseLinearLayer

__all__ = ["ConvLayer", "MaxPoolLayer", "IntegerConvLayer", "LAYOUTS", "MAX_DENSE_VIEW_ENTRIES",
           "MAX_VIEW_TERMS", "feature_index", "linear_view"]

#: Feature-map layouts: channels first (torch, ONNX) or channels last (larq, TF).
LAYOUTS = ("CHW", "HWC")

#: The dense ``integer-threshold`` view (``IntegerConvLayer.as_dense``, for small networks only) is an
#: int64 matrix: refuse above this many entries (2 GiB) rather than exhaust memory.
MAX_DENSE_VIEW_ENTRIES = 1 << 28

#: The row views (``as_linear``, ``rows``) store neurons x patch terms (two int64 arrays): refuse above
#: this many (4 GiB). The 48x48x3 benchmark network's largest layer has 36,864 x 27 (2^20).
MAX_VIEW_TERMS = 1 << 28


def _check_view(name: str, m: int, k: int) -> None:
    if m * k > MAX_VIEW_TERMS:
        raise ModelError(f"{name}: its row view would need {m} x {k} terms (more than {MAX_VIEW_TERMS}); "
                         "the encoders cannot take it")

#: float32 sums of integers are exact below 2^24 (the mantissa): the patch products use float32
#: (BLAS) when every partial sum stays below this, float64 below 2^53, int64 otherwise.
_FLOAT32_EXACT = 1 << 24
_FLOAT64_EXACT = 1 << 53

#: ``row_cost`` counts a patch entry this many times: blocks of ~200 rows for the digits conv net
#: (measured: 1,000-row blocks were 3x slower there, their float32 products leave the L2 cache).
_ROW_COST_FACTOR = 8

#: Rows gathered per block by :meth:`forward` (bounds the patch buffer: rows x P x K entries).
_FORWARD_BLOCK_ENTRIES = 1 << 24


def feature_index(layout: str, C: int, H: int, W: int, c: Any, h: Any, w: Any) -> Any:
    """The flat index of feature ``(c, h, w)`` of a ``C x H x W`` map stored in ``layout``."""
    if layout == "CHW":
        return (c * H + h) * W + w
    return (h * W + w) * C + c


def _ints(a: object, where: str, n: int, lo: int) -> tuple[int, ...]:
    v = np.asarray(a)
    if v.dtype.kind not in "iu" or v.shape != (n,):
        raise ModelError(f"{where}: must be {n} integers, got {v.dtype} shape {v.shape}")
    out = tuple(int(x) for x in v.tolist())
    bad = [x for x in out if x < lo]
    if bad:
        raise ModelError(f"{where}: entries must be >= {lo}, got {list(out)}")
    return out


@dataclass(frozen=True, eq=False)
class _Geometry:
    """A window sliding over a ``C x H x W`` map (validated, with its index tables)."""

    shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    layout: str
    where: str

    @classmethod
    def make(cls, shape, kernel, stride, pads, layout, where) -> "_Geometry":
        s = _ints(shape, f"{where}_shape", 3, 1)
        k = _ints(kernel, f"{where}_kernel", 2, 1)
        st = _ints(stride, f"{where}_stride", 2, 1)
        p = _ints(pads, f"{where}_pads", 4, 0)
        if str(layout) not in LAYOUTS:
            raise ModelError(f"{where}_layout: must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        C, H, W = s
        if k[0] > H + p[0] + p[2] or k[1] > W + p[1] + p[3]:
            raise ModelError(f"{where}_kernel: a {k[0]}x{k[1]} window does not fit the padded {H}x{W} map "
                             f"(pads {list(p)})")
        if p[0] >= k[0] or p[2] >= k[0] or p[1] >= k[1] or p[3] >= k[1]:
            raise ModelError(f"{where}_pads: each pad must be smaller than the window ({list(k)}), got {list(p)}")
        return cls(s, k, st, p, str(layout), where)

    @property
    def out_hw(self) -> tuple[int, int]:
        C, H, W = self.shape
        return ((H + self.pads[0] + self.pads[2] - self.kernel[0]) // self.stride[0] + 1,
                (W + self.pads[1] + self.pads[3] - self.kernel[1]) // self.stride[1] + 1)

    @property
    def n_in(self) -> int:
        C, H, W = self.shape
        return C * H * W

    def windows(self, channels: bool) -> np.ndarray:
        """The index table (cached: the geometry is immutable; the array is read-only)."""
        key = ("windows", channels)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            a = self._windows(channels)
            a.setflags(write=False)
            cache[key] = a
        return cache[key]

    def _windows(self, channels: bool) -> np.ndarray:
        """Index table ``(P, C*kh*kw)`` (``channels``: the kernel's (c, i, j) order) or
        ``(C, P, kh*kw)``: the flat input index of each window position, ``n_in`` where padded."""
        C, H, W = self.shape
        kh, kw = self.kernel
        Ho, Wo = self.out_hw
        r = np.arange(Ho)[:, None, None, None] * self.stride[0] - self.pads[0] + np.arange(kh)[None, None, :, None]
        q = np.arange(Wo)[None, :, None, None] * self.stride[1] - self.pads[1] + np.arange(kw)[None, None, None, :]
        r, q = np.broadcast_arrays(r, q)  # (Ho, Wo, kh, kw)
        ok = (r >= 0) & (r < H) & (q >= 0) & (q < W)
        c = np.arange(C)[:, None, None, None, None]
        idx = feature_index(self.layout, C, H, W, c, np.clip(r, 0, H - 1)[None], np.clip(q, 0, W - 1)[None])
        idx = np.where(ok[None], idx, self.n_in).astype(np.int64)  # (C, Ho, Wo, kh, kw)
        if channels:
            return idx.transpose(1, 2, 0, 3, 4).reshape(Ho * Wo, C * kh * kw)
        return idx.reshape(C, Ho * Wo, kh * kw)

    def out_index(self, O: int) -> np.ndarray:
        """``(O, P)``: the flat output index of channel o at position p (row-major positions; cached)."""
        cache = self.__dict__.setdefault("_cache", {})
        if ("out", O) not in cache:
            a = self._out_index(O)
            a.setflags(write=False)
            cache[("out", O)] = a
        return cache[("out", O)]

    def _out_index(self, O: int) -> np.ndarray:
        Ho, Wo = self.out_hw
        o = np.arange(O)[:, None]
        p = np.arange(Ho * Wo)[None, :]
        return feature_index(self.layout, O, Ho, Wo, o, p // Wo, p % Wo).astype(np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"shape": np.array(self.shape, np.int64), "stride": np.array(self.stride, np.int64),
                "pads": np.array(self.pads, np.int64), "layout": np.array(self.layout)}


_GEOMETRY_KEYS = (
    ArrayKey("shape", "int", 1, "(C, H, W), the input map it reads, stored flat in `layout`"),
    ArrayKey("stride", "int", 1, "(sh, sw), positive"),
    ArrayKey("pads", "int", 1, "(top, left, bottom, right), each >= 0 and smaller than the window"),
    ArrayKey("layout", "str", 0, "\"CHW\" or \"HWC\": how the input and the output maps are stored flat"),
)


def _gather(V: np.ndarray, idx: np.ndarray, fill: int = 0) -> np.ndarray:
    """Rows ``V`` (N, n) gathered by an index table, ``n`` (the padding index) reading ``fill``."""
    pad = np.full((V.shape[0], 1), fill, dtype=V.dtype)
    return np.concatenate([V, pad], axis=1)[:, idx]


def _dot_patches(P: np.ndarray, Wm: np.ndarray, bound: int) -> np.ndarray:
    """``P @ Wm.T`` exactly (int64 result) for integer arrays whose partial sums stay within ``bound``."""
    if bound < _FLOAT32_EXACT:
        return np.rint(P.astype(np.float32) @ Wm.T.astype(np.float32)).astype(np.int64)
    if bound < _FLOAT64_EXACT:
        return np.rint(P.astype(np.float64) @ Wm.T.astype(np.float64)).astype(np.int64)
    return P.astype(np.int64) @ Wm.T.astype(np.int64)


class _Windowed:
    """What the three kinds share: geometry keys, widths, equality."""

    geometry: _Geometry

    def _geo_init(self, where: str, kernel: tuple[int, int]) -> None:
        g = _Geometry.make(self.shape, kernel, self.stride, self.pads, self.layout, where)
        object.__setattr__(self, "geometry", g)
        object.__setattr__(self, "shape", g.shape)
        object.__setattr__(self, "stride", g.stride)
        object.__setattr__(self, "pads", g.pads)
        object.__setattr__(self, "layout", g.layout)

    @property
    def n_inputs(self) -> int:
        return self.geometry.n_in

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(channels, rows, columns) of the output map."""
        return (self.out_channels, *self.geometry.out_hw)

    @property
    def n_outputs(self) -> int:
        C, H, W = self.out_shape
        return C * H * W

    @property
    def row_cost(self) -> int:
        """Entries :meth:`forward` touches per input row (patches and outputs), not a dense matrix's
        ``n_inputs * n_outputs``: what the evaluator sizes its blocks by."""
        C, H, W = self.geometry.shape
        kh, kw = self.geometry.kernel
        return _ROW_COST_FACTOR * (self.n_outputs * kh * kw * (C if self.kind != "maxpool" else 1) + self.n_inputs)

    def _key(self) -> tuple:
        return (self.kind, self.geometry.shape, self.geometry.kernel, self.geometry.stride, self.geometry.pads,
                self.geometry.layout) + tuple(a.tobytes() for a in self._data())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key() and all(  # type: ignore[attr-defined]
            a.shape == b.shape for a, b in zip(self._data(), other._data()))  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())


def _pm1_kernel(w: object, where: str) -> np.ndarray:
    if not isinstance(w, np.ndarray) or w.dtype != np.int8 or w.ndim != 4 or 0 in w.shape:
        raise ModelError(f"{where}: must be a non-empty int8 array (out channels, in channels, kh, kw), got "
                         f"{getattr(w, 'dtype', type(w).__name__)} shape {getattr(w, 'shape', None)}")
    bad = (w != 1) & (w != -1)
    if bad.any():
        i = [int(v) for v in np.argwhere(bad)[0]]
        raise ModelError(f"{where}: weights must be exactly +1 or -1; entry {i} is {int(w[tuple(i)])}")
    return frozen(w)


def _check_channels(w: np.ndarray, shape: tuple[int, int, int], where: str) -> None:
    if w.shape[1] != shape[0]:
        raise ModelError(f"{where}: kernel reads {w.shape[1]} channels but the input map has {shape[0]}")


@dataclass(frozen=True, eq=False)
class ConvLayer(_Windowed):
    """``conv``: a ±1 convolution over spins, zero padding, a threshold per output channel."""

    kind: ClassVar[str] = "conv"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = BITS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("weights", "int8", 4, "W, shape (O, C, kh, kw), every entry +1 or -1"),
        ArrayKey("thresholds", "int", 1, "theta, shape (O,), integers: one per output channel"),
        *_GEOMETRY_KEYS,
    )

    weights: np.ndarray
    thresholds: np.ndarray
    shape: Any
    stride: Any = (1, 1)
    pads: Any = (0, 0, 0, 0)
    layout: str = "CHW"
    name: str = field(default="layer", compare=False)

    def __post_init__(self) -> None:
        w = _pm1_kernel(self.weights, f"{self.name}_weights")
        object.__setattr__(self, "weights", w)
        self._geo_init(self.name, (w.shape[2], w.shape[3]))
        _check_channels(w, self.geometry.shape, f"{self.name}_weights")
        t = self.thresholds
        where = f"{self.name}_thresholds"
        if not isinstance(t, np.ndarray) or not np.issubdtype(t.dtype, np.integer) or t.shape != (w.shape[0],):
            raise ModelError(f"{where}: must be {w.shape[0]} integers (one per output channel), got "
                             f"{getattr(t, 'dtype', type(t).__name__)} shape {getattr(t, 'shape', None)}")
        K = int(np.prod(w.shape[1:]))
        if 2 * K + 3 >= _FLOAT32_EXACT:
            raise ModelError(f"{self.name}_weights: a kernel of {K} entries is beyond the exact float32 patch products")
        object.__setattr__(self, "thresholds", frozen(np.clip(t.astype(np.int64), -K - 1, K + 1)))

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    def _data(self) -> tuple[np.ndarray, ...]:
        return (self.weights, self.thresholds)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": np.asarray(self.weights, np.int8), "thresholds": np.asarray(self.thresholds, np.int64),
                **self.geometry.arrays()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "ConvLayer":
        return cls(arrays["weights"], arrays["thresholds"], arrays["shape"], arrays["stride"], arrays["pads"],
                   str(arrays["layout"]), name=name)

    def forward(self, V: np.ndarray) -> np.ndarray:
        """Output bits of rows ``V`` (N, n) of 0/1 bits: patches times the kernel, never a dense matrix."""
        g = self.geometry
        idx = g.windows(channels=True)  # (P, K)
        cache = g.__dict__.setdefault("_cache", {})
        if "conv" not in cache:
            Wm = self.weights.reshape(self.out_channels, -1).astype(np.int64)
            wsum = (idx < g.n_in).astype(np.int64) @ Wm.T  # (P, O): sum of the weights on valid positions
            lim = self.thresholds[None, :] + wsum  # 2 sum w x >= theta + sum w
            # |2 W.x| and |lim| <= 2K + 3 < 2^24: float32 products and comparisons are exact
            cache["conv"] = (Wm.T.astype(np.float32), lim.astype(np.float32) / np.float32(2))
        WfT, half = cache["conv"]
        out_idx = g.out_index(self.out_channels)
        V = np.asarray(V, dtype=np.uint8)
        out = np.empty((V.shape[0], self.n_outputs), np.uint8)
        step = max(1, _FORWARD_BLOCK_ENTRIES // max(1, idx.size))
        for s in range(0, V.shape[0], step):
            P = _gather(V[s:s + step], idx).astype(np.float32)  # (b, P, K) 0/1
            d = P @ WfT  # (b, P, O) exact integers
            out[s:s + step][:, out_idx.T] = d >= half[None]  # W.x >= (theta + sum W) / 2, halves exact
        return out

    def as_linear(self) -> SparseLinearLayer:
        """The exact ``linear`` view over bits, by rows (each neuron its patch): ``C = W`` on the valid
        positions, ``b = ceil((theta + sum W) / 2)``."""
        g = self.geometry
        n, O = g.n_in, self.out_channels
        idx = g.windows(channels=True)  # (P, K)
        _check_view(self.name, self.n_outputs, idx.shape[1])
        Wm = self.weights.reshape(O, -1).astype(np.int64)
        rows = g.out_index(O).reshape(-1)  # neuron of (o, p), o-major
        index = np.empty((self.n_outputs, idx.shape[1]), np.int64)
        coef = np.empty_like(index)
        index[rows] = np.broadcast_to(idx[None], (O, *idx.shape)).reshape(-1, idx.shape[1])
        coef[rows] = np.where(idx[None] < n, Wm[:, None, :], 0).reshape(-1, idx.shape[1])
        valid_sum = (idx < n).astype(np.int64) @ Wm.T  # (P, O)
        b = np.empty(self.n_outputs, np.int64)
        # 2 W.x >= theta + sum W  <=>  W.x >= ceil((theta + sum W) / 2): ±1 coefficients (cardinality
        # constraints for the encoders; ±2 ones made the CNF of a 1024-neuron conv layer ~10x slower to solve)
        b[rows] = (-((-(self.thresholds[:, None] + valid_sum.T)) // 2)).reshape(-1)
        return SparseLinearLayer(index, coef, b, n, name=self.name)


@dataclass(frozen=True, eq=False)
class MaxPoolLayer(_Windowed):
    """``maxpool``: per channel the OR (``polarity +1``: max of spins) or AND (``-1``: min) of a window."""

    kind: ClassVar[str] = "maxpool"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = BITS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("kernel", "int", 1, "(kh, kw), the window, positive"),
        ArrayKey("polarity", "int", 1, "shape (C,), +1 (max of spins = OR of bits) or -1 (min = AND)"),
        *_GEOMETRY_KEYS,
    )

    kernel: Any
    polarity: np.ndarray
    shape: Any
    stride: Any = None
    pads: Any = (0, 0, 0, 0)
    layout: str = "CHW"
    name: str = field(default="layer", compare=False)

    def __post_init__(self) -> None:
        k = _ints(self.kernel, f"{self.name}_kernel", 2, 1)
        object.__setattr__(self, "kernel", k)
        if self.stride is None:
            object.__setattr__(self, "stride", k)
        self._geo_init(self.name, k)
        C = self.geometry.shape[0]
        p = self.polarity
        where = f"{self.name}_polarity"
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.integer) or p.shape != (C,):
            raise ModelError(f"{where}: must be {C} integers (one per channel), got "
                             f"{getattr(p, 'dtype', type(p).__name__)} shape {getattr(p, 'shape', None)}")
        bad = np.flatnonzero((p != 1) & (p != -1))
        if bad.size:
            raise ModelError(f"{where}: entries must be +1 or -1; entry [{int(bad[0])}] is {int(p[bad[0]])}")
        object.__setattr__(self, "polarity", frozen(p.astype(np.int8)))

    @property
    def out_channels(self) -> int:
        return int(self.geometry.shape[0])

    def _data(self) -> tuple[np.ndarray, ...]:
        return (self.polarity,)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"kernel": np.array(self.kernel, np.int64), "polarity": np.asarray(self.polarity, np.int8),
                **self.geometry.arrays()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "MaxPoolLayer":
        return cls(arrays["kernel"], arrays["polarity"], arrays["shape"], arrays["stride"], arrays["pads"],
                   str(arrays["layout"]), name=name)

    def forward(self, V: np.ndarray) -> np.ndarray:
        """Output bits of rows ``V`` (N, n) of 0/1 bits."""
        g = self.geometry
        idx = g.windows(channels=False)  # (C, P, k)
        cache = g.__dict__.setdefault("_cache", {})
        if "pool" not in cache:
            need = np.where(self.polarity[:, None] > 0, 1, (idx < g.n_in).sum(axis=2))  # (C, P)
            # windows in output order, so the result needs no scatter
            order = np.argsort(g.out_index(self.out_channels).reshape(-1))
            cache["pool"] = (idx.reshape(-1, idx.shape[2])[order], need.reshape(-1)[order].astype(np.uint8))
        flat_idx, need = cache["pool"]
        V = np.asarray(V, dtype=np.uint8)
        out = np.empty((V.shape[0], self.n_outputs), np.uint8)
        step = max(1, _FORWARD_BLOCK_ENTRIES // max(1, flat_idx.size))
        for s in range(0, V.shape[0], step):
            b = V[s:s + step]
            Vp = np.concatenate([b, np.zeros((b.shape[0], 1), np.uint8)], axis=1)
            S = np.zeros((b.shape[0], flat_idx.shape[0]), np.uint8 if flat_idx.shape[1] < 256 else np.int64)
            for j in range(flat_idx.shape[1]):  # one gather per window position (a reduction over a tiny axis is slow)
                S += Vp[:, flat_idx[:, j]]
            np.greater_equal(S, need[None], out=out[s:s + step], casting="unsafe")
        return out

    def as_linear(self) -> SparseLinearLayer:
        """The exact ``linear`` view by rows: OR = ``[sum x >= 1]``, AND = ``[sum x >= count]`` over the window."""
        g = self.geometry
        n = g.n_in
        idx = g.windows(channels=False)  # (C, P, k)
        _check_view(self.name, self.n_outputs, idx.shape[2])
        rows = g.out_index(self.out_channels).reshape(-1)
        index = np.empty((self.n_outputs, idx.shape[2]), np.int64)
        index[rows] = idx.reshape(-1, idx.shape[2])
        need = np.where(self.polarity[:, None] > 0, 1, (idx < n).sum(axis=2))
        b = np.empty(self.n_outputs, np.int64)
        b[rows] = need.reshape(-1)
        return SparseLinearLayer(index, (index < n).astype(np.int64), b, n, name=self.name)


@dataclass(frozen=True, eq=False)
class IntegerConvLayer(_Windowed):
    """``integer-conv``: an integer-kernel convolution over integer features, a threshold per neuron."""

    kind: ClassVar[str] = "integer-conv"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = INTEGERS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("weights", "int", 4, "W, shape (O, C, kh, kw), integers in [-32767, 32767] (stored as int16)"),
        ArrayKey("thresholds", "int", 3, "theta, shape (O, H', W'), integers: one per output neuron"),
        *_GEOMETRY_KEYS,
    )

    weights: np.ndarray
    thresholds: np.ndarray
    shape: Any
    stride: Any = (1, 1)
    pads: Any = (0, 0, 0, 0)
    layout: str = "CHW"
    name: str = field(default="layer", compare=False)

    def __post_init__(self) -> None:
        w = self.weights
        where = f"{self.name}_weights"
        if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.integer) or w.ndim != 4 or 0 in w.shape:
            raise ModelError(f"{where}: must be a non-empty integer array (O, C, kh, kw), got "
                             f"{getattr(w, 'dtype', type(w).__name__)} shape {getattr(w, 'shape', None)}")
        big = np.abs(w.astype(np.int64)) > MAX_INTEGER_WEIGHT
        if big.any():
            i = [int(v) for v in np.argwhere(big)[0]]
            raise ModelError(f"{where}: entry {i} is {int(w[tuple(i)])}, beyond ±{MAX_INTEGER_WEIGHT}")
        object.__setattr__(self, "weights", frozen(w.astype(np.int64)))
        self._geo_init(self.name, (w.shape[2], w.shape[3]))
        _check_channels(w, self.geometry.shape, where)
        t = self.thresholds
        want = self.out_shape
        if not isinstance(t, np.ndarray) or not np.issubdtype(t.dtype, np.integer) or t.shape != want:
            raise ModelError(f"{self.name}_thresholds: must be integers of shape {want} (one per output neuron), "
                             f"got {getattr(t, 'dtype', type(t).__name__)} shape {getattr(t, 'shape', None)}")
        object.__setattr__(self, "thresholds", frozen(t.astype(np.int64)))

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    def _data(self) -> tuple[np.ndarray, ...]:
        return (self.weights, self.thresholds)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": np.asarray(self.weights, np.int16), "thresholds": np.asarray(self.thresholds, np.int64),
                **self.geometry.arrays()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "IntegerConvLayer":
        return cls(arrays["weights"], arrays["thresholds"], arrays["shape"], arrays["stride"], arrays["pads"],
                   str(arrays["layout"]), name=name)

    def forward(self, V: np.ndarray) -> np.ndarray:
        """Output bits of rows ``V`` (N, n) of integer features (already checked against their ranges)."""
        g = self.geometry
        idx = g.windows(channels=True)
        Wm = self.weights.reshape(self.out_channels, -1)
        out_idx = g.out_index(self.out_channels)
        theta = self.thresholds.reshape(self.out_channels, -1).T  # (P, O)
        V = np.asarray(V)
        vmax = int(np.abs(V).max(initial=0))
        bound = (vmax + 1) * int(np.abs(Wm).max(initial=0)) * (idx.shape[1] + 1)
        out = np.empty((V.shape[0], self.n_outputs), np.uint8)
        step = max(1, _FORWARD_BLOCK_ENTRIES // max(1, idx.size))
        if bound < _FLOAT32_EXACT:  # every partial sum is an exact float32 integer: BLAS, compare in float32
            cache = g.__dict__.setdefault("_cache", {})
            if "iconv" not in cache:
                lim = np.clip(theta, -_FLOAT32_EXACT, _FLOAT32_EXACT)  # beyond every sum: same comparisons
                cache["iconv"] = (Wm.T.astype(np.float32), lim.astype(np.float32))
            WfT, limf = cache["iconv"]
            Vf = V.astype(np.float32)
            for s in range(0, V.shape[0], step):
                d = _gather(Vf[s:s + step], idx) @ WfT
                out[s:s + step][:, out_idx.T] = d >= limf[None]
            return out
        V = V.astype(np.int64)
        for s in range(0, V.shape[0], step):
            d = _dot_patches(_gather(V[s:s + step], idx), Wm, bound)
            out[s:s + step][:, out_idx.T] = (d >= theta[None]).astype(np.uint8)
        return out

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """By rows over the pixels: ``(index, weights, thresholds)``, row j reads the pixels
        ``index[j]`` (``n_inputs`` = a padded position, weight 0) with ``weights[j]``: what the order
        encoding lowers, never a dense matrix."""
        g = self.geometry
        n, O = g.n_in, self.out_channels
        idx = g.windows(channels=True)  # (P, K)
        _check_view(self.name, self.n_outputs, idx.shape[1])
        Wm = self.weights.reshape(O, -1).astype(np.int64)
        rows = g.out_index(O).reshape(-1)
        index = np.empty((self.n_outputs, idx.shape[1]), np.int64)
        w = np.empty_like(index)
        index[rows] = np.broadcast_to(idx[None], (O, *idx.shape)).reshape(-1, idx.shape[1])
        w[rows] = np.where(idx[None] < n, Wm[:, None, :], 0).reshape(-1, idx.shape[1])
        t = np.empty(self.n_outputs, np.int64)
        t[rows] = self.thresholds.reshape(-1)
        return index, w, t

    def as_dense(self) -> IntegerThresholdLayer:
        """The exact ``integer-threshold`` view: the kernel on each patch, zero weights elsewhere."""
        g = self.geometry
        m, n = self.n_outputs, g.n_in
        if m * (n + 1) > MAX_DENSE_VIEW_ENTRIES:
            raise ModelError(f"{self.name}: its dense view would need {m} x {n} weights "
                             f"(more than {MAX_DENSE_VIEW_ENTRIES}); the encoders cannot take it")
        idx = g.windows(channels=True)
        Wm = self.weights.reshape(self.out_channels, -1)
        out_idx = g.out_index(self.out_channels)
        Wd = np.zeros((m, n + 1), np.int64)
        for o in range(self.out_channels):
            np.add.at(Wd, (np.broadcast_to(out_idx[o][:, None], idx.shape), idx), Wm[o][None, :])
        t = np.empty(m, np.int64)
        t[out_idx.T.reshape(-1)] = self.thresholds.reshape(self.out_channels, -1).T.reshape(-1)
        return IntegerThresholdLayer(Wd[:, :n].astype(np.int16), t, name=self.name)


def linear_view(net: Any) -> Any:
    """``net`` with every conv / maxpool layer replaced by its exact ``linear`` view (and an
    ``integer-conv`` first layer by its ``integer-threshold`` view): what the encoders compile.
    The same network object when it has no such layer."""
    hidden = tuple(h.as_linear() if hasattr(h, "as_linear") else h.as_dense() if hasattr(h, "as_dense") else h
                   for h in net.hidden)
    if all(a is b for a, b in zip(hidden, net.hidden)):
        return net
    return type(net)(hidden, net.output, thermometer_levels=net.thermometer_levels, metadata=net.metadata,
                     inputs=net.inputs)
