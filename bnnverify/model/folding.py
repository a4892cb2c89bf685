"""Exact folding of a batch-normalised neuron into an integer threshold.

One neuron over ``n`` ±1 inputs with integer dot product ``d`` fires iff

    gamma * (alpha * d - mu) + beta * sqrt(S) >= 0        (S = var + eps > 0)

with every stored float taken as the exact rational it denotes. The square
root is never evaluated: :func:`nonneg_sqrt` compares squares with signs.
:func:`fold_neuron` returns the orientation and the integer threshold that
make the neuron ``orientation * d >= theta`` exactly, plus the distance of
the real threshold to the nearest integer (reported, never used to decide).

Both the torch export (:mod:`bnnverify.training.export`) and the BNNQuanalyst importer
(:mod:`bnnverify.importers.bnnquanalyst`) fold through this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction
from numbers import Number

from bnnverify.errors import ModelError

__all__ = [
    "MARGIN_DIGITS",
    "NeuronFractions",
    "nonneg_sqrt",
    "fires_exactly",
    "exact_fraction",
    "fold_neuron",
]


def exact_fraction(x: "Number | Fraction", what: str) -> Fraction:
    """``x`` as the exact rational it denotes; non-finite values raise :class:`ModelError`."""
    if isinstance(x, Fraction):
        return x
    f = float(x)
    if not math.isfinite(f):
        raise ModelError(f"{what}: must be finite, got {x!r}")
    return Fraction(f)


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
