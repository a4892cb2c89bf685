"""Equivalence: function-preserving rewrites are proved equivalent, a flipped weight only when true."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bnnverify.questions.equivalence import check_equivalence
from bnnverify.errors import ModelError
from bnnverify.questions.verdict import Method, Verdict
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.encoders.regions import Whole
from strategies import all_inputs, networks, plain_forward, regions
from test_robustness import COUNTERS, DECIDERS

NETS = networks(n_inputs=st.integers(1, 9), n_hidden=st.integers(1, 3), width=st.integers(1, 6))


def _replace_layers(net, hidden, out=None):
    return BNN(tuple(hidden), out if out is not None else net.output, net.thermometer_levels)


def _next_weights(net, l):
    return net.hidden[l + 1].weights if l + 1 < len(net.hidden) else net.output.weights


def _with_next_weights(net, l, hidden, w_next):
    if l + 1 < len(net.hidden):
        h = net.hidden[l + 1]
        hidden[l + 1] = ThresholdLayer(w_next, h.thresholds, name=h.name)
        return _replace_layers(net, hidden)
    o = net.output
    return _replace_layers(net, hidden, ArgmaxLayer(w_next, o.scale, o.bias))


def permuted(net, l, perm):
    """Hidden layer l's neurons reordered; the next layer's columns follow."""
    hidden = list(net.hidden)
    h = hidden[l]
    hidden[l] = ThresholdLayer(h.weights[perm], h.thresholds[perm], name=h.name)
    return _with_next_weights(net, l, hidden, _next_weights(net, l)[:, perm].copy())


def negated(net, l, j):
    """Neuron j of layer l computes 1 - y: row negated, θ' = 1 - θ; the next column compensates.

    [-d >= 1 - θ] = [d <= θ - 1] = [d < θ] = 1 - [d >= θ] for integer d, and
    s(1 - y) = -s(y), so negating column j of the next layer restores every
    dot product (its thresholds stay as they are).
    """
    hidden = list(net.hidden)
    h = hidden[l]
    w, t = h.weights.copy(), h.thresholds.copy()
    w[j] = -w[j]
    t[j] = 1 - t[j]
    hidden[l] = ThresholdLayer(w, t, name=h.name)
    nw = _next_weights(net, l).copy()
    nw[:, j] = -nw[:, j]
    return _with_next_weights(net, l, hidden, nw)


def _layer_and_neuron(data, net):
    l = data.draw(st.integers(0, len(net.hidden) - 1))
    return l, data.draw(st.integers(0, net.hidden[l].n_outputs - 1))


def _check_equivalent(a, b, region):
    for m in DECIDERS:
        r = check_equivalence(a, b, region, method=m)
        assert r.verdict is Verdict.EQUIVALENT and r.witness is None, m
    for m in COUNTERS:
        r = check_equivalence(a, b, region, method=m, count=True)
        assert r.verdict is Verdict.EQUIVALENT and r.disagreement_count == 0, m
        assert all(p == q for p, q in r.confusion) and sum(r.confusion.values()) == region.size


@settings(max_examples=30)
@given(st.data())
def test_permuting_hidden_neurons_is_equivalent(data):
    net = data.draw(NETS)
    l, _ = _layer_and_neuron(data, net)
    perm = np.array(data.draw(st.permutations(range(net.hidden[l].n_outputs))))
    _check_equivalent(net, permuted(net, l, perm), data.draw(regions(net)))


@settings(max_examples=30)
@given(st.data())
def test_negated_neuron_with_compensated_column_is_equivalent(data):
    net = data.draw(NETS)
    l, j = _layer_and_neuron(data, net)
    other = negated(net, l, j)
    X = all_inputs(net.n_inputs)
    codes_a, codes_b = plain_forward(net, X)[0], plain_forward(other, X)[0]
    assert (codes_b[l][:, j] == 1 - codes_a[l][:, j]).all()  # the rewrite does what it says
    _check_equivalent(net, other, data.draw(regions(net)))


@settings(max_examples=40)
@given(st.data())
def test_one_flipped_weight_is_equivalent_only_if_enumeration_says_so(data):
    net = data.draw(NETS)
    layers = list(net.hidden) + [net.output]
    l = data.draw(st.integers(0, len(layers) - 1))
    w = layers[l].weights.copy()
    i = data.draw(st.integers(0, w.shape[0] - 1))
    k = data.draw(st.integers(0, w.shape[1] - 1))
    w[i, k] = -w[i, k]
    hidden = list(net.hidden)
    if l < len(hidden):
        hidden[l] = ThresholdLayer(w, hidden[l].thresholds)
        other = _replace_layers(net, hidden)
    else:
        other = _replace_layers(net, hidden, ArgmaxLayer(w, net.output.scale, net.output.bias))
    region = data.draw(regions(net))
    X = all_inputs(net.n_inputs)
    X = X[region.contains(X)]
    ca, cb = plain_forward(net, X)[2], plain_forward(other, X)[2]
    differ = ca != cb
    expect_conf = {}
    for p, q in zip(ca.tolist(), cb.tolist()):
        expect_conf[(p, q)] = expect_conf.get((p, q), 0) + 1
    for m in DECIDERS:
        r = check_equivalence(net, other, region, method=m)
        assert r.verdict is (Verdict.NOT_EQUIVALENT if differ.any() else Verdict.EQUIVALENT), m
        if differ.any():
            assert region.contains(r.witness)[0]
            assert int(plain_forward(net, r.witness[None, :])[2][0]) == r.class_a
            assert int(plain_forward(other, r.witness[None, :])[2][0]) == r.class_b != r.class_a
    for m in COUNTERS:
        r = check_equivalence(net, other, region, method=m, count=True)
        assert r.disagreement_count == int(differ.sum()), m
        assert dict(r.confusion) == expect_conf


def test_models_over_different_inputs_are_refused():
    def net(n):
        return BNN((ThresholdLayer(np.ones((1, n), np.int8), np.array([0])),),
                   ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))

    with pytest.raises(ModelError, match="different numbers of inputs: 3 .* and 4"):
        check_equivalence(net(3), net(4))


def test_json_shape_and_default_region():
    a = BNN((ThresholdLayer(np.array([[1, 1]], np.int8), np.array([0])),),
            ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    b = BNN((ThresholdLayer(np.array([[1, 1]], np.int8), np.array([1])),), a.output)
    r = check_equivalence(a, b, method=Method.ENUM, count=True)
    assert r.region == Whole(2).describe()
    j = r.to_json()
    assert list(j) == ["verdict", "region", "witness", "class_a", "class_b", "disagreement_count",
                       "confusion", "method", "reason", "seconds"]
    assert j["reason"] == "asked for enum"
    assert j["verdict"] == "not_equivalent" and j["disagreement_count"] == 2
    assert j["confusion"] == {"0": {"0": 1, "1": 2}, "1": {"1": 1}}


def test_identical_models_are_equivalent_without_an_engine():
    rng = np.random.default_rng(0)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    a = BNN((ThresholdLayer(pm(40, 200), np.zeros(40, np.int64)),), ArgmaxLayer(pm(10, 40), np.ones(10), np.zeros(10)))
    b = BNN((ThresholdLayer(a.hidden[0].weights.copy(), np.zeros(40, np.int64)),), a.output)
    r = check_equivalence(a, b, method="sat")
    assert r.verdict is Verdict.EQUIVALENT and "identical" in r.note
