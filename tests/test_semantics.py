"""The semantics module is the definition; everything fast is tested against it.

* the semantics against an independent integer-matrix formulation
  (``strategies.plain_forward``) and hand-computed cases;
* the bit-packed evaluator (classes, scores, hidden codes) against the semantics;
* the encoders' own argmax rule (``encoders.layers.beats``/``winner``, which
  encoders must use since they cannot import the semantics) against it.

Every engine is checked against it by ``tests/test_conformance.py``; the torch
eval-mode modules are checked against the exported models on the evaluator
(``tests/test_export.py``), which is checked here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer, winner
from bnnverify.errors import DataError, ModelError
from bnnverify.evaluation.evaluator import Evaluator, unpack_bits
from strategies import all_inputs, nasty_networks, networks, plain_forward

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def test_hand_computed():
    # one neuron: x0 + x1 - x2 >= 1; classes: +y (scale 2, bias 0) vs -y (scale 1, bias 1)
    h = ThresholdLayer(np.array([[1, 1, -1]], dtype=np.int8), np.array([1]))
    o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.array([2.0, 1.0]), np.array([0.0, 1.0]))
    net = BNN((h,), o)
    t = semantics.forward(net, [1, 1, 0])  # dot = 1 + 1 + 1 = 3 >= 1: fires
    assert t.codes == ((1,),) and t.scores == (2.0, 0.0) and t.label == 0
    t = semantics.forward(net, [0, 0, 0])  # dot = -1 - 1 + 1 = -1 < 1: off; scores -2 and 2
    assert t.codes == ((0,),) and t.scores == (-2.0, 2.0) and t.label == 1
    assert semantics.first_maximum([1.0, 1.0]) == 0  # ties: the smaller index


def test_rounding_is_ieee_double_without_fma():
    # 0.1 * 3 + 0.0 == 0.30000000000000004 > 0.1 * 1 + 0.2 (== 0.30000000000000004) ties; then the index decides
    o = ArgmaxLayer(np.array([[1, 1, 1], [1, -1, -1]], dtype=np.int8), np.array([0.1, 0.1]), np.array([0.0, 0.2]))
    net = BNN((), o)
    s = semantics.forward(net, [1, 1, 1]).scores
    assert s == (0.1 * 3 + 0.0, 0.1 * -1 + 0.2)
    assert semantics.classify(net, [1, 1, 1]) == (0 if s[0] >= s[1] else 1)


def test_bad_inputs_are_errors():
    net = BNN((), ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2)))
    with pytest.raises(DataError, match="2 bits, the network expects 1"):
        semantics.classify(net, [1, 0])
    with pytest.raises(DataError, match="not 0 or 1"):
        semantics.classify(net, [2])

    class Unknown:
        kind, name = "nonesuch", "layer0"

    with pytest.raises(ModelError, match="no rule for layer kind 'nonesuch'"):
        semantics.forward(type("N", (), {"n_inputs": 1, "hidden": (Unknown(),), "output": None})(), [1])


@given(st.one_of(networks(n_inputs=st.integers(1, 9)), nasty_networks(n_inputs=st.integers(1, 8))))
@settings(max_examples=80)
def test_plain_forward_evaluator_and_encoders_rule_agree_with_the_semantics(net):
    X = all_inputs(net.n_inputs)
    codes, dots, classes = plain_forward(net, X)
    ev = Evaluator(net)
    tr = ev.trace(X)
    for i, x in enumerate(X):
        t = semantics.forward(net, x)
        assert t.label == int(classes[i]) == int(tr.classes[i]) == winner(net.output, dots[i])
        for l, code in enumerate(t.codes):
            assert code == tuple(int(b) for b in codes[l][i])
            assert code == tuple(int(b) for b in unpack_bits(tr.codes[l][i : i + 1], len(code))[0])
    assert net.predict(X).tolist() == [semantics.classify(net, x) for x in X]
    scores = ev.scores(X)
    for i in range(0, len(X), max(1, len(X) // 16)):
        assert tuple(float(v) for v in scores[i]) == semantics.forward(net, X[i]).scores
