"""Exact export of a trained :class:`~bnnverify.torch_modules.BNNModule` to a :class:`BNN`.

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
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

from .errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    from .torch_modules import BNNModule, HiddenBlock

__all__ = [
    "NeuronFractions",
    "nonneg_sqrt",
    "fires_exactly",
    "neuron_fractions",
    "fold_neuron",
    "export_model",
]

#: Significant digits used to compute margins (reporting only, never decisions).
MARGIN_DIGITS = 60


def nonneg_sqrt(A: Fraction, B: Fraction, S: Fraction) -> bool:
    """Exactly whether ``A + B * sqrt(S) >= 0`` (``S > 0``), by comparing squares with signs.

    >>> from fractions import Fraction as F
    >>> nonneg_sqrt(F(-2), F(1), F(4)), nonneg_sqrt(F(-2), F(1), F(4) - F(1, 10**30))
    (True, False)
    """
    if B == 0:
        return A >= 0
    if B > 0:
        return True if A >= 0 else B * B * S >= A * A
    return False if A < 0 else A * A >= B * B * S


@dataclass(frozen=True)
class NeuronFractions:
    """The stored parameters of one hidden neuron as exact rationals; ``S = var + eps``."""

    gamma: Fraction
    alpha: Fraction
    mu: Fraction
    beta: Fraction
    S: Fraction

    @property
    def slope(self) -> Fraction:
        return self.gamma * self.alpha


def fires_exactly(p: NeuronFractions, d: int) -> bool:
    """Whether the neuron fires at integer dot product ``d``, in exact arithmetic."""
    return nonneg_sqrt(p.gamma * (p.alpha * d - p.mu), p.beta, p.S)


def _frac(x: float, what: str) -> Fraction:
    if not math.isfinite(x):
        raise ModelError(f"{what}: must be finite, got {x}")
    return Fraction(x)


def neuron_fractions(block: "HiddenBlock", j: int, where: str = "hidden block") -> NeuronFractions:
    """Exact rationals of neuron ``j``'s stored floats (float32 -> float64 is exact)."""
    g, a, mu, b, var = block.exact_params()
    eps = float(block.bn.eps)
    S = _frac(float(var[j]), f"{where} neuron {j} running_var") + _frac(eps, f"{where} eps")
    if S <= 0:
        raise ModelError(f"{where} neuron {j}: running_var + eps must be > 0, got {float(S)}")
    alpha = _frac(float(a[j]), f"{where} neuron {j} scale")
    if alpha < 0:
        raise ModelError(f"{where} neuron {j}: scale must be >= 0, got {float(alpha)}")
    return NeuronFractions(
        _frac(float(g[j]), f"{where} neuron {j} bn.weight"),
        alpha,
        _frac(float(mu[j]), f"{where} neuron {j} running_mean"),
        _frac(float(b[j]), f"{where} neuron {j} bn.bias"),
        S,
    )


def _decimal(q: Fraction, ctx: Context) -> Decimal:
    return ctx.divide(Decimal(q.numerator), Decimal(q.denominator))


def _real_threshold(p: NeuronFractions) -> Decimal:
    """``t = (gamma mu - beta sqrt(S)) / |gamma alpha|`` to MARGIN_DIGITS digits."""
    ctx = Context(prec=MARGIN_DIGITS)
    num = ctx.subtract(_decimal(p.gamma * p.mu, ctx), ctx.multiply(_decimal(p.beta, ctx), ctx.sqrt(_decimal(p.S, ctx))))
    return ctx.divide(num, _decimal(abs(p.slope), ctx))


def fold_neuron(p: NeuronFractions, n: int) -> tuple[int, int, float]:
    """``(orientation, theta, margin)`` of one neuron with ``n`` inputs.

    ``orientation`` is +1 (keep the row) or -1 (negate it); the neuron fires
    iff ``orientation * d >= theta``. ``margin`` is ``inf`` for constant neurons
    and for real thresholds outside ``[-n-1, n+1]``.

    >>> from fractions import Fraction as F
    >>> fold_neuron(NeuronFractions(F(-1), F(1), F(2), F(0), F(1)), 5)   # -(d - 2) >= 0 iff -d >= -2
    (-1, -2, 0.0)
    >>> fold_neuron(NeuronFractions(F(0), F(1), F(2), F(0), F(1)), 5)    # beta = 0: always on
    (1, -6, inf)
    """
    lo, hi = -n - 1, n + 1
    c = p.slope
    if c == 0:
        return 1, (lo if fires_exactly(p, 0) else hi), math.inf
    orient = 1 if c > 0 else -1

    def pred(e: int) -> bool:
        return fires_exactly(p, orient * e)

    def is_answer(e: int) -> bool:
        return (e == lo or not pred(e - 1)) and (e == hi or pred(e))

    try:
        guess = (float(p.gamma) * float(p.mu) - float(p.beta) * math.sqrt(float(p.S))) / abs(float(c))
        cand = min(max(math.ceil(guess), lo), hi) if math.isfinite(guess) else lo
    except (OverflowError, ValueError):
        cand = lo
    if is_answer(cand):
        theta = cand
    elif pred(lo):
        theta = lo
    elif not pred(hi):
        theta = hi
    else:  # pred(lo) false, pred(hi) true: smallest true in (lo, hi]
        a, b = lo, hi
        while b - a > 1:
            mid = (a + b) // 2
            if pred(mid):
                b = mid
            else:
                a = mid
        theta = b
    t = _real_threshold(p)
    if Decimal(lo) <= t <= Decimal(hi):
        margin = float(abs(t - t.to_integral_value()))
    else:
        margin = math.inf
    return orient, theta, margin


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
