"""Import binarised ONNX graphs exactly: a symbolic pass over the nodes, every float as a rational.

The importer walks the graph in order and keeps, for every tensor, what it
*is* rather than its numbers:

* ``_Raw`` — the graph input (integer features in ``[lo, hi]``) after constant
  affine steps (``Sub``/``Add``/``Mul``/``Div``: the normalisation), value
  ``p * scale + offset`` per feature, exact rationals;
* ``_Pre`` — a pre-activation per neuron, ``(P d + Q) / sqrt(S) + R`` with an
  integer dot product ``d`` (a ±α kernel or matrix over spins, or an integer
  kernel over the raw features) and rationals ``P, Q, R, S`` (``Conv``/``Gemm``/
  ``MatMul`` bias, ``BatchNormalization``, constant ``Mul``/``Add``), maybe
  max-pooled (``MaxPool`` before the sign: ``max_p v_p >= 0`` is the OR of
  ``v_p >= 0``);
* ``_Ternary`` / ``_Shifted`` — torch's ``Sign`` (sign(0) = 0) and larq's
  ``Sign -> Add(c)`` before its second ``Sign`` (tf2onnx's ``ste_sign``:
  ``sign(sign(x) + 0.1)``, so sign(0) = +1);
* ``_Cmp`` — ``GreaterOrEqual(x, 0)`` / ``Greater(x, 0)`` (bnnverify's own export:
  ``Where(x >= 0, 1, -1)``);
* QONNX's ``BipolarQuant(x, s)`` (Brevitas): ``where(x >= 0, 1, -1) * s``. Of constant
  weights it is evaluated (±s kernels, a ±α pattern); of a pre-activation it is a sign
  with sign(0) = +1 whose activations are ``±s`` for one positive ``s``, which the next
  layer's slope absorbs (``_Spins.scale``);
* ``_Spins`` — ±1 activations of an emitted hidden layer (a map or a vector;
  ``Transpose`` tracks the axes, ``Flatten``/``Reshape`` the order the next
  dense layer reads, so NCHW and NHWC graphs give the dense head the
  framework's flattened order).

A sign of a ``_Pre`` becomes a layer (``conv`` + ``maxpool``, ``threshold``,
``integer-conv`` or ``integer-threshold``), each neuron folded exactly with
:func:`bnnverify.model.folding.fold_neuron` (the smallest margin is reported).
A torch ``Sign`` whose pre-activation can be exactly 0 at an integer dot
product is refused, naming the node: sign(0) = 0 is no ±1 activation. The
graph's output must be a ``_Pre`` over spins (a ``Softmax`` after it changes
no argmax): the ``argmax`` layer's float64 scale ``P/sqrt(S)`` and bias
``Q/sqrt(S) + R`` (rounded to float64 only when they are not float64
numbers; the report says so). Nodes whose inputs are all constants are folded
with ``onnx.reference``. Anything else is refused naming the node and its op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from bnnverify.encoders.conv_layers import ConvLayer, IntegerConvLayer, MaxPoolLayer, feature_index
from bnnverify.encoders.layers import (BNN, ArgmaxLayer, IntegerInputs, IntegerThresholdLayer, LinearLayer, QuantizeLayer,
                                       ThresholdLayer)
from bnnverify.errors import InternalError, ModelError
from bnnverify.model.folding import NeuronFractions, fold_neuron

__all__ = ["OnnxImport", "import_onnx", "DEFAULT_INPUT_RANGE", "MAX_IMPORT_WEIGHT"]

#: The graph input's integer range unless told otherwise: 8-bit pixels.
DEFAULT_INPUT_RANGE = (0, 255)
#: A first layer over integer features gets integer weights up to the ``integer-*`` kinds' int16.
MAX_IMPORT_WEIGHT = (1 << 15) - 1
#: The domains of QONNX's custom ops (Brevitas exports ``qonnx.custom_op.general``; older FINN
#: graphs ``finn.custom_op.general``): only ``BipolarQuant`` is read from them.
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
#: ONNX ops that pass a tensor through unchanged at inference.
_IDENTITY_OPS = ("Identity", "Dropout", "Cast")


@dataclass(frozen=True)
class OnnxImport:
    """An imported network, the smallest folding margin and what the importer had to say."""

    net: BNN
    margin: float
    input_name: str
    input_shape: tuple[int, ...]
    notes: tuple[str, ...]


class _Refuse(ModelError):
    pass


def _F(x: Any) -> Fraction:
    return Fraction(float(x)) if not isinstance(x, (int, Fraction)) else Fraction(x)


def _fr(a: np.ndarray) -> np.ndarray:
    """An array of exact Fractions (object dtype) of a float array."""
    a = np.asarray(a)
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ModelError("a constant of the graph is not finite")
    out = np.empty(a.shape, dtype=object)
    flat = a.reshape(-1).tolist()
    out.reshape(-1)[:] = [Fraction(v) if isinstance(v, float) else Fraction(int(v)) for v in flat]
    return out


def _const_frac(node: Any, name: str, a: np.ndarray) -> np.ndarray:
    try:
        return _fr(a)
    except ModelError as e:
        raise _Refuse(f"node {node.name!r} ({node.op_type}): input {name!r}: {e}") from None


@dataclass
class _Raw:
    shape: tuple[int, ...]  # physical dims without the batch
    perm: tuple[int, ...]  # logical axis of each physical axis
    scale: np.ndarray  # Fractions, physical shape
    offset: np.ndarray


@dataclass
class _Pre:
    shape: tuple[int, ...]  # logical: (O, H', W') or (m,)
    perm: tuple[int, ...]
    source: tuple  # ("conv", W int8, geometry kwargs, spins) / ("dense", W int8 (m, n), spins) /
    #                 ("intconv", W int, geometry kwargs) / ("intdense", W int (m, F))
    P: np.ndarray  # Fractions, logical shape
    Q: np.ndarray
    R: np.ndarray
    S: np.ndarray
    bound: int  # |d| <= bound
    sqrt_used: bool = False
    pool: dict | None = None
    node: str = ""


@dataclass
class _Ternary:
    pre: _Pre
    node: Any


@dataclass
class _Shifted:
    pre: _Pre
    shift: Fraction
    node: Any


@dataclass
class _Cmp:
    pre: _Pre
    strict: bool
    node: Any


@dataclass
class _Spins:
    shape: tuple[int, ...]  # logical: (C, H, W) or (n,)
    perm: tuple[int, ...]
    width: int  # the emitted layer's width (model features)
    order: np.ndarray | None = None  # vectors: model index of each tensor position
    scale: Fraction = Fraction(1)  # the activations are ±scale (QONNX BipolarQuant), scale > 0
    signs: np.ndarray | None = None  # ±1 per logical position: the tensor is signs * activations
    raw: Any = None  # the inputs' spins: the _Raw they are 2x - 1 of (read as integers where not ±α)


@dataclass
class _State:
    layers: list = field(default_factory=list)
    margins: list = field(default_factory=lambda: [math.inf])
    notes: list = field(default_factory=list)
    layout: str = "CHW"
    inputs: IntegerInputs | None = None
    bits: bool = False  # the network reads the inputs' spins (2x - 1 of 0..1 features)


def _phys_shape(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[p] for p in perm)


def _to_logical(c: np.ndarray, phys: tuple[int, ...], perm: tuple[int, ...], node: Any) -> np.ndarray:
    """A constant broadcast against a tensor of physical shape ``(1, *phys)``, as the logical array."""
    try:
        b = np.broadcast_to(c, (1, *phys)) if c.ndim <= len(phys) + 1 else None
    except ValueError:
        b = None
    if b is None:
        raise _Refuse(f"node {node.name!r} ({node.op_type}): constant of shape {c.shape} does not broadcast "
                      f"over the tensor (1, {', '.join(map(str, phys))})")
    b = b[0]
    inv = np.argsort(perm)
    return np.transpose(b, inv) if len(perm) > 1 else b


def _rational_gcd(vals: list[Fraction]) -> Fraction:
    num, den = 0, 1
    for v in vals:
        num = math.gcd(num, v.numerator)
        den = den * v.denominator // math.gcd(den, v.denominator)
    return Fraction(num, den)


def _pm1(W: np.ndarray, axis_out: int, node: Any) -> tuple[np.ndarray, np.ndarray]:
    """A kernel whose every output slice is ±α (α > 0): the int8 signs and α per output."""
    Wm = np.moveaxis(np.asarray(W, dtype=np.float64), axis_out, 0)
    flat = Wm.reshape(Wm.shape[0], -1)
    mag = np.abs(flat)
    alpha = mag[:, 0]
    bad = np.flatnonzero((mag != alpha[:, None]).any(axis=1) | (alpha == 0))
    if bad.size:
        j = int(bad[0])
        raise _Refuse(f"node {node.name!r} ({node.op_type}): the weights of output {j} over ±1 activations are "
                      f"not ±α (values {sorted(set(flat[j].tolist()))[:4]}...): not a binary layer")
    return np.where(Wm >= 0, 1, -1).astype(np.int8), alpha


def _is_pm_alpha(W: np.ndarray, axis_out: int) -> bool:
    """Whether every output slice of ``W`` is ±α with α > 0 (what :func:`_pm1` accepts)."""
    flat = np.abs(np.moveaxis(np.asarray(W, dtype=np.float64), axis_out, 0)).reshape(np.shape(W)[axis_out], -1)
    return bool((flat == flat[:, :1]).all() and (flat[:, 0] != 0).all())


def _integer_rows(Weff: np.ndarray, node: Any) -> tuple[np.ndarray, np.ndarray]:
    """Rows of exact rationals as ``a_j * W_int[j]`` with integer W_int (int16) and a_j > 0."""
    m = Weff.shape[0]
    flat = Weff.reshape(m, -1)
    W = np.zeros(flat.shape, np.int64)
    a = np.empty(m, dtype=object)
    for j in range(m):
        nz = [v for v in flat[j].tolist() if v != 0]
        if not nz:
            a[j] = Fraction(1)
            continue
        g = _rational_gcd(nz)
        ints = [int(v / g) for v in flat[j].tolist()]
        if max(abs(v) for v in ints) > MAX_IMPORT_WEIGHT:
            raise _Refuse(f"node {node.name!r} ({node.op_type}): the weights of output {j} over the integer "
                          f"inputs are no integer multiples of a common factor within ±{MAX_IMPORT_WEIGHT} "
                          "(the first layer over pixels must have small integer ratios, e.g. ±1 kernels)")
        W[j] = ints
        a[j] = g
    return W.reshape(Weff.shape), a


def _attr(node: Any, name: str, default: Any = None) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _conv_geometry(node: Any, shape: tuple[int, int, int], kernel: tuple[int, int]) -> dict:
    if int(_attr(node, "group", 1)) != 1:
        raise _Refuse(f"node {node.name!r} ({node.op_type}): grouped convolutions are not supported")
    dil = list(_attr(node, "dilations", [1, 1]))
    if dil != [1, 1]:
        raise _Refuse(f"node {node.name!r} ({node.op_type}): dilations {dil} are not supported")
    strides = tuple(int(v) for v in _attr(node, "strides", [1, 1]))
    auto = _attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("NOTSET", ""):
        p = [int(v) for v in _attr(node, "pads", [0, 0, 0, 0])]
        pads = (p[0], p[1], p[2], p[3])
    elif auto == "VALID":
        pads = (0, 0, 0, 0)
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        tot = []
        for dim, k, s in zip(shape[1:], kernel, strides):
            out = -(-dim // s)
            tot.append(max(0, (out - 1) * s + k - dim))
        lo = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in tot]
        pads = (lo[0], lo[1], tot[0] - lo[0], tot[1] - lo[1])
    else:
        raise _Refuse(f"node {node.name!r} ({node.op_type}): auto_pad {auto!r} is not supported")
    if _attr(node, "ceil_mode", 0):
        raise _Refuse(f"node {node.name!r} ({node.op_type}): ceil_mode is not supported")
    return {"shape": shape, "stride": strides, "pads": pads}


def _out_hw(g: dict, kernel: tuple[int, int]) -> tuple[int, int]:
    C, H, W = g["shape"]
    t, l, b, r = g["pads"]
    return ((H + t + b - kernel[0]) // g["stride"][0] + 1, (W + l + r - kernel[1]) // g["stride"][1] + 1)


def _fold(P: Fraction, Q: Fraction, R: Fraction, S: Fraction, n: int, strict: bool) -> tuple[int, int, float]:
    """``[v >= 0]`` (``strict``: ``[v > 0]``) of ``v = (P d + Q)/sqrt(S) + R`` as ``orient * d >= theta``."""
    if not strict:
        return fold_neuron(NeuronFractions(Fraction(1), P, -Q, R, S), n)
    o, t, m = fold_neuron(NeuronFractions(Fraction(1), -P, Q, -R, S), n)  # [-v >= 0]
    return -o, 1 - t, m


def _exact_zero(P: Fraction, Q: Fraction, R: Fraction, S: Fraction, n: int) -> int | None:
    """An integer d in [-n, n] with (P d + Q)/sqrt(S) + R == 0 exactly, if there is one."""
    if P == 0:
        return None
    if R == 0:
        d = -Q / P
    else:
        rn, rd = math.isqrt(S.numerator), math.isqrt(S.denominator)
        if rn * rn != S.numerator or rd * rd != S.denominator:
            return None
        d = -(Q + R * Fraction(rn, rd)) / P
    if d.denominator == 1 and -n <= d.numerator <= n:
        return int(d)
    return None


def _as_quantize(layer: Any, inputs: IntegerInputs | None) -> "QuantizeLayer | None":
    """An ``integer-threshold`` first layer whose neuron ``f*K + k`` is ``[p_f >= c]`` (one weight +1 on
    feature f, thresholds non-decreasing in k) is a ``quantize`` layer (bnnverify's export of one),
    else None."""
    if inputs is None or not isinstance(layer, IntegerThresholdLayer):
        return None
    W = layer.weights.astype(np.int64)
    m, F = W.shape
    if m % F or not ((W == 0) | (W == 1)).all() or not (W.sum(axis=1) == 1).all():
        return None
    K = m // F
    if not (np.argmax(W, axis=1) == np.repeat(np.arange(F), K)).all():
        return None
    C = layer.thresholds.astype(np.int64).reshape(F, K)
    if (np.diff(C, axis=1) < 0).any():
        return None
    return QuantizeLayer(C, name=layer.name)


class _Importer:
    def __init__(self, model: Any, input_range: tuple[int, int], where: str, *, bits: bool = True) -> None:
        import onnx
        from onnx import numpy_helper

        self.onnx = onnx
        self.model = model
        self.where = where
        self.bits_allowed = bits
        g = model.graph
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ModelError(f"{where}: the graph must have exactly one input that is not an initializer, got "
                             f"{[i.name for i in inputs]}")
        inp = inputs[0]
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
        if len(dims) < 2 or any(d is None or d < 1 for d in dims[1:]):
            raise ModelError(f"{where}: input {inp.name!r} must have a batch dimension and fixed other "
                             f"dimensions, got {dims}")
        if dims[0] not in (None, 1) and dims[0] < 1:
            raise ModelError(f"{where}: input {inp.name!r} has batch dimension {dims[0]}")
        self.input_name = inp.name
        self.input_shape = tuple(int(d) for d in dims[1:])
        lo, hi = input_range
        n = int(np.prod(self.input_shape))
        self.st = _State()
        self.st.inputs = IntegerInputs.pixels(n, int(lo), int(hi), shape=self.input_shape)
        one = np.empty(self.input_shape, dtype=object)
        one.reshape(-1)[:] = [Fraction(1)] * n
        zero = np.empty(self.input_shape, dtype=object)
        zero.reshape(-1)[:] = [Fraction(0)] * n
        self.vals: dict[str, Any] = {inp.name: _Raw(self.input_shape, tuple(range(len(self.input_shape))), one, zero)}
        outs = list(g.output)
        if len(outs) != 1:
            raise ModelError(f"{where}: the graph must have exactly one output, got {[o.name for o in outs]}")
        self.output_name = outs[0].name
        self.nodes = list(g.node)

    # -- helpers --------------------------------------------------------------------------

    def refuse(self, node: Any, why: str) -> _Refuse:
        return _Refuse(f"{self.where}: node {node.name!r} ({node.op_type}): {why}")

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def value(self, node: Any, name: str) -> Any:
        if name in self.consts:
            return self.consts[name]
        if name not in self.vals:
            raise self.refuse(node, f"input {name!r} is not produced by a supported node")
        return self.vals[name]

    def realise(self, v: Any, node: Any) -> _Spins:
        """±1 activations for a consumer: emit the layer of a sign."""
        if isinstance(v, _Spins):
            return v
        if isinstance(v, _Ternary):
            return self.emit(v.pre, strict=False, torch_sign=v.node)
        if isinstance(v, _Cmp):
            raise self.refuse(node, "reads a boolean comparison (expected Where(cond, 1, -1))")
        if isinstance(v, _Pre):
            raise self.refuse(node, "reads a real-valued pre-activation: only the output may be real; hidden "
                                    "layers must be binarised by a sign")
        raise self.refuse(node, f"reads {type(v).__name__.strip('_').lower()} values, not ±1 activations")

    def emit(self, pre: _Pre, strict: bool, torch_sign: Any = None) -> _Spins:
        st = self.st
        name = f"layer{len(st.layers)}"
        kind = pre.source[0]
        if pre.pool is not None and kind not in ("conv", "intconv"):
            raise _Refuse(f"{self.where}: node {pre.pool['node']!r} (MaxPool): pooling a dense layer")
        cache: dict[tuple, tuple[int, int, float]] = {}

        def fold(j: tuple) -> tuple[int, int]:
            key = (pre.P[j], pre.Q[j], pre.R[j], pre.S[j])
            if key not in cache:
                if torch_sign is not None:
                    z = _exact_zero(*key, pre.bound)
                    if z is not None:
                        raise _Refuse(
                            f"{self.where}: node {torch_sign.name!r} (Sign): the pre-activation of neuron {list(j)} "
                            f"is exactly 0 at dot product {z}, where torch's Sign gives 0 — no ±1 activation; "
                            "export with sign(0) = +1 (Sign -> Add(0.1) -> Sign, or Where(x >= 0, 1, -1))")
                cache[key] = _fold(*key, pre.bound, strict)
                st.margins.append(cache[key][2])
            o, t, _ = cache[key]
            return o, t

        if kind in ("conv", "dense"):
            W = pre.source[1].copy()
            per = pre.shape[0]
            theta = np.empty(per, np.int64)
            for o in range(per):
                idx = [(o,) + tuple(rest) for rest in np.ndindex(*pre.shape[1:])] if len(pre.shape) > 1 else [(o,)]
                got = {fold(j) for j in idx}
                if len(got) != 1:
                    raise _Refuse(f"{self.where}: node {pre.node!r}: output channel {o} has different thresholds "
                                  "at different positions (a per-position bias): not a conv layer over spins")
                orient, t = got.pop()
                if orient < 0:
                    W[o] = -W[o]
                theta[o] = t
            if kind == "dense":
                layer = ThresholdLayer(W, theta, name=name)
            else:
                layer = ConvLayer(W, theta, layout=st.layout, name=name, **pre.source[2])
        else:
            W = pre.source[1].astype(np.int64).copy()
            if kind == "intconv":
                O = pre.shape[0]
                theta = np.empty(pre.shape, np.int64)
                for o in range(O):
                    orients = set()
                    for rest in np.ndindex(*pre.shape[1:]):
                        orient, t = fold((o,) + rest)
                        orients.add(orient)
                        theta[(o,) + rest] = t
                    if len(orients) != 1:
                        raise InternalError(f"{self.where}: channel {o} of {pre.node!r} has both orientations")
                    if orients.pop() < 0:
                        W[o] = -W[o]
                layer = IntegerConvLayer(W.astype(np.int16), theta, layout=st.layout, name=name, **pre.source[2])
            else:
                theta = np.empty(pre.shape[0], np.int64)
                for j in range(pre.shape[0]):
                    orient, t = fold((j,))
                    if orient < 0:
                        W[j] = -W[j]
                    theta[j] = t
                layer = IntegerThresholdLayer(W.astype(np.int16), theta, name=name)
        st.layers.append(layer)
        if pre.pool is not None:
            p = pre.pool
            pl = MaxPoolLayer(p["kernel"], np.ones(pre.shape[0], np.int8), shape=layer.out_shape, stride=p["stride"],
                              pads=p["pads"], layout=st.layout, name=f"layer{len(st.layers)}")
            st.layers.append(pl)
            return _Spins(pl.out_shape, pre.perm, pl.n_outputs)
        shape = layer.out_shape if hasattr(layer, "out_shape") else (layer.n_outputs,)
        return _Spins(shape, pre.perm, layer.n_outputs)

    # -- ops ------------------------------------------------------------------------------

    def run(self) -> OnnxImport:
        from onnx.reference import ReferenceEvaluator

        for node in self.nodes:
            op = node.op_type
            if node.domain in QONNX_DOMAINS and op != "BipolarQuant":
                raise self.refuse(node, f"QONNX operator {op!r} is not supported (only BipolarQuant: a ±1 "
                                        "activation or binary weights)")
            if node.domain not in ("", "ai.onnx") + QONNX_DOMAINS:
                raise self.refuse(node, f"operator domain {node.domain!r} is not supported")
            if op == "BipolarQuant":
                self.op_BipolarQuant(node, list(node.input))
                continue
            ins = [i for i in node.input]
            if op == "Constant":
                val = _attr(node, "value")
                from onnx import numpy_helper

                self.consts[node.output[0]] = numpy_helper.to_array(val) if val is not None else np.array(
                    _attr(node, "value_float", _attr(node, "value_int", 0)))
                continue
            if all(i == "" or i in self.consts for i in ins):  # constant folding
                from onnx import numpy_helper

                h = self.onnx.helper
                inits = [numpy_helper.from_array(np.asarray(self.consts[i]), i) for i in dict.fromkeys(ins) if i]
                outs_vi = [h.make_tensor_value_info(o, self.onnx.TensorProto.UNDEFINED, None) for o in node.output]
                sub = h.make_graph([node], "fold", [], outs_vi, initializer=inits)
                try:
                    res = ReferenceEvaluator(self.onnx.helper.make_model(sub, opset_imports=self.model.opset_import))
                    outs = res.run(None, {})
                except Exception as e:  # noqa: BLE001 - a node the reference cannot fold is refused
                    raise self.refuse(node, f"cannot fold this constant node: {e}") from None
                for name, v in zip(node.output, outs):
                    self.consts[name] = np.asarray(v)
                continue
            handler = getattr(self, f"op_{op}", None)
            if op in _IDENTITY_OPS:
                self.vals[node.output[0]] = self.value(node, ins[0])
                continue
            if handler is None:
                raise self.refuse(node, "this operator cannot be represented exactly by bnnverify's layer kinds")
            handler(node, ins)
        return self.finish()

    def op_Shape(self, node: Any, ins: list[str]) -> None:
        v = self.value(node, ins[0])
        if isinstance(v, (_Ternary, _Shifted, _Cmp)):
            v = v.pre
        if isinstance(v, _Pre) and v.pool is not None:
            shape = v.pool["out_shape"]
        else:
            shape = _phys_shape(v.shape, v.perm) if hasattr(v, "perm") else v.shape
        self.consts[node.output[0]] = np.array((1, *shape), np.int64)

    def op_Transpose(self, node: Any, ins: list[str]) -> None:
        v = self.value(node, ins[0])
        perm = [int(p) for p in _attr(node, "perm", [])]
        if not perm or perm[0] != 0:
            raise self.refuse(node, f"perm {perm} moves the batch axis")
        inner = [p - 1 for p in perm[1:]]
        if isinstance(v, (_Ternary, _Shifted, _Cmp)):
            v = self.realise(v, node)
        if isinstance(v, _Raw):
            self.vals[node.output[0]] = _Raw(tuple(v.shape[i] for i in inner), tuple(v.perm[i] for i in inner),
                                             np.transpose(v.scale, inner), np.transpose(v.offset, inner))
            return
        if (isinstance(v, _Spins) and self.st.bits and not self.st.layers and inner == [2, 0, 1]
                and v.perm == (0, 1, 2) and v.order is None and v.signs is None):
            # the inputs' spins read as an NHWC image: the features are in HWC order
            self.st.layout = "HWC"
            H, W, C = v.shape
            raw = _Raw((C, H, W), (2, 0, 1), np.transpose(v.raw.scale, inner), np.transpose(v.raw.offset, inner))
            self.vals[node.output[0]] = _Spins((C, H, W), (0, 1, 2), v.width, raw=raw)
            return
        if isinstance(v, (_Spins, _Pre)) and len(inner) == len(v.perm):
            if isinstance(v, _Spins) and v.order is not None:
                raise self.refuse(node, "transposes a flattened tensor")
            nv = type(v)(**{**v.__dict__, "perm": tuple(v.perm[i] for i in inner)})
            self.vals[node.output[0]] = nv
            return
        raise self.refuse(node, "transposes a value the importer does not track")

    def _affine(self, node: Any, ins: list[str], op: str) -> None:
        a, b = (self.value(node, i) for i in ins)
        ca, cb = isinstance(a, np.ndarray), isinstance(b, np.ndarray)
        if ca == cb:
            raise self.refuse(node, "needs one constant operand")
        v, c = (b, a) if ca else (a, b)
        c = _const_frac(node, ins[0] if ca else ins[1], c)
        if isinstance(v, (_Ternary,)) and op in ("Add", "Sub") and c.size == 1:
            shift = Fraction(c.reshape(-1)[0]) * (-1 if op == "Sub" and not ca else 1)
            if op == "Sub" and ca:
                raise self.refuse(node, "subtracts a sign from a constant")
            self.vals[node.output[0]] = _Shifted(v.pre, shift, node)
            return
        if isinstance(v, _Spins) and op == "Mul" and v.order is None and all(x in (1, -1) for x in c.reshape(-1)):
            # a ±1 factor per position (bnnverify exports a min-pooling as -max(-x))
            f = _to_logical(c, _phys_shape(v.shape, v.perm), v.perm, node).astype(np.int8)
            signs = f if v.signs is None else (v.signs * f).astype(np.int8)
            self.vals[node.output[0]] = _Spins(**{**v.__dict__, "signs": None if (signs == 1).all() else signs})
            return
        if isinstance(v, (_Ternary, _Shifted, _Cmp, _Spins)):
            raise self.refuse(node, "arithmetic on ±1 activations is not a layer bnnverify represents")
        if isinstance(v, _Raw):
            c = np.broadcast_to(c, (1, *v.shape))[0] if c.ndim <= len(v.shape) + 1 else None
            if c is None:
                raise self.refuse(node, "constant does not broadcast over the input")
            sc, off = v.scale, v.offset
            if op == "Add":
                off = off + c
            elif op == "Sub":
                off, sc = (c - off, -sc) if ca else (off - c, sc)
            elif op == "Mul":
                off, sc = off * c, sc * c
            else:
                if ca:
                    raise self.refuse(node, "divides by the input")
                if any(x == 0 for x in c.reshape(-1)):
                    raise self.refuse(node, "divides by 0")
                off, sc = off / c, sc / c
            raw = _Raw(v.shape, v.perm, sc, off)
            self.vals[node.output[0]] = self._input_spins(raw) or raw
            return
        if not isinstance(v, _Pre):
            raise self.refuse(node, f"arithmetic on {type(v).__name__}")
        if v.pool is not None:  # after a max-pooling only per-channel constants (the map is the pooled one)
            try:
                np.broadcast_to(c, (1, v.shape[0], 1, 1))
            except ValueError:
                raise self.refuse(node, "a per-position constant after a max-pooling") from None
        c = _to_logical(c, _phys_shape(v.shape, v.perm), v.perm, node)
        P, Q, R = v.P, v.Q, v.R
        if op == "Add":
            R = R + c
        elif op == "Sub":
            P, Q, R = (-P, -Q, c - R) if ca else (P, Q, R - c)
        elif op == "Mul":
            if v.pool is not None and any(x < 0 for x in c.reshape(-1)):
                raise self.refuse(node, "a negative factor after a max-pooling (a min-pooling)")
            P, Q, R = P * c, Q * c, R * c
        else:
            if ca or any(x == 0 for x in c.reshape(-1)):
                raise self.refuse(node, "divides by the pre-activation or by 0")
            if v.pool is not None and any(x < 0 for x in c.reshape(-1)):
                raise self.refuse(node, "a negative factor after a max-pooling (a min-pooling)")
            P, Q, R = P / c, Q / c, R / c
        self.vals[node.output[0]] = _Pre(**{**v.__dict__, "P": P, "Q": Q, "R": R})

    def _input_spins(self, raw: _Raw) -> "_Spins | None":
        """``2x - 1`` of inputs that range over 0..1 (bnnverify's export of a network over bits, in
        NCHW or flat order) is the inputs' spins: the network reads bits, and the layers over them are
        ``conv``/``maxpool``/``threshold`` kinds over bits (a padded position adds 0 to a spin dot
        product, as it does there)."""
        inputs = self.st.inputs
        if (not self.bits_allowed or self.st.layers or self.st.bits or raw.perm != tuple(range(len(raw.perm)))
                or len(raw.shape) not in (1, 3) or int(inputs.lo.min()) != 0 or int(inputs.lo.max()) != 0 or int(inputs.hi.min()) != 1
                or int(inputs.hi.max()) != 1):
            return None
        if any(x != 2 for x in raw.scale.reshape(-1)) or any(x != -1 for x in raw.offset.reshape(-1)):
            return None
        self.st.bits = True
        self.st.layout = "CHW"
        self.st.notes.append("the graph reads its 0..1 inputs as 2x - 1: imported as a network over bits "
                             "(--integer-features keeps them integer)")
        return _Spins(raw.shape, raw.perm, int(np.prod(raw.shape)), raw=raw)

    def op_Add(self, node, ins):
        self._affine(node, ins, "Add")

    def op_Sub(self, node, ins):
        self._affine(node, ins, "Sub")

    def op_Mul(self, node, ins):
        self._affine(node, ins, "Mul")

    def op_Div(self, node, ins):
        self._affine(node, ins, "Div")

    def op_BatchNormalization(self, node: Any, ins: list[str]) -> None:
        v = self.value(node, ins[0])
        if not isinstance(v, _Pre):
            raise self.refuse(node, "batch norm of something other than a pre-activation")
        if v.sqrt_used:
            raise self.refuse(node, "a second batch norm before a sign")
        if len(v.shape) > 1 and v.perm[0] != 0:
            raise self.refuse(node, "batch norm over a transposed map")
        parts = []
        for k, name in enumerate(ins[1:5]):
            c = self.const(name)
            if c is None:
                raise self.refuse(node, f"input {name!r} is not a constant")
            parts.append(_const_frac(node, name, c))
        g, b, mu, var = parts
        eps = _F(np.float32(_attr(node, "epsilon", 1e-5)))
        C = v.shape[0]
        if any(x.size != C for x in parts):
            raise self.refuse(node, f"parameters do not have {C} channels")
        if v.pool is not None and any(x < 0 for x in g.reshape(-1)):
            raise self.refuse(node, "a negative batch-norm scale after a max-pooling (a min-pooling)")
        ex = (slice(None),) + (None,) * (len(v.shape) - 1)
        gg, bb, mm, S = g[ex], b[ex], mu[ex], (var + eps)[ex]
        if any(x <= 0 for x in S.reshape(-1)):
            raise self.refuse(node, "var + epsilon must be positive")
        full = np.broadcast_to(S, v.shape)
        self.vals[node.output[0]] = _Pre(**{**v.__dict__, "P": v.P * gg, "Q": (v.Q + v.R - mm) * gg,
                                            "R": np.broadcast_to(bb, v.shape).copy(), "S": full.copy(),
                                            "sqrt_used": True})

    def op_Conv(self, node: Any, ins: list[str]) -> None:
        x = self.value(node, ins[0])
        W = self.const(ins[1])
        if W is None:
            raise self.refuse(node, "weights are not a constant")
        if W.ndim != 4:
            raise self.refuse(node, f"only 2-D convolutions, got weights of shape {W.shape}")
        bias = self.const(ins[2]) if len(ins) > 2 and ins[2] else np.zeros(W.shape[0])
        if bias is None:
            raise self.refuse(node, "bias is not a constant")
        if isinstance(x, (_Ternary, _Cmp, _Shifted)):
            x = self.realise(x, node)
        if isinstance(x, _Spins) and x.raw is not None and not _is_pm_alpha(W, 0):
            self.st.bits, x = False, x.raw  # not binary: a kernel over the integers 0..1
        O, Cin, kh, kw = W.shape
        if isinstance(x, _Spins):
            if x.order is not None or len(x.shape) != 3 or x.perm != (0, 1, 2):
                raise self.refuse(node, "the convolution's input is not an NCHW map of activations")
            geo = _conv_geometry(node, x.shape, (kh, kw))
            if Cin != x.shape[0]:
                raise self.refuse(node, f"weights read {Cin} channels, the map has {x.shape[0]}")
            S8, alpha = _pm1(W, 0, node)
            if x.signs is not None:  # a channel multiplied by -1 (bnnverify's min-pool export): its kernel flips
                per_c = x.signs.reshape(x.shape[0], -1)
                if not (per_c == per_c[:, :1]).all():
                    raise self.refuse(node, "activations negated at some positions of a channel only")
                S8 = (S8 * per_c[None, :, 0, None, None]).astype(np.int8)
            Ho, Wo = _out_hw(geo, (kh, kw))
            shape = (O, Ho, Wo)
            P = np.empty(shape, dtype=object)
            Q = np.empty(shape, dtype=object)
            for o in range(O):
                P[o] = _F(alpha[o]) * x.scale
                Q[o] = _F(bias[o])
            self.vals[node.output[0]] = self._pre(shape, ("conv", S8, geo), P, Q, Cin * kh * kw, node)
            return
        if isinstance(x, _Raw):
            if len(x.shape) != 3 or self.st.layers:
                raise self.refuse(node, "a convolution over the raw input must read a 3-D image and come first")
            layout = {(0, 1, 2): "CHW", (2, 0, 1): "HWC"}.get(x.perm)
            if layout is None:
                raise self.refuse(node, f"the input's axes {x.perm} are neither NCHW nor NHWC")
            self.st.layout = layout
            shape_l, sc, off = x.shape, x.scale, x.offset  # the tensor the Conv reads is NCHW
            C = shape_l[0]
            sc_c = []
            off_c = []
            for c in range(C):
                vals = set(sc[c].reshape(-1).tolist())
                offs = set(off[c].reshape(-1).tolist())
                if len(vals) != 1 or len(offs) != 1 or 0 in vals:
                    raise self.refuse(node, f"the normalisation of input channel {c} is not one nonzero scale and "
                                            "one offset per channel")
                sc_c.append(vals.pop())
                off_c.append(offs.pop())
            geo = _conv_geometry(node, shape_l, (kh, kw))
            Wf = _const_frac(node, ins[1], W)
            Weff = Wf * np.array(sc_c, dtype=object)[None, :, None, None]
            Wint, a = _integer_rows(Weff, node)
            from bnnverify.encoders.conv_layers import _Geometry

            gm = _Geometry.make(shape_l, (kh, kw), geo["stride"], geo["pads"], "CHW", "import")
            idx = gm.windows(channels=False)  # (C, P, k): CHW indices, n_in where padded
            valid = (idx < gm.n_in)  # (C, P, k)
            Ho, Wo = gm.out_hw
            Wk = Wint.reshape(O, C, kh * kw)
            sums = np.einsum("ock,cpk->ocp", Wk, valid.astype(np.int64))  # valid-weight sums per channel
            P = np.empty((O, Ho, Wo), dtype=object)
            Q = np.empty((O, Ho, Wo), dtype=object)
            ratio = [off_c[c] / sc_c[c] for c in range(C)]
            for o in range(O):
                bo = _F(bias[o])
                for p in range(Ho * Wo):
                    q = bo + a[o] * sum((ratio[c] * int(sums[o, c, p]) for c in range(C)), Fraction(0))
                    P[o, p // Wo, p % Wo] = a[o]
                    Q[o, p // Wo, p % Wo] = q
            lo, hi = self.st.inputs.lo, self.st.inputs.hi
            bound = int(np.abs(Wint).sum(axis=(1, 2, 3)).max()) * max(abs(int(lo.min())), abs(int(hi.max())))
            self.vals[node.output[0]] = self._pre((O, Ho, Wo), ("intconv", Wint, geo), P, Q, bound, node)
            return
        raise self.refuse(node, f"convolution of {type(x).__name__.strip('_').lower()} values")

    def _pre(self, shape, source, P, Q, bound, node) -> _Pre:
        zero = np.empty(shape, dtype=object)
        zero.reshape(-1)[:] = [Fraction(0)] * int(np.prod(shape))
        one = np.empty(shape, dtype=object)
        one.reshape(-1)[:] = [Fraction(1)] * int(np.prod(shape))
        return _Pre(tuple(shape), tuple(range(len(shape))), source, P, Q, zero, one, int(bound), node=node.name)

    def op_MaxPool(self, node: Any, ins: list[str]) -> None:
        v = self.value(node, ins[0])
        if len(node.output) > 1 and node.output[1]:
            raise self.refuse(node, "the Indices output is not supported")
        kernel = tuple(int(k) for k in _attr(node, "kernel_shape"))
        if list(_attr(node, "dilations", [1, 1])) != [1, 1] or _attr(node, "storage_order", 0):
            raise self.refuse(node, "dilations / storage order are not supported")
        if isinstance(v, (_Ternary, _Cmp, _Shifted)):
            v = self.realise(v, node)
        if isinstance(v, _Spins):
            if v.order is not None or len(v.shape) != 3 or v.perm != (0, 1, 2):
                raise self.refuse(node, "the pooling's input is not an NCHW map of activations")
            geo = _conv_geometry(node, v.shape, kernel)
            st = self.st
            pol = np.ones(v.shape[0], np.int8)
            if v.signs is not None:  # max of -s is -min(s): a min-pooling (polarity -1) of that channel
                per_c = v.signs.reshape(v.shape[0], -1)
                if not (per_c == per_c[:, :1]).all():
                    raise self.refuse(node, "pools activations negated at some positions of a channel only")
                pol = per_c[:, 0].astype(np.int8)
            pl = MaxPoolLayer(kernel, pol, layout=st.layout, name=f"layer{len(st.layers)}", **geo)
            st.layers.append(pl)
            signs = None if v.signs is None else np.broadcast_to(pol[:, None, None], pl.out_shape).astype(np.int8)
            self.vals[node.output[0]] = _Spins(pl.out_shape, (0, 1, 2), pl.n_outputs, scale=v.scale, signs=signs)
            return
        if isinstance(v, _Pre) and v.pool is None and v.source[0] in ("conv", "intconv") and v.perm == (0, 1, 2):
            geo = _conv_geometry(node, v.shape, kernel)
            neg = [o for o in range(v.shape[0]) if any(x < 0 for x in v.P[o].reshape(-1))]
            if neg:  # max of a*d + b with a < 0 is a min over d: flip the channel's sign convention
                raise self.refuse(node, f"max-pooling a pre-activation with a negative slope (channel {neg[0]}): "
                                        "a min-pooling of the dot products")
            out_shape = (v.shape[0], *_out_hw(geo, kernel))
            self.vals[node.output[0]] = _Pre(**{**v.__dict__, "pool": {"kernel": kernel, "stride": geo["stride"],
                                                                      "pads": geo["pads"], "node": node.name,
                                                                      "out_shape": out_shape}})
            return
        raise self.refuse(node, "max-pooling of a value other than activations or a conv pre-activation")

    def op_Sign(self, node: Any, ins: list[str]) -> None:
        v = self.value(node, ins[0])
        if isinstance(v, _Pre):
            self.vals[node.output[0]] = _Ternary(v, node)
        elif isinstance(v, _Shifted):
            c = v.shift
            if not (0 < abs(c) < 1):
                raise self.refuse(node, f"sign(sign(x) + {float(c)}) is not a sign with a tie rule "
                                        "(the shift must lie strictly between -1 and 1, not 0)")
            self.vals[node.output[0]] = self.emit(v.pre, strict=c < 0)
        elif isinstance(v, _Spins):
            self.vals[node.output[0]] = v
        elif isinstance(v, _Raw):
            raise self.refuse(node, "a sign of the raw input (binarise it with a first layer instead)")
        else:
            raise self.refuse(node, f"sign of {type(v).__name__}")

    def op_BipolarQuant(self, node: Any, ins: list[str]) -> None:
        """QONNX's ``BipolarQuant(x, scale) = where(x >= 0, 1, -1) * scale`` (sign(0) = +1, as
        bnnverify's sign). Of constants (Brevitas' binary weights) it is evaluated here (the
        reference evaluator knows no custom op): ``±scale`` per element, exact in floats. Of a
        pre-activation it is a sign whose activations are ``±scale``, one positive scalar; the
        next layer's slope takes the scale."""
        if len(ins) != 2:
            raise self.refuse(node, f"expected inputs (X, scale), got {len(ins)}")
        scale = self.const(ins[1])
        if scale is None:
            raise self.refuse(node, "the scale is not a constant")
        x = self.const(ins[0])
        if x is not None:
            sc = np.asarray(scale, dtype=np.float64)
            try:
                out = np.where(np.asarray(x) >= 0, 1.0, -1.0) * sc
            except ValueError as e:
                raise self.refuse(node, f"scale of shape {sc.shape} does not broadcast to {np.shape(x)}: {e}") from None
            self.consts[node.output[0]] = out.astype(np.result_type(np.asarray(x).dtype, np.float32))
            return
        flat = {_F(v) for v in np.asarray(scale).reshape(-1).tolist()}
        if len(flat) != 1 or next(iter(flat)) <= 0:
            raise self.refuse(node, "an activation's scale must be one positive number (per-channel or "
                                    f"non-positive scales weight the next layer's ±1 terms), got {sorted(flat)[:4]}")
        v = self.value(node, ins[0])
        if isinstance(v, _Pre):
            spins = self.emit(v, strict=False)
        elif isinstance(v, _Ternary):  # torch's Sign, then BipolarQuant: its 0 becomes +1, one sign with sign(0) = +1
            spins = self.emit(v.pre, strict=False)
        elif isinstance(v, _Spins):
            spins = v
        elif isinstance(v, _Raw):
            raise self.refuse(node, "a BipolarQuant of the raw input (binarise it with a first layer instead)")
        else:
            raise self.refuse(node, f"BipolarQuant of {type(v).__name__.strip('_').lower()} values")
        self.vals[node.output[0]] = _Spins(**{**spins.__dict__, "scale": spins.scale * next(iter(flat))})

    def op_GreaterOrEqual(self, node: Any, ins: list[str]) -> None:
        self._cmp(node, ins, strict=False)

    def op_Greater(self, node: Any, ins: list[str]) -> None:
        self._cmp(node, ins, strict=True)

    def _cmp(self, node: Any, ins: list[str], strict: bool) -> None:
        v, c = self.value(node, ins[0]), self.const(ins[1])
        if not isinstance(v, _Pre) or c is None or np.any(c != 0):
            raise self.refuse(node, "only a comparison of a pre-activation with the constant 0")
        self.vals[node.output[0]] = _Cmp(v, strict, node)

    def op_Where(self, node: Any, ins: list[str]) -> None:
        cond = self.value(node, ins[0])
        a, b = self.const(ins[1]), self.const(ins[2])
        if not isinstance(cond, _Cmp) or a is None or b is None or np.any(a != 1) or np.any(b != -1):
            raise self.refuse(node, "only Where(x >= 0 or x > 0, 1, -1)")
        self.vals[node.output[0]] = self.emit(cond.pre, strict=cond.strict)

    def _flatten(self, node: Any, v: Any) -> Any:
        if isinstance(v, (_Ternary, _Cmp, _Shifted)):
            v = self.realise(v, node)
        if isinstance(v, _Raw):
            n = int(np.prod(v.shape))
            if v.perm != tuple(range(len(v.perm))):
                raise self.refuse(node, "flattens a transposed input")
            return _Raw((n,), (0,), v.scale.reshape(-1), v.offset.reshape(-1))
        if isinstance(v, _Spins):
            if v.order is not None or len(v.shape) == 1:
                return v
            C, H, W = v.shape
            phys = _phys_shape(v.shape, v.perm)
            pos = np.indices(phys).reshape(len(phys), -1)  # physical coordinates in C order
            logical = [None, None, None]
            for i, ax in enumerate(v.perm):
                logical[ax] = pos[i]
            order = feature_index(self.st.layout, C, H, W, logical[0], logical[1], logical[2]).astype(np.int64)
            signs = None
            if v.signs is not None:
                signs = v.signs[logical[0], logical[1], logical[2]].astype(np.int8)
            return _Spins((C * H * W,), (0,), v.width, order, v.scale, signs)
        raise self.refuse(node, f"flattens {type(v).__name__.strip('_').lower()} values")

    def op_Flatten(self, node: Any, ins: list[str]) -> None:
        if int(_attr(node, "axis", 1)) != 1:
            raise self.refuse(node, "only axis = 1")
        self.vals[node.output[0]] = self._flatten(node, self.value(node, ins[0]))

    def op_Reshape(self, node: Any, ins: list[str]) -> None:
        v = self.value(node, ins[0])
        shape = self.const(ins[1])
        if shape is None:
            raise self.refuse(node, "the target shape is not a constant")
        shape = [int(s) for s in shape]
        if isinstance(v, _Raw) and v.perm == tuple(range(len(v.perm))) and len(shape) >= 2 and shape[0] in (1, -1, 0):
            n = int(np.prod(v.shape))
            inner = list(shape[1:])
            if inner.count(-1) == 1:
                known = int(np.prod([d for d in inner if d != -1]))
                inner[inner.index(-1)] = n // known if known and n % known == 0 else -2
            if int(np.prod(inner)) == n and all(d > 0 for d in inner):
                t = tuple(inner)
                self.vals[node.output[0]] = _Raw(t, tuple(range(len(t))), v.scale.reshape(t), v.offset.reshape(t))
                return
        if (isinstance(v, _Spins) and self.st.bits and not self.st.layers and v.order is None and v.signs is None
                and v.perm == tuple(range(len(v.perm))) and len(shape) in (2, 4) and shape[0] in (1, -1, 0)):
            # the inputs' spins (no layer yet): their features are the tensor's C order in any shape
            n = int(np.prod(v.shape))
            inner = [n // int(np.prod([d for d in shape[1:] if d != -1])) if d == -1 else d for d in shape[1:]]
            if int(np.prod(inner)) == n and all(d > 0 for d in inner):
                t = tuple(inner)
                raw = _Raw(t, tuple(range(len(t))), v.raw.scale.reshape(t), v.raw.offset.reshape(t))
                self.vals[node.output[0]] = _Spins(t, tuple(range(len(t))), v.width, raw=raw)
                return
        n = int(np.prod(v.shape)) if hasattr(v, "shape") else -1
        if len(shape) != 2 or shape[0] not in (1, -1, 0) or shape[1] not in (-1, n):
            raise self.refuse(node, f"only a flattening reshape (batch, features), got {shape}")
        self.vals[node.output[0]] = self._flatten(node, v)

    def _dense(self, node: Any, x: Any, B: np.ndarray, bias: np.ndarray, alpha: Fraction, beta: Fraction) -> None:
        if isinstance(x, (_Ternary, _Cmp, _Shifted)):
            x = self.realise(x, node)
        if isinstance(x, _Spins) and x.raw is not None and not _is_pm_alpha(B, 1):
            # not a binary layer: weights over the integers 0..1 (bits again at the end, as linear)
            self.st.bits, x = False, self._flatten(node, x.raw) if len(x.raw.shape) > 1 else x.raw
        if isinstance(x, _Spins) and len(x.shape) > 1:
            x = self._flatten(node, x)
        n, m = B.shape
        if isinstance(x, _Spins):
            if n != x.shape[0]:
                raise self.refuse(node, f"weights read {n} features, the activations have {x.shape[0]}")
            S8, a = _pm1(B, 1, node)  # (m, n) signs
            if x.signs is not None:
                S8 = (S8 * x.signs.reshape(1, -1)).astype(np.int8)
            W = np.zeros((m, x.width), np.int8)
            order = x.order if x.order is not None else np.arange(n)
            W[:, order] = S8
            P = np.array([alpha * _F(v) * x.scale for v in a], dtype=object)
            Q = np.array([beta * _F(v) for v in bias], dtype=object)
            self.vals[node.output[0]] = self._pre((m,), ("dense", W, x), P, Q, n, node)
            return
        if isinstance(x, _Raw):
            if self.st.layers or len(x.shape) != 1:
                raise self.refuse(node, "a dense layer over the raw input must come first, over a flat input")
            Bf = _const_frac(node, "B", B).T * alpha  # (m, n)
            sc, off = x.scale, x.offset
            if any(s == 0 for s in sc):
                raise self.refuse(node, "an input feature is scaled by 0")
            Wint, a = _integer_rows(Bf * sc[None, :], node)
            P = a
            Q = np.array([beta * _F(bias[j]) + sum((Bf[j, f] * off[f] for f in range(n)), Fraction(0))
                          for j in range(m)], dtype=object)
            lo, hi = self.st.inputs.lo, self.st.inputs.hi
            bound = int(np.abs(Wint).sum(axis=1).max()) * max(abs(int(lo.min())), abs(int(hi.max())))
            self.vals[node.output[0]] = self._pre((m,), ("intdense", Wint), P, Q, bound, node)
            return
        raise self.refuse(node, f"a dense layer over {type(x).__name__.strip('_').lower()} values")

    def op_Gemm(self, node: Any, ins: list[str]) -> None:
        x = self.value(node, ins[0])
        B = self.const(ins[1])
        if B is None or _attr(node, "transA", 0):
            raise self.refuse(node, "weights must be a constant and transA = 0")
        if _attr(node, "transB", 0):
            B = B.T
        C = self.const(ins[2]) if len(ins) > 2 and ins[2] else np.zeros(B.shape[1])
        if C is None:
            raise self.refuse(node, "bias is not a constant")
        C = np.broadcast_to(C, (1, B.shape[1]))[0]
        self._dense(node, x, B, C, _F(np.float32(_attr(node, "alpha", 1.0))), _F(np.float32(_attr(node, "beta", 1.0))))

    def op_MatMul(self, node: Any, ins: list[str]) -> None:
        x = self.value(node, ins[0])
        B = self.const(ins[1])
        if B is None or B.ndim != 2:
            raise self.refuse(node, "the right operand must be a constant matrix")
        self._dense(node, x, B, np.zeros(B.shape[1]), Fraction(1), Fraction(1))

    def op_Softmax(self, node: Any, ins: list[str]) -> None:
        v = self.value(node, ins[0])
        if node.output[0] != self.output_name or not isinstance(v, _Pre):
            raise self.refuse(node, "only a final Softmax over the scores")
        self.st.notes.append(f"node {node.name!r} (Softmax) dropped: it does not change the argmax")
        self.vals[node.output[0]] = v

    def op_LogSoftmax(self, node: Any, ins: list[str]) -> None:
        self.op_Softmax(node, ins)

    def _over_bits(self, layers: list) -> tuple[list, IntegerInputs | None]:
        """Features ranging over 0..1 read by a first ``integer-threshold`` layer with ±1 weights are
        bits: that layer becomes a ``threshold`` layer over their spins, ``w·x >= t`` iff
        ``w·s >= 2t - Σw`` for ``x = (s + 1) / 2`` (bnnverify's export of a network over bits reads
        0/1 inputs as ``2x - 1``), and the network reads bits. Any other first layer keeps integer
        features (a convolution's zero padding is not a spin's 0)."""
        inputs = self.st.inputs
        if self.st.bits:
            return layers, None
        first = layers[0] if layers else None
        q = _as_quantize(first, inputs)
        if q is not None:
            layers[0] = q
            self.st.notes.append("a first layer of single-feature comparisons [p_f >= c]: imported as quantize")
            return layers, inputs
        if (not self.bits_allowed or inputs is None or not isinstance(first, IntegerThresholdLayer)
                or int(inputs.lo.min()) != 0
                or int(inputs.hi.max()) != 1 or int(inputs.lo.max()) != 0 or int(inputs.hi.min()) != 1):
            return layers, inputs
        W = first.weights.astype(np.int64)
        if np.isin(W, (-1, 1)).all():
            theta = 2 * first.thresholds.astype(np.int64) - W.sum(axis=1)
            layers[0] = ThresholdLayer(W.astype(np.int8), theta, name=first.name)
            self.st.notes.append("inputs 0..1 read by ±1 weights: imported as a network over bits")
        else:  # [W x >= t] over x in {0, 1}: the linear kind's rule, over bits
            layers[0] = LinearLayer(W, first.thresholds.astype(np.int64), name=first.name)
            self.st.notes.append("inputs 0..1 read by integer weights: imported as a linear layer over bits")
        return layers, None


    def finish(self) -> OnnxImport:
        v = self.vals.get(self.output_name)
        if not isinstance(v, _Pre) or v.source[0] != "dense":
            raise ModelError(f"{self.where}: the graph output {self.output_name!r} must be the scores of a dense layer "
                             f"over ±1 activations, got {type(v).__name__.strip('_').lower() if v is not None else 'nothing'}")
        W = v.source[1]
        alpha = np.empty(W.shape[0])
        beta = np.empty(W.shape[0])
        rounded = 0
        for c in range(W.shape[0]):
            P, Q, R, S = v.P[c], v.Q[c], v.R[c], v.S[c]
            rn, rd = math.isqrt(S.numerator), math.isqrt(S.denominator)
            if rn * rn == S.numerator and rd * rd == S.denominator:
                r = Fraction(rn, rd)
                a, b = P / r, Q / r + R
                alpha[c], beta[c] = float(a), float(b)
                rounded += int(Fraction(alpha[c]) != a or Fraction(beta[c]) != b)
            else:
                sq = math.sqrt(float(S))
                alpha[c], beta[c] = float(P) / sq, float(Q) / sq + float(R)
                rounded += 1
        if rounded:
            self.st.notes.append(f"output: the scale or bias of {rounded} class(es) is not a float64 number and was "
                                 "rounded to the nearest (the argmax rule computes in float64)")
        out = ArgmaxLayer(W, alpha, beta, name="output")
        if not self.st.layers:
            raise ModelError(f"{self.where}: the graph has no hidden layer over the input (a dense layer over raw "
                             "features cannot be an argmax layer of bnnverify)")
        layers, inputs = self._over_bits(list(self.st.layers))
        net = BNN(tuple(layers), out, inputs=inputs,
                  metadata={"source": "onnx", "onnx_input": self.input_name,
                            "onnx_input_shape": ",".join(map(str, self.input_shape))})
        return OnnxImport(net, min(self.st.margins), self.input_name, self.input_shape, tuple(self.st.notes))


def import_onnx(path: "str | Path", input_range: tuple[int, int] = DEFAULT_INPUT_RANGE, *,
                bits: bool = True) -> OnnxImport:
    """Import the ONNX file at ``path`` exactly (``ModelError`` naming the node and op otherwise).
    ``bits``: features ranging over 0..1 that the graph reads as ``2x - 1`` (or through ±1 weights)
    make a network over bits; ``False`` keeps them integer features (VNN-COMP boxes are integer)."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - the optional extra
        raise ModelError("importing ONNX needs the onnx package (pip install 'bnnverify[onnx]')") from None
    p = Path(path)
    try:
        model = onnx.load(str(p))
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - a file that is not ONNX
        raise ModelError(f"{p}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    lo, hi = (int(v) for v in input_range)
    if lo > hi:
        raise ModelError(f"input range: lo {lo} > hi {hi}", param="input_range")
    return _Importer(model, (lo, hi), str(p), bits=bits).run()
