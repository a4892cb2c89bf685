"""ONNX export and import against onnxruntime and the semantics; VNN-LIB properties and VNN-COMP results.

* export: onnxruntime runs every exported random network (dense, conv / maxpool,
  integer-conv) to the evaluator's exact float64 scores;
* import: graphs built with ``onnx.helper`` in the exporters' patterns (larq via
  tf2onnx: NHWC input and transposes, ``Sign -> Add(0.1) -> Sign``, ±α kernels,
  batch norm unrolled into ``Mul``/``Add``, ``MaxPool`` before the batch norm,
  ``Reshape``, ``Softmax``; torch: ``Sign`` with sign(0) = 0), the project's
  exported graphs and ``torch.onnx.export`` of its own conv module — classes and
  hidden codes compared with onnxruntime on random inputs;
* refusals name the node and the op;
* QONNX `BipolarQuant` graphs (Brevitas): imported, and compared with onnxruntime running the op's
  definition in standard ops;
* ``vnncomp``: answers compared with brute force over the box on the semantics.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from bnnverify import semantics  # noqa: E402
from bnnverify.errors import DataError, ModelError  # noqa: E402
from bnnverify.evaluation.evaluator import Evaluator  # noqa: E402
from bnnverify.importers.onnx_export import export_onnx, to_onnx  # noqa: E402
from bnnverify.importers.onnx_graph import import_onnx  # noqa: E402
from bnnverify.importers.vnnlib import parse_vnnlib  # noqa: E402
from strategies import conv_networks, integer_conv_networks, integer_networks, networks  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None, database=None)


def _session(model) -> "ort.InferenceSession":
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _rows(net, rng, n=48) -> np.ndarray:
    if net.inputs is None:
        return rng.integers(0, 2, (n, net.n_inputs))
    return rng.integers(net.inputs.lo, net.inputs.hi + 1, (n, net.n_inputs))


@SETTINGS
@given(st.one_of(conv_networks(9), integer_conv_networks(), networks()), st.integers(0, 2**32 - 1))
def test_exported_graphs_run_to_the_exact_scores(tmp_path_factory, net, seed):
    X = _rows(net, np.random.default_rng(seed))
    shape = net.inputs.shape if net.inputs is not None and net.inputs.shape else (net.n_inputs,)
    y = _session(to_onnx(net)).run(None, {"input": X.reshape(len(X), *shape).astype(np.float32)})[0]
    tr = Evaluator(net).trace(X)
    assert np.array_equal(y, tr.scores)  # float64 scores, bit for bit
    assert np.argmax(y, axis=1).tolist() == tr.classes.tolist()


@SETTINGS
@given(st.one_of(conv_networks(9), integer_conv_networks(), integer_networks(), networks()), st.integers(0, 2**32 - 1))
def test_exported_graphs_import_back_to_the_same_network(tmp_path_factory, net, seed):
    """Every exported network imports back to the same layer kinds (min-pooling, quantize and
    networks over bits included), hidden codes and classes."""
    X = _rows(net, np.random.default_rng(seed))
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    export_onnx(net, path)
    rng_in = (0, 1) if net.inputs is None else (int(net.inputs.lo.min()), int(net.inputs.hi.max()))
    # an integer network keeps integer inputs (bits=False): with the default, inputs of range 0..1 read
    # by integer weights come back as bits under a linear layer (the same function; a rare draw)
    imp = import_onnx(path, rng_in, bits=net.inputs is None)
    kinds = [h.kind for h in imp.net.hidden]
    if net.hidden[0].kind == "integer-threshold" and kinds[0] == "quantize":
        kinds[0] = "integer-threshold"  # rows [c·p_f >= t], c > 0, are quantizer bits: they may come back as such
    assert kinds == [h.kind for h in net.hidden]
    assert (imp.net.inputs is None) == (net.inputs is None)
    assert [tuple(h.polarity.tolist()) for h in imp.net.hidden if h.kind == "maxpool"] == \
        [tuple(h.polarity.tolist()) for h in net.hidden if h.kind == "maxpool"]
    for x in X[:12]:
        assert semantics.forward(imp.net, x).codes == semantics.forward(net, x).codes
    assert imp.net.predict(X).tolist() == net.predict(X).tolist()


def test_bits_false_keeps_0_1_features_integer(tmp_path):
    rng = np.random.default_rng(4)
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    net = BNN((ThresholdLayer(rng.choice([-1, 1], (3, 5)).astype(np.int8), rng.integers(-2, 3, 3)),),
              ArgmaxLayer(rng.choice([-1, 1], (2, 3)).astype(np.int8), np.ones(2), np.zeros(2)))
    export_onnx(net, tmp_path / "b.onnx")
    X = np.array(list(np.ndindex(*(2,) * 5)))
    as_bits = import_onnx(tmp_path / "b.onnx", (0, 1))
    as_ints = import_onnx(tmp_path / "b.onnx", (0, 1), bits=False)
    assert as_bits.net.inputs is None and as_ints.net.inputs is not None
    assert [h.kind for h in as_ints.net.hidden] == ["integer-threshold"]
    assert as_bits.net.predict(X).tolist() == as_ints.net.predict(X).tolist() == net.predict(X).tolist()


# from the conv branch (the same round trip, written independently), adapted to bits by default

def test_min_pooling_round_trips_through_onnx(tmp_path):
    from bnnverify.encoders.conv_layers import IntegerConvLayer, MaxPoolLayer
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs

    rng = np.random.default_rng(5)
    first = IntegerConvLayer(rng.integers(-2, 3, (2, 1, 2, 2)).astype(np.int16), rng.integers(-3, 4, (2, 3, 3)),
                             shape=(1, 4, 4), layout="HWC")
    pool = MaxPoolLayer((2, 2), np.array([1, -1]), shape=first.out_shape, stride=(1, 1), pads=(1, 0, 0, 1),
                        layout="HWC", name="layer1")
    out = ArgmaxLayer(rng.choice([-1, 1], (3, pool.n_outputs)).astype(np.int8), np.ones(3), np.array([0., .5, -.5]))
    net = BNN((first, pool), out, inputs=IntegerInputs.pixels(16, 0, 3, shape=(1, 4, 4)))
    export_onnx(net, tmp_path / "m.onnx")
    imp = import_onnx(tmp_path / "m.onnx", (0, 3))
    assert [h.kind for h in imp.net.hidden] == ["integer-conv", "maxpool"]
    assert imp.net.hidden[1].polarity.tolist() == [1, -1]
    X = rng.integers(0, 4, (200, 16))
    assert imp.net.predict(X).tolist() == net.predict(X).tolist()
    for x in X[:10]:
        assert semantics.forward(imp.net, x).codes == semantics.forward(net, x).codes


@SETTINGS
@given(st.one_of(conv_networks(9), networks()), st.integers(0, 2**32 - 1))
def test_bit_networks_round_trip_over_bits(tmp_path_factory, net, seed):
    # the export reads 0/1 and turns them into spins; imported with bits=True the model reads bits again
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    export_onnx(net, path)
    imp = import_onnx(path, (0, 1), bits=True)
    assert imp.net.inputs is None and imp.net.hidden[0].kind == net.hidden[0].kind
    X = np.random.default_rng(seed).integers(0, 2, (64, net.n_inputs))
    assert imp.net.predict(X).tolist() == net.predict(X).tolist()
    for x in X[:8]:
        assert semantics.forward(imp.net, x).codes == semantics.forward(net, x).codes


def test_bits_need_a_zero_one_range_and_read_other_weights_as_linear(tmp_path):
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs, IntegerThresholdLayer

    net = BNN((IntegerThresholdLayer(np.array([[2, -1]], np.int16), np.array([1])),),
              ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)), inputs=IntegerInputs.pixels(2, 0, 1))
    export_onnx(net, tmp_path / "m.onnx")
    assert import_onnx(tmp_path / "m.onnx", (0, 3)).net.inputs is not None  # 0..3: integer features
    back = import_onnx(tmp_path / "m.onnx", (0, 1), bits=True).net  # weights 2, -1: linear over the bits
    assert back.inputs is None and back.hidden[0].kind == "linear"
    B = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert back.predict(B).tolist() == net.predict(B).tolist()
    assert import_onnx(tmp_path / "m.onnx", (0, 1), bits=False).net.inputs is not None  # features 0..1


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.integers(1, 3))
def test_quantize_and_linear_first_layers_round_trip(tmp_path_factory, seed, F, K):
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs, LinearLayer, QuantizeLayer

    rng = np.random.default_rng(seed)
    d = tmp_path_factory.mktemp("onnx")
    q = QuantizeLayer(np.sort(rng.integers(-1, 9, (F, K)), axis=1))
    out = ArgmaxLayer(rng.choice([-1, 1], (3, F * K)).astype(np.int8), np.ones(3), np.array([0.0, 0.5, -0.5]))
    net = BNN((q,), out, inputs=IntegerInputs.pixels(F, 0, 7))
    export_onnx(net, d / "q.onnx")
    back = import_onnx(d / "q.onnx", (0, 7)).net
    assert back.hidden[0].kind == "quantize" and np.array_equal(back.hidden[0].thresholds,
                                                               np.clip(q.thresholds, -1, 9))
    X = rng.integers(0, 8, (64, F))
    assert back.predict(X).tolist() == net.predict(X).tolist()
    # a first linear layer over bits: exported over 0/1, back over bits with bits=True
    n = F + K
    lin = LinearLayer(rng.integers(-3, 4, (3, n)), rng.integers(-2, 3, 3))
    net = BNN((lin,), ArgmaxLayer(rng.choice([-1, 1], (2, 3)).astype(np.int8), np.ones(2), np.zeros(2)))
    export_onnx(net, d / "l.onnx")
    back = import_onnx(d / "l.onnx", (0, 1), bits=True).net
    assert back.inputs is None and back.hidden[0].kind in ("linear", "threshold")
    B = all_inputs_of(n)
    assert back.predict(B).tolist() == net.predict(B).tolist()
    for x in B[:8]:
        assert semantics.forward(back, x).codes == semantics.forward(net, x).codes


def all_inputs_of(n: int) -> np.ndarray:
    return ((np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.uint8)


# --- graphs in the exporters' patterns -------------------------------------------------------

def _init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def _larq_graph(rng, tie_shift=0.1, extra_outputs=()):
    """A tf2onnx-style larq network: NHWC 6x6x2 pixels -> conv (±1 over pixels, /255 normalisation),
    BN as Mul/Add, ste_sign -> conv (±α) -> MaxPool -> BN -> ste_sign -> NHWC flatten -> dense (±α) -> Softmax."""
    H = W = 6
    C, O1, O2, K = 2, 3, 4, 5
    # dyadic BN parameters (var + eps = 4): onnxruntime's float32 computes them exactly
    q = lambda *s: (rng.integers(-8, 9, s) / 4.0)  # noqa: E731
    k1 = rng.choice([-1.0, 1.0], (O1, C, 3, 3))
    k2 = rng.choice([-1.0, 1.0], (O2, O1, 3, 3)) * 0.5
    wd = rng.choice([-1.0, 1.0], (O2 * 2 * 2, K)) * 0.25
    inits = [
        _init("k1", k1), _init("k2", k2), _init("wd", wd), _init("scale255", np.array(1 / 256)),
        _init("m1", np.abs(q(1, O1, 1, 1)) + 0.25), _init("a1", q(1, O1, 1, 1) * 4),
        _init("shift", np.array(tie_shift)),
        _init("g2", np.abs(q(O2)) + 0.25), _init("b2", q(O2)), _init("mu2", q(O2) * 8),
        _init("v2", np.full(O2, 4.0)), _init("bd", q(K)), _init("shape", np.array([-1, O2 * 4]))]
    inits[-1] = numpy_helper.from_array(np.array([-1, O2 * 4], np.int64), "shape")
    n = helper.make_node
    nodes = [
        n("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2], name="to_nchw"),
        n("Mul", ["xt", "scale255"], ["xs"], name="normalise"),
        n("Conv", ["xs", "k1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        n("Mul", ["c1", "m1"], ["bn1m"], name="bn1_mul"),
        n("Add", ["bn1m", "a1"], ["bn1"], name="bn1_add"),
        n("Sign", ["bn1"], ["s1a"], name="sign1a"), n("Add", ["s1a", "shift"], ["s1b"], name="sign1_shift"),
        n("Sign", ["s1b"], ["s1"], name="sign1"),
        n("Conv", ["s1", "k2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        n("MaxPool", ["c2"], ["p2"], kernel_shape=[3, 3], strides=[3, 3], name="pool2"),
        n("BatchNormalization", ["p2", "g2", "b2", "mu2", "v2"], ["bn2"], epsilon=0.0, name="bn2"),
        n("Sign", ["bn2"], ["s2a"], name="sign2a"), n("Add", ["s2a", "shift"], ["s2b"], name="sign2_shift"),
        n("Sign", ["s2b"], ["s2"], name="sign2"),
        n("Transpose", ["s2"], ["s2t"], perm=[0, 2, 3, 1], name="to_nhwc"),
        n("Reshape", ["s2t", "shape"], ["flat"], name="flatten"),
        n("MatMul", ["flat", "wd"], ["d"], name="dense"), n("Add", ["d", "bd"], ["logits"], name="dense_bias"),
        n("Softmax", ["logits"], ["probs"], name="softmax"),
    ]
    outs = [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", K])]
    outs += [helper.make_tensor_value_info(e, TensorProto.FLOAT, None) for e in extra_outputs]
    g = helper.make_graph(nodes, "larq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", H, W, C])],
                          outs, initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("seed", range(4))
def test_larq_pattern_imports_to_onnxruntime_classes_and_codes(tmp_path, seed):
    rng = np.random.default_rng(seed)
    model = _larq_graph(rng)
    path = tmp_path / "larq.onnx"
    onnx.save(model, path)
    imp = import_onnx(path, (0, 255))
    net = imp.net
    assert [h.kind for h in net.hidden] == ["integer-conv", "conv", "maxpool"]
    assert {h.layout for h in net.hidden} == {"HWC"}
    assert any("Softmax" in n for n in imp.notes)
    X = rng.integers(0, 256, (300, 72))
    probe = _session(_larq_graph(np.random.default_rng(seed), extra_outputs=("s1", "s2t")))
    probs, s1, s2t = probe.run(None, {"x": X.reshape(-1, 6, 6, 2).astype(np.float32)})
    tr = Evaluator(net).trace(X)
    # classes: the argmax of the softmax (ties are impossible here: dyadic scores, distinct)
    assert tr.classes.tolist() == np.argmax(probs, axis=1).tolist()
    # hidden codes: layer0 is stored HWC, as onnxruntime's s1 after transposing back to NHWC
    codes0 = semantics.forward(net, X[0]).codes[0]
    assert list(codes0) == ((np.transpose(s1[0], (1, 2, 0)).reshape(-1) > 0).astype(int)).tolist()
    codes2 = [semantics.forward(net, x).codes[2] for x in X[:20]]
    assert [list(c) for c in codes2] == (s2t[:20].reshape(20, -1) > 0).astype(int).tolist()


def test_larq_shift_must_make_a_tie_rule(tmp_path):
    onnx.save(_larq_graph(np.random.default_rng(0), tie_shift=1.5), tmp_path / "bad.onnx")
    with pytest.raises(ModelError, match=r"node 'sign1' \(Sign\).*strictly between -1 and 1"):
        import_onnx(tmp_path / "bad.onnx")


QONNX = "qonnx.custom_op.general"


def _qonnx_graph(rng, domain=QONNX, act_scale=0.5, reference=False):
    """A Brevitas/QONNX-style network: NCHW 6x6 pixels /256 -> conv (BipolarQuant weights, ±s per channel)
    -> BatchNormalization -> BipolarQuant activations (±act_scale) -> MaxPool -> conv (BipolarQuant
    weights) -> BatchNormalization -> BipolarQuant -> Flatten -> Gemm (BipolarQuant weights).
    ``reference=True`` writes every BipolarQuant as its QONNX definition in standard ops,
    ``Mul(Where(GreaterOrEqual(x, 0), 1, -1), scale)``, for onnxruntime."""
    O1, O2, K = 3, 4, 5
    q = lambda *s: (rng.integers(-8, 9, s) / 4.0)  # noqa: E731  (dyadic: exact in float32)
    inits = [
        _init("w1f", rng.normal(size=(O1, 1, 3, 3))), _init("sw1", rng.choice([0.5, 1.0, 2.0], (O1, 1, 1, 1))),
        _init("w2f", rng.normal(size=(O2, O1, 3, 3))), _init("sw2", np.array(0.25)),
        _init("wdf", rng.normal(size=(K, O2 * 3 * 3))), _init("swd", np.array(0.5)),
        _init("scale256", np.array(1 / 256)), _init("sa", np.array(act_scale)), _init("one", np.array(1.0)),
        _init("g1", np.abs(q(O1)) + 0.25), _init("b1", q(O1)), _init("mu1", q(O1) * 4), _init("v1", np.full(O1, 4.0)),
        _init("g2", np.abs(q(O2)) + 0.25), _init("b2", q(O2)), _init("mu2", q(O2) * 4), _init("v2", np.full(O2, 4.0)),
        _init("bd", q(K)), _init("zero", np.array(0.0)), _init("plus", np.array(1.0)), _init("minus", np.array(-1.0))]
    n = helper.make_node
    nodes: list = []

    def bq(x, scale, out):
        if reference:
            nodes.extend([n("GreaterOrEqual", [x, "zero"], [out + "_ge"], name=out + "_ge"),
                          n("Where", [out + "_ge", "plus", "minus"], [out + "_pm"], name=out + "_where"),
                          n("Mul", [out + "_pm", scale], [out], name=out + "_scale")])
        else:
            nodes.append(n("BipolarQuant", [x, scale], [out], domain=domain, name=out))

    nodes.append(n("Mul", ["x", "scale256"], ["xs"], name="normalise"))
    bq("w1f", "sw1", "w1")
    nodes += [n("Conv", ["xs", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
              n("BatchNormalization", ["c1", "g1", "b1", "mu1", "v1"], ["bn1"], epsilon=0.0, name="bn1")]
    bq("bn1", "sa", "a1")
    nodes.append(n("MaxPool", ["a1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"))
    bq("w2f", "sw2", "w2")
    nodes += [n("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
              n("BatchNormalization", ["c2", "g2", "b2", "mu2", "v2"], ["bn2"], epsilon=0.0, name="bn2")]
    bq("bn2", "one", "a2")
    nodes.append(n("Flatten", ["a2"], ["flat"], axis=1, name="flatten"))
    bq("wdf", "swd", "wd")
    nodes.append(n("Gemm", ["flat", "wd", "bd"], ["logits"], transB=1, name="dense"))
    g = helper.make_graph(nodes, "qonnx", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 6, 6])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", K]),
                           *([helper.make_tensor_value_info("a2", TensorProto.FLOAT, None)] if reference else [])],
                          initializer=inits)
    opsets = [helper.make_opsetid("", 17)] + ([] if reference else [helper.make_opsetid(domain, 1)])
    return helper.make_model(g, opset_imports=opsets)


@pytest.mark.parametrize("seed, domain", [(0, QONNX), (1, QONNX), (2, "onnx.brevitas"), (3, "finn.custom_op.general")])
def test_qonnx_bipolar_quant_imports_to_its_definition_run_by_onnxruntime(tmp_path, seed, domain):
    onnx.save(_qonnx_graph(np.random.default_rng(seed), domain), tmp_path / "q.onnx")
    imp = import_onnx(tmp_path / "q.onnx", (0, 255))
    net = imp.net
    assert [h.kind for h in net.hidden] == ["integer-conv", "maxpool", "conv"]
    X = np.random.default_rng(100 + seed).integers(0, 256, (400, 36))
    logits, a2 = _session(_qonnx_graph(np.random.default_rng(seed), reference=True)).run(
        None, {"x": X.reshape(-1, 1, 6, 6).astype(np.float32)})
    tr = Evaluator(net).trace(X)
    top = np.max(logits, axis=1, keepdims=True)
    ok = (logits == top).sum(axis=1) == 1  # rows without a tie in float32
    assert ok.mean() > 0.9
    assert tr.classes[ok].tolist() == np.argmax(logits, axis=1)[ok].tolist()
    for x, ref in zip(X[:25], a2[:25]):
        assert list(semantics.forward(net, x).codes[2]) == (ref.reshape(-1) > 0).astype(int).tolist()


def test_qonnx_bipolar_quant_refusals_name_the_node(tmp_path):
    onnx.save(_qonnx_graph(np.random.default_rng(0), act_scale=-0.5), tmp_path / "neg.onnx")
    with pytest.raises(ModelError, match=r"node 'a1' \(BipolarQuant\): an activation's scale must be one positive"):
        import_onnx(tmp_path / "neg.onnx")
    onnx.save(_qonnx_graph(np.random.default_rng(0), domain="com.example"), tmp_path / "dom.onnx")
    with pytest.raises(ModelError, match=r"node 'w1' \(BipolarQuant\): operator domain 'com.example'"):
        import_onnx(tmp_path / "dom.onnx")


def _torch_sign_graph(bias: float) -> "onnx.ModelProto":
    rng = np.random.default_rng(1)
    inits = [_init("w1", rng.choice([-1.0, 1.0], (4, 3))), _init("b1", np.full(3, bias)),
             _init("w2", rng.choice([-1.0, 1.0], (3, 2)))]
    n = helper.make_node
    nodes = [n("Sign", ["x"], ["xs"], name="binarise_input")] if False else []
    nodes += [n("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"), n("Sign", ["h"], ["s"], name="sign_torch"),
              n("MatMul", ["s", "w2"], ["y"], name="fc2")]
    g = helper.make_graph(nodes, "torch", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_torch_sign_zero_is_refused_by_name_or_proved_unreachable(tmp_path):
    onnx.save(_torch_sign_graph(1.0), tmp_path / "zero.onnx")
    with pytest.raises(ModelError, match=r"node 'sign_torch' \(Sign\): .* exactly 0 at dot product"):
        import_onnx(tmp_path / "zero.onnx", (0, 1))
    onnx.save(_torch_sign_graph(0.5), tmp_path / "half.onnx")  # d + 0.5 is never 0
    imp = import_onnx(tmp_path / "half.onnx", (0, 3))
    X = np.array(list(np.ndindex(4, 4, 4, 4)))
    y = _session(_torch_sign_graph(0.5)).run(None, {"x": X.astype(np.float32)})[0]
    assert imp.net.predict(X).tolist() == np.argmax(y, axis=1).tolist()


@pytest.mark.parametrize("op, why", [("Relu", "cannot be represented exactly"), ("Tanh", "cannot be represented")])
def test_other_ops_are_refused_naming_node_and_op(tmp_path, op, why):
    rng = np.random.default_rng(2)
    inits = [_init("w1", rng.choice([-1.0, 1.0], (4, 3))), _init("w2", rng.choice([-1.0, 1.0], (3, 2)))]
    n = helper.make_node
    nodes = [n("MatMul", ["x", "w1"], ["h"], name="fc1"), n(op, ["h"], ["a"], name="act"),
             n("MatMul", ["a", "w2"], ["y"], name="fc2")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], initializer=inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "g.onnx")
    with pytest.raises(ModelError, match=f"node 'act' \\({op}\\): .*{why}"):
        import_onnx(tmp_path / "g.onnx")


def test_torch_export_of_the_project_conv_module(tmp_path):
    import torch

    from bnnverify.training.conv import ConvBNNModule, export_conv, parse_arch

    g = torch.Generator().manual_seed(3)
    blocks, c = parse_arch("conv4k3p1,maxpool2,6,3")
    m = ConvBNNModule((1, 6, 6), blocks, c, g)
    with torch.no_grad():  # non-trivial batch-norm statistics
        for bn in [b.bn for b in m.maps if hasattr(b, "bn")] + [d.bn for d in m.dense]:
            bn.running_mean.uniform_(-2, 2, generator=g)
            bn.running_var.uniform_(0.5, 3, generator=g)
            bn.weight.uniform_(-1, 1, generator=g)
            bn.bias.uniform_(-1, 1, generator=g)
    m.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer warnings
        warnings.simplefilter("ignore")
        torch.onnx.export(m, torch.ones(1, 36), buf, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    path = tmp_path / "torch.onnx"
    path.write_bytes(buf.getvalue())
    imp = import_onnx(path, (-1, 1))
    ref, _ = export_conv(m)
    rng = np.random.default_rng(3)
    B = rng.integers(0, 2, (400, 36))
    S = 2 * B - 1
    y = _session(buf.getvalue()).run(None, {"x": S.astype(np.float32)})[0]
    assert imp.net.predict(S).tolist() == np.argmax(y, axis=1).tolist() == ref.predict(B).tolist()
    for s, b in zip(S[:10], B[:10]):
        assert semantics.forward(imp.net, s).codes == semantics.forward(ref, b).codes


# --- VNN-LIB and VNN-COMP ---------------------------------------------------------------------

def _prop(lo, hi, ref, targets, n_out, strict_fmt=False):
    lines = [f"(declare-const X_{i} Real)" for i in range(len(lo))]
    lines += [f"(declare-const Y_{j} Real)" for j in range(n_out)]
    for i, (a, b) in enumerate(zip(lo, hi)):
        lines += [f"(assert (>= X_{i} {a}))", f"(assert (<= X_{i} {b}))"]
    lines.append("(assert (or " + " ".join(f"(and (>= Y_{j} Y_{ref}))" for j in targets) + "))")
    return "; robustness\n" + "\n".join(lines) + "\n"


def test_vnnlib_parse_and_refusals():
    p = parse_vnnlib(_prop([0, 0.5], [3, 2], 1, [0, 2], 3))
    assert p.lo == (Fraction(0), Fraction(1, 2)) and p.reference == 1 and p.targets == (0, 2) and p.rounded
    assert p.integer_box()[0].tolist() == [0, 1]
    with pytest.raises(DataError, match="X_1 is not bounded"):
        parse_vnnlib("(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)"
                     "(declare-const Y_1 Real)(assert (<= X_0 1))(assert (>= X_0 0))(assert (<= Y_0 Y_1))")
    with pytest.raises(DataError, match="several classes"):
        parse_vnnlib("(declare-const X_0 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)"
                     "(declare-const Y_2 Real)(assert (<= X_0 1))(assert (>= X_0 0))"
                     "(assert (or (and (>= Y_0 Y_1)) (and (>= Y_1 Y_2))))")
    with pytest.raises(DataError, match="unbalanced"):
        parse_vnnlib("(assert (<= X_0 1)")


@settings(max_examples=15, deadline=None, database=None)
@given(integer_conv_networks(n_classes=st.integers(2, 3)), st.data())
def test_vnncomp_answers_like_brute_force(tmp_path_factory, net, data):
    from bnnverify.questions.vnncomp import result_text, solve_instance

    if "maxpool" in net.layer_kinds:
        return  # min-pooling is exported but not re-imported; the conv case is covered
    d = tmp_path_factory.mktemp("vnn")
    export_onnx(net, d / "m.onnx")
    lo0, hi0 = net.inputs.lo, net.inputs.hi
    lo = np.array([data.draw(st.integers(int(a), int(b))) for a, b in zip(lo0, hi0)])
    hi = np.array([data.draw(st.integers(int(a), int(b))) for a, b in zip(lo, hi0)])
    ref = data.draw(st.integers(0, net.n_classes - 1))
    others = [c for c in range(net.n_classes) if c != ref]
    targets = data.draw(st.lists(st.sampled_from(others), min_size=1, unique=True))
    (d / "p.vnnlib").write_text(_prop(lo.tolist(), hi.tolist(), ref, targets, net.n_classes))
    res = solve_instance(d / "m.onnx", d / "p.vnnlib", 60.0)
    box = [np.array(p) for p in np.ndindex(*(hi - lo + 1))]
    bad = [semantics.forward(net, lo + p).scores for p in box]
    truth = any(s[j] >= s[ref] for s in bad for j in targets)
    assert res.status in ("sat", "unsat", "unknown")
    if res.status == "unknown":  # onnxruntime's float64 scores are the exact ones: never expected here
        pytest.fail(f"unknown: {res.notes}")
    assert (res.status == "sat") == truth
    text = result_text(res)
    assert text.splitlines()[0] == res.status
    if res.status == "sat":
        x = res.inputs
        assert ((x >= lo) & (x <= hi)).all()
        s = semantics.forward(net, x).scores
        assert any(s[j] >= s[ref] for j in targets)
        assert f"(X_0 {int(x[0])})" in text


def test_vnncomp_cli_and_instances_csv(tmp_path):
    from bnnverify.encoders.conv_layers import IntegerConvLayer
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs

    first = IntegerConvLayer(np.array([[[[1, -1], [1, 1]]]], np.int16), np.full((1, 2, 2), 40), shape=(1, 3, 3))
    net = BNN((first,), ArgmaxLayer(np.array([[1, 1, 1, 1], [-1, -1, -1, -1]], np.int8), np.ones(2), np.zeros(2)),
              inputs=IntegerInputs.pixels(9, shape=(1, 3, 3)))
    export_onnx(net, tmp_path / "m.onnx")
    (tmp_path / "robust.vnnlib").write_text(_prop([19] * 9, [20] * 9, 0, [1], 2))
    truth = any(semantics.forward(net, 19 + np.array(p)).scores[1] >= semantics.forward(net, 19 + np.array(p)).scores[0]
                for p in np.ndindex(*(2,) * 9))
    (tmp_path / "instances.csv").write_text("m.onnx,robust.vnnlib,30\n")
    cmd = [sys.executable, "-m", "bnnverify", "vnncomp", str(tmp_path / "m.onnx"), str(tmp_path / "robust.vnnlib"),
           "--timeout", "30", "--out", str(tmp_path / "r.txt"), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    status = json.loads(out.stdout)["status"]
    assert status == ("sat" if truth else "unsat")
    assert out.returncode == {"sat": 1, "unsat": 0}[status]
    assert (tmp_path / "r.txt").read_text().splitlines()[0] == status
    out = subprocess.run([sys.executable, "-m", "bnnverify", "vnncomp-run", str(tmp_path / "instances.csv"),
                          "--out-dir", str(tmp_path / "res")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert status in (tmp_path / "res" / "summary.md").read_text()
    imp = subprocess.run([sys.executable, "-m", "bnnverify", "import", "onnx", str(tmp_path / "m.onnx"),
                          "--out", str(tmp_path / "m.npz")], capture_output=True, text=True)
    assert imp.returncode == 0, imp.stderr
    x = np.arange(9).reshape(1, 1, 3, 3) * 30  # the graph's input shape, with its batch dimension
    np.save(tmp_path / "x.npy", x)
    pred = subprocess.run([sys.executable, "-m", "bnnverify", "predict", str(tmp_path / "m.npz"), "--input",
                           str(tmp_path / "x.npy"), "--json"], capture_output=True, text=True)
    assert pred.returncode == 0, pred.stderr
    assert json.loads(pred.stdout.splitlines()[-1])["class"] == semantics.classify(net, x.reshape(-1))
    np.save(tmp_path / "bad.npy", np.full((1, 3, 3), 0.5))
    pred = subprocess.run([sys.executable, "-m", "bnnverify", "predict", str(tmp_path / "m.npz"), "--input",
                           str(tmp_path / "bad.npy")], capture_output=True, text=True)
    assert pred.returncode == 2 and "bad.npy" in pred.stderr and "not an integer" in pred.stderr
    bad = subprocess.run([sys.executable, "-m", "bnnverify", "import", "onnx", str(tmp_path / "robust.vnnlib"),
                          "--out", str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a readable ONNX model" in bad.stderr
