"""Layer kinds over integer features, and ``linear``: what real image BNNs start with.

A network may read integer features ``p_f in [lo_f, hi_f]`` (8-bit pixels:
0..255) instead of bits; :class:`IntegerInputs` declares them (and records
the affine normalisation the model was trained with). Its first hidden layer
then is one of

* ``quantize`` (:class:`QuantizeLayer`): every feature becomes ``K`` bits by
  integer thresholds, bit ``f*K + k`` = ``[p_f >= C[f, k]]`` (K = 1: a learned
  per-pixel binarisation, batch norm + sign folded into C; K > 1 with
  non-decreasing C: a thermometer);
* ``integer-threshold`` (:class:`IntegerThresholdLayer`): neuron j fires iff
  ``sum_f W[j, f] * p_f >= theta_j`` with small integer W (int8/int16; ±1 is
  the common case; 0 allowed) and an integer theta.

``linear`` (:class:`LinearLayer`) is a hidden kind over *bits* (any position):
``y_j = [sum_i C[j, i] * x_i >= b_j]`` with integer C (0 allowed) over the
bits ``x_i in {0, 1}`` — not spins. The engines meet integer features through
it: :mod:`.order` rewrites a network over a box of integer features into a
bit network whose first layer is ``linear`` over the order (unary) encoding
of the box, exactly (see ``docs/architecture.md``). A ±1 layer over spins
with zero weights (a padded convolution) is ``linear`` too:
``sum_i w_i s_i = 2 sum_i w_i x_i - sum_i w_i``.

The rules are written once, in ``bnnverify.semantics``; ``docs/model-format.md``
lists every key.

>>> import numpy as np
>>> q = QuantizeLayer(np.array([[128], [10]]))
>>> q.n_inputs, q.n_outputs
(2, 2)
>>> t = IntegerThresholdLayer(np.array([[1, -1]], dtype=np.int8), np.array([5]))
>>> t.n_inputs, t.n_outputs
(2, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Mapping

import numpy as np

from .errors import ModelError
from .layer_base import BITS, HIDDEN, INTEGERS, ArrayKey, SameArrays, frozen

__all__ = [
    "IntegerInputs",
    "QuantizeLayer",
    "IntegerThresholdLayer",
    "LinearLayer",
    "DEFAULT_PIXEL_RANGE",
    "MAX_FEATURE_MAGNITUDE",
    "MAX_INTEGER_WEIGHT",
    "INPUT_LAYOUTS",
]

#: The feature range a network gets when it reads integers and says nothing else: 8-bit pixels.
DEFAULT_PIXEL_RANGE = (0, 255)

#: Feature bounds must lie in [-2^31, 2^31]: with int16 weights and up to 2^16
#: features every sum stays below 2^63 (int64 arithmetic in the evaluator).
MAX_FEATURE_MAGNITUDE = 1 << 31

#: ``integer-threshold`` weights are int16 (the issue's int8/int16; ±1 is the common case).
MAX_INTEGER_WEIGHT = (1 << 15) - 1

#: How the flattened features lie in an image (for reading PNG files and drawing pictures):
#: ``HW`` grey, ``HWC`` channels last (larq/TF), ``CHW`` channels first (torch).
INPUT_LAYOUTS = ("HW", "HWC", "CHW")


def _int_array(a: object, where: str, ndim: int) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise ModelError(f"{where}: must be a numpy array, got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ModelError(f"{where}: must have an integer dtype, got {a.dtype}")
    if a.ndim != ndim:
        raise ModelError(f"{where}: must be {ndim}-D, got shape {a.shape}")
    if a.size == 0:
        raise ModelError(f"{where}: must not be empty, got shape {a.shape}")
    big = np.abs(a.astype(np.float64)) > MAX_FEATURE_MAGNITUDE * 2.0
    if big.any():
        i = tuple(int(v) for v in np.argwhere(big)[0])
        raise ModelError(f"{where}: entry {list(i)} is {int(a[i])}, beyond ±2^32")
    return a.astype(np.int64)


@dataclass(frozen=True, eq=False)
class IntegerInputs:
    """The network reads integer features ``p_f in [lo[f], hi[f]]``.

    ``scale``/``offset`` record the normalisation the model was trained with
    (the float network saw ``p * scale + offset``, e.g. ``scale = 1/255``, or
    ``1/std`` and ``-mean/std``); the exact rules never use them — the first
    layer's integer thresholds already include them (folded exactly). ``shape``
    and ``layout`` say how the features lie in an image.
    """

    lo: np.ndarray
    hi: np.ndarray
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None
    shape: tuple[int, ...] | None = None
    layout: str | None = None

    @classmethod
    def pixels(cls, n: int, lo: int = DEFAULT_PIXEL_RANGE[0], hi: int = DEFAULT_PIXEL_RANGE[1],
               **kw: object) -> "IntegerInputs":
        """``n`` features, each in ``[lo, hi]`` (default 0..255)."""
        return cls(np.full(n, lo, dtype=np.int64), np.full(n, hi, dtype=np.int64), **kw)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        lo = _int_array(self.lo, "input_lo", 1)
        hi = _int_array(self.hi, "input_hi", 1)
        if lo.shape != hi.shape:
            raise ModelError(f"input_hi: shape {hi.shape} does not match input_lo {lo.shape}")
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            f = int(bad[0])
            raise ModelError(f"input_hi: feature {f} has hi {int(hi[f])} < lo {int(lo[f])}")
        if (np.abs(lo) > MAX_FEATURE_MAGNITUDE).any() or (np.abs(hi) > MAX_FEATURE_MAGNITUDE).any():
            raise ModelError("input_lo/input_hi: bounds must lie within ±2^31")
        object.__setattr__(self, "lo", frozen(lo))
        object.__setattr__(self, "hi", frozen(hi))
        for key in ("scale", "offset"):
            a = getattr(self, key)
            if a is None:
                continue
            where = f"input_{key}"
            if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
                raise ModelError(f"{where}: must be a float array, got {type(a).__name__}")
            if a.shape != lo.shape:
                raise ModelError(f"{where}: shape {a.shape} does not match {lo.shape[0]} features")
            if not np.all(np.isfinite(a)):
                raise ModelError(f"{where}: entries must be finite")
            object.__setattr__(self, key, frozen(a.astype(np.float64)))
        if self.shape is not None:
            shape = tuple(int(s) for s in self.shape)
            if not shape or any(s < 1 for s in shape) or int(np.prod(shape)) != lo.shape[0]:
                raise ModelError(f"input_shape: {shape} does not hold {lo.shape[0]} features")
            object.__setattr__(self, "shape", shape)
        if self.layout is not None:
            if self.layout not in INPUT_LAYOUTS:
                raise ModelError(f"input_layout: {self.layout!r} is not one of {', '.join(INPUT_LAYOUTS)}")
            if self.shape is None or len(self.shape) != len(self.layout):
                raise ModelError(f"input_layout: {self.layout!r} needs an input_shape of {len(self.layout)} dimensions")

    @property
    def n(self) -> int:
        return int(self.lo.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The model-file arrays (keys ``input_*``)."""
        out = {"input_lo": np.asarray(self.lo, np.int64), "input_hi": np.asarray(self.hi, np.int64)}
        if self.scale is not None:
            out["input_scale"] = np.asarray(self.scale, np.float64)
        if self.offset is not None:
            out["input_offset"] = np.asarray(self.offset, np.float64)
        if self.shape is not None:
            out["input_shape"] = np.asarray(self.shape, np.int64)
        if self.layout is not None:
            out["input_layout"] = np.array(self.layout)
        return out

    def check(self, X: np.ndarray, what: str = "input") -> np.ndarray:
        """``X`` (one row or rows) as int64 features within the bounds, or a ModelError naming the entry."""
        A = np.asarray(X)
        if A.dtype == np.bool_ or not (np.issubdtype(A.dtype, np.integer) or np.issubdtype(A.dtype, np.floating)):
            raise ModelError(f"{what}: features must be integers, got dtype {A.dtype}")
        if np.issubdtype(A.dtype, np.floating):
            if not np.all(np.isfinite(A)) or np.any(A != np.round(A)):
                bad = np.argwhere(~np.isfinite(A) | (A != np.round(A)))[0]
                raise ModelError(f"{what}: entry {bad.tolist()} is {A[tuple(bad)]}, not an integer")
        rows = np.atleast_2d(A).astype(np.int64)
        if rows.ndim != 2 or rows.shape[1] != self.n:
            raise ModelError(f"{what}: expected {self.n} features per row, got shape {A.shape}")
        out = (rows < self.lo[None, :]) | (rows > self.hi[None, :])
        if out.any():
            r, f = (int(v) for v in np.argwhere(out)[0])
            raise ModelError(
                f"{what}: feature {f} is {int(rows[r, f])}, outside its range "
                f"[{int(self.lo[f])}, {int(self.hi[f])}]" + (f" (row {r})" if rows.shape[0] > 1 else "")
            )
        return rows if A.ndim == 2 else rows[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntegerInputs):
            return NotImplemented

        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))

        return (np.array_equal(self.lo, other.lo) and np.array_equal(self.hi, other.hi)
                and same(self.scale, other.scale) and same(self.offset, other.offset)
                and self.shape == other.shape and self.layout == other.layout)

    def __hash__(self) -> int:
        return hash((self.lo.tobytes(), self.hi.tobytes(), self.shape, self.layout))


