"""The exact export: torch eval mode and the exported BNN agree on every input.

Random small networks get random batch-norm statistics with negative and zero
scales, and neurons whose real threshold lands exactly on an integer (the tie
rule sign(0) = +1 decides them). The exported model, run by the reference
evaluator, must give the same hidden codes and class as the torch module in
eval mode on every input (exhaustive, n <= 16) and on the data sets.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify.data.datasets import _all_bit_rows, load_dataset
from bnnverify.training.export import NeuronFractions, export_model, fires_exactly, fold_neuron, nonneg_sqrt
from bnnverify.evaluation.evaluator import Evaluator, unpack_bits
from bnnverify.training.modules import BNNModule, sign_pm1

#: eps that makes var + eps a perfect square with a float32 var.
DYADIC_EPS = 2.0**-10


def assert_same_everywhere(module: BNNModule, X: np.ndarray) -> None:
    module.eval()
    net, _ = export_model(module)
    codes, scores, classes = module.trace_bits(X)
    tr = Evaluator(net).trace(X)
    for layer, c in enumerate(codes):
        got = unpack_bits(tr.codes[layer], c.shape[1])
        bad = np.argwhere(got != c)
        assert bad.size == 0, f"layer {layer}: code differs at input {X[bad[0][0]].tolist()} neuron {bad[0][1]}"
    np.testing.assert_array_equal(tr.scores, scores)
    np.testing.assert_array_equal(tr.classes, classes)


# --- the exact predicate ---------------------------------------------------------

_fracs = st.fractions(min_value=-50, max_value=50, max_denominator=1000)


@given(A=_fracs, B=_fracs, S=st.fractions(min_value=Fraction(1, 1000), max_value=50, max_denominator=1000),
       tie=st.booleans())
def test_nonneg_sqrt_matches_high_precision(A, B, S, tie):
    if tie:  # an exact tie needs a rational sqrt: S = r^2, A = -B r
        r = S
        S, A = r * r, -B * r
        assert nonneg_sqrt(A, B, S)  # A + B sqrt(S) == 0 fires (tie rule)
    with mpmath.workdps(80):
        def mp(q):
            return mpmath.mpf(q.numerator) / q.denominator
        v = mp(A) + mp(B) * mpmath.sqrt(mp(S))
        if abs(v) > mpmath.mpf(10) ** -60:  # otherwise an exact tie, checked above
            assert nonneg_sqrt(A, B, S) == (v >= 0)


@st.composite
def neuron_fracs(draw):
    g = draw(st.sampled_from([Fraction(0)]) | _fracs)
    a = draw(st.sampled_from([Fraction(1), Fraction(0)]) | st.fractions(0, 3, max_denominator=64))
    b = draw(st.sampled_from([Fraction(0)]) | _fracs)
    if draw(st.booleans()):
        root = draw(st.fractions(Fraction(1, 8), 4, max_denominator=16))
        S = root * root
        k = draw(st.integers(-8, 8))
        if g != 0:  # threshold exactly on the integer k: g (a k - mu) + b root = 0
            mu = a * k + b * root / g
        else:
            mu = draw(_fracs)
    else:
        S = draw(st.fractions(Fraction(1, 100), 10, max_denominator=1000))
        mu = draw(_fracs)
    return NeuronFractions(g, a, mu, b, S)


@given(p=neuron_fracs(), n=st.integers(1, 12))
def test_fold_neuron_matches_exact_predicate_on_every_dot(p, n):
    orient, theta, margin = fold_neuron(p, n)
    assert orient in (1, -1)
    assert -n - 1 <= theta <= n + 1
    for d in range(-n, n + 1):
        assert fires_exactly(p, d) == (orient * d >= theta), (p, n, d, orient, theta)
    assert margin >= 0


# --- torch eval vs export, exhaustive -----------------------------------------------


@st.composite
def bn_modules(draw, max_n: int = 10):
    n = draw(st.integers(1, max_n))
    hidden = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    c = draw(st.integers(2, 4))
    scale = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    m = BNNModule((n, *hidden, c), scale=scale, generator=g)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for block in m.hidden:
            k = block.bn.weight.shape[0]
            n_in = block.linear.weight.shape[1]
            if draw(st.booleans()):
                block.bn.eps = DYADIC_EPS
            gamma = rng.normal(size=k).astype(np.float32)
            kind = rng.integers(0, 5, size=k)
            gamma[kind == 0] = 0.0
            gamma[kind == 1] = -np.abs(gamma[kind == 1])
            beta = rng.normal(size=k).astype(np.float32)
            beta[rng.random(k) < 0.3] = 0.0
            var = (rng.random(k) * 3 + 0.05).astype(np.float32)
            mu = (rng.normal(size=k) * n_in / 2).astype(np.float32)
            alpha = block.linear.row_scale()
            alpha = np.ones(k) if alpha is None else alpha.double().numpy()
            for j in range(k):
                if rng.random() < 0.5:  # threshold exactly on an integer (reachable or not)
                    t = int(rng.integers(-n_in - 1, n_in + 2))
                    if block.bn.eps == DYADIC_EPS:  # var + eps = root^2, all dyadic
                        root = float(rng.choice([0.5, 1.0, 2.0, 0.25]))
                        var[j] = np.float32(root * root - DYADIC_EPS)
                        gamma[j] = np.float32(rng.choice([0.5, -0.5, 2.0, -1.0, 0.75]))
                        beta[j] = np.float32(rng.choice([0.0, 0.25, -0.375, 1.5]))
                        mu_exact = Fraction(float(alpha[j])) * t + Fraction(float(beta[j])) * Fraction(root) / Fraction(float(gamma[j]))
                        mu[j] = np.float32(float(mu_exact))
                    else:
                        beta[j] = 0.0
                        mu[j] = np.float32(float(alpha[j]) * t)
            block.bn.weight.copy_(torch.from_numpy(gamma))
            block.bn.bias.copy_(torch.from_numpy(beta))
            block.bn.running_var.copy_(torch.from_numpy(var))
            block.bn.running_mean.copy_(torch.from_numpy(mu))
        m.output.alpha.copy_(torch.from_numpy(rng.choice([1.0, -0.5, 0.0, 0.3], size=c).astype(np.float32)))
        m.output.beta.copy_(torch.from_numpy(rng.choice([0.0, 0.0, 1.0, -0.1], size=c).astype(np.float32)))
    return m


@settings(max_examples=40)
@given(m=bn_modules())
def test_torch_eval_equals_export_on_every_input(m):
    assert_same_everywhere(m, _all_bit_rows(m.widths[0]))


def test_torch_eval_equals_export_exhaustive_16_inputs():
    g = torch.Generator().manual_seed(7)
    m = BNNModule((16, 8, 5, 3), scale=True, generator=g)
    with torch.no_grad():
        for block in m.hidden:
            k = block.bn.weight.shape[0]
            block.bn.weight.copy_(torch.randn(k, generator=g))
            block.bn.weight[0] = 0.0
            block.bn.weight[1] = -abs(block.bn.weight[1])
            block.bn.bias.copy_(torch.randn(k, generator=g))
            block.bn.running_mean.copy_(torch.randn(k, generator=g) * 3)
            block.bn.running_var.copy_(torch.rand(k, generator=g) + 0.1)
    assert_same_everywhere(m, _all_bit_rows(16))


def test_exact_integer_thresholds_fire_at_the_tie():
    """gamma=0.5, beta=0.25, var+eps=4, mu chosen so the real threshold is exactly d=2."""
    m = BNNModule((4, 1, 2))
    with torch.no_grad():
        m.hidden[0].bn.eps = DYADIC_EPS
        m.hidden[0].linear.weight.copy_(torch.ones(1, 4))
        m.hidden[0].bn.weight.fill_(0.5)
        m.hidden[0].bn.bias.fill_(0.25)
        m.hidden[0].bn.running_var.fill_(4.0 - DYADIC_EPS)
        m.hidden[0].bn.running_mean.fill_(2.0 + 0.25 * 2.0 / 0.5)  # 0.5 (d - mu) + 0.25 * 2 = 0 at d = 2
    m.eval()
    net, margin = export_model(m)
    assert net.hidden[0].thresholds.tolist() == [2]
    assert margin == 0.0
    X = _all_bit_rows(4)
    codes, _, _ = m.trace_bits(X)
    np.testing.assert_array_equal(codes[0][:, 0], (X.astype(int).sum(1) * 2 - 4 >= 2).astype(np.uint8))


def test_negative_and_zero_gamma_rows():
    m = BNNModule((3, 3, 2))
    with torch.no_grad():
        m.hidden[0].linear.weight.copy_(torch.tensor([[1.0, 1, 1], [1, 1, 1], [1, 1, 1]]))
        m.hidden[0].bn.weight.copy_(torch.tensor([-1.0, 0.0, 0.0]))
        m.hidden[0].bn.bias.copy_(torch.tensor([0.0, 0.0, -1e-30]))
        m.hidden[0].bn.running_mean.copy_(torch.tensor([1.0, 0.0, 0.0]))
        m.hidden[0].bn.running_var.fill_(1.0)
    m.eval()
    net, _ = export_model(m)
    h = net.hidden[0]
    assert h.weights[0].tolist() == [-1, -1, -1] and h.thresholds[0] == -1  # fires iff d <= 1
    assert h.thresholds[1] == -4 and h.thresholds[2] == 4  # beta = 0 -> always on; beta < 0 -> off
    assert_same_everywhere(m, _all_bit_rows(3))


def test_sign_tie_rule():
    x = torch.tensor([-1.0, -0.0, 0.0, 1e-30, 2.0])
    assert sign_pm1(x).tolist() == [-1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("name,hidden", [("ib12", (10, 7, 5, 4, 3)), ("digits-thermo2", (24,))])
def test_trained_models_agree_on_data_sets(name, hidden):
    from bnnverify.training.train import train_bnn

    res = train_bnn(name, hidden, epochs=2, seed=3, scale=name == "ib12")
    X = load_dataset(name, "all").X
    assert_same_everywhere(res.module, X)
    net, margin = export_model(res.module)
    assert net.hidden == res.model.hidden and net.output == res.model.output
    assert margin == res.min_margin


@pytest.mark.parametrize("kind", ["ste", "approx_sign"])
def test_straight_through_gradients(kind):
    from bnnverify.training.modules import binarize

    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.25, 0.999, 1.5], requires_grad=True)
    y = binarize(x, kind)
    assert y.tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    xs = x.detach().numpy().astype(np.float64)
    want = (np.abs(xs) <= 1).astype(float) if kind == "ste" else np.clip(2 - 2 * np.abs(xs), 0, None)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


def test_near_tie_thresholds_plain_float32_disagrees_eval_mode_does_not():
    """Thresholds within float32 rounding of an integer: why eval mode decides exactly.

    Plain float32 batch norm + sign (what a naive torch eval would compute)
    puts some of these neurons on the wrong side for some inputs; the eval
    mode of BNNModule and the export agree with each other on every input.
    """
    n, k = 14, 48
    g = torch.Generator().manual_seed(5)
    m = BNNModule((n, k, 2), generator=g)
    rng = np.random.default_rng(5)
    gamma = rng.normal(size=k).astype(np.float32)
    beta = rng.normal(size=k).astype(np.float32)
    var = (rng.random(k) * 3 + 0.05).astype(np.float32)
    t = rng.integers(-n // 2, n // 2 + 1, size=k) * 2  # reachable dots for even n
    mu = np.array([np.float32(t[j] + float(beta[j]) * np.sqrt(float(var[j]) + 1e-5) / float(gamma[j]))
                   for j in range(k)], dtype=np.float32)
    with torch.no_grad():
        bn = m.hidden[0].bn
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
        bn.running_var.copy_(torch.from_numpy(var))
        bn.running_mean.copy_(torch.from_numpy(mu))
    m.eval()
    X = _all_bit_rows(n)
    assert_same_everywhere(m, X)
    with torch.no_grad():
        s = torch.from_numpy(2.0 * X.astype(np.float32) - 1.0)
        plain = (sign_pm1(m.hidden[0].bn(m.hidden[0].linear(s))) > 0).numpy().astype(np.uint8)
    codes, _, _ = m.trace_bits(X)
    assert (plain != codes[0]).any()


@settings(max_examples=15)
@given(m=bn_modules(max_n=8))
def test_exact_fallback_path_alone_equals_export(m):
    """Force every eval-mode decision through the exact rule (float64 near-zero fallback)."""
    import bnnverify.training.modules as tm

    old = tm.EXACT_FALLBACK_REL
    tm.EXACT_FALLBACK_REL = 1e300  # every |pre| is below the bound
    try:
        assert_same_everywhere(m, _all_bit_rows(m.widths[0]))
    finally:
        tm.EXACT_FALLBACK_REL = old
