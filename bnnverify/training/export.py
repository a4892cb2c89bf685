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

**First layers over integer features** (:mod:`bnnverify.training.fronts`),
through the same :func:`fold_neuron`:

* ``quantize``: bit q of feature f is the neuron with "dot product"
  ``d = p_f`` (bound ``max(|lo_f|, |hi_f|)``), slope ``gamma * scale`` and mean
  ``mu - offset``. Orientation +1: the bit is ``[p_f >= theta]``, ``C = theta``.
  Orientation −1 (negative gamma): the bit is ``[-p_f >= theta] = [p_f <= -theta]
  = NOT [p_f >= 1 - theta]``; the file stores ``C = 1 - theta`` and the NOT
  is moved into the next layer: since ``s(NOT b) = -s(b)``, negating that
  input column of the next ±1 layer (hidden or output) gives the same integer
  dot product on every input — exact, no threshold changes. The K thresholds
  of each feature are then sorted (a thermometer's rows are non-decreasing),
  the next layer's columns permuted alike. ``C`` is clipped to
  ``[lo_f, hi_f + 1]`` (no output changes). :class:`FrontMap` records the
  permutation and the negations: exported bit ``f*K + r`` is module bit
  ``perm[f*K + r]``, negated where ``negated[f*K + r]``.
* ``integer``: neuron j with ±1 row ``W_j`` (row scale ``a``) is the neuron
  with ``d = W_j . p`` (bound ``sum_f max(|lo_f|, |hi_f|)``), slope
  ``gamma * a * scale`` and mean ``mu - a * offset * sum_f W_jf``
  (:func:`~bnnverify.training.modules.neuron_fractions` with ``affine``);
  a negative slope negates the row. Written as ``integer-threshold`` (int16 W).

The network declares ``IntegerInputs(lo, hi, scale, offset, shape, layout)``
(``scale``/``offset`` recorded, never used by the exact rules).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dataclasses import dataclass

from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs, ThresholdLayer
from bnnverify.encoders.integer_layers import IntegerThresholdLayer, QuantizeLayer

from bnnverify.errors import ModelError
from bnnverify.model.folding import NeuronFractions, exact_fraction, fires_exactly, fold_neuron, nonneg_sqrt

from bnnverify.training.fronts import InputLayer
from bnnverify.training.modules import neuron_fractions, quantizer_fractions

if TYPE_CHECKING:  # pragma: no cover
    from bnnverify.training.modules import BNNModule

__all__ = [
    "NeuronFractions",
    "nonneg_sqrt",
    "fires_exactly",
    "neuron_fractions",
    "fold_neuron",
    "export_model",
    "export_report",
    "ExportReport",
    "FrontMap",
]


@dataclass(frozen=True)
class FrontMap:
    """How the exported quantizer's bits relate to the module's: bit i is module bit ``perm[i]``, NOT-ed if ``negated[i]``."""

    perm: np.ndarray
    negated: np.ndarray

    def apply(self, module_bits: np.ndarray) -> np.ndarray:
        """Module-order quantizer bits (N, F*K) -> the exported layer0 code."""
        return (np.asarray(module_bits)[:, self.perm] ^ self.negated[None, :].astype(np.uint8)).astype(np.uint8)


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_report` returns: the network, the smallest margin over all neurons,
    the smallest margin of the first layer over integer features (``inf`` without one), the quantizer's map."""

    net: BNN
    min_margin: float
    front_margin: float = math.inf
    front_map: FrontMap | None = None


def export_model(module: "BNNModule", metadata: dict[str, str] | None = None,
                 thermometer_levels: int | None = None) -> tuple[BNN, float]:
    """Fold a :class:`BNNModule` into a :class:`BNN` exactly; also return the smallest margin.

    The exported network agrees with ``module`` in eval mode on every input
    (hidden codes — for a quantizer up to :class:`FrontMap` — and class).
    """
    rep = export_report(module, metadata, thermometer_levels)
    return rep.net, rep.min_margin


def _fold_block(block, n: int, where: str, affine=None) -> tuple[np.ndarray, np.ndarray, list[float]]:
    w = block.linear.int_weights().astype(np.int64)
    theta = np.empty(w.shape[0], dtype=np.int64)
    margins = []
    for j in range(w.shape[0]):
        orient, th, margin = fold_neuron(neuron_fractions(block, j, where, affine=affine), n)
        if orient < 0:
            w[j] = -w[j]
        theta[j] = th
        margins.append(margin)
    return w, theta, margins


def _fold_quantizer(front) -> tuple[np.ndarray, FrontMap, list[float]]:
    """(C (F, K) sorted rows, the map, margins) of a quantizer front."""
    lo = front.input_lo.numpy().astype(np.int64)
    hi = front.input_hi.numpy().astype(np.int64)
    F, K = lo.shape[0], int(front.levels)
    C = np.empty(F * K, dtype=np.int64)
    neg = np.zeros(F * K, dtype=bool)
    margins = []
    for q in range(F * K):
        f = q // K
        bound = int(max(abs(lo[f]), abs(hi[f])))
        orient, th, margin = fold_neuron(quantizer_fractions(front, q, "layer0"), bound)
        if orient > 0:
            C[q] = th
        else:  # [-p >= th] = [p <= -th] = NOT [p >= 1 - th]
            C[q], neg[q] = 1 - th, True
        C[q] = min(max(int(C[q]), int(lo[f])), int(hi[f]) + 1)
        margins.append(margin)
    perm = np.concatenate([f * K + np.argsort(C[f * K:(f + 1) * K], kind="stable") for f in range(F)])
    return C[perm].reshape(F, K), FrontMap(perm, neg[perm]), margins


def export_report(module: "BNNModule", metadata: dict[str, str] | None = None,
                  thermometer_levels: int | None = None) -> ExportReport:
    """:func:`export_model` with the first layer's margin and the quantizer's :class:`FrontMap`."""
    spec = module.front_spec
    kind = module.input_layer
    hidden: list = []
    margins = [math.inf]
    front_margins = [math.inf]
    fmap = None
    blocks = list(module.hidden)
    if kind is InputLayer.QUANTIZE:
        C, fmap, fm = _fold_quantizer(module.front)
        hidden.append(QuantizeLayer(C, name="layer0"))
        front_margins += fm
    elif kind is InputLayer.INTEGER:
        lo, hi = module.front.input_lo.numpy(), module.front.input_hi.numpy()
        bound = int(np.maximum(np.abs(lo), np.abs(hi)).sum())
        w, theta, fm = _fold_block(blocks.pop(0), bound, "layer0", affine=module.front.affine())
        hidden.append(IntegerThresholdLayer(w.astype(np.int16), theta, name="layer0"))
        front_margins += fm
    offset = len(hidden)
    for i, block in enumerate(blocks):
        name = f"layer{i + offset}"
        w, theta, m = _fold_block(block, block.linear.weight.shape[1], name)
        margins += m
        hidden.append((w, theta, name))
    out_w = module.output.linear.int_weights().astype(np.int64)
    if fmap is not None:  # the next ±1 layer reads the sorted, NOT-ed bits
        if len(hidden) > 1:
            w, theta, name = hidden[1]
            hidden[1] = (np.where(fmap.negated[None, :], -w[:, fmap.perm], w[:, fmap.perm]), theta, name)
        else:
            out_w = np.where(fmap.negated[None, :], -out_w[:, fmap.perm], out_w[:, fmap.perm])
    layers = [h if not isinstance(h, tuple) else ThresholdLayer(h[0].astype(np.int8), h[1], name=h[2])
              for h in hidden]
    alpha, beta = module.output.affine()
    out = ArgmaxLayer(out_w.astype(np.int8), alpha, beta, name="output")
    inputs = None
    if spec is not None:
        F = spec.n
        scale, off = module.front.affine()
        shape = tuple(int(v) for v in module.front.input_shape.tolist()) or None
        inputs = IntegerInputs(module.front.input_lo.numpy().astype(np.int64),
                               module.front.input_hi.numpy().astype(np.int64),
                               np.full(F, scale), np.full(F, off), shape,
                               "HW" if shape is not None and len(shape) == 2 else None)
    meta = dict(metadata or {})
    if spec is not None:
        meta.setdefault("input_layer", kind.value)
        if kind is InputLayer.QUANTIZE:
            meta.setdefault("quantizer_levels", str(int(module.front.levels)))
    net = BNN(tuple(layers), out, thermometer_levels=thermometer_levels, metadata=meta, inputs=inputs)
    fmin = min(front_margins)
    return ExportReport(net, min(min(margins), fmin), fmin, fmap)