@dataclass(frozen=True, eq=False)
class QuantizeLayer(SameArrays):
    """``quantize``: bit ``f*K + k`` is ``[p_f >= thresholds[f, k]]`` (rows non-decreasing)."""

    kind: ClassVar[str] = "quantize"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = INTEGERS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("thresholds", "int", 2,
                 "C, shape (F, K), integers, each row non-decreasing; bit f*K+k = [p_f >= C[f, k]]"),
    )

    thresholds: np.ndarray
    name: str = field(default="layer", compare=False)

    def __post_init__(self) -> None:
        where = f"{self.name}_thresholds"
        c = _int_array(self.thresholds, where, 2)
        dec = np.argwhere(np.diff(c, axis=1) < 0)
        if dec.size:
            f, k = (int(v) for v in dec[0])
            raise ModelError(
                f"{where}: row {f} decreases at column {k + 1} ({int(c[f, k])} then {int(c[f, k + 1])}); "
                "a thermometer's thresholds must be non-decreasing"
            )
        object.__setattr__(self, "thresholds", frozen(c))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"thresholds": np.asarray(self.thresholds, np.int64)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "QuantizeLayer":
        return cls(arrays["thresholds"], name=name)

    @property
    def levels(self) -> int:
        """Bits per feature (K)."""
        return int(self.thresholds.shape[1])

    @property
    def n_inputs(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.thresholds.size)



