"""What a network means: the rule of every layer kind, written once, plainly.

This module *is* the definition. It is deliberately naive — Python integers,
one input at a time, no packing, no tables — so that it can be read and
checked by eye. Every witness an engine reports is replayed here
(:mod:`bnnverify.engines.replay`); the fast evaluator
(:mod:`bnnverify.evaluation.evaluator`), every encoder and every engine are
tested against it (``tests/test_semantics.py``, ``tests/test_conformance.py``).
Speed does not matter here: a replay is one input.

Inputs are bit vectors; bit 1 stands for +1 and bit 0 for -1 (``s(b) = 2b - 1``),
or — for a network that declares ``inputs`` — integer features ``p_f`` in
``[lo_f, hi_f]`` (pixels), which only the first layer reads.

* ``threshold`` (hidden): ``y_j = 1`` iff ``sum_i W[j][i] * s(x_i) >= theta_j``.
* ``linear`` (hidden, over bits *as 0/1*): ``y_j = 1`` iff ``sum_i C[j][i] * x_i >= b_j``.
* ``quantize`` (first layer, integers): bit ``f*K + k`` is ``1`` iff ``p_f >= C[f][k]``.
* ``integer-threshold`` (first layer, integers): ``y_j = 1`` iff ``sum_f W[j][f] * p_f >= theta_j``.
* ``conv`` (hidden, a map of spins ``C x H x W`` stored flat in ``layout``):
  ``y[o, r, q] = 1`` iff ``sum W[o][c][i][j] * s(x[c, r*sh - top + i, q*sw - left + j]) >= theta_o``,
  the sum over the window positions inside the map (a padded position adds 0).
* ``maxpool`` (hidden, bits): ``y[c, r, q]`` is the OR (polarity +1) or the AND
  (polarity -1) of the bits of channel c in the window (padded positions take no part).
* ``integer-conv`` (first layer, integers): ``y[o, r, q] = 1`` iff
  ``sum W[o][c][i][j] * p[c, .., ..] >= theta[o][r][q]`` over the window inside the map.
* ``argmax`` (output): ``score_c = alpha_c * (W[c] . s(x)) + beta_c`` in IEEE
  double arithmetic (Python floats: one rounded multiply, then one rounded
  add — no fused multiply-add), the class is the *smallest* index among the
  maximal scores.

A new layer kind adds its rule to :data:`RULES` (hidden: bits -> bits) or
:data:`OUTPUT_RULES` (output: bits -> scores), under the name it has in
``bnnverify.encoders.layers.LAYER_KINDS``.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
>>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
>>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net = BNN((h,), o)
>>> forward(net, [1, 0])
Trace(codes=((0, 1),), scores=(0.0, 0.0), label=0)
>>> [classify(net, x) for x in ([1, 1], [0, 1], [1, 0], [0, 0])]
[0, 1, 0, 0]
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping, Sequence

from bnnverify.errors import DataError, ModelError

__all__ = [
    "Trace",
    "TieRule",
    "misclassified",
    "spins",
    "features",
    "dot",
    "threshold_rule",
    "argmax_scores",
    "first_maximum",
    "RULES",
    "OUTPUT_RULES",
    "forward",
    "classify",
]


def spins(bits: Sequence[int]) -> list[int]:
    """Bits as spins: 1 -> +1, 0 -> -1 (any other value is not a bit)."""
    out = []
    for i, b in enumerate(bits):
        b = int(b)
        if b not in (0, 1):
            raise DataError(f"input bit {i} is {b}, not 0 or 1")
        out.append(2 * b - 1)
    return out


def features(net: Any, p: Sequence[int]) -> tuple[int, ...]:
    """Integer features checked against the network's declared ranges ``[lo_f, hi_f]``."""
    lo, hi = net.inputs.lo.tolist(), net.inputs.hi.tolist()
    out = []
    for f, v in enumerate(p):
        if isinstance(v, float) and v != int(v):
            raise DataError(f"input feature {f} is {v}, not an integer")
        v = int(v)
        if not lo[f] <= v <= hi[f]:
            raise DataError(f"input feature {f} is {v}, outside its range [{lo[f]}, {hi[f]}]")
        out.append(v)
    return tuple(out)


def dot(row: Sequence[int], s: Sequence[int]) -> int:
    """The integer dot product of a weight row with a spin vector."""
    return sum(int(w) * v for w, v in zip(row, s, strict=True))


