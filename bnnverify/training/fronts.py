"""First layers over integer features (pixels) for :class:`~bnnverify.training.modules.BNNModule`.

``bnnverify train --input-layer`` chooses what the network's first layer reads:

* ``binary`` (the default, unchanged): 0/1 input bits as ±1.
* ``quantize``: a learned per-pixel quantizer. The module normalises each
  integer feature, ``v = p * scale + offset`` (for digits ``p / 16``), copies
  it ``K`` times and applies ``BatchNorm1d(F*K)`` and ``sign``: copy ``k`` of
  feature ``f`` is the bit ``sign(gamma (v - mu) / sqrt(var + eps) + beta)``
  (K = 1: one learned threshold per pixel; K > 1: a learned thermometer).
  The usual binary layers follow.
* ``integer``: the first hidden block's ±1 (binarised, any binarizer) weights
  read the normalised pixels ``v`` directly, then batch norm and sign.

**Exact meaning (eval mode and the export).** Every stored float is the
rational it denotes. A quantizer bit fires iff
``gamma (scale p + offset - mu) + beta sqrt(S) >= 0`` (``S = var + eps``),
i.e. the neuron of :mod:`bnnverify.model.folding` with integer "dot product"
``d = p``, slope ``alpha = scale`` and mean ``mu - offset``; an
``integer`` neuron with row scale ``a`` (1 unless the binarizer scales) and
±1 row ``W_j`` fires iff ``gamma (a scale d + a offset r_j - mu) + beta sqrt(S) >= 0``
with ``d = W_j . p`` and ``r_j = sum_f W_jf``: slope ``a * scale`` and mean
``mu - a offset r_j``. Both fold with :func:`~bnnverify.model.folding.fold_neuron`
(the one folding), the bound on ``|d|`` being ``max |p_f|`` (quantizer) or
``sum_f max |p_f|`` (integer).

**Float32 training arithmetic** computes ``v`` (exact for digits: ``p/16``
with ``p <= 16`` is a dyadic rational), the dot product (exact: ±1 times
dyadic values, sums far below 2^24 ulps) and then batch norm with rounding
(relative error ~6e-8 per operation). The float32 decision can therefore
differ from the exact rule only where the batch-norm output is within a few
float32 ulps of 0 — where a real threshold lies within ~1e-6 (relative) of
an integer ``p`` or ``d``. The export reports the smallest *margin*, the
distance of a real threshold to the nearest integer; a margin above that
means float32 and the exact rule agree on every input.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from torch import nn

from bnnverify.errors import ModelError, UsageError
from bnnverify.training.ste import binarize

__all__ = [
    "InputLayer",
    "FrontSpec",
    "QuantizerFront",
    "PixelFront",
    "QUANTIZER_BIAS_SPREAD",
    "MAX_QUANTIZER_LEVELS",
]

#: A K-threshold quantizer starts with batch-norm biases spread evenly over
#: [-QUANTIZER_BIAS_SPREAD, +QUANTIZER_BIAS_SPREAD] (batch standard deviations
#: around the mean), so its K thresholds start distinct (our choice; K = 1: bias 0).
QUANTIZER_BIAS_SPREAD = 1.0
#: At most this many thresholds per feature (a thermometer of digits' 17 levels has 16).
MAX_QUANTIZER_LEVELS = 64


class InputLayer(str, Enum):
    """What the first layer reads (``--input-layer``)."""

    BINARY = "binary"
    QUANTIZE = "quantize"
    INTEGER = "integer"


@dataclass(frozen=True)
class FrontSpec:
    """A first layer over ``n`` integer features in ``[lo, hi]`` (see the module docstring).

    ``scale``/``offset`` are the normalisation ``v = p * scale + offset`` the
    module trains on (float32 values; default: ``[lo, hi]`` onto ``[0, 1]``).
    ``levels`` is K, the quantizer's thresholds per feature (``quantize`` only).
    """

    kind: InputLayer
    n: int
    lo: int
    hi: int
    levels: int = 1
    scale: float | None = None
    offset: float | None = None
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        try:
            kind = InputLayer(getattr(self.kind, "value", self.kind))
        except ValueError:
            raise UsageError(f"input_layer: must be one of {', '.join(k.value for k in InputLayer)}, "
                             f"got {self.kind!r}", param="input_layer") from None
        if kind is InputLayer.BINARY:
            raise UsageError("input_layer: a binary first layer needs no FrontSpec", param="input_layer")
        object.__setattr__(self, "kind", kind)
        if self.n < 1 or self.lo > self.hi:
            raise ModelError(f"input features: need n >= 1 and lo <= hi, got n={self.n}, [{self.lo}, {self.hi}]")
        if not 1 <= int(self.levels) <= MAX_QUANTIZER_LEVELS:
            raise UsageError(f"levels: thresholds per feature must be in 1..{MAX_QUANTIZER_LEVELS}, "
                             f"got {self.levels}", param="levels")
        if kind is InputLayer.INTEGER and int(self.levels) != 1:
            raise UsageError("levels: only a quantize first layer has thresholds per feature", param="levels")
        span = max(self.hi - self.lo, 1)
        scale = float(np.float32(1.0 / span)) if self.scale is None else float(np.float32(self.scale))
        offset = float(np.float32(-self.lo * scale)) if self.offset is None else float(np.float32(self.offset))
        if not (np.isfinite(scale) and scale > 0 and np.isfinite(offset)):
            raise ModelError(f"input normalisation: scale must be finite and > 0, offset finite; got {scale}, {offset}")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "levels", int(self.levels))

    @property
    def n_bits(self) -> int:
        """Width of what the front hands to the next layer (F*K bits, or F features)."""
        return self.n * self.levels if self.kind is InputLayer.QUANTIZE else self.n


class PixelFront(nn.Module):
    """The input declaration and normalisation every integer-feature module holds (state-dict ``front.*``).

    Buffers: ``input_lo``, ``input_hi`` (int64, (F,)), ``input_scale``,
    ``input_offset`` (float32 scalars), ``levels`` (int64 scalar: K for a
    quantizer, 0 for an ``integer`` first layer), ``input_shape`` (int64, the
    image shape, empty if none).
    """

    def __init__(self, spec: FrontSpec) -> None:
        super().__init__()
        self.register_buffer("input_lo", torch.full((spec.n,), spec.lo, dtype=torch.int64))
        self.register_buffer("input_hi", torch.full((spec.n,), spec.hi, dtype=torch.int64))
        self.register_buffer("input_scale", torch.tensor(spec.scale, dtype=torch.float32))
        self.register_buffer("input_offset", torch.tensor(spec.offset, dtype=torch.float32))
        self.register_buffer("levels", torch.tensor(spec.levels if spec.kind is InputLayer.QUANTIZE else 0))
        self.register_buffer("input_shape", torch.tensor(spec.shape or (), dtype=torch.int64))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """float32 ``x * scale + offset`` (training mode)."""
        return x.to(torch.float32) * self.input_scale + self.input_offset

    def affine(self) -> tuple[float, float]:
        """The stored ``(scale, offset)`` as Python floats (float32 values, exact)."""
        return float(self.input_scale), float(self.input_offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalise(x)


class QuantizerFront(PixelFront):
    """``v -> sign(BN(v repeated K times))``: bit ``f*K + k`` of the module (before the export's sort)."""

    def __init__(self, spec: FrontSpec, ste: str = "ste") -> None:
        super().__init__(spec)
        K = spec.levels
        self.ste = ste
        self.bn = nn.BatchNorm1d(spec.n * K)
        if K > 1:
            with torch.no_grad():
                spread = QUANTIZER_BIAS_SPREAD * (1.0 - (2.0 * torch.arange(K, dtype=torch.float32) + 1.0) / K)
                self.bn.bias.copy_(spread.repeat(spec.n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.normalise(x).repeat_interleave(int(self.levels), dim=1)
        return binarize(self.bn(v), self.ste)

    def bn_params(self) -> tuple[np.ndarray, ...]:
        """float64 ``(gamma, mu, beta, var)`` per bit (the stored float32 values)."""
        bn = self.bn
        return tuple(t.detach().double().cpu().numpy() for t in (bn.weight, bn.running_mean, bn.bias, bn.running_var))
