"""The binarizer registry: how a training method turns latent weights into ±1 weights.

Names are resolved by the project's :class:`~bnnverify.encoders.registry.NameRegistry`
(aliases, case-insensitive), in the registry style of the engines. Every
binarizer trains a :class:`~bnnverify.training.modules.BNNModule` whose binary
rows are ``sign(effective_latent)`` with the tie rule ``sign(0) = +1``, so the
existing exact export (:mod:`bnnverify.training.export`) folds it unchanged;
positive per-neuron scales are part of that fold (``gamma * alpha`` is the
slope of the neuron's exact predicate, see :mod:`bnnverify.model.folding`).

==============  =====================================================================
name            what it is
==============  =====================================================================
``ste``         sign of the latent weights, clipped-identity estimator for sign
                activations (BinaryConnect / Courbariaux et al.). The default.
``approx_sign`` the same, with Bi-Real Net's ApproxSign estimator (Liu et al. 2018).
``xnor``        ``ste`` plus the XNOR-Net per-neuron scale ``mean |latent|``
                (Rastegari et al. 2016).
``lns``         learned binarisation under noisy supervision (Han et al. 2020), below.
``rbonn``       recurrent bilinear optimisation (Xu et al. 2022), below.
==============  =====================================================================

The old flags stay: ``ste="approx_sign"`` is ``approx_sign``, ``scale=True``
with ``ste="ste"`` is ``xnor`` (and ``approx_sign`` with a scale remains
available through the flags only).

``lns`` — our reading of Han, Wang, Xu, Xu, Wu, Tian & Xu, "Training Binary
Neural Networks through Learning with Noisy Supervision", ICML 2020 (the code
is not public, so every choice below is ours where the paper leaves room):

* Per layer, a mapping ``f_theta`` takes each neuron's *whole* latent row
  ``w_j`` (length ``n_in``) and returns a real row ``q_j = f_theta(w_j)``; the
  binary row is ``sign(q_j)``, straight-through (clipped identity) to both
  ``theta`` and ``w``. ``f_theta`` is a residual MLP, ``w + W2 relu(W1 w + b1) + b2``,
  with :data:`LNS_HIDDEN` hidden units and ``W2, b2`` initialised to zero,
  so the fine-tuning starts from exactly the baseline's binary network.
* ``sign(w_j)`` is a noisy label of the binary row (a symmetric flip rate
  ``rho``); the surrogate loss is Natarajan et al. (2013)'s unbiased
  estimator with the squared loss ``l(q, t) = (q - t)^2``:
  ``l~(q, t) = [(1 - rho) l(q, t) - rho l(q, -t)] / (1 - 2 rho)``.
* Total loss ``= CE + alpha * sum over layers of mean over the layer's weights of l~``
  (the mean, not the sum over weights, so that ``alpha`` does not scale with
  the width: a deviation from a literal "sum" chosen so that one ``alpha``
  serves 12-input and 64-input layers alike).
* Protocol: a baseline is trained with plain sign binarisation, then ``W``
  and every ``theta`` are fine-tuned jointly. The exported network uses the
  learned binary rows ``sign(f_theta(w))`` — which may differ from
  ``sign(w)``; :meth:`BinaryLinear.sign_disagreements` counts where.

``rbonn`` — Xu et al., "Recurrent Bilinear Optimization for Binary Neural
Networks", ECCV 2022, with the public code
(github.com/SteveTsui/RBONN) as described in issue 13:

* Per neuron a learned scale ``alpha_j > 0`` (initialised to
  ``mean |w_j|``), trained by its own gradient and clamped to at least
  :data:`RBONN_MIN_SCALE` after each step, so it always folds as a positive
  factor. The binary layer computes ``alpha_j * sign(w_hat_j) . x``.
* Bilinear coupling ``G = lambda * ||w_hat - alpha o sign(w_hat)||^2`` (sum over
  the layer's weights, ``sign`` detached) added to the loss;
  ``lambda = 1e-4`` as in the paper's code.
* Recurrent correction, per neuron ``j`` with ``u_j`` learned (initialised to
  0.2, at 0.1x the learning rate) and a mask ``m_j`` recomputed before every
  training step from the ranks: ``D(x)_j = 1`` iff ``x_j`` is among the top
  ``ceil(tau * m)`` of the layer (``tau = 0.6``), and
  ``m_j = D(alpha)_j and not D(||w||_1)_j`` (scale ranks high, L1 norm does
  not).

  - ``paper`` (default): ``w_hat = w + u_j m_j DReLU(w, alpha)`` with
    ``DReLU(w, alpha)_j = w_j`` on the selected neurons (0 elsewhere); since
    ``1 + u_j > 0`` keeps the sign, the binary row is ``sign(w)`` unless
    ``u_j`` falls below -1; the correction acts through the gradients
    (``(1 + u_j)`` times larger for selected rows) and through ``G``.
  - ``code``: ``w_hat = w - u_j m_j g_prev`` with ``g_prev`` the previous
    step's gradient of the loss with respect to ``w``, and the mask taken
    *by sorted position*: ``D_code(x)_j = [argsort(-x)[j] < k]`` (the
    neuron id at sorted position j, not the rank of neuron j) — our reading
    of the public code's indexing as the issue describes it.

  Activations use ApproxSign. The output layer gets the same learned scale
  and correction; its scale is multiplied into the exported argmax scale in
  float64 (``alpha_out * alpha_rbonn``, both float32, so the product is exact).

>>> BINARIZERS.resolve("Han2020"), BINARIZERS.resolve(None), BINARIZERS.names
('lns', 'ste', ('ste', 'approx_sign', 'xnor', 'lns', 'rbonn'))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from bnnverify.encoders.registry import NameRegistry
from bnnverify.errors import UsageError
from bnnverify.training.fronts import FrontSpec
from bnnverify.training.modules import BinaryLinear, BNNModule, sign_pm1

__all__ = [
    "BINARIZERS",
    "Binarizer",
    "BinarizerOptions",
    "WeightRule",
    "RBONNVariant",
    "LNSLinear",
    "RBONNLinear",
    "get_binarizer",
    "legacy_binarizer",
    "build_module",
    "to_lns",
    "sign_disagreements",
    "binary_rows",
    "DEFAULT_RHO",
    "DEFAULT_ALPHA",
    "LNS_HIDDEN",
    "RBONN_LAMBDA",
    "RBONN_TAU",
    "RBONN_U_INIT",
    "RBONN_U_LR_FACTOR",
    "RBONN_MIN_SCALE",
]

#: lns: default symmetric flip rate rho of the noisy labels sign(w) (our choice:
#: the paper treats rho as a hyper-parameter; 0.1 is small noise, well below 1/2).
DEFAULT_RHO = 0.1
#: lns: default weight alpha of the noisy-supervision term (our choice, with the
#: per-layer mean: it puts the term on the scale of the cross-entropy).
DEFAULT_ALPHA = 1.0
#: lns: hidden units of each layer's residual MLP f_theta (our choice; small nets).
LNS_HIDDEN = 16
#: rbonn: weight lambda of G = ||w - alpha o sign(w)||^2 (1e-4 in the paper's code).
RBONN_LAMBDA = 1e-4
#: rbonn: fraction tau of neurons the rank function D marks (0.6 in the paper).
RBONN_TAU = 0.6
#: rbonn: initial recurrent factor u_j (0.2 in the paper's code).
RBONN_U_INIT = 0.2
#: rbonn: u is trained at this factor of the learning rate (0.1 in the paper's code).
RBONN_U_LR_FACTOR = 0.1
#: rbonn: smallest scale alpha_j after each step (keeps it strictly positive,
#: so it folds as a positive factor; far below any trained value).
RBONN_MIN_SCALE = 1e-6


class WeightRule(str, Enum):
    """Where the binary rows come from."""

    SIGN = "sign"
    LNS = "lns"
    RBONN = "rbonn"


class RBONNVariant(str, Enum):
    """Which recurrent correction ``rbonn`` uses (see the module docstring)."""

    PAPER = "paper"
    CODE = "code"


@dataclass(frozen=True)
class Binarizer:
    """A registered training method: activation estimator, scale, weight rule."""

    name: str
    summary: str
    activation: str
    scale: bool
    rule: WeightRule
    reference: str


_SPECS: dict[str, tuple[tuple[str, ...], Binarizer]] = {
    "ste": (("clipped", "binaryconnect"), Binarizer(
        "ste", "sign of the latent weights, clipped-identity straight-through estimator", "ste", False,
        WeightRule.SIGN, "Courbariaux et al. 2016")),
    "approx_sign": (("approxsign", "bireal", "approx-sign"), Binarizer(
        "approx_sign", "sign of the latent weights, ApproxSign estimator for activations", "approx_sign", False,
        WeightRule.SIGN, "Liu et al. 2018 (Bi-Real Net)")),
    "xnor": (("xnor-net", "scale"), Binarizer(
        "xnor", "ste plus the per-neuron scale mean|latent|", "ste", True, WeightRule.SIGN,
        "Rastegari et al. 2016 (XNOR-Net)")),
    "lns": (("han2020", "noisy-supervision"), Binarizer(
        "lns", "learned mapping of each latent row, sign(w) as a noisy label (baseline, then fine-tuning)",
        "ste", False, WeightRule.LNS, "Han et al. 2020")),
    "rbonn": (("xu2022", "recurrent-bilinear"), Binarizer(
        "rbonn", "learned positive scales coupled with the weights, recurrent correction, ApproxSign",
        "approx_sign", False, WeightRule.RBONN, "Xu et al. 2022")),
}

#: The binarizer names (with aliases); ``ste`` is the default.
BINARIZERS = NameRegistry("binarizer", {n: a for n, (a, _) in _SPECS.items()}, default="ste", error=UsageError)


def get_binarizer(name: str | None) -> Binarizer:
    """The :class:`Binarizer` for ``name`` (an alias works; None is the default)."""
    try:
        return _SPECS[BINARIZERS.resolve(name)][1]
    except UsageError as e:
        raise UsageError(e.message, param="binarizer") from None


def legacy_binarizer(ste: str, scale: bool) -> Binarizer:
    """The binarizer the old ``ste`` / ``scale`` options name (``approx_sign`` + scale has no name)."""
    if scale and ste == "ste":
        return _SPECS["xnor"][1]
    base = _SPECS[ste][1] if ste in _SPECS and _SPECS[ste][1].rule is WeightRule.SIGN else _SPECS["ste"][1]
    if scale:
        return Binarizer(f"{base.name}+scale", base.summary + ", per-neuron scale", base.activation, True,
                         WeightRule.SIGN, base.reference)
    return base


@dataclass(frozen=True)
class BinarizerOptions:
    """Options of ``lns`` and ``rbonn`` (ignored by the others); validated on construction."""

    rho: float = DEFAULT_RHO
    alpha: float = DEFAULT_ALPHA
    lns_hidden: int = LNS_HIDDEN
    rbonn_variant: RBONNVariant | str = RBONNVariant.PAPER
    rbonn_lambda: float = RBONN_LAMBDA
    rbonn_tau: float = RBONN_TAU
    rbonn_u_init: float = RBONN_U_INIT
    rbonn_u_lr_factor: float = RBONN_U_LR_FACTOR

    def __post_init__(self) -> None:
        def num(name: str) -> float:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                raise UsageError(f"{name}: must be a finite number, got {v!r}", param=name)
            return float(v)

        rho = num("rho")
        if not 0.0 <= rho < 0.5:
            raise UsageError(f"rho: the flip rate must be in [0, 0.5) (1/2 makes the labels pure noise), got {rho}",
                             param="rho")
        if num("alpha") < 0:
            raise UsageError(f"alpha: must be >= 0, got {self.alpha}", param="alpha")
        if isinstance(self.lns_hidden, bool) or not isinstance(self.lns_hidden, int) or self.lns_hidden < 1:
            raise UsageError(f"lns_hidden: must be a positive integer, got {self.lns_hidden!r}", param="lns_hidden")
        try:
            object.__setattr__(self, "rbonn_variant", RBONNVariant(str(getattr(self.rbonn_variant, "value",
                                                                                 self.rbonn_variant)).lower()))
        except ValueError:
            raise UsageError(f"rbonn_variant: must be one of {', '.join(v.value for v in RBONNVariant)}, "
                             f"got {self.rbonn_variant!r}", param="rbonn_variant") from None
        if num("rbonn_lambda") < 0:
            raise UsageError(f"rbonn_lambda: must be >= 0, got {self.rbonn_lambda}", param="rbonn_lambda")
        if not 0.0 < num("rbonn_tau") <= 1.0:
            raise UsageError(f"rbonn_tau: must be in (0, 1], got {self.rbonn_tau}", param="rbonn_tau")
        num("rbonn_u_init")
        if num("rbonn_u_lr_factor") < 0:
            raise UsageError(f"rbonn_u_lr_factor: must be >= 0, got {self.rbonn_u_lr_factor}",
                             param="rbonn_u_lr_factor")

    def describe(self, rule: WeightRule) -> dict[str, str]:
        """The options that matter for ``rule``, as model metadata strings."""
        if rule is WeightRule.LNS:
            return {"rho": repr(float(self.rho)), "alpha": repr(float(self.alpha)), "lns_hidden": str(self.lns_hidden)}
        if rule is WeightRule.RBONN:
            return {"rbonn_variant": self.rbonn_variant.value, "rbonn_lambda": repr(float(self.rbonn_lambda)),
                    "rbonn_tau": repr(float(self.rbonn_tau)), "rbonn_u_init": repr(float(self.rbonn_u_init)),
                    "rbonn_u_lr_factor": repr(float(self.rbonn_u_lr_factor))}
        return {}


# --- lns ------------------------------------------------------------------------


class LNSLinear(BinaryLinear):
    """Binary rows ``sign(f_theta(w_j))``; ``f_theta`` a residual MLP shared by the layer's rows."""

    def __init__(self, n_in: int, n_out: int, options: BinarizerOptions,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(n_in, n_out, False, generator)
        h = options.lns_hidden
        bound = 1.0 / math.sqrt(n_in)  # torch's default Linear init range, drawn from our generator
        self.map_in = nn.Parameter((torch.rand(h, n_in, generator=generator) * 2 - 1) * bound)
        self.map_in_bias = nn.Parameter((torch.rand(h, generator=generator) * 2 - 1) * bound)
        self.map_out = nn.Parameter(torch.zeros(n_in, h))  # zero: f_theta(w) = w at the start
        self.map_out_bias = nn.Parameter(torch.zeros(n_in))
        self.rho = float(options.rho)
        self.alpha = float(options.alpha)

    def effective_latent(self) -> torch.Tensor:
        w = self.weight
        hid = torch.relu(w @ self.map_in.t() + self.map_in_bias)
        return w + hid @ self.map_out.t() + self.map_out_bias

    def aux_loss(self) -> torch.Tensor | None:
        if self.alpha == 0.0:
            return None
        q = self.effective_latent()
        t = sign_pm1(self.weight.detach())
        rho = self.rho
        unbiased = ((1.0 - rho) * (q - t) ** 2 - rho * (q + t) ** 2) / (1.0 - 2.0 * rho)
        return self.alpha * unbiased.mean()

    def param_groups(self) -> list[tuple[list[nn.Parameter], float]]:
        return [([self.weight, self.map_in, self.map_in_bias, self.map_out, self.map_out_bias], 1.0)]


def to_lns(module: BNNModule, options: BinarizerOptions, generator: torch.Generator | None) -> BNNModule:
    """A fresh LNS module holding ``module``'s parameters (same binary network at the start)."""
    lns = BNNModule(module.widths, ste=module.ste, scale=False, generator=generator,
                    linear=lambda a, b, g: LNSLinear(a, b, options, g), front=module.front_spec)
    missing, unexpected = lns.load_state_dict(module.state_dict(), strict=False)
    if unexpected or any(".map_" not in k for k in missing):
        raise UsageError(f"lns: cannot fine-tune this module (missing {missing}, unexpected {unexpected})")
    if any(lin.scaled for lin in module.linears()):
        raise UsageError("lns: fine-tuning starts from an unscaled baseline (binarizer ste or approx_sign)")
    return lns


# --- rbonn ----------------------------------------------------------------------


def _top_mask(x: torch.Tensor, k: int, by_position: bool) -> torch.Tensor:
    """``D(x)``: 1 for the k largest entries (ties by index); ``by_position``: the code's indexing."""
    order = torch.argsort(-x, stable=True)
    if by_position:
        return (order < k).to(x.dtype)
    mask = torch.zeros_like(x)
    mask[order[:k]] = 1.0
    return mask


class RBONNLinear(BinaryLinear):
    """Learned positive scale per row, bilinear coupling G, recurrent correction (see module docstring)."""

    def __init__(self, n_in: int, n_out: int, options: BinarizerOptions,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(n_in, n_out, False, generator)
        self.scale = nn.Parameter(self.weight.detach().abs().mean(dim=1).clone())
        self.u = nn.Parameter(torch.full((n_out,), float(options.rbonn_u_init)))
        self.register_buffer("mask", torch.zeros(n_out))
        self.register_buffer("prev_grad", torch.zeros(n_out, n_in))
        #: the variant, in the state dict too (``code_variant``), so an import knows which correction to apply
        self.register_buffer("code_variant", torch.tensor(options.rbonn_variant is RBONNVariant.CODE))
        self.variant = options.rbonn_variant
        self.lam = float(options.rbonn_lambda)
        self.k = max(1, math.ceil(float(options.rbonn_tau) * n_out))
        self.u_lr = float(options.rbonn_u_lr_factor)

    def effective_latent(self) -> torch.Tensor:
        w = self.weight
        um = (self.u * self.mask)[:, None]
        if self.variant is RBONNVariant.CODE:
            return w - um * self.prev_grad
        return w + um * w  # DReLU(w, alpha) = w on the selected rows

    def row_scale(self) -> torch.Tensor | None:
        return self.scale

    @torch.no_grad()
    def before_forward(self) -> None:
        by_pos = self.variant is RBONNVariant.CODE
        high_scale = _top_mask(self.scale.detach(), self.k, by_pos)
        high_l1 = _top_mask(self.weight.detach().abs().sum(dim=1), self.k, by_pos)
        self.mask.copy_(high_scale * (1.0 - high_l1))

    def aux_loss(self) -> torch.Tensor | None:
        if self.lam == 0.0:
            return None
        wh = self.effective_latent()
        return self.lam * ((wh - self.scale[:, None] * sign_pm1(wh.detach())) ** 2).sum()

    @torch.no_grad()
    def after_step(self) -> None:
        self.scale.clamp_(min=RBONN_MIN_SCALE)
        if self.variant is RBONNVariant.CODE and self.weight.grad is not None:
            self.prev_grad.copy_(self.weight.grad)

    def param_groups(self) -> list[tuple[list[nn.Parameter], float]]:
        return [([self.weight, self.scale], 1.0), ([self.u], self.u_lr)]


# --- building modules -------------------------------------------------------------


def build_module(spec: Binarizer, widths: Sequence[int], options: BinarizerOptions,
                 generator: torch.Generator | None, front: "FrontSpec | None" = None) -> BNNModule:
    """A freshly initialised module for ``spec`` (``lns`` starts as its plain-sign baseline);
    ``front``: a first layer over integer features (:mod:`bnnverify.training.fronts`)."""
    factory: Callable | None = None
    if spec.rule is WeightRule.RBONN:
        def factory(a: int, b: int, g: torch.Generator | None) -> BinaryLinear:
            return RBONNLinear(a, b, options, g)
    return BNNModule(widths, ste=spec.activation, scale=spec.scale, generator=generator, linear=factory, front=front)


def sign_disagreements(module: BNNModule) -> int:
    """Binary weights (all layers) that differ from the sign of their latent weight."""
    return sum(lin.sign_disagreements() for lin in module.linears())


def binary_rows(module: BNNModule) -> list[np.ndarray]:
    """The int8 ±1 weights of every layer (before the export's row orientation)."""
    return [lin.int_weights() for lin in module.linears()]

