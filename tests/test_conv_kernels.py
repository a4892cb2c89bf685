"""The compiled conv-front kernels (``bnnverify/evaluation/convkernels.py``) against the numpy rules
and the semantics module, on random conv stacks (both layouts, pads, strides, polarities), kernels
wider than one 64-bit word, and integer first layers in every accumulator width."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.conv_layers import ConvLayer, IntegerConvLayer, MaxPoolLayer
from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.evaluation.flips import HAVE_NUMBA
from strategies import conv_networks, integer_conv_networks

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")

SETTINGS = settings(max_examples=40, deadline=None, database=None)


def _rows(net, rng, n=24):
    if net.inputs is None:
        return rng.integers(0, 2, (n, net.n_inputs))
    return rng.integers(net.inputs.lo, net.inputs.hi + 1, (n, net.n_inputs))


@SETTINGS
@given(st.one_of(conv_networks(max_inputs=12), integer_conv_networks()), st.integers(0, 2**32 - 1))
def test_compiled_front_is_the_numpy_rule_and_the_semantics(net, seed):
    from bnnverify.evaluation.convkernels import run_layer

    X = _rows(net, np.random.default_rng(seed))
    v = X
    for h in net.hidden:
        if h.kind == "threshold":
            break
        got, want = run_layer(h, v), h.forward(v)
        assert np.array_equal(got, want), h.kind
        v = want
    truth = [semantics.forward(net, x) for x in X]
    tr = Evaluator(net, compiled=True).trace(X)
    assert tr.classes.tolist() == [t.label for t in truth]
    assert Evaluator(net, compiled=False).classify(X).tolist() == [t.label for t in truth]
    assert Evaluator(net, compiled=True).classify(X).tolist() == [t.label for t in truth]  # classify_front


@pytest.mark.parametrize("layout", ["CHW", "HWC"])
def test_wide_kernels_and_every_accumulator_width(layout):
    from bnnverify.evaluation.convkernels import run_layer

    rng = np.random.default_rng(3)
    # 9 channels x 3 x 3 = 81 taps: two 64-bit words per patch, pads and stride 2
    conv = ConvLayer(rng.choice([-1, 1], (5, 9, 3, 3)).astype(np.int8), rng.integers(-20, 20, 5),
                     shape=(9, 5, 6), stride=(2, 1), pads=(1, 1, 0, 1), layout=layout)
    X = rng.integers(0, 2, (16, conv.n_inputs))
    assert np.array_equal(run_layer(conv, X), conv.forward(X))
    pool = MaxPoolLayer((2, 3), np.array([1, -1] * 4 + [1]), shape=(9, 5, 6), pads=(1, 0, 0, 2), layout=layout)
    assert np.array_equal(run_layer(pool, X), pool.forward(X))
    # int32 and int64 patches: pixels up to 2^10 and 2^30, weights up to 300
    w = rng.integers(-300, 301, (3, 2, 2, 2)).astype(np.int16)
    for hi in (1 << 10, 1 << 30):
        layer = IntegerConvLayer(w, rng.integers(-hi, hi, (3, 4, 4)), shape=(2, 4, 4), pads=(1, 1, 0, 0),
                                 layout=layout)
        P = rng.integers(-hi, hi + 1, (8, layer.n_inputs))
        assert np.array_equal(run_layer(layer, P), layer.forward(P))
        net = BNN((layer,), ArgmaxLayer(rng.choice([-1, 1], (2, layer.n_outputs)).astype(np.int8), np.ones(2),
                                       np.zeros(2)), inputs=IntegerInputs.pixels(layer.n_inputs, -hi, hi))
        assert [semantics.classify(net, p) for p in P] == Evaluator(net, compiled=True).classify(P).tolist()


# --- the kernels of wide maps, the bit-sliced front, the oneDNN first layer -------------------------

def _classes(net, X):
    return [semantics.classify(net, x) for x in X]


@st.composite
def wide_conv_networks(draw):
    """conv / maxpool stacks over maps of 8 or 16 channels (the word kernels of HWC maps), both
    layouts, pads, strides, mixed pooling polarities (a negative batch-norm scale folded: an AND
    channel) and thresholds beyond both ends of the sums; arrays from a drawn seed."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layout = draw(st.sampled_from(["CHW", "HWC"]))
    C, H, W = draw(st.sampled_from([8, 16])), draw(st.integers(2, 4)), draw(st.integers(2, 4))
    cur = (C, H, W)
    layers = []
    for i in range(draw(st.integers(1, 3))):
        C, H, W = cur
        kh, kw = draw(st.integers(1, min(3, H))), draw(st.integers(1, min(3, W)))
        pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)), draw(st.integers(0, kh - 1)),
                draw(st.integers(0, kw - 1)))
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        if draw(st.booleans()):
            O = draw(st.sampled_from([1, 3, 8, 16]))
            K = C * kh * kw
            w = rng.choice(np.array([-1, 1], np.int8), (O, C, kh, kw))
            t = rng.integers(-K - 2, K + 3, O)
            layer = ConvLayer(w, t, shape=cur, stride=stride, pads=pads, layout=layout, name=f"layer{i}")
        else:
            pol = rng.choice(np.array([-1, 1], np.int8), C)
            layer = MaxPoolLayer((kh, kw), pol, shape=cur, stride=stride, pads=pads, layout=layout, name=f"layer{i}")
        layers.append(layer)
        cur = layer.out_shape
    m = layers[-1].n_outputs
    k = draw(st.integers(1, 3))
    out = ArgmaxLayer(rng.choice(np.array([-1, 1], np.int8), (k, m)), rng.uniform(0.5, 2, k), rng.normal(0, 2, k))
    return BNN(tuple(layers), out)


