"""torch modules for training BNNs that export exactly to :class:`bnnverify.encoders.layers.BNN`.

A network of widths ``(n, h_1, ..., h_k, c)`` is ``k`` hidden blocks and one
output block:

* hidden block: :class:`BinaryLinear` (±1 weights from real latent weights,
  optionally times a per-neuron scale ``alpha_j = mean_i |latent_ji|`` as in
  XNOR-Net), ``BatchNorm1d`` (affine, running statistics), and ``sign`` with
  the tie rule ``sign(0) = +1`` (never ``torch.sign``'s 0).
* output block: :class:`BinaryLinear` (±1 weights, optional per-class
  ``mean |latent|``), then a learnt per-class scale ``alpha`` and bias
  ``beta``: ``score_c = alpha_c * dot_c + beta_c``; the class is the argmax.

Gradients through ``sign`` use a straight-through estimator: ``"ste"`` (clipped
identity, gradient ``1`` on ``|x| <= 1``) or ``"approx_sign"`` (Bi-Real Net's
ApproxSign, Liu et al. 2018: the piecewise polynomial ``2x + x^2`` /
``2x - x^2`` on ``[-1, 0)`` / ``[0, 1)``, gradient ``2 - 2|x|``). Weights are
binarized with the clipped-identity estimator.

**Training mode** computes in float32 with batch statistics, as usual.

**Eval mode** (``module.eval()``) computes what the stored parameters mean in
exact real arithmetic, which is what :func:`bnnverify.training.export.export_model`
folds into integer thresholds:

* hidden neuron j fires iff ``gamma_j (alpha_j d_j - mu_j) + beta_j sqrt(var_j + eps) >= 0``
  (the batch-norm output ``gamma (alpha d - mu) / sqrt(var + eps) + beta >= 0``
  multiplied by the positive ``sqrt``), with ``d_j`` the integer ±1 dot product.
  It is evaluated in float64; where the float64 value is within a rounding
  bound of 0, the decision is made exactly on the rational values of the
  stored floats (:func:`bnnverify.training.export.fires_exactly`). Plain float32
  batch norm can disagree with the exact rule on inputs whose batch-norm
  output is within float32 rounding of 0; eval mode never does.
* output scores are ``alpha * dot + beta`` in float64 on the integer dots,
  with ``alpha, beta`` from :meth:`OutputBlock.affine` — the very float64 values
  the export writes — so scores are bit-identical to the reference evaluator's,
  and the class is the first index of the maximum (``torch.argmax``).

In eval mode ``forward`` takes ±1 (or 0/1, see :meth:`BNNModule.trace_bits`)
inputs and returns float64 scores.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from bnnverify.errors import ModelError
from bnnverify.model.folding import NeuronFractions, exact_fraction, fires_exactly
from bnnverify.training.fronts import FrontSpec, InputLayer, PixelFront, QuantizerFront
from bnnverify.training.ste import STE_KINDS, _kind_code, binarize, sign_pm1  # noqa: F401 (re-exported)

__all__ = [
    "STE_KINDS",
    "sign_pm1",
    "binarize",
    "BinaryLinear",
    "HiddenBlock",
    "OutputBlock",
    "BNNModule",
]

#: Relative rounding bound of the float64 pre-activation below which eval
#: mode decides a neuron exactly (a few ulps of the largest term is ~1e-15).
EXACT_FALLBACK_REL = 1e-12


class BinaryLinear(nn.Module):
    """``x -> (sign(W_latent) x) * alpha``, alpha = mean |W_latent| per row if ``scale``.

    The hooks :meth:`effective_latent`, :meth:`row_scale`, :meth:`aux_loss`,
    :meth:`before_forward`, :meth:`after_step` and :meth:`param_groups` are
    what the binarizers of :mod:`bnnverify.training.binarizers` override
    (a learned mapping of each row for ``lns``, a learned scale and a
    recurrent correction for ``rbonn``). Whatever they do, the binary row is
    ``sign(effective_latent())`` with the tie rule, in training and in eval
    mode alike, and :meth:`int_weights` is what the export writes.
    """

    def __init__(self, n_in: int, n_out: int, scale: bool = False, generator: torch.Generator | None = None) -> None:
        super().__init__()
        w = torch.rand(n_out, n_in, generator=generator, dtype=torch.float32) * 2.0 - 1.0
        self.weight = nn.Parameter(w)
        self.register_buffer("use_scale", torch.tensor(bool(scale)))

    @property
    def scaled(self) -> bool:
        return bool(self.use_scale)

    def effective_latent(self) -> torch.Tensor:
        """The real row whose sign is the binary row (here the latent weights themselves)."""
        return self.weight

    def binary_weight(self) -> torch.Tensor:
        """The ±1 weights (float32); straight-through gradient to the latent weights."""
        return binarize(self.effective_latent(), "ste")

    def row_scale(self) -> torch.Tensor | None:
        """Per-row float32 scale ``mean |latent|``, or None without scaling."""
        return self.weight.abs().mean(dim=1) if self.scaled else None

    @torch.no_grad()
    def int_weights(self) -> np.ndarray:
        """The ±1 weights as int8 (``effective_latent >= 0`` -> +1)."""
        return np.where(self.effective_latent().detach().cpu().numpy() >= 0, 1, -1).astype(np.int8)

    @torch.no_grad()
    def sign_disagreements(self) -> int:
        """How many binary weights differ from ``sign(latent weight)`` (0 for plain sign)."""
        plain = np.where(self.weight.detach().cpu().numpy() >= 0, 1, -1)
        return int((self.int_weights() != plain).sum())

    def aux_loss(self) -> torch.Tensor | None:
        """A term added to the training loss (None: nothing)."""
        return None

    def before_forward(self) -> None:
        """Called before each training forward pass (no gradient)."""

    def after_step(self) -> None:
        """Called after each optimiser step, before the latent weights are clipped."""

    def param_groups(self) -> list[tuple[list[nn.Parameter], float]]:
        """``(parameters, learning-rate factor)`` of this layer's own parameters."""
        return [([self.weight], 1.0)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.binary_weight().t()
        a = self.row_scale()
        return y if a is None else y * a


class HiddenBlock(nn.Module):
    """BinaryLinear -> BatchNorm1d -> sign (tie rule sign(0) = +1)."""

    def __init__(self, n_in: int, n_out: int, ste: str = "ste", scale: bool = False,
                 generator: torch.Generator | None = None, linear: BinaryLinear | None = None) -> None:
        super().__init__()
        if ste not in STE_KINDS:
            raise ModelError(f"ste: unknown estimator {ste!r}; valid: {', '.join(STE_KINDS)}")
        self.ste = ste
        self.linear = BinaryLinear(n_in, n_out, scale, generator) if linear is None else linear
        self.bn = nn.BatchNorm1d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return binarize(self.bn(self.linear(x)), self.ste)

    def exact_params(self, affine: tuple[float, float] | None = None) -> tuple[np.ndarray, ...]:
        """float64 arrays (gamma, alpha, mu, beta, var) per neuron: the stored values (alpha = 1 unscaled).

        ``affine = (scale, offset)``: the block reads normalised integer features
        ``v = p * scale + offset`` (an ``integer`` first layer); then alpha is
        ``alpha * scale`` and mu is ``mu - alpha * offset * r_j`` (``r_j`` the
        row sum), in float64 — :func:`neuron_fractions` has them exactly.
        """
        bn = self.bn
        g = bn.weight.detach().double().cpu().numpy()
        b = bn.bias.detach().double().cpu().numpy()
        mu = bn.running_mean.detach().double().cpu().numpy()
        var = bn.running_var.detach().double().cpu().numpy()
        a = self.linear.row_scale()
        alpha = np.ones_like(g) if a is None else a.detach().double().cpu().numpy()
        if affine is not None:
            scale, offset = affine
            r = self.linear.int_weights().astype(np.float64).sum(axis=1)
            mu = mu - alpha * offset * r
            alpha = alpha * scale
        return g, alpha, mu, b, var

    def eval_bits(self, s: np.ndarray, affine: tuple[float, float] | None = None) -> np.ndarray:
        """Eval-mode outputs (0/1 uint8, (N, m)) for ±1 float64 inputs ``s`` (N, n).

        With ``affine`` (an ``integer`` first layer), ``s`` holds the integer
        features themselves. float64 pre-activation; within the rounding bound
        of 0, the exact rule.
        """
        w = self.linear.int_weights().astype(np.float64)
        d = s @ w.T  # exact integers
        g, a, mu, b, var = self.exact_params(affine)
        sig = np.sqrt(var + float(self.bn.eps))
        t1 = g[None, :] * (a[None, :] * d - mu[None, :])
        t2 = (b * sig)[None, :]
        pre = t1 + t2
        mu_mag = np.abs(mu)
        if affine is not None:  # mu - alpha offset r was rounded: bound by its terms' size
            g0, a0, mu0, _, _ = self.exact_params(None)
            mu_mag = np.abs(mu0) + np.abs(a0 * affine[1] * w.sum(axis=1))
        bound = EXACT_FALLBACK_REL * (np.abs(g[None, :]) * (np.abs(a[None, :] * d) + mu_mag[None, :]) + np.abs(t2))
        return decide(pre, bound, d, lambda j: neuron_fractions(self, j, affine=affine))


def decide(pre: np.ndarray, bound: np.ndarray, d: np.ndarray, fractions_of) -> np.ndarray:
    """0/1 decisions ``pre >= 0``, redone exactly (``fires_exactly``) where ``|pre| <= bound``.

    ``d`` holds the integer argument of each decision, ``fractions_of(j)`` the
    :class:`NeuronFractions` of column j.
    """
    out = (pre >= 0).astype(np.uint8)
    near = np.abs(pre) <= bound
    if near.any():
        cache: dict[tuple[int, int], bool] = {}
        fracs: dict[int, NeuronFractions] = {}
        for r, j in zip(*np.nonzero(near)):
            key = (int(j), int(d[r, j]))
            if key not in cache:
                if key[0] not in fracs:
                    fracs[key[0]] = fractions_of(key[0])
                cache[key] = fires_exactly(fracs[key[0]], key[1])
            out[r, j] = cache[key]
    return out


class OutputBlock(nn.Module):
    """BinaryLinear -> ``alpha * dot + beta`` per class (argmax outside)."""

    def __init__(self, n_in: int, n_classes: int, scale: bool = False, generator: torch.Generator | None = None,
                 linear: BinaryLinear | None = None) -> None:
        super().__init__()
        self.linear = BinaryLinear(n_in, n_classes, scale, generator) if linear is None else linear
        self.alpha = nn.Parameter(torch.full((n_classes,), 1.0 / float(np.sqrt(n_in)), dtype=torch.float32))
        self.beta = nn.Parameter(torch.zeros(n_classes, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * self.alpha + self.beta

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 ``(alpha, beta)`` of the exported argmax layer.

        ``alpha = float64(alpha_param) * float64(mean |latent|)`` with scaling,
        else ``float64(alpha_param)``; ``beta = float64(beta_param)``.
        """
        alpha = self.alpha.detach().double().cpu().numpy()
        a = self.linear.row_scale()
        if a is not None:
            alpha = alpha * a.detach().double().cpu().numpy()
        return alpha, self.beta.detach().double().cpu().numpy()

    def eval_scores(self, s: np.ndarray) -> np.ndarray:
        """float64 scores for ±1 float64 inputs: ``alpha * dot + beta`` on integer dots."""
        w = self.linear.int_weights().astype(np.float64)
        d = s @ w.T
        alpha, beta = self.affine()
        t = torch.mul(torch.from_numpy(alpha)[None, :], torch.from_numpy(d))
        return torch.add(t, torch.from_numpy(beta)[None, :]).numpy()


class BNNModule(nn.Module):
    """A trainable BNN of widths ``(n, h_1, ..., h_k, c)`` (see the module docstring).

    Parameters are initialised from ``generator`` (or torch's global generator).
    State-dict keys: ``hidden.{i}.linear.weight``, ``hidden.{i}.linear.use_scale``,
    ``hidden.{i}.bn.{weight,bias,running_mean,running_var,num_batches_tracked}``,
    ``output.linear.weight``, ``output.linear.use_scale``, ``output.alpha``, ``output.beta``.

    ``front`` (:class:`~bnnverify.training.fronts.FrontSpec`) makes the first
    layer read ``n`` integer features (:mod:`bnnverify.training.fronts`): a
    quantizer (``front.input_lo``, ``front.input_hi``, ``front.input_scale``,
    ``front.input_offset``, ``front.levels`` = K, ``front.bn.*``; the next layer
    reads its ``n*K`` bits) or an ``integer`` first hidden block over the
    normalised features (the same ``front.*`` buffers, ``front.levels`` = 0).
    Such a module takes the raw integer features, in training and eval mode.
    """

    def __init__(self, widths: Sequence[int], ste: str = "ste", scale: bool = False,
                 generator: torch.Generator | None = None, linear=None, front: FrontSpec | None = None) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) < 2 or any(w < 1 for w in widths):
            raise ModelError(f"arch: need at least inputs and classes, all positive, got {widths}")
        if widths[-1] < 2:
            raise ModelError(f"arch: need at least 2 classes, got {widths[-1]}")
        self.widths = tuple(widths)
        self.ste = ste
        self.front_spec = front
        ins = list(widths)
        if front is not None:
            if front.n != widths[0]:
                raise ModelError(f"arch: the first layer reads {front.n} features, widths start with {widths[0]}")
            if front.kind is InputLayer.QUANTIZE:
                self.front = QuantizerFront(front, ste)
                ins[0] = front.n_bits
            else:
                if len(widths) < 3:
                    raise ModelError("arch: an integer first layer needs at least one hidden layer "
                                     "(the output layer reads bits)")
                self.front = PixelFront(front)
        # ``linear(n_in, n_out, generator)``, if given, builds every layer's BinaryLinear; the
        # layers are built in order (weights, then batch norm) from ``generator``.
        self.hidden = nn.ModuleList(
            HiddenBlock(ins[i], widths[i + 1], ste, scale, generator,
                        None if linear is None else linear(ins[i], widths[i + 1], generator))
            for i in range(len(widths) - 2)
        )
        self.output = OutputBlock(ins[-2], widths[-1], scale, generator,
                                  None if linear is None else linear(ins[-2], widths[-1], generator))

    @property
    def input_layer(self) -> InputLayer:
        """What the first layer reads."""
        return InputLayer.BINARY if self.front_spec is None else self.front_spec.kind

    def linears(self) -> list[BinaryLinear]:
        """Every layer's BinaryLinear, first hidden layer to output."""
        return [b.linear for b in self.hidden] + [self.output.linear]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training mode: float32 scores. Eval mode: float64 exact-semantics scores."""
        if not self.training:
            s = x.detach().double().cpu().numpy()
            return torch.from_numpy(self._eval_trace(s)[1])
        if self.front_spec is not None:
            x = self.front(x)
        for block in self.hidden:
            x = block(x)
        return self.output(x)

    def _eval_trace(self, s: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Codes and scores; ``s`` is ±1 (binary) or the integer features (a front)."""
        codes = []
        blocks = list(self.hidden)
        if self.input_layer is InputLayer.QUANTIZE:
            bits = quantizer_eval_bits(self.front, s)
            codes.append(bits)
            s = 2.0 * bits.astype(np.float64) - 1.0
        elif self.input_layer is InputLayer.INTEGER:
            bits = blocks.pop(0).eval_bits(s, affine=self.front.affine())
            codes.append(bits)
            s = 2.0 * bits.astype(np.float64) - 1.0
        for block in blocks:
            bits = block.eval_bits(s)
            codes.append(bits)
            s = 2.0 * bits.astype(np.float64) - 1.0
        return codes, self.output.eval_scores(s)

    @torch.no_grad()
    def trace_bits(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Eval-mode semantics on 0/1 rows (or integer feature rows, with a front):
        (codes (N, m_l) uint8 — with a quantizer its bits first, in module order —, float64 scores, classes)."""
        X = np.asarray(X)
        if self.front_spec is not None:
            s = X.astype(np.float64)
            lo, hi = self.front.input_lo.numpy(), self.front.input_hi.numpy()
            if s.ndim != 2 or s.shape[1] != lo.shape[0] or (s != np.round(s)).any() or (s < lo).any() \
                    or (s > hi).any():
                raise ModelError(f"inputs: expected integer rows of {lo.shape[0]} features within their ranges")
        else:
            s = 2.0 * X.astype(np.float64) - 1.0
        codes, scores = self._eval_trace(s)
        classes = torch.argmax(torch.from_numpy(scores), dim=1).numpy().astype(np.int64)
        return codes, scores, classes


def neuron_fractions(block: "HiddenBlock", j: int, where: str = "hidden block",
                     affine: tuple[float, float] | None = None) -> NeuronFractions:
    """Exact rationals of neuron ``j``'s stored floats (float32 -> float64 is exact).

    ``affine = (scale, offset)`` (an ``integer`` first layer over
    ``v = p * scale + offset``): slope ``alpha * scale`` and mean
    ``mu - alpha * offset * r_j``, in exact rationals.
    """
    g, a, mu, b, var = block.exact_params()
    eps = float(block.bn.eps)
    S = exact_fraction(float(var[j]), f"{where} neuron {j} running_var") + exact_fraction(eps, f"{where} eps")
    if S <= 0:
        raise ModelError(f"{where} neuron {j}: running_var + eps must be > 0, got {float(S)}")
    alpha = exact_fraction(float(a[j]), f"{where} neuron {j} scale")
    if alpha < 0:
        raise ModelError(f"{where} neuron {j}: scale must be >= 0, got {float(alpha)}")
    mean = exact_fraction(float(mu[j]), f"{where} neuron {j} running_mean")
    if affine is not None:
        scale = exact_fraction(affine[0], f"{where} input scale")
        offset = exact_fraction(affine[1], f"{where} input offset")
        r = int(block.linear.int_weights()[j].astype(np.int64).sum())
        mean = mean - alpha * offset * r
        alpha = alpha * scale
    return NeuronFractions(
        exact_fraction(float(g[j]), f"{where} neuron {j} bn.weight"),
        alpha,
        mean,
        exact_fraction(float(b[j]), f"{where} neuron {j} bn.bias"),
        S,
    )


def quantizer_fractions(front: QuantizerFront, q: int, where: str = "quantizer") -> NeuronFractions:
    """Exact rationals of quantizer bit ``q``: ``gamma (scale p - (mu - offset)) + beta sqrt(S) >= 0``."""
    g, mu, b, var = front.bn_params()
    scale, offset = front.affine()
    S = exact_fraction(float(var[q]), f"{where} bit {q} running_var") + exact_fraction(float(front.bn.eps), f"{where} eps")
    if S <= 0:
        raise ModelError(f"{where} bit {q}: running_var + eps must be > 0, got {float(S)}")
    return NeuronFractions(
        exact_fraction(float(g[q]), f"{where} bit {q} bn.weight"),
        exact_fraction(scale, f"{where} input scale"),
        exact_fraction(float(mu[q]), f"{where} bit {q} running_mean") - exact_fraction(offset, f"{where} input offset"),
        exact_fraction(float(b[q]), f"{where} bit {q} bn.bias"),
        S,
    )


def quantizer_eval_bits(front: QuantizerFront, P: np.ndarray) -> np.ndarray:
    """Eval-mode quantizer bits (0/1 uint8, (N, F*K), module order) of integer features ``P`` (N, F)."""
    K = int(front.levels)
    d = np.repeat(np.asarray(P, dtype=np.float64), K, axis=1)  # bit f*K+k reads p_f
    g, mu, b, var = front.bn_params()
    scale, offset = front.affine()
    sig = np.sqrt(var + float(front.bn.eps))
    pre = g[None, :] * (scale * d - (mu - offset)[None, :]) + (b * sig)[None, :]
    bound = EXACT_FALLBACK_REL * (np.abs(g)[None, :] * (np.abs(scale * d) + np.abs(mu)[None, :] + abs(offset))
                                  + np.abs(b * sig)[None, :])
    return decide(pre, bound, d, lambda q: quantizer_fractions(front, q))