def _integer_weights(w: object, where: str, limit: int) -> np.ndarray:
    if not isinstance(w, np.ndarray):
        raise ModelError(f"{where}: must be a numpy array, got {type(w).__name__}")
    if not np.issubdtype(w.dtype, np.integer):
        raise ModelError(f"{where}: must have an integer dtype, got {w.dtype}")
    if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
        raise ModelError(f"{where}: must be 2-D (outputs, inputs) and not empty, got shape {w.shape}")
    big = np.abs(w.astype(np.int64)) > limit
    if big.any():
        r, c = (int(v) for v in np.argwhere(big)[0])
        raise ModelError(f"{where}: entry [{r}, {c}] is {int(w[r, c])}, beyond ±{limit}")
    return w.astype(np.int64)


def _thresholds(t: object, where: str, m: int, of: str) -> np.ndarray:
    if not isinstance(t, np.ndarray):
        raise ModelError(f"{where}: must be a numpy array, got {type(t).__name__}")
    if not np.issubdtype(t.dtype, np.integer):
        raise ModelError(f"{where}: must have an integer dtype, got {t.dtype}")
    if t.shape != (m,):
        raise ModelError(f"{where}: shape {t.shape} does not match {m} neurons of {of} (expected ({m},))")
    if np.issubdtype(t.dtype, np.unsignedinteger) and (t > np.iinfo(np.int64).max).any():
        raise ModelError(f"{where}: entries beyond int64")
    return t.astype(np.int64)


