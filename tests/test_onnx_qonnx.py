"""Brevitas / QONNX ``BipolarQuant`` graphs imported exactly, against a reference evaluation.

QONNX defines ``BipolarQuant(X, scale) = where(X >= 0, 1, -1) * scale`` in the
custom domain ``qonnx.custom_op.general`` (sign(0) = +1; its sample
implementation in the QONNX operator documentation). onnxruntime cannot run
the custom op, so the reference here is ``onnx.reference.ReferenceEvaluator``
with that definition registered as a custom op (:class:`BipolarQuant`, named as the op):
every other node runs as onnx defines it, in float32. Graphs are built with
``onnx.helper`` in the Brevitas pattern: binary weights as ``BipolarQuant`` of
float initialisers (folded), activations as ``BipolarQuant`` of batch-normed
pre-activations, a first layer over integer pixels, conv + max-pooling and a
dense head; and ``BipolarQuant`` after torch's ``Sign``. Classes and the
imported model's semantics are compared on every input of small graphs and on
random ones; integer pre-activations that are exactly 0 check the tie rule.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.op_run import OpRun  # noqa: E402

from bnnverify import semantics  # noqa: E402
from bnnverify.errors import ModelError  # noqa: E402
from bnnverify.evaluation.evaluator import Evaluator  # noqa: E402
from bnnverify.importers.onnx_graph import import_onnx  # noqa: E402

DOMAIN = "qonnx.custom_op.general"
SETTINGS = settings(max_examples=25, deadline=None, database=None)


class BipolarQuant(OpRun):
    """QONNX's definition, for the reference evaluator (the class name is the op it runs)."""

    op_domain = DOMAIN

    def _run(self, x, scale):
        return ((np.where(x >= 0, 1.0, -1.0) * scale).astype(x.dtype),)


class _Graph:
    def __init__(self):
        self.nodes, self.inits = [], []

    def init(self, name, a, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.asarray(a, dtype=dtype), name))
        return name

    def node(self, op, ins, out, domain="", **kw):
        self.nodes.append(helper.make_node(op, ins, [out], name=out, domain=domain, **kw))
        return out

    def bq(self, x, scale, out):
        return self.node("BipolarQuant", [x, self.init(out + "_s", np.float32(scale))], out, domain=DOMAIN)

    def model(self, shape, out, n_out):
        g = helper.make_graph(self.nodes, "qonnx", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", n_out])],
                              initializer=self.inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)])


def dense_graph(rng, F=3, widths=(4, 3), classes=3, bn=True, torch_sign=False):
    """x (F integer features) -> MatMul (integer weights) -> [BN] -> BipolarQuant -> (MatMul of
    BipolarQuant weights -> BN -> BipolarQuant)* -> MatMul of BipolarQuant weights + bias."""
    g = _Graph()
    h = g.node("MatMul", ["x", g.init("w0", rng.integers(-2, 3, (F, widths[0])))], "d0")
    n = widths[0]
    for i, m in enumerate(widths[1:] + (classes,)):
        if bn:
            h = g.node("BatchNormalization", [h, g.init(f"g{i}", rng.choice([-1.5, -0.5, 0.75, 2.0], n)),
                                              g.init(f"b{i}", rng.choice([-1.0, 0.0, 0.5], n)),
                                              g.init(f"m{i}", rng.choice([-1.0, 0.0, 1.0], n)),
                                              g.init(f"v{i}", rng.choice([0.25, 1.0, 4.0], n))], f"bn{i}")
        if torch_sign:
            h = g.node("Sign", [h], f"sgn{i}")
        h = g.bq(h, rng.choice([1.0, 0.5, 2.0]), f"act{i}")
        w = g.bq(g.init(f"wf{i + 1}", rng.normal(0, 1, (n, m))), rng.choice([1.0, 0.25, 0.125]), f"wq{i + 1}")
        h = g.node("MatMul", [h, w], f"d{i + 1}")
        n = m
    out = g.node("Add", [h, g.init("bias", rng.choice([0.0, 0.5, -0.25], classes))], "logits")
    return g.model((F,), out, classes)


