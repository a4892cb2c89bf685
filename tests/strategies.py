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
