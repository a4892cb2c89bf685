"""The compiled conv-front kernels (``bnnverify/evaluation/convkernels.py``) against the numpy rules
and the semantics module, on random conv stacks (both layouts, pads, strides, polarities), kernels
wider than one 64-bit word, and integer first layers in every accumulator width."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.conv_layers import ConvLayer, IntegerConvLayer, MaxPoolLayer
from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.evaluation.flips import HAVE_NUMBA
from strategies import conv_networks, integer_conv_networks

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")

SETTINGS = settings(max_examples=40, deadline=None, database=None)


def _rows(net, rng, n=24):
    if net.inputs is None:
        return rng.integers(0, 2, (n, net.n_inputs))
    return rng.integers(net.inputs.lo, net.inputs.hi + 1, (n, net.n_inputs))


@SETTINGS
@given(st.one_of(conv_networks(max_inputs=12), integer_conv_networks()), st.integers(0, 2**32 - 1))
def test_compiled_front_is_the_numpy_rule_and_the_semantics(net, seed):
    from bnnverify.evaluation.convkernels import run_layer

    X = _rows(net, np.random.default_rng(seed))
    v = X
    for h in net.hidden:
        if h.kind == "threshold":
            break
        got, want = run_layer(h, v), h.forward(v)
        assert np.array_equal(got, want), h.kind
        v = want
    truth = [semantics.forward(net, x) for x in X]
    tr = Evaluator(net, compiled=True).trace(X)
    assert tr.classes.tolist() == [t.label for t in truth]
    assert Evaluator(net, compiled=False).classify(X).tolist() == [t.label for t in truth]
    assert Evaluator(net, compiled=True).classify(X).tolist() == [t.label for t in truth]  # classify_front


@pytest.mark.parametrize("layout", ["CHW", "HWC"])
def test_wide_kernels_and_every_accumulator_width(layout):
    from bnnverify.evaluation.convkernels import run_layer

    rng = np.random.default_rng(3)
    # 9 channels x 3 x 3 = 81 taps: two 64-bit words per patch, pads and stride 2
    conv = ConvLayer(rng.choice([-1, 1], (5, 9, 3, 3)).astype(np.int8), rng.integers(-20, 20, 5),
                     shape=(9, 5, 6), stride=(2, 1), pads=(1, 1, 0, 1), layout=layout)
    X = rng.integers(0, 2, (16, conv.n_inputs))
    assert np.array_equal(run_layer(conv, X), conv.forward(X))
    pool = MaxPoolLayer((2, 3), np.array([1, -1] * 4 + [1]), shape=(9, 5, 6), pads=(1, 0, 0, 2), layout=layout)
    assert np.array_equal(run_layer(pool, X), pool.forward(X))
    # int32 and int64 patches: pixels up to 2^10 and 2^30, weights up to 300
    w = rng.integers(-300, 301, (3, 2, 2, 2)).astype(np.int16)
    for hi in (1 << 10, 1 << 30):
        layer = IntegerConvLayer(w, rng.integers(-hi, hi, (3, 4, 4)), shape=(2, 4, 4), pads=(1, 1, 0, 0),
                                 layout=layout)
        P = rng.integers(-hi, hi + 1, (8, layer.n_inputs))
        assert np.array_equal(run_layer(layer, P), layer.forward(P))
        net = BNN((layer,), ArgmaxLayer(rng.choice([-1, 1], (2, layer.n_outputs)).astype(np.int8), np.ones(2),
                                       np.zeros(2)), inputs=IntegerInputs.pixels(layer.n_inputs, -hi, hi))
        assert [semantics.classify(net, p) for p in P] == Evaluator(net, compiled=True).classify(P).tolist()