@dataclass(frozen=True, eq=False)
class IntegerThresholdLayer(SameArrays):
    """``integer-threshold``: neuron j fires iff ``W[j] . p >= thresholds[j]`` over integer features."""

    kind: ClassVar[str] = "integer-threshold"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = INTEGERS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("weights", "int", 2, "W, shape (m, F), integers in [-32767, 32767] (stored as int16)"),
        ArrayKey("thresholds", "int", 1, "theta, shape (m,), integers (stored as int64)"),
    )

    weights: np.ndarray
    thresholds: np.ndarray
    name: str = field(default="layer", compare=False)

    def __post_init__(self) -> None:
        w = _integer_weights(self.weights, f"{self.name}_weights", MAX_INTEGER_WEIGHT)
        t = _thresholds(self.thresholds, f"{self.name}_thresholds", w.shape[0], f"{self.name}_weights")
        object.__setattr__(self, "weights", frozen(w))
        object.__setattr__(self, "thresholds", frozen(t))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": np.asarray(self.weights, np.int16), "thresholds": np.asarray(self.thresholds, np.int64)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "IntegerThresholdLayer":
        return cls(arrays["weights"], arrays["thresholds"], name=name)

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.weights.shape[0])



#: ``linear`` coefficients: int32 (a lowered integer-threshold layer has int16 weights;
#: a convolution unrolled to ``linear`` has ±2 and 0).
MAX_LINEAR_COEFFICIENT = (1 << 31) - 1


@dataclass(frozen=True, eq=False)
class LinearLayer(SameArrays):
    """``linear``: neuron j fires iff ``C[j] . x >= bounds[j]`` over bits ``x in {0, 1}`` (not spins)."""

    kind: ClassVar[str] = "linear"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = BITS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("coefficients", "int", 2, "C, shape (m, n), integers (0 allowed), stored as int32"),
        ArrayKey("bounds", "int", 1, "b, shape (m,), integers (stored as int64)"),
    )

    coefficients: np.ndarray
    bounds: np.ndarray
    name: str = field(default="layer", compare=False)

    def __post_init__(self) -> None:
        c = _integer_weights(self.coefficients, f"{self.name}_coefficients", MAX_LINEAR_COEFFICIENT)
        b = _thresholds(self.bounds, f"{self.name}_bounds", c.shape[0], f"{self.name}_coefficients")
        # Every sum lies in [neg_j, pos_j]; clipping b to [neg_j, pos_j + 1] keeps each neuron exactly.
        pos = np.where(c > 0, c, 0).sum(axis=1)
        neg = np.where(c < 0, c, 0).sum(axis=1)
        b = np.clip(b, neg, pos + 1)
        object.__setattr__(self, "coefficients", frozen(c))
        object.__setattr__(self, "bounds", frozen(b))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"coefficients": np.asarray(self.coefficients, np.int32), "bounds": np.asarray(self.bounds, np.int64)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "LinearLayer":
        return cls(arrays["coefficients"], arrays["bounds"], name=name)

    @property
    def n_inputs(self) -> int:
        return int(self.coefficients.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.coefficients.shape[0])

