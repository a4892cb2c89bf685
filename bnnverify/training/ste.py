"""Sign with the tie rule sign(0) = +1 and its straight-through estimators (``ste``, ``approx_sign``).

Split from :mod:`bnnverify.training.modules` so that the first layers of
:mod:`bnnverify.training.fronts` use the same estimators without an import cycle.
"""

from __future__ import annotations

import torch

from bnnverify.errors import ModelError

__all__ = ["STE_KINDS", "sign_pm1", "binarize"]

#: Straight-through estimators for the sign activation.
STE_KINDS = ("ste", "approx_sign")


def sign_pm1(x: torch.Tensor) -> torch.Tensor:
    """``+1`` where ``x >= 0``, else ``-1`` (same dtype): the tie rule sign(0) = +1."""
    one = torch.ones((), dtype=x.dtype, device=x.device)
    return torch.where(x >= 0, one, -one)


_APPROX_SIGN = 1
_CLIPPED = 0


class _SignSTE(torch.autograd.Function):
    """Forward ``sign_pm1``; backward the surrogate's derivative (one autograd node)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kind: int) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.kind = kind
        return sign_pm1(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        if ctx.kind == _APPROX_SIGN:  # d/dx of 2x - x|x| on [-1, 1]: 2 - 2|x|, 0 outside
            return grad * torch.clamp(2.0 - 2.0 * x.abs(), min=0.0), None
        return grad * (x.abs() <= 1.0).to(grad.dtype), None


def _kind_code(kind: str) -> int:
    if kind == "ste":
        return _CLIPPED
    if kind == "approx_sign":
        return _APPROX_SIGN
    raise ModelError(f"ste: unknown estimator {kind!r}; valid: {', '.join(STE_KINDS)}")


def binarize(x: torch.Tensor, kind: str = "ste") -> torch.Tensor:
    """``sign_pm1(x)`` forward; backward the derivative of the ``kind`` surrogate.

    ``"ste"``: clipped identity, gradient ``1`` on ``|x| <= 1``, else 0.
    ``"approx_sign"``: ``2x + x^2`` on ``[-1, 0)``, ``2x - x^2`` on ``[0, 1)``,
    ``±1`` outside, so the gradient is ``2 - 2|x|`` on ``[-1, 1]``, else 0.
    """
    code = _kind_code(kind)
    if not x.requires_grad:
        return sign_pm1(x)
    return _SignSTE.apply(x, code)


