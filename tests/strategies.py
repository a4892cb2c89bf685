"""Hypothesis strategies shared by every test: random small networks and regions.

Networks cover the corners the semantics must get right: thresholds anywhere
(including unreachable ones, always-on and always-off neurons), output
scales of both signs and zero, and tied biases (so argmax ties happen).
"""

from __future__ import annotations

from math import comb

import numpy as np
from hypothesis import strategies as st

from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.encoders.regions import Cube, HammingBall, LinfBox, Whole


@st.composite
def pm1(draw, shape):
    bits = draw(st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.where(np.array(bits, dtype=bool).reshape(shape), 1, -1).astype(np.int8)


@st.composite
def threshold_layers(draw, n_in: int, n_out: int, name: str = "layer"):
    w = draw(pm1((n_out, n_in)))
    # anywhere in [-n-2, n+2]: includes always-on/off neurons; parity both ways
    t = draw(st.lists(st.integers(-n_in - 2, n_in + 2), min_size=n_out, max_size=n_out))
    return ThresholdLayer(w, np.array(t, dtype=np.int64), name=name)


_scales = st.sampled_from([1.0, -1.0, 0.5, 2.0, 0.0, 1e-3, 3.0, -0.25])
_biases = st.sampled_from([0.0, 0.0, 1.0, -1.0, 0.5, 2.0, -0.5, 1e-9])


@st.composite
def argmax_layers(draw, n_in: int, n_classes: int):
    w = draw(pm1((n_classes, n_in)))
    a = np.array(draw(st.lists(_scales, min_size=n_classes, max_size=n_classes)), dtype=np.float64)
    b = np.array(draw(st.lists(_biases, min_size=n_classes, max_size=n_classes)), dtype=np.float64)
    return ArgmaxLayer(w, a, b)


@st.composite
def networks(
    draw,
    n_inputs=st.integers(1, 12),
    n_hidden=st.integers(1, 3),
    width=st.integers(1, 10),
    n_classes=st.integers(2, 4),
    thermometer: int | None = None,
):
    """A random BNN. ``thermometer=L`` makes n a multiple of L and sets the levels."""
    n = draw(n_inputs)
    if thermometer is not None:
        n = max(1, n // thermometer) * thermometer
    widths = [n] + [draw(width) for _ in range(draw(n_hidden))]
    hidden = tuple(
        draw(threshold_layers(widths[i], widths[i + 1], name=f"layer{i}")) for i in range(len(widths) - 1)
    )
    out = draw(argmax_layers(widths[-1], draw(n_classes)))
    return BNN(hidden, out, thermometer_levels=thermometer)


def bit_vectors(n: int):
    return st.lists(st.integers(0, 1), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.uint8))


@st.composite
def regions(draw, net: BNN, kinds=("whole", "cube", "hamming", "hamming_mask", "linf")):
    """A random region over ``net``'s inputs (linf only if it has thermometer levels)."""
    n = net.n_inputs
    kinds = [k for k in kinds if k != "linf" or net.thermometer_levels]
    kind = draw(st.sampled_from(kinds))
    center = draw(bit_vectors(n))
    if kind == "whole":
        return Whole(n)
    if kind == "cube":
        free = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
        return Cube.from_free(center, free)
    if kind in ("hamming", "hamming_mask"):
        mask = None
        if kind == "hamming_mask":
            mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        return HammingBall(center, draw(st.integers(0, n)), mask)
    L = net.thermometer_levels
    levels = np.array(draw(st.lists(st.integers(0, L), min_size=n // L, max_size=n // L)))
    center = (np.arange(L)[None, :] < levels[:, None]).astype(np.uint8).reshape(-1)
    return LinfBox(center, draw(st.integers(0, L)), L)


def all_inputs(n: int) -> np.ndarray:
    """Every input of {0,1}^n as rows (bit i of row r = bit i of r)."""
    r = np.arange(1 << n, dtype=np.uint64)
    return ((r[:, None] >> np.arange(n, dtype=np.uint64)[None, :]) & np.uint64(1)).astype(np.uint8)


def plain_forward(net: BNN, X: np.ndarray):
    """A deliberately naive integer-matrix implementation of the semantics.

    Returns (list of hidden bit matrices, output dots, classes) — used to check
    the bit-packed evaluator, never by the library.
    """
    s = 2 * X.astype(np.int64) - 1
    codes = []
    for h in net.hidden:
        y = (s @ h.weights.astype(np.int64).T >= h.thresholds[None, :]).astype(np.uint8)
        codes.append(y)
        s = 2 * y.astype(np.int64) - 1
    dots = s @ net.output.weights.astype(np.int64).T
    classes = []
    for row in dots:
        scores = [float(net.output.scale[c]) * float(row[c]) + float(net.output.bias[c]) for c in range(len(row))]
        best = max(scores)
        classes.append(scores.index(best))  # first maximal index
    return codes, dots, np.array(classes, dtype=np.int64)


def hamming_size(m: int, k: int) -> int:
    return sum(comb(m, i) for i in range(min(k, m) + 1))


# --- nasty networks ---------------------------------------------------------------------------

#: Output scales that stress float64: zero, subnormal, tiny, huge (scores overflow to ±inf).
NASTY_SCALES = [0.0, 1.0, -1.0, 0.1, 3.0, 1e-300, -1e-300, 5e-324, 1e308, -1e308, 0.5]
#: Biases that tie only after rounding (0.1 + 0.2 == 0.30000000000000004 != 0.3), huge, tiny.
NASTY_BIASES = [0.0, 0.1, 0.2, 0.3, 0.1 + 0.2, 1e16, 1e16 + 2.0, -1e308, 1e-300, 2.0, -1.0]


@st.composite
def pm1_rows(draw, m: int, n: int) -> np.ndarray:
    """An (m, n) ±1 matrix whose rows are often copies or negations of each other."""
    rows = []
    for _ in range(m):
        if rows and draw(st.integers(0, 3)) == 0:
            r = rows[draw(st.integers(0, len(rows) - 1))]
            rows.append(r if draw(st.booleans()) else -r)
        else:
            bits = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            rows.append(np.where(np.array(bits, dtype=bool), 1, -1).astype(np.int8))
    return np.array(rows, dtype=np.int8).reshape(m, n)


@st.composite
def nasty_thresholds(draw, n_in: int, m: int) -> np.ndarray:
    """Thresholds inside, at and beyond ±n_in (both parities), sometimes all constant."""
    mode = draw(st.integers(0, 5))
    if mode == 0:  # the whole layer constant: every neuron always on or always off
        vals = [draw(st.sampled_from([-n_in, -n_in - 1, -n_in - 7, n_in + 1, n_in + 2, 10**9, -(10**9)]))
                for _ in range(m)]
    else:
        vals = [draw(st.one_of(st.integers(-n_in - 3, n_in + 3), st.sampled_from([-n_in, n_in, 0, 1, -1])))
                for _ in range(m)]
    return np.array(vals, dtype=np.int64)


@st.composite
def nasty_output(draw, n_in: int, c: int) -> ArgmaxLayer:
    w = draw(pm1_rows(c, n_in))
    scale = [draw(st.sampled_from(NASTY_SCALES)) for _ in range(c)]
    bias = [draw(st.sampled_from(NASTY_BIASES)) for _ in range(c)]
    for k in range(1, c):  # copy a whole earlier class sometimes: exact ties, lower index wins
        if draw(st.integers(0, 3)) == 0:
            j = draw(st.integers(0, k - 1))
            w[k], scale[k], bias[k] = w[j], scale[j], bias[j]
    return ArgmaxLayer(w, np.array(scale, dtype=np.float64), np.array(bias, dtype=np.float64))


@st.composite
def nasty_networks(draw, n_inputs=st.integers(1, 8), n_hidden=st.integers(0, 3), width=st.integers(1, 6),
                   n_classes=st.integers(1, 4), thermometer: int | None = None) -> BNN:
    n = draw(n_inputs)
    if thermometer is not None:
        n = max(1, n // thermometer) * thermometer
    widths = [n] + [draw(width) for _ in range(draw(n_hidden))]
    hidden = tuple(
        ThresholdLayer(draw(pm1_rows(widths[i + 1], widths[i])), draw(nasty_thresholds(widths[i], widths[i + 1])),
                       name=f"layer{i}")
        for i in range(len(widths) - 1)
    )
    return BNN(hidden, draw(nasty_output(widths[-1], draw(n_classes))), thermometer_levels=thermometer)


@st.composite
def nasty_regions(draw, n: int, levels: int | None = None):
    kinds = ["whole", "cube", "cube_none", "cube_all", "ball", "ball_0", "ball_n", "ball_mask", "ball_empty_mask"]
    if levels:
        kinds += ["linf", "linf_0", "linf_big"]
    kind = draw(st.sampled_from(kinds))
    c = draw(bit_vectors(n))
    if kind == "whole":
        return Whole(n)
    if kind == "cube":
        return Cube.from_free(c, draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n)))
    if kind == "cube_none":  # no free bit: a single point
        return Cube.from_free(c, [])
    if kind == "cube_all":  # every bit free: the whole space as a cube
        return Cube.from_free(c, list(range(n)))
    if kind == "ball":
        return HammingBall(c, draw(st.integers(0, n)))
    if kind == "ball_0":
        return HammingBall(c, 0)
    if kind == "ball_n":
        return HammingBall(c, n)
    if kind == "ball_mask":
        mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        return HammingBall(c, draw(st.integers(0, n)), mask)
    if kind == "ball_empty_mask":
        return HammingBall(c, draw(st.integers(0, n)), np.zeros(n, dtype=bool))
    L = levels
    lv = np.array(draw(st.lists(st.integers(0, L), min_size=n // L, max_size=n // L)))
    center = (np.arange(L)[None, :] < lv[:, None]).astype(np.uint8).reshape(-1)
    eps = {"linf": draw(st.integers(0, L)), "linf_0": 0, "linf_big": L + draw(st.integers(0, 3))}[kind]
    return LinfBox(center, eps, L)


@st.composite
def net_and_region(draw, **kw):
    L = draw(st.sampled_from([None, None, 1, 2, 3]))
    net = draw(nasty_networks(thermometer=L, **kw))
    return net, draw(nasty_regions(net.n_inputs, L))


# --- integer features (pixels) ---------------------------------------------------------

@st.composite
def integer_networks(draw, n_features=st.integers(1, 3), kind=st.sampled_from(["quantize", "integer-threshold"]),
                     max_value=st.integers(1, 12), n_hidden=st.integers(0, 2), width=st.integers(1, 4),
                     n_classes=st.integers(2, 3)):
    """A random network over integer features: a ``quantize`` or ``integer-threshold`` first layer
    (thresholds on, beside and outside the feature ranges; weights of every sign and 0), then
    threshold layers and an argmax layer."""
    from bnnverify.encoders.layers import IntegerInputs, IntegerThresholdLayer, QuantizeLayer

    F = draw(n_features)
    lo = np.array(draw(st.lists(st.integers(-3, 3), min_size=F, max_size=F)), dtype=np.int64)
    hi = lo + np.array(draw(st.lists(max_value, min_size=F, max_size=F)), dtype=np.int64)
    k = draw(kind)
    if k == "quantize":
        K = draw(st.integers(1, 3))
        rows = [sorted(draw(st.lists(st.integers(int(lo[f]) - 1, int(hi[f]) + 2), min_size=K, max_size=K)))
                for f in range(F)]
        first = QuantizeLayer(np.array(rows, dtype=np.int64), name="layer0")
    else:
        m = draw(width)
        W = np.array(draw(st.lists(st.integers(-2, 2), min_size=m * F, max_size=m * F)), dtype=np.int16).reshape(m, F)
        span = int(np.abs(W).sum(axis=1).max(initial=0) * max(abs(int(lo.min())), abs(int(hi.max()))) + 1)
        t = np.array(draw(st.lists(st.integers(-span, span), min_size=m, max_size=m)), dtype=np.int64)
        first = IntegerThresholdLayer(W, t, name="layer0")
    widths = [first.n_outputs] + [draw(width) for _ in range(draw(n_hidden))]
    hidden = (first,) + tuple(
        draw(threshold_layers(widths[i], widths[i + 1], name=f"layer{i + 1}")) for i in range(len(widths) - 1)
    )
    out = draw(argmax_layers(widths[-1], draw(n_classes)))
    return BNN(hidden, out, inputs=IntegerInputs(lo, hi))


@st.composite
def pixel_regions(draw, net: BNN, kinds=("box", "linf", "linf_mask", "l0")):
    """A random region over ``net``'s integer features: a box, an L∞ ball (with a mask), an L0 ball."""
    from bnnverify.encoders.pixel_regions import IntBox, L0Ball, l0_ball, linf_box

    lo, hi = net.inputs.lo, net.inputs.hi
    F = len(lo)
    center = np.array([draw(st.integers(int(a), int(b))) for a, b in zip(lo, hi)], dtype=np.int64)
    kind = draw(st.sampled_from(kinds))
    if kind == "box":
        a = np.array([draw(st.integers(int(x), int(c))) for x, c in zip(lo, center)], dtype=np.int64)
        b = np.array([draw(st.integers(int(c), int(y))) for c, y in zip(center, hi)], dtype=np.int64)
        return IntBox(a, b)
    eps = draw(st.integers(0, 4))
    mask = None
    if kind == "linf_mask":
        mask = np.array(draw(st.lists(st.booleans(), min_size=F, max_size=F)), dtype=bool)
    if kind in ("linf", "linf_mask"):
        return linf_box(center, eps, lo, hi, mask)
    k = draw(st.integers(0, F))
    if draw(st.booleans()):
        return l0_ball(center, k, lo, hi, eps=eps)
    return L0Ball(center, k, lo, hi)


@st.composite
def lowered_cases(draw, two: bool = False, modes=("pixels", "cuts")):
    """An integer network (or two), a pixel region, and their order encoding (a bit network with a
    ``linear`` first layer over a LevelBox / LevelL0): what every bit engine is handed."""
    from bnnverify.encoders.order import lower

    kind = draw(st.sampled_from(["quantize", "integer-threshold"] + ([] if two else ["integer-conv"])))
    if kind == "integer-conv":
        net = draw(integer_conv_networks())
        region = draw(pixel_regions(net))
        return [net], region, lower([net], region, "pixels")
    net = draw(integer_networks(kind=st.just(kind)))
    other = None
    if two:
        other = draw(integer_networks(n_features=st.just(net.n_inputs), kind=st.just(kind)))
        other = BNN(other.hidden, other.output, inputs=net.inputs)
    region = draw(pixel_regions(net))
    nets = [net] if other is None else [net, other]
    mode = draw(st.sampled_from([m for m in modes if m == "pixels" or kind == "quantize"]))
    return nets, region, lower(nets, region, mode)


# --- convolutional networks ------------------------------------------------------------

@st.composite
def conv_stacks(draw, max_inputs: int = 7, shape=None, layout=None):
    """Random ``conv`` / ``maxpool`` layers over a small map of bits (stride, pads, both layouts,
    both pooling polarities), as a tuple of hidden layers and the map's (C, H, W) and layout."""
    from bnnverify.encoders.conv_layers import LAYOUTS, ConvLayer, MaxPoolLayer

    if shape is None:
        C = draw(st.integers(1, 2))
        H = draw(st.integers(1, 3))
        W = draw(st.integers(1, max(1, max_inputs // (C * H))))
        shape = (C, H, W)
    layout = layout or draw(st.sampled_from(LAYOUTS))
    layers = []
    cur = tuple(shape)
    for _ in range(draw(st.integers(1, 2))):
        C, H, W = cur
        kh, kw = draw(st.integers(1, H + 1)), draw(st.integers(1, W + 1))
        pads = [draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
                draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))]
        while kh > H + pads[0] + pads[2]:
            pads[2] += 1
        while kw > W + pads[1] + pads[3]:
            pads[3] += 1
        if max(pads[0], pads[2]) >= kh or max(pads[1], pads[3]) >= kw:
            kh, kw, pads = 1, 1, [0, 0, 0, 0]
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        name = f"layer{len(layers)}"
        if draw(st.booleans()):
            O = draw(st.integers(1, 3))
            w = draw(pm1((O, C * kh * kw))).reshape(O, C, kh, kw)
            K = C * kh * kw
            t = np.array(draw(st.lists(st.integers(-K - 1, K + 1), min_size=O, max_size=O)), dtype=np.int64)
            layer = ConvLayer(w, t, shape=cur, stride=stride, pads=pads, layout=layout, name=name)
        else:
            pol = np.array(draw(st.lists(st.sampled_from([1, -1]), min_size=C, max_size=C)), dtype=np.int8)
            layer = MaxPoolLayer((kh, kw), pol, shape=cur, stride=stride, pads=pads, layout=layout, name=name)
        layers.append(layer)
        cur = layer.out_shape
        if layer.n_outputs > 3 * max_inputs:
            break
    return tuple(layers), tuple(shape), layout


@st.composite
def conv_networks(draw, max_inputs: int = 7, n_classes=st.integers(1, 3)):
    """A random convolutional BNN over bits: conv / maxpool layers, maybe a threshold layer, argmax."""
    layers, _, _ = draw(conv_stacks(max_inputs))
    layers = list(layers)
    if draw(st.booleans()):
        layers.append(draw(threshold_layers(layers[-1].n_outputs, draw(st.integers(1, 4)), name=f"layer{len(layers)}")))
    out = draw(argmax_layers(layers[-1].n_outputs, draw(n_classes)))
    return BNN(tuple(layers), out)


@st.composite
def integer_conv_networks(draw, n_classes=st.integers(2, 3)):
    """A random network over integer features whose first layer is ``integer-conv`` (then maybe a
    ``conv`` / ``maxpool`` stack), as the ONNX importer writes for a first convolution over pixels."""
    from bnnverify.encoders.conv_layers import LAYOUTS, IntegerConvLayer
    from bnnverify.encoders.layers import IntegerInputs

    C, H, W = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    F = C * H * W
    lo = np.array(draw(st.lists(st.integers(-2, 2), min_size=F, max_size=F)), dtype=np.int64)
    hi = lo + np.array(draw(st.lists(st.integers(0, 3), min_size=F, max_size=F)), dtype=np.int64)
    layout = draw(st.sampled_from(LAYOUTS))
    kh, kw = draw(st.integers(1, H)), draw(st.integers(1, W))
    pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)), draw(st.integers(0, kh - 1)),
            draw(st.integers(0, kw - 1)))
    O = draw(st.integers(1, 2))
    w = np.array(draw(st.lists(st.integers(-2, 2), min_size=O * C * kh * kw, max_size=O * C * kh * kw)),
                 dtype=np.int16).reshape(O, C, kh, kw)
    Ho, Wo = H + pads[0] + pads[2] - kh + 1, W + pads[1] + pads[3] - kw + 1
    span = int(np.abs(w).sum() * 5 + 1)
    t = np.array(draw(st.lists(st.integers(-span, span), min_size=O * Ho * Wo, max_size=O * Ho * Wo)),
                 dtype=np.int64).reshape(O, Ho, Wo)
    first = IntegerConvLayer(w, t, shape=(C, H, W), pads=pads, layout=layout, name="layer0")
    layers = [first]
    if draw(st.booleans()):
        rest, _, _ = draw(conv_stacks(shape=first.out_shape, layout=layout))
        layers += [type(l).from_arrays(l.arrays(), f"layer{i + 1}") for i, l in enumerate(rest)]
    out = draw(argmax_layers(layers[-1].n_outputs, draw(n_classes)))
    return BNN(tuple(layers), out, inputs=IntegerInputs(lo, hi))
