"""What a network means: the rule of every layer kind, written once, plainly.

This module *is* the definition. It is deliberately naive — Python integers,
one input at a time, no packing, no tables — so that it can be read and
checked by eye. Every witness an engine reports is replayed here
(:mod:`bnnverify.engines.replay`); the fast evaluator
(:mod:`bnnverify.evaluation.evaluator`), every encoder and every engine are
tested against it (``tests/test_semantics.py``, ``tests/test_conformance.py``).
Speed does not matter here: a replay is one input.

Inputs are bit vectors; bit 1 stands for +1 and bit 0 for -1 (``s(b) = 2b - 1``).

* ``threshold`` (hidden): ``y_j = 1`` iff ``sum_i W[j][i] * s(x_i) >= theta_j``.
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
from typing import Any, Callable, Mapping, Sequence

from bnnverify.errors import DataError, ModelError

__all__ = [
    "Trace",
    "spins",
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


#: Hidden layer kinds: bits in, bits out.
RULES: Mapping[str, Callable[[Any, Sequence[int]], tuple[int, ...]]] = {
    "threshold": threshold_rule,
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
    """Run one input (a sequence of 0/1) through ``net``, layer by layer."""
    bits = tuple(int(b) for b in (x.tolist() if hasattr(x, "tolist") else x))
    if len(bits) != net.n_inputs:
        raise DataError(f"input has {len(bits)} bits, the network expects {net.n_inputs}")
    codes = []
    for layer in net.hidden:
        bits = _rule(RULES, layer)(layer, bits)
        codes.append(bits)
    scores = _rule(OUTPUT_RULES, net.output)(net.output, bits)
    return Trace(tuple(codes), scores, first_maximum(scores))


def classify(net: Any, x: Sequence[int]) -> int:
    """The class ``net`` gives to the one input ``x``."""
    return forward(net, x).label
