"""Plain numeric descriptions of BNN layers, validated on construction.

These are the objects the compilers in ``encoders`` consume. They hold numpy
arrays that are made read-only, so a layer cannot change after validation.

What each layer kind *means* is written once, in ``bnnverify.semantics``
(bit 1 stands for +1, bit 0 for -1):

* ``ThresholdLayer`` (kind ``threshold``): ``y_j = 1`` iff
  ``sum_i W[j, i] * s(x_i) >= thresholds[j]``.
* ``ArgmaxLayer`` (kind ``argmax``): score ``alpha[c] * (W[c] . s(x)) + beta[c]``
  in float64, the class is the smallest index with the maximal score.

Every layer kind follows the :class:`Layer` protocol (its kind, role,
model-file keys, arrays and validation) and is listed in :data:`LAYER_KINDS`;
the model file stores ``<prefix>_kind`` per layer. ``docs/model-format.md``
documents every key.

>>> import numpy as np
>>> h = ThresholdLayer(np.array([[1, -1]], dtype=np.int8), np.array([0]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net = BNN((h,), o)
>>> net.widths
(2, 1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

from .errors import ModelError

__all__ = [
    "ArrayKey",
    "Layer",
    "LAYER_KINDS",
    "HIDDEN",
    "OUTPUT",
    "ThresholdLayer",
    "ArgmaxLayer",
    "BNN",
    "beats",
    "winner",
    "numpy_layer",
    "IntegerInputs",
    "QuantizeLayer",
    "IntegerThresholdLayer",
    "LinearLayer",
    "BITS",
    "INTEGERS",
    "ConvLayer",
    "MaxPoolLayer",
    "IntegerConvLayer",
]

from .integer_layers import IntegerInputs, IntegerThresholdLayer, LinearLayer, QuantizeLayer
from .sparse_linear import SparseLinearLayer
from .conv_layers import ConvLayer, IntegerConvLayer, MaxPoolLayer
from .layer_base import BITS, HIDDEN, INTEGERS, OUTPUT, ArrayKey, Layer, check_pm1_weights as _check_weights, frozen as _frozen


@dataclass(frozen=True, eq=False)
class ThresholdLayer:
    """A hidden layer: ``y_j = [W_j . s(x) >= thresholds_j]``.

    Thresholds are stored clipped to ``[-n-1, n+1]`` (n = fan-in): this changes
    no output, since every dot product lies in ``[-n, n]``.

    ``name`` is only used in error messages (e.g. ``"layer0"``).
    """

    kind: ClassVar[str] = "threshold"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = BITS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("weights", "int8", 2, "W, shape (m, n), every entry +1 or -1"),
        ArrayKey("thresholds", "int", 1, "theta, shape (m,), integers (stored as int64)"),
    )

    weights: np.ndarray
    thresholds: np.ndarray
    name: str = field(default="layer", compare=False)

    def arrays(self) -> dict[str, np.ndarray]:
        """The model-file arrays, by key suffix."""
        return {
            "weights": np.asarray(self.weights, dtype=np.int8),
            "thresholds": np.asarray(self.thresholds, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "ThresholdLayer":
        return cls(arrays["weights"], arrays["thresholds"], name=name)

    def __post_init__(self) -> None:
        w = _check_weights(self.weights, f"{self.name}_weights")
        t = self.thresholds
        where = f"{self.name}_thresholds"
        if not isinstance(t, np.ndarray):
            raise ModelError(f"{where}: must be a numpy array, got {type(t).__name__}")
        if not np.issubdtype(t.dtype, np.integer):
            raise ModelError(f"{where}: must have an integer dtype, got {t.dtype}")
        if t.shape != (w.shape[0],):
            raise ModelError(
                f"{where}: shape {t.shape} does not match {w.shape[0]} neurons of "
                f"{self.name}_weights (expected ({w.shape[0]},))"
            )
        # Every dot product lies in [-n, n], so clipping to [-n-1, n+1] keeps the
        # meaning of every neuron exactly and keeps all engines' integer
        # arithmetic far from int64 overflow (a threshold near 2**63 once wrapped).
        n = w.shape[1]
        if np.issubdtype(t.dtype, np.unsignedinteger):
            t = np.minimum(t, np.array(n + 1, dtype=t.dtype)).astype(np.int64)
        else:
            t = np.clip(t.astype(np.int64), -n - 1, n + 1)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "thresholds", _frozen(t))

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.weights.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ThresholdLayer):
            return NotImplemented
        return np.array_equal(self.weights, other.weights) and np.array_equal(
            self.thresholds, other.thresholds
        )

    def __hash__(self) -> int:
        return hash((self.weights.tobytes(), self.weights.shape, self.thresholds.tobytes()))


@dataclass(frozen=True, eq=False)
class ArgmaxLayer:
    """The output layer: class = smallest argmax of ``scale * (W . s(x)) + bias``."""

    kind: ClassVar[str] = "argmax"
    role: ClassVar[str] = OUTPUT
    reads: ClassVar[str] = BITS
    keys: ClassVar[tuple[ArrayKey, ...]] = (
        ArrayKey("weights", "int8", 2, "W, shape (c, n), every entry +1 or -1"),
        ArrayKey("scale", "float", 1, "alpha, shape (c,), finite float64"),
        ArrayKey("bias", "float", 1, "beta, shape (c,), finite float64"),
    )

    weights: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    name: str = field(default="output", compare=False)

    def arrays(self) -> dict[str, np.ndarray]:
        """The model-file arrays, by key suffix."""
        return {
            "weights": np.asarray(self.weights, dtype=np.int8),
            "scale": np.asarray(self.scale, dtype=np.float64),
            "bias": np.asarray(self.bias, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "ArgmaxLayer":
        return cls(arrays["weights"], arrays["scale"], arrays["bias"], name=name)

    def __post_init__(self) -> None:
        w = _check_weights(self.weights, f"{self.name}_weights")
        c = w.shape[0]
        arrays = {}
        for key in ("scale", "bias"):
            a = getattr(self, key)
            where = f"{self.name}_{key}"
            if not isinstance(a, np.ndarray):
                raise ModelError(f"{where}: must be a numpy array, got {type(a).__name__}")
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
                raise ModelError(f"{where}: must be float64, got dtype {a.dtype}")
            if a.shape != (c,):
                raise ModelError(f"{where}: shape {a.shape} does not match {c} classes (expected ({c},))")
            a64 = a.astype(np.float64)
            if np.issubdtype(a.dtype, np.floating) and a.dtype.itemsize > 8:
                lossy = a64.astype(a.dtype) != a
                if lossy.any():
                    i = int(np.flatnonzero(lossy)[0])
                    raise ModelError(
                        f"{where}: dtype {a.dtype} entry [{i}] is not exactly a float64 "
                        "(the argmax rule is defined in float64; round it explicitly if that is meant)"
                    )
            if np.issubdtype(a.dtype, np.integer) and np.any(a64.astype(a.dtype) != a):
                i = int(np.flatnonzero(a64.astype(a.dtype) != a)[0])
                raise ModelError(f"{where}: integer entry [{i}] is not exactly a float64")
            if not np.all(np.isfinite(a64)):
                i = int(np.flatnonzero(~np.isfinite(a64))[0])
                raise ModelError(f"{where}: entries must be finite; entry [{i}] is {a64[i]}")
            arrays[key] = _frozen(a64)
        if c < 1:
            raise ModelError(f"{self.name}_weights: need at least one class")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "scale", arrays["scale"])
        object.__setattr__(self, "bias", arrays["bias"])

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    def score(self, c: int, dot: int) -> float:
        """The float64 score of class ``c`` for integer dot product ``dot``."""
        return float(np.float64(self.scale[c]) * np.float64(dot) + np.float64(self.bias[c]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArgmaxLayer):
            return NotImplemented
        return (
            np.array_equal(self.weights, other.weights)
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.bias, other.bias)
        )

    def __hash__(self) -> int:
        return hash((self.weights.tobytes(), self.scale.tobytes(), self.bias.tobytes()))


def beats(out: ArgmaxLayer, c: int, d: int, dot_c: int, dot_d: int) -> bool:
    """Whether class ``c`` wins against class ``d`` given their integer dot products.

    ``c`` wins iff its float64 score is larger, or equal and ``c < d`` — the
    evaluator's rule (smallest index among the maximal scores), so encoders
    that use this agree with it bit for bit, ties and rounding included.
    """
    sc, sd = out.score(c, dot_c), out.score(d, dot_d)
    return sc > sd or (sc == sd and c < d)


def winner(out: ArgmaxLayer, dots: "np.ndarray | list[int]") -> int:
    """The class for one vector of integer dot products (reference scalar rule)."""
    best = 0
    for c in range(1, out.n_classes):
        if beats(out, c, best, int(dots[c]), int(dots[best])):
            best = c
    return best


@dataclass(frozen=True, eq=False)
class BNN:
    """A binary neural network: hidden threshold layers then an argmax layer.

    ``thermometer_levels`` (L) says that the inputs are ``n / L`` features of
    ``L`` bits each, feature f being bits ``[f*L, (f+1)*L)`` holding ``1^l 0^(L-l)``.
    ``metadata`` holds optional string entries (class names, provenance, ...).
    ``inputs`` (:class:`IntegerInputs`) says that the network reads integer
    features (pixels) rather than bits; its first hidden layer is then a kind
    that reads integers (``quantize``, ``integer-threshold``), and only the
    first. A network whose first layer reads integers and that declares no
    ``inputs`` reads 8-bit pixels (0..255).
    """

    hidden: tuple[Any, ...]
    output: ArgmaxLayer
    thermometer_levels: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    inputs: IntegerInputs | None = None

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden)
        for i, layer in enumerate(hidden):
            _check_kind(layer, HIDDEN, f"layer{i}")
        _check_kind(self.output, OUTPUT, "output")
        layers = list(hidden) + [self.output]
        names = [f"layer{i}" for i in range(len(hidden))] + ["output"]
        for i in range(1, len(layers)):
            prev, cur = layers[i - 1], layers[i]
            m = prev.n_outputs
            if cur.n_inputs != m:
                raise ModelError(
                    f"{names[i]}_weights: has {cur.n_inputs} inputs but "
                    f"{names[i - 1]} has {m} neurons (shapes must chain)"
                )
        L = self.thermometer_levels
        if L is not None:
            if isinstance(L, (bool, np.bool_)) or not isinstance(L, (int, np.integer)) or L < 1:
                raise ModelError(f"thermometer_levels: must be a positive integer, got {L!r}")
            if self.n_inputs % int(L) != 0:
                raise ModelError(
                    f"thermometer_levels: {L} does not divide n_inputs={self.n_inputs}"
                )
            object.__setattr__(self, "thermometer_levels", int(L))
        meta = dict(self.metadata)
        for k, v in meta.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ModelError(f"metadata: keys and values must be str, got {k!r}: {v!r}")
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "metadata", meta)
        self._check_inputs()

    def _check_inputs(self) -> None:
        for i, layer in enumerate(self.layers):
            if i > 0 and getattr(layer, "reads", BITS) == INTEGERS:
                raise ModelError(
                    f"layer{i}_kind: {layer.kind!r} reads integer features, so it can only be the first layer"
                )
        first = self.layers[0]
        inputs = self.inputs
        if getattr(first, "reads", BITS) == INTEGERS:
            if inputs is None:
                inputs = IntegerInputs.pixels(first.n_inputs)
            if not isinstance(inputs, IntegerInputs):
                raise ModelError(f"inputs: expected IntegerInputs, got {type(inputs).__name__}")
            if inputs.n != first.n_inputs:
                raise ModelError(
                    f"input_lo: declares {inputs.n} integer features but layer0 reads {first.n_inputs}"
                )
            if self.thermometer_levels is not None:
                raise ModelError("thermometer_levels: a network over integer features has no thermometer bits")
            object.__setattr__(self, "inputs", inputs)
        elif inputs is not None:
            raise ModelError(
                f"input_lo: the network declares integer features, but its first layer "
                f"({first.kind!r}) reads bits"
            )

    @property
    def reads_integers(self) -> bool:
        """Whether the inputs are integer features (``inputs``) rather than bits."""
        return self.inputs is not None

    @property
    def n_inputs(self) -> int:
        return self.hidden[0].n_inputs if self.hidden else self.output.n_inputs

    @property
    def n_classes(self) -> int:
        return self.output.n_classes

    @property
    def layers(self) -> tuple[Any, ...]:
        """Every layer in order: the hidden layers, then the output layer."""
        return (*self.hidden, self.output)

    @property
    def layer_kinds(self) -> frozenset[str]:
        """The kinds of its layers (what an engine must support to take it)."""
        return frozenset(layer.kind for layer in self.layers)

    def predict(self, X: "np.ndarray | list") -> np.ndarray:
        """The class of every row of ``X`` (one row or a matrix), as an int64 array.

        Rows are 0/1 bits, or integer features for a network that reads them.
        A plain numpy forward pass — integer sums, the float64 argmax rule with
        ties to the smaller index — tested against ``bnnverify.semantics`` on
        random networks; the bit-packed evaluator (``bnnverify.Evaluator``) is
        the fast path for large batches.

        >>> import numpy as np
        >>> h = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([2]))
        >>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
        >>> BNN((h,), o).predict([[1, 1], [0, 1]]).tolist()
        [0, 1]
        """
        A = np.asarray(X)
        if self.inputs is not None:
            rows = np.atleast_2d(self.inputs.check(A, "predict"))
        else:
            rows = np.atleast_2d(A)
            if rows.ndim != 2 or rows.shape[1] != self.n_inputs:
                raise ModelError(f"predict: expected rows of {self.n_inputs} bits, got shape {A.shape}")
            if not np.isin(rows, (0, 1)).all():
                raise ModelError("predict: inputs must be 0/1 bits")
        v = rows.astype(np.int64)
        for h in self.hidden:
            v = numpy_layer(h, v)
        dots = ((2 * v - 1) @ self.output.weights.astype(np.int64).T).astype(np.float64)
        scores = self.output.scale[None, :] * dots + self.output.bias[None, :]
        return np.argmax(scores, axis=1).astype(np.int64)

    @property
    def widths(self) -> tuple[int, ...]:
        """Input width, then every hidden width, then the number of classes."""
        return (self.n_inputs, *(h.n_outputs for h in self.hidden), self.n_classes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BNN):
            return NotImplemented
        return (
            self.hidden == other.hidden
            and self.output == other.output
            and self.thermometer_levels == other.thermometer_levels
            and self.inputs == other.inputs
            and dict(self.metadata) == dict(other.metadata)
        )

    def __hash__(self) -> int:
        return hash((self.hidden, self.output, self.thermometer_levels, self.inputs))

    def __repr__(self) -> str:
        w = "-".join(str(x) for x in self.widths)
        return f"BNN({w})"


#: Every layer kind, by its model-file name. A new kind joins here (and its
#: rule joins ``bnnverify.semantics.RULES``); engines say by name whether they take it.
LAYER_KINDS: Mapping[str, type] = {
    cls.kind: cls
    for cls in (ThresholdLayer, LinearLayer, QuantizeLayer, IntegerThresholdLayer, ConvLayer, MaxPoolLayer,
                IntegerConvLayer, ArgmaxLayer)
}


#: Kinds held in more than one form: ``linear`` dense or by rows (the encoders' views of conv layers
#: and the order encoding's first layers; written to a model file in its dense form).
_FORMS: Mapping[str, tuple[type, ...]] = {"linear": (LinearLayer, SparseLinearLayer)}


def numpy_layer(layer: Any, v: np.ndarray) -> np.ndarray:
    """One hidden layer on rows ``v`` (bits, or integer features for the kinds that read them), numpy.

    The vectorised twin of ``bnnverify.semantics.RULES`` (tested against it),
    used by :meth:`BNN.predict` and for the kinds the bit-packed evaluator
    computes with integer arithmetic.
    """
    v = v.astype(np.int64)
    if layer.kind == "threshold":
        return ((2 * v - 1) @ layer.weights.astype(np.int64).T >= layer.thresholds[None, :]).astype(np.int64)
    if layer.kind == "linear":
        if isinstance(layer, SparseLinearLayer):
            return layer.forward(v).astype(np.int64)
        return (v @ layer.coefficients.T >= layer.bounds[None, :]).astype(np.int64)
    if layer.kind == "integer-threshold":
        return (v @ layer.weights.T >= layer.thresholds[None, :]).astype(np.int64)
    if layer.kind == "quantize":
        c = layer.thresholds
        return (v[:, :, None] >= c[None, :, :]).reshape(v.shape[0], -1).astype(np.int64)
    if layer.kind in ("conv", "maxpool", "integer-conv"):
        return layer.forward(v).astype(np.int64)
    raise ModelError(f"{layer.name}: no numpy rule for layer kind {layer.kind!r}")


def _check_kind(layer: object, role: str, where: str) -> None:
    kind = getattr(layer, "kind", None)
    if kind not in LAYER_KINDS or not isinstance(layer, _FORMS.get(kind, LAYER_KINDS[kind])):
        raise ModelError(
            f"{where}: {type(layer).__name__} is not a layer kind bnnverify knows "
            f"(kinds: {', '.join(LAYER_KINDS)})"
        )
    if layer.role != role:  # type: ignore[attr-defined]
        raise ModelError(f"{where}: layer kind {kind!r} is for the {layer.role} role, not the {role} one")  # type: ignore[attr-defined]
