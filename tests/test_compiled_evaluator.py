"""The evaluator's compiled XOR-popcount kernel (bnnverify/evaluation/xorpop.py) against its numpy loop
and bnnverify/semantics.py, on random networks (nasty ones included) and wide layers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import nasty_networks, networks

from bnnverify import semantics
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.evaluation.evaluator import Evaluator, unpack_bits
from bnnverify.evaluation.flips import HAVE_NUMBA

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


def same_trace(net: BNN, X: np.ndarray, threads: int = 1) -> None:
    a = Evaluator(net, threads=threads, compiled=True).trace(X)
    b = Evaluator(net, threads=threads, compiled=False).trace(X)
    assert all(np.array_equal(x, y) for x, y in zip(a.codes, b.codes))
    assert np.array_equal(a.dots, b.dots) and np.array_equal(a.classes, b.classes)
    codes = [unpack_bits(c, h.n_outputs) for c, h in zip(a.codes, net.hidden)]
    for i in range(min(len(X), 40)):  # the semantics, one input at a time
        t = semantics.forward(net, X[i].tolist())
        assert int(a.classes[i]) == t.label
        assert list(a.scores[i]) == list(t.scores)
        assert [tuple(int(b) for b in c[i]) for c in codes] == [tuple(c) for c in t.codes]


@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")  # nasty scales: scores overflow to inf
@given(st.one_of(networks(), nasty_networks()), st.integers(1, 300), st.integers(0, 2**32 - 1), st.integers(1, 2))
@settings(max_examples=60, deadline=None)
def test_compiled_kernel_equals_numpy_and_semantics(net, rows, seed, threads):
    X = np.random.default_rng(seed).integers(0, 2, (rows, net.n_inputs)).astype(np.uint8)
    same_trace(net, X, threads)


@given(st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_compiled_kernel_on_wide_layers(words, seed):
    """Several 64-bit words per row, fan-ins that are not multiples of 64, wide and narrow stages."""
    rng = np.random.default_rng(seed)
    n = 64 * words + int(rng.integers(-30, 30))
    pm = lambda m, k: np.where(rng.random((m, k)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    net = BNN((ThresholdLayer(pm(130, n), rng.integers(-8, 9, 130)), ThresholdLayer(pm(7, 130), rng.integers(-4, 5, 7))),
              ArgmaxLayer(pm(3, 7), np.array([1.0, -0.5, 2.0]), np.array([0.0, 0.5, -1.0])))
    same_trace(net, rng.integers(0, 2, (500, n)).astype(np.uint8), threads=2)