@SETTINGS
@given(wide_conv_networks(), st.sampled_from([1, 5, 64, 130]), st.integers(0, 2**32 - 1))
def test_wide_maps_and_the_bit_sliced_front(net, N, seed):
    """Every kernel of a wide map (channels per word, slots from channel words), and batches of 64
    and more (64 images per word, a last word part full), against the numpy rules and the semantics."""
    from bnnverify.evaluation.convkernels import build_front, run_layer

    X = np.random.default_rng(seed).integers(0, 2, (N, net.n_inputs)).astype(np.uint8)
    X[0] = 1
    if N > 1:
        X[1] = 0
    v = X
    for h in net.hidden:
        assert np.array_equal(run_layer(h, v), h.forward(v)), h.kind
        v = h.forward(v)
    front = build_front(net.hidden, net.output)
    if front.sliced is not None:
        assert np.array_equal(front.sliced_bits(X), v)
    want = Evaluator(net, compiled=False).classify(X)
    assert Evaluator(net, compiled=True).classify(X).tolist() == want.tolist()
    picks = X[: min(N, 6)]
    assert want[: len(picks)].tolist() == _classes(net, picks)


@st.composite
def pixel_conv_layers(draw):
    """An ``integer-conv`` layer over a small image with its pixel range: pads (asymmetric too),
    strides, both layouts, integer kernels with negative entries."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    C, H, W = draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6))
    kh, kw = draw(st.integers(1, min(3, H))), draw(st.integers(1, min(3, W)))
    pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)), draw(st.integers(0, kh - 1)),
            draw(st.integers(0, kw - 1)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    O = draw(st.sampled_from([1, 2, 8, 16]))
    wmax = draw(st.sampled_from([1, 3, 300]))
    w = rng.integers(-wmax, wmax + 1, (O, C, kh, kw)).astype(np.int16)
    lo = draw(st.sampled_from([0, -5, -255]))
    hi = draw(st.sampled_from([1, 16, 255]))
    layout = draw(st.sampled_from(["CHW", "HWC"]))
    Ho = (H + pads[0] + pads[2] - kh) // stride[0] + 1
    Wo = (W + pads[1] + pads[3] - kw) // stride[1] + 1
    span = int(np.abs(w.astype(np.int64)).sum(axis=(1, 2, 3)).max()) * max(abs(lo), abs(hi)) + 2
    t = rng.integers(-span, span + 1, (O, Ho, Wo))
    layer = IntegerConvLayer(w, t, shape=(C, H, W), stride=stride, pads=pads, layout=layout, name="layer0")
    return layer, lo, hi


@SETTINGS
@given(pixel_conv_layers(), st.sampled_from([0, 1, 10, 40]), st.integers(0, 2**32 - 1))
def test_the_onednn_first_layer_is_the_integer_rule(case, extra, seed):
    """An ``integer-conv`` through oneDNN (float32, exact below 2^24) gives the numpy rule's bits,
    the exact kernels' and the semantics' classes, on random pixels and on images at the range bounds,
    in batches of several sizes (oneDNN's kernels differ by batch size: torch 2.13 returned wrong sums
    from batch 12 on for one-channel inputs with degenerate strides, which this test found)."""
    from bnnverify.evaluation.convkernels import plan_layer

    layer, lo, hi = case
    rng = np.random.default_rng(seed)
    n = layer.n_inputs
    X = np.concatenate([np.full((1, n), lo), np.full((1, n), hi), rng.choice([lo, hi], (2, n)),
                        rng.integers(lo, hi + 1, (extra, n))])
    vmax = max(abs(lo), abs(hi))
    plan = plan_layer(layer, vmax)
    bound = vmax * int(np.abs(layer.weights).sum(axis=(1, 2, 3)).max())
    assert (plan.float_conv is not None) == (bound < 1 << 24)  # every case here is below the bound
    assert np.array_equal(plan.run(X), layer.forward(X))
    rest = [MaxPoolLayer((1, 1), np.ones(layer.out_channels, np.int8), shape=layer.out_shape, layout=layer.layout,
                         name="layer1")]
    net = BNN((layer, *rest), ArgmaxLayer(rng.choice(np.array([-1, 1], np.int8), (3, rest[-1].n_outputs)),
                                          np.ones(3), rng.normal(0, 1, 3)), inputs=IntegerInputs.pixels(n, lo, hi))
    got = Evaluator(net, compiled=True).classify(X)
    assert got.tolist() == Evaluator(net, compiled=False).classify(X).tolist() == _classes(net, X)
    assert np.array_equal(plan.run(X[:1]), layer.forward(X[:1]))


def test_the_onednn_path_is_refused_beyond_the_float32_bound_and_in_reduced_precision():
    """Sums that may reach 2^24 keep the exact integer kernel; so does torch set to a reduced-precision
    float32 mode (checked at every call), and the answers stay the integer rule's."""
    import torch

    from bnnverify.evaluation.convkernels import FLOAT32_EXACT, plan_layer

    rng = np.random.default_rng(5)
    w = rng.choice(np.array([-1, 1], np.int16), (4, 3, 3, 3))
    layer = IntegerConvLayer(w, rng.integers(-5000, 5000, (4, 6, 6)), shape=(3, 6, 6), pads=(1, 1, 1, 1),
                             layout="HWC")
    big = (FLOAT32_EXACT - 1) // 27  # 27 taps of weight ±1: every partial sum below 2^24
    assert plan_layer(layer, big).float_conv is not None
    assert plan_layer(layer, big + 1).float_conv is None  # 27 * (big + 1) >= 2^24
    X = rng.integers(0, 256, (6, layer.n_inputs))
    plan = plan_layer(layer, 255)
    want = layer.forward(X)
    old = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        from bnnverify.evaluation.convkernels import _torch_strict

        assert not _torch_strict()
        assert np.array_equal(plan.run(X), want)  # the integer kernel
    finally:
        torch.set_float32_matmul_precision(old)
    assert np.array_equal(plan.run(X), want)


