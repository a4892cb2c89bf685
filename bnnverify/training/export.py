"""Exact export of a trained :class:`~bnnverify.training.modules.BNNModule` to a :class:`BNN`.

Hidden neuron j of a block with ±1 weights ``W_j``, scale ``alpha_j > 0``
(1 without scaling) and batch norm ``(gamma, beta, mu, var, eps)`` fires iff

    gamma (alpha d - mu) / sqrt(var + eps) + beta >= 0,   d = W_j . s(x)

in exact real arithmetic on the stored float values (each float32/float64
value is the rational ``fractions.Fraction`` it denotes). Multiplying by the
positive ``sqrt(S)``, ``S = var + eps``, this is ``A + B sqrt(S) >= 0`` with
``A = gamma (alpha d - mu)`` and ``B = beta`` — decided exactly by comparing
squares with signs (:func:`nonneg_sqrt`); no square root is ever rounded.

The predicate is monotone in ``d`` with slope ``c = gamma alpha``:

* ``c > 0``: the row is kept and ``theta`` is the smallest integer ``d`` in
  ``[-n-1, n+1]`` where the neuron fires (``n + 1`` if none: always off);
* ``c < 0``: the row is negated (``d' = -d``) and ``theta`` is the smallest
  ``e`` with the neuron firing at ``d = -e``: ``(-W) . s >= theta``;
* ``c = 0`` (zero BN scale, or zero alpha): a constant neuron — fires iff
  ``beta >= 0`` (tie rule), threshold ``-n-1`` (always on) or ``n+1`` (always off).

The smallest integer is found from a float guess that is verified exactly
(``pred(theta)`` and not ``pred(theta - 1)``), with exact bisection as the
fallback. The *margin* of a neuron is the distance from its real threshold
``t = (gamma mu - beta sqrt(S)) / |c|`` to the nearest integer (computed with
60 significant digits); the export reports the smallest margin over all
non-constant neurons whose ``t`` lies in ``[-n-1, n+1]`` (``inf`` if none).
A margin near 0 means a threshold that float arithmetic would be likely to
put on the wrong side; the exact fold does not care.

The output layer's ``alpha, beta`` come from :meth:`OutputBlock.affine` in
float64, unchanged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

from bnnverify.errors import ModelError
from bnnverify.model.folding import NeuronFractions, exact_fraction, fires_exactly, fold_neuron, nonneg_sqrt

from bnnverify.training.modules import neuron_fractions

if TYPE_CHECKING:  # pragma: no cover
    from bnnverify.training.modules import BNNModule

__all__ = [
    "NeuronFractions",
    "nonneg_sqrt",
    "fires_exactly",
    "neuron_fractions",
    "fold_neuron",
    "export_model",
]


def export_model(module: "BNNModule", metadata: dict[str, str] | None = None,
                 thermometer_levels: int | None = None) -> tuple[BNN, float]:
    """Fold a :class:`BNNModule` into a :class:`BNN` exactly; also return the smallest margin.

    The exported network agrees with ``module`` in eval mode on every input
    (hidden codes and class).
    """
    hidden = []
    margins = [math.inf]
    for i, block in enumerate(module.hidden):
        w = block.linear.int_weights()
        n = w.shape[1]
        theta = np.empty(w.shape[0], dtype=np.int64)
        for j in range(w.shape[0]):
            orient, th, margin = fold_neuron(neuron_fractions(block, j, f"layer{i}"), n)
            if orient < 0:
                w[j] = -w[j]
            theta[j] = th
            margins.append(margin)
        hidden.append(ThresholdLayer(w, theta, name=f"layer{i}"))
    alpha, beta = module.output.affine()
    out = ArgmaxLayer(module.output.linear.int_weights(), alpha, beta, name="output")
    net = BNN(tuple(hidden), out, thermometer_levels=thermometer_levels, metadata=dict(metadata or {}))
    return net, min(margins)
