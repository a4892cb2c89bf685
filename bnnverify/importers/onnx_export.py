"""Export a :class:`BNN` to ONNX: a graph onnxruntime runs to the evaluator's classes.

Every integer quantity is carried in float32, exact while it stays below
2^24 (checked: a layer whose dot products could reach it is refused), and the
output scores in float64 (the argmax rule's arithmetic: one rounded multiply,
one rounded add; ``ArgMax`` and ``numpy.argmax`` both take the first maximum).
Signs are explicit, never a bare ``Sign``: ``Where(d - theta >= 0, 1, -1)``,
so sign(0) = +1. The graph's input is ``input`` of shape ``(N, *input_shape)``
(``input_shape`` of an integer network, else ``(n,)``): 0/1 bits for a network
over bits (turned into spins ``2x - 1``), the integer features for one over
integers. The graph's output ``scores`` is ``(N, classes)`` float64.

Maps stay 4-D NCHW between ``conv``/``maxpool``/``integer-conv`` layers whose
shapes chain; a layer stored ``HWC`` is reshaped and transposed in and out.
:mod:`bnnverify.importers.onnx_graph` reads these graphs back (``threshold``,
``conv``, ``maxpool`` of either polarity — min-pooling is written ``Mul(-1) ->
MaxPool -> Mul(-1)`` — ``integer-conv``, ``integer-threshold``, ``quantize``
(its one-hot rows are recognised); a first ``linear`` layer comes back with
``bits=True``); a ``linear`` layer after another is exported (onnxruntime runs
it) but not re-imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.errors import ModelError

__all__ = ["export_onnx", "to_onnx", "ONNX_OPSET", "FLOAT32_EXACT"]

#: The opset written (onnxruntime 1.18+ runs it; GreaterOrEqual needs >= 12).
ONNX_OPSET = 17
#: float32 represents every integer of magnitude below 2^24 exactly (24-bit significand).
FLOAT32_EXACT = 1 << 24


class _Graph:
    def __init__(self) -> None:
        import onnx
        from onnx import helper, numpy_helper

        self.onnx, self.h, self.nh = onnx, helper, numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.k = 0

    def name(self, stem: str) -> str:
        self.k += 1
        return f"{stem}_{self.k}"

    def const(self, a: np.ndarray, stem: str = "c") -> str:
        n = self.name(stem)
        self.inits.append(self.nh.from_array(np.asarray(a), n))
        return n

    def op(self, op: str, ins: list[str], stem: str | None = None, **attrs: Any) -> str:
        out = self.name(stem or op.lower())
        self.nodes.append(self.h.make_node(op, ins, [out], name=f"{out}_node", **attrs))
        return out


def _check_exact(bound: int, where: str) -> None:
    if bound >= FLOAT32_EXACT:
        raise ModelError(f"{where}: its sums can reach {bound}, beyond float32's exact integers (2^24); "
                         "the ONNX graph would round them")


def to_onnx(net: BNN) -> Any:
    """The ONNX ``ModelProto`` of ``net``."""
    g = _Graph()
    h = g.h
    f32 = np.float32
    if net.inputs is not None:
        in_shape = tuple(net.inputs.shape) if net.inputs.shape is not None else (net.n_inputs,)
        vmax = int(max(abs(int(net.inputs.lo.min())), abs(int(net.inputs.hi.max()))))
    else:
        in_shape, vmax = (net.n_inputs,), 1
    _check_exact(vmax, "input")
    cur = "input"
    cur_map: tuple | None = None  # (shape (C,H,W), layout) when cur is a 4-D NCHW map, else cur is (N, n)
    first = net.hidden[0] if net.hidden else None
    if len(in_shape) == 3 and first is not None and first.kind in ("conv", "maxpool", "integer-conv") \
            and tuple(in_shape) == tuple(first.shape[i] for i in ((0, 1, 2) if first.layout == "CHW" else (1, 2, 0))):
        if first.layout == "HWC":  # an NHWC input, as larq / TF graphs take it
            cur = g.op("Transpose", [cur], perm=[0, 3, 1, 2])
        cur_map = (tuple(first.shape), first.layout)
    elif len(in_shape) != 1:
        cur = g.op("Reshape", [cur, g.const(np.array([-1, int(np.prod(in_shape))], np.int64), "flat")])
    if net.inputs is None:  # bits -> spins
        cur = g.op("Sub", [g.op("Mul", [cur, g.const(np.array(2, f32))]), g.const(np.array(1, f32))], "spins")

    def flat() -> str:
        nonlocal cur, cur_map
        if cur_map is not None:
            (C, H, W), layout = cur_map
            t = cur if layout == "CHW" else g.op("Transpose", [cur], perm=[0, 2, 3, 1])
            cur = g.op("Reshape", [t, g.const(np.array([-1, C * H * W], np.int64), "flat")])
            cur_map = None
        return cur

    def as_map(shape: tuple, layout: str) -> str:
        nonlocal cur, cur_map
        if cur_map == (tuple(shape), layout):
            return cur
        x = flat()
        C, H, W = shape
        if layout == "CHW":
            cur = g.op("Reshape", [x, g.const(np.array([-1, C, H, W], np.int64), "map")])
        else:
            t = g.op("Reshape", [x, g.const(np.array([-1, H, W, C], np.int64), "map")])
            cur = g.op("Transpose", [t], perm=[0, 3, 1, 2])
        cur_map = (tuple(shape), layout)
        return cur

    def sign_ge(d: str, theta: np.ndarray) -> str:
        t = g.op("Sub", [d, g.const(theta.astype(f32), "theta")], "pre")
        cmp = g.op("GreaterOrEqual", [t, g.const(np.array(0, f32), "zero")], "ge")
        return g.op("Where", [cmp, g.const(np.array(1, f32), "plus"), g.const(np.array(-1, f32), "minus")], "sign")

    for i, layer in enumerate(net.hidden):
        where = f"layer{i}"
        k = layer.kind
        if k in ("conv", "integer-conv"):
            x = as_map(layer.shape, layer.layout)
            W = layer.weights.astype(np.int64)
            bound = int(np.abs(W).sum(axis=(1, 2, 3)).max()) * (vmax if k == "integer-conv" else 1)
            _check_exact(bound, where)
            t, l, b, r = layer.pads
            d = g.op("Conv", [x, g.const(W.astype(f32), "kernel")], "conv", strides=list(layer.stride),
                     pads=[t, l, b, r])
            theta = layer.thresholds[None, :, None, None] if k == "conv" else layer.thresholds[None]
            cur = sign_ge(d, np.asarray(theta))
            cur_map = (tuple(layer.out_shape), layer.layout)
        elif k == "maxpool":
            x = as_map(layer.shape, layer.layout)
            t, l, b, r = layer.pads
            pol = layer.polarity.astype(f32)[None, :, None, None]
            neg = bool((pol < 0).any())
            if neg:
                x = g.op("Mul", [x, g.const(pol, "polarity")])
            y = g.op("MaxPool", [x], "pool", kernel_shape=list(layer.kernel), strides=list(layer.stride),
                     pads=[t, l, b, r])
            cur = g.op("Mul", [y, g.const(pol, "polarity")]) if neg else y  # min = -max(-x)
            cur_map = (tuple(layer.out_shape), layer.layout)
        elif k in ("threshold", "integer-threshold"):
            x = flat()
            W = layer.weights.astype(np.int64)
            _check_exact(int(np.abs(W).sum(axis=1).max()) * (vmax if k == "integer-threshold" else 1), where)
            cur = sign_ge(g.op("MatMul", [x, g.const(W.T.astype(f32), "weights")], "dot"), layer.thresholds)
        elif k == "linear":  # C . x >= b over bits x = (s + 1) / 2:  C . s >= 2 b - sum C
            x = flat()
            C = layer.coefficients.astype(np.int64)
            _check_exact(int(np.abs(C).sum(axis=1).max()) * 2 + 2, where)
            cur = sign_ge(g.op("MatMul", [x, g.const(C.T.astype(f32), "coefficients")], "dot"),
                          2 * layer.bounds - C.sum(axis=1))
        elif k == "quantize":  # bit f*K + k = [p_f >= C[f, k]]: each feature repeated K times
            x = flat()
            F, K = layer.thresholds.shape
            E = np.zeros((F, F * K), f32)
            for f in range(F):
                E[f, f * K:(f + 1) * K] = 1
            cur = sign_ge(g.op("MatMul", [x, g.const(E, "expand")], "rep"), layer.thresholds.reshape(-1))
        else:
            raise ModelError(f"{where}: layer kind {k!r} has no ONNX export")
    x = flat()
    out = net.output
    _check_exact(out.n_inputs, "output")
    d = g.op("Cast", [g.op("MatMul", [x, g.const(out.weights.T.astype(f32), "weights")], "dot")], "dot64",
             to=g.onnx.TensorProto.DOUBLE)
    s = g.op("Mul", [d, g.const(out.scale.astype(np.float64), "scale")])
    g.nodes.append(h.make_node("Add", [s, g.const(out.bias.astype(np.float64), "bias")], ["scores"], name="scores"))
    graph = h.make_graph(
        g.nodes, "bnnverify",
        [h.make_tensor_value_info("input", g.onnx.TensorProto.FLOAT, ["N", *in_shape])],
        [h.make_tensor_value_info("scores", g.onnx.TensorProto.DOUBLE, ["N", net.n_classes])],
        initializer=g.inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", ONNX_OPSET)], producer_name="bnnverify")
    model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime releases of 2024 and later
    g.onnx.checker.check_model(model)
    return model


def export_onnx(net: BNN, path: "str | Path") -> Path:
    """Write ``net`` as ONNX to ``path`` atomically."""
    from bnnverify.files.atomic import atomic_write

    model = to_onnx(net)
    p = Path(path)
    with atomic_write(p, "wb") as fh:
        fh.write(model.SerializeToString())
    return p