def test_a_wide_integer_first_layer_network_end_to_end():
    """An image network in the larq pattern (HWC, 16 and 32 channels: every word kernel, the oneDNN
    first layer, blocks of images) against the numpy rules, and a few images against the semantics."""
    rng = np.random.default_rng(11)
    first = IntegerConvLayer(rng.choice(np.array([-1, 1], np.int16), (16, 3, 3, 3)),
                             rng.integers(-300, 300, (16, 10, 10)), shape=(3, 10, 10), pads=(1, 1, 1, 1),
                             layout="HWC", name="layer0")
    pool = MaxPoolLayer((2, 2), rng.choice(np.array([-1, 1], np.int8), 16), shape=(16, 10, 10), layout="HWC",
                        name="layer1")
    conv = ConvLayer(rng.choice(np.array([-1, 1], np.int8), (32, 16, 3, 3)), rng.integers(-40, 40, 32),
                     shape=(16, 5, 5), pads=(1, 1, 1, 1), layout="HWC", name="layer2")
    pool2 = MaxPoolLayer((2, 2), rng.choice(np.array([-1, 1], np.int8), 32), shape=(32, 5, 5), pads=(0, 0, 1, 1),
                         layout="HWC", name="layer3")
    out = ArgmaxLayer(rng.choice(np.array([-1, 1], np.int8), (5, pool2.n_outputs)), rng.uniform(0.5, 2, 5),
                      rng.normal(0, 3, 5))
    net = BNN((first, pool, conv, pool2), out, inputs=IntegerInputs.pixels(first.n_inputs, 0, 255))
    X = rng.integers(0, 256, (300, net.n_inputs))
    X[0], X[1] = 0, 255
    ev = Evaluator(net, compiled=True)
    assert ev._conv_kernels(len(X)).plans[0].float_conv is not None
    got = ev.classify(X)
    assert got.tolist() == Evaluator(net, compiled=False).classify(X).tolist()
    assert got[:4].tolist() == _classes(net, X[:4])
    assert ev.classify(X[:1]).tolist() == got[:1].tolist()
    with pytest.raises(Exception):
        ev.classify(np.full((1, net.n_inputs), 256))  # out of range: the full check names it