def conv_graph(rng, C=1, H=4, W=4, chans=2, classes=3):
    """NCHW integer pixels -> Conv (integer kernel) -> BN -> BipolarQuant -> MaxPool ->
    Conv(BipolarQuant weights) -> BipolarQuant -> Flatten -> MatMul(BipolarQuant weights)."""
    g = _Graph()
    h = g.node("Conv", ["x", g.init("k0", rng.integers(-1, 2, (chans, C, 3, 3)))], "c0", pads=[1, 1, 1, 1])
    h = g.node("BatchNormalization", [h, g.init("g0", rng.choice([-1.0, 0.5, 1.5], chans)),
                                      g.init("b0", rng.choice([-0.5, 0.0, 0.5], chans)),
                                      g.init("m0", rng.choice([0.0, 1.0, 2.0], chans)),
                                      g.init("v0", np.ones(chans))], "bn0")
    h = g.bq(h, 1.0, "a0")
    h = g.node("MaxPool", [h], "p0", kernel_shape=[2, 2], strides=[2, 2])
    k1 = g.bq(g.init("kf1", rng.normal(0, 1, (chans, chans, 2, 2))), 0.5, "kq1")
    h = g.node("Conv", [h, k1, g.init("cb1", rng.choice([-1.0, 0.0, 1.0], chans))], "c1", pads=[0, 0, 1, 1])
    h = g.bq(h, 0.25, "a1")
    h = g.node("Flatten", [h], "flat")
    n = chans * (H // 2) * (W // 2)
    wd = g.bq(g.init("wdf", rng.normal(0, 1, (n, classes))), 1.0, "wdq")
    h = g.node("MatMul", [h, wd], "dense")
    out = g.node("Add", [h, g.init("bias", rng.choice([0.0, 0.5, -0.5], classes))], "logits")
    return g.model((C, H, W), out, classes)


def _compare(tmp_path, model, X, shape, lo, hi):
    path = tmp_path / "q.onnx"
    path.write_bytes(model.SerializeToString())
    imp = import_onnx(path, (lo, hi))
    ref = ReferenceEvaluator(model, new_ops=[BipolarQuant])
    scores = ref.run(None, {"x": X.reshape(len(X), *shape).astype(np.float32)})[0]
    want = np.argmax(scores, axis=1)  # the first maximal score, as the argmax rule
    flat = X.reshape(len(X), -1)
    got = Evaluator(imp.net).classify(flat)
    assert got.tolist() == want.tolist()
    assert [semantics.classify(imp.net, x) for x in flat[:16]] == want[:16].tolist()
    return imp


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_dense_bipolar_graphs_on_every_input(tmp_path_factory, seed, bn, torch_sign):
    rng = np.random.default_rng(seed)
    model = dense_graph(rng, bn=bn, torch_sign=torch_sign)
    X = np.array(list(itertools.product(range(4), repeat=3)))  # every input of 0..3 ^ 3
    _compare(tmp_path_factory.mktemp("q"), model, X, (3,), 0, 3)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_conv_bipolar_graphs_on_random_inputs(tmp_path_factory, seed):
    rng = np.random.default_rng(seed)
    model = conv_graph(rng)
    X = rng.integers(0, 4, (64, 1, 4, 4))
    imp = _compare(tmp_path_factory.mktemp("q"), model, X, (1, 4, 4), 0, 3)
    assert [h.kind for h in imp.net.hidden] == ["integer-conv", "maxpool", "conv"]


def test_a_zero_pre_activation_is_plus_one(tmp_path):
    # one neuron x0 - x1 (no batch norm): exactly 0 when x0 == x1, and BipolarQuant(0) = +1
    g = _Graph()
    h = g.node("MatMul", ["x", g.init("w0", np.array([[1.0], [-1.0]]))], "d0")
    h = g.bq(h, 1.0, "a0")
    out = g.node("MatMul", [h, g.bq(g.init("wf", np.array([[1.0, -1.0]])), 1.0, "wq")], "logits")
    model = g.model((2,), out, 2)
    X = np.array([[0, 0], [1, 1], [1, 0], [0, 1]])
    imp = _compare(tmp_path, model, X, (2,), 0, 1)
    assert Evaluator(imp.net).classify(X).tolist() == [0, 0, 0, 1]


def test_other_qonnx_ops_and_bad_scales_are_refused_by_name(tmp_path):
    g = _Graph()
    g.node("Quant", ["x", g.init("s", 1.0), g.init("z", 0.0), g.init("b", 4.0)], "q", domain=DOMAIN)
    path = tmp_path / "q.onnx"
    path.write_bytes(g.model((2,), "q", 2).SerializeToString())
    with pytest.raises(ModelError, match=r"node 'q' \(Quant\): QONNX operator 'Quant' is not supported"):
        import_onnx(path, (0, 1))
    g = _Graph()
    h = g.node("MatMul", ["x", g.init("w0", np.array([[1.0], [-1.0]]))], "d0")
    g.bq(h, -1.0, "a0")
    path.write_bytes(g.model((2,), "a0", 1).SerializeToString())
    with pytest.raises(ModelError, match=r"node 'a0' \(BipolarQuant\): an activation's scale must be one positive"):
        import_onnx(path, (0, 1))