def threshold_rule(layer: Any, bits: Sequence[int]) -> tuple[int, ...]:
    """``threshold``: neuron j fires (bit 1) iff ``W[j] . s(x) >= theta_j``."""
    s = spins(bits)
    return tuple(
        1 if dot(row, s) >= int(theta) else 0
        for row, theta in zip(layer.weights.tolist(), layer.thresholds.tolist(), strict=True)
    )


def linear_rule(layer: Any, bits: Sequence[int]) -> tuple[int, ...]:
    """``linear``: neuron j fires iff ``C[j] . x >= b_j`` with the bits as 0/1 (not spins).

    A layer kept by rows (``encoders/sparse_linear.py``) lists row j's inputs ``index[j]`` and their
    coefficients ``coef[j]``; index n (the number of inputs) is no input.
    """
    spins(bits)  # validates: bits only
    x = [int(b) for b in bits]
    if hasattr(layer, "index"):
        xp = x + [0]  # the padding index reads nothing
        return tuple(
            1 if sum(int(c) * xp[i] for i, c in zip(ix, cf)) >= int(b) else 0
            for ix, cf, b in zip(layer.index.tolist(), layer.coef.tolist(), layer.bounds.tolist(), strict=True)
        )
    return tuple(
        1 if dot(row, x) >= int(b) else 0
        for row, b in zip(layer.coefficients.tolist(), layer.bounds.tolist(), strict=True)
    )


def quantize_rule(layer: Any, p: Sequence[int]) -> tuple[int, ...]:
    """``quantize``: bit ``f*K + k`` fires iff ``p_f >= C[f][k]`` (feature-major order)."""
    return tuple(
        1 if int(v) >= int(c) else 0
        for v, row in zip(p, layer.thresholds.tolist(), strict=True)
        for c in row
    )


def integer_threshold_rule(layer: Any, p: Sequence[int]) -> tuple[int, ...]:
    """``integer-threshold``: neuron j fires iff ``W[j] . p >= theta_j`` over the integer features."""
    return tuple(
        1 if dot(row, p) >= int(theta) else 0
        for row, theta in zip(layer.weights.tolist(), layer.thresholds.tolist(), strict=True)
    )


def _flat(layout: str, C: int, H: int, W: int, c: int, h: int, w: int) -> int:
    """Index of feature (c, h, w) of a C x H x W map stored flat: CHW (channels first) or HWC."""
    return (c * H + h) * W + w if layout == "CHW" else (h * W + w) * C + c


def _windows(layer: Any, channels: int):
    """Per output neuron (in output order): (channel o, the (c, input index, i, j) it reads)."""
    C, H, W = (int(v) for v in layer.shape)
    kh, kw = (int(v) for v in layer.geometry.kernel)
    sh, sw = (int(v) for v in layer.stride)
    top, left, bottom, right = (int(v) for v in layer.pads)
    Ho = (H + top + bottom - kh) // sh + 1
    Wo = (W + left + right - kw) // sw + 1
    out: dict[int, tuple[int, int, int, list[tuple[int, int, int, int]]]] = {}
    for o in range(channels):
        for r in range(Ho):
            for q in range(Wo):
                reads = []
                for c in ([o] if layer.kind == "maxpool" else range(C)):
                    for i in range(kh):
                        for j in range(kw):
                            h, w = r * sh - top + i, q * sw - left + j
                            if 0 <= h < H and 0 <= w < W:
                                reads.append((c, _flat(layer.layout, C, H, W, c, h, w), i, j))
                out[_flat(layer.layout, channels, Ho, Wo, o, r, q)] = (o, r, q, reads)
    return [out[k] for k in range(len(out))]


def conv_rule(layer: Any, bits: Sequence[int]) -> tuple[int, ...]:
    """``conv``: a ±1 kernel over the spins of each window (padded positions add nothing)."""
    s = spins(bits)
    W, theta = layer.weights.tolist(), layer.thresholds.tolist()
    return tuple(
        1 if sum(int(W[o][c][i][j]) * s[k] for c, k, i, j in reads) >= int(theta[o]) else 0
        for o, _, _, reads in _windows(layer, len(W))
    )


def maxpool_rule(layer: Any, bits: Sequence[int]) -> tuple[int, ...]:
    """``maxpool``: the max (OR, polarity +1) or min (AND, polarity -1) of the spins of each window."""
    s = spins(bits)
    pol = layer.polarity.tolist()
    out = []
    for o, _, _, reads in _windows(layer, len(pol)):
        vals = [s[k] for _, k, _, _ in reads]
        v = max(vals) if int(pol[o]) == 1 else min(vals)
        out.append(1 if v == 1 else 0)
    return tuple(out)