@SETTINGS
@given(wide_conv_networks(), st.sampled_from([1, 70]), st.integers(0, 2**32 - 1))
def test_a_quantize_front_stays_in_the_compiled_pass(net, N, seed):
    """Pixels through ``quantize`` (a cut per pixel, at the range bounds too) then conv kinds: one
    compiled pass (bit-sliced after the quantize layer at 64 images and more), the numpy rules' and
    the semantics' classes."""
    from bnnverify.encoders.layers import QuantizeLayer

    rng = np.random.default_rng(seed)
    n = net.n_inputs
    cuts = rng.integers(0, 18, (n, 1))  # 0: always 1, 17: always 0 over 0..16
    pix = BNN((QuantizeLayer(cuts, name="layer0"),
               *[type(h).from_arrays(h.arrays(), f"layer{i + 1}") for i, h in enumerate(net.hidden)]), net.output,
              inputs=IntegerInputs.pixels(n, 0, 16))
    X = rng.integers(0, 17, (N, n))
    X[0] = 16
    ev = Evaluator(pix, compiled=True)
    got = ev.classify(X)
    front = ev._conv_kernels(N)
    assert front is not None and front.plans[0].kernel == "quantize_bits"
    assert got.tolist() == Evaluator(pix, compiled=False).classify(X).tolist()
    assert got[:4].tolist() == _classes(pix, X[:4])


@pytest.mark.parametrize("layout", ["CHW", "HWC"])
@pytest.mark.parametrize("N", [1, 11, 12, 16, 40])
def test_one_channel_first_layers_in_batches_of_every_size(layout, N):
    """The example hypothesis found: one input channel, a stride of 2 and an asymmetric pad, where
    torch 2.13 returned wrong sums from batch 12 on when the input was given channels-last strides."""
    from bnnverify.evaluation.convkernels import plan_layer

    rng = np.random.default_rng(N)
    for shape, stride, pads, w in [((1, 3, 2), (1, 2), (0, 0, 0, 1), np.array([[[[1, -1]]]], np.int16)),
                                   ((1, 8, 8), (2, 1), (1, 0, 0, 1), rng.integers(-3, 4, (4, 1, 3, 2)).astype(np.int16)),
                                   ((1, 5, 7), (1, 1), (1, 1, 1, 1), rng.integers(-3, 4, (16, 1, 3, 3)).astype(np.int16))]:
        O = w.shape[0]
        Ho = (shape[1] + pads[0] + pads[2] - w.shape[2]) // stride[0] + 1
        Wo = (shape[2] + pads[1] + pads[3] - w.shape[3]) // stride[1] + 1
        layer = IntegerConvLayer(w, rng.integers(-20, 21, (O, Ho, Wo)), shape=shape, stride=stride, pads=pads,
                                 layout=layout)
        plan = plan_layer(layer, 16)
        assert plan.float_conv is not None
        X = rng.integers(0, 17, (N, layer.n_inputs))
        assert np.array_equal(plan.run(X), layer.forward(X))


@pytest.mark.parametrize("layout", ["CHW", "HWC"])
@pytest.mark.parametrize("C", [8, 32, 33, 64, 70])
def test_slots_of_every_width(layout, C):
    """Slots of 8 to 32 bits (the 32-bit kernel), of 64 bits and of two words (the 64-bit kernel),
    channels from words (HWC, C % 8 == 0) or one by one, against the numpy rule and the semantics."""
    from bnnverify.evaluation.convkernels import plan_layer

    rng = np.random.default_rng(C)
    K = C * 2 * 3
    conv = ConvLayer(rng.choice(np.array([-1, 1], np.int8), (5, C, 2, 3)), rng.integers(-K // 4, K // 4, 5),
                     shape=(C, 3, 4), stride=(1, 2), pads=(1, 1, 0, 2), layout=layout)
    plan = plan_layer(conv)
    assert plan.kernel == ("conv_bits32" if C <= 32 else "conv_bits")
    X = rng.integers(0, 2, (7, conv.n_inputs)).astype(np.uint8)
    X[0], X[1] = 0, 1
    want = conv.forward(X)
    assert np.array_equal(plan.run(X), want)
    assert [list(semantics.forward(BNN((conv,), ArgmaxLayer(np.ones((1, conv.n_outputs), np.int8), np.ones(1),
                                                            np.zeros(1))), x).codes[0]) for x in X[:3]] == \
        want[:3].tolist()


@pytest.mark.parametrize("pol", [[1, 1], [1, -1], [-1, -1]])
def test_a_pooling_of_a_one_position_chw_map(pol):
    """Found by hypothesis: a CHW map of one position has its channels at stride 1, but the pooled
    map (two positions, pads above and below) does not; the channel-contiguous kernels must not take it."""
    from bnnverify.evaluation.convkernels import run_layer

    layer = MaxPoolLayer((2, 1), np.array(pol, np.int8), shape=(2, 1, 1), stride=(1, 1), pads=(1, 0, 1, 0),
                         layout="CHW")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.uint8)
    assert np.array_equal(run_layer(layer, X), layer.forward(X))
    net = BNN((layer,), ArgmaxLayer(np.array([[1, -1, 1, 1], [-1, 1, 1, -1]], np.int8), np.ones(2), np.zeros(2)))
    assert Evaluator(net, compiled=True).classify(X).tolist() == _classes(net, X)