def integer_conv_rule(layer: Any, p: Sequence[int]) -> tuple[int, ...]:
    """``integer-conv``: an integer kernel over the features of each window, one threshold per neuron."""
    W, theta = layer.weights.tolist(), layer.thresholds.tolist()
    return tuple(
        1 if sum(int(W[o][c][i][j]) * int(p[k]) for c, k, i, j in reads) >= int(theta[o][r][q]) else 0
        for o, r, q, reads in _windows(layer, len(W))
    )


def argmax_scores(layer: Any, bits: Sequence[int]) -> tuple[float, ...]:
    """``argmax``: ``alpha_c * (W[c] . s(x)) + beta_c`` per class, in IEEE doubles."""
    s = spins(bits)
    return tuple(
        float(alpha) * float(dot(row, s)) + float(beta)
        for row, alpha, beta in zip(layer.weights.tolist(), layer.scale.tolist(), layer.bias.tolist(), strict=True)
    )


def first_maximum(scores: Sequence[float]) -> int:
    """The smallest index among the maximal scores (the tie rule of every output kind).

    >>> first_maximum([1.0, 3.0, 3.0, -2.0])
    1
    """
    best = 0
    for c in range(1, len(scores)):
        if scores[c] > scores[best]:
            best = c
    return best


#: Hidden layer kinds: bits (or, for the first layer of a network over integers, features) in, bits out.
RULES: Mapping[str, Callable[[Any, Sequence[int]], tuple[int, ...]]] = {
    "threshold": threshold_rule,
    "linear": linear_rule,
    "quantize": quantize_rule,
    "integer-threshold": integer_threshold_rule,
    "conv": conv_rule,
    "maxpool": maxpool_rule,
    "integer-conv": integer_conv_rule,
}

#: Output layer kinds: bits in, one score per class out.
OUTPUT_RULES: Mapping[str, Callable[[Any, Sequence[int]], tuple[float, ...]]] = {
    "argmax": argmax_scores,
}


@dataclass(frozen=True)
class Trace:
    """One input through a network: the code of every hidden layer, the scores, the class."""

    codes: tuple[tuple[int, ...], ...]
    scores: tuple[float, ...]
    label: int


def _rule(table: Mapping[str, Callable], layer: Any) -> Callable:
    kind = getattr(layer, "kind", None)
    if kind not in table:
        raise ModelError(f"{getattr(layer, 'name', 'layer')}: the semantics has no rule for layer kind {kind!r}")
    return table[kind]


def forward(net: Any, x: Sequence[int]) -> Trace:
    """Run one input (0/1 bits, or integer features) through ``net``, layer by layer."""
    values = x.tolist() if hasattr(x, "tolist") else list(x)
    what = "features" if getattr(net, "inputs", None) is not None else "bits"
    if len(values) != net.n_inputs:
        raise DataError(f"input has {len(values)} {what}, the network expects {net.n_inputs}")
    bits = features(net, values) if what == "features" else tuple(int(b) for b in values)
    codes = []
    for layer in net.hidden:
        bits = _rule(RULES, layer)(layer, bits)
        codes.append(bits)
    scores = _rule(OUTPUT_RULES, net.output)(net.output, bits)
    return Trace(tuple(codes), scores, first_maximum(scores))


class TieRule(str, Enum):
    """When does an input count as misclassified against a reference class ``r``?

    * ``argmax`` — the network's own class differs from ``r`` (ties go to the
      smallest index, as :func:`first_maximum`);
    * ``adversarial`` — some other class scores at least as much as ``r``
      (``score_c >= score_r``: the rule of the published BNN benchmarks,
      where a tie is a successful attack);
    * ``strict`` — some other class scores strictly more (``score_c > score_r``).
    """

    ARGMAX = "argmax"
    ADVERSARIAL = "adversarial"
    STRICT = "strict"


def misclassified(scores: Sequence[float], reference: int, ties: "TieRule | str" = TieRule.ARGMAX) -> bool:
    """Whether ``scores`` misclassify against class ``reference`` under the tie rule.

    >>> misclassified([1.0, 1.0], 1), misclassified([1.0, 1.0], 1, "strict"), misclassified([1.0, 1.0], 0, "adversarial")
    (True, False, True)
    """
    rule = TieRule(ties)
    if rule is TieRule.ARGMAX:
        return first_maximum(scores) != reference
    r = scores[reference]
    others = [s for c, s in enumerate(scores) if c != reference]
    if rule is TieRule.ADVERSARIAL:
        return any(s >= r for s in others)
    return any(s > r for s in others)


def classify(net: Any, x: Sequence[int]) -> int:
    """The class ``net`` gives to the one input ``x``."""
    return forward(net, x).label
