"""``linear`` layers kept by rows (``encoders/sparse_linear.py``) against the dense form and brute force.

The row form must be the same function as the dense matrix it stands for —
on the semantics module, the numpy forward and the evaluator — and every
engine that compiles it (CNF folding and cardinality constraints over only the
non-zero terms, BDDs) must give the same answers as brute force over every
input. Conv views and the order encoding of integer-conv layers are built by
rows; their dense counterparts are checked against them here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.conv_layers import IntegerConvLayer, linear_view
from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs, LinearLayer, numpy_layer
from bnnverify.encoders.order import lower
from bnnverify.encoders.pixel_regions import IntBox
from bnnverify.encoders.regions import Whole
from bnnverify.encoders.sparse_linear import SparseLinearLayer, linear_terms, rows_from_dense
from bnnverify.engines import run
from bnnverify.engines.base import Outcome
from bnnverify.errors import ModelError
from bnnverify.evaluation.evaluator import Evaluator
from strategies import all_inputs, argmax_layers, conv_networks, integer_conv_networks

SETTINGS = settings(max_examples=60, deadline=None, database=None)


@st.composite
def dense_linear(draw, max_n: int = 7, max_m: int = 5):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    C = np.array(draw(st.lists(st.sampled_from([0, 0, 0, 1, -1, 2, -3]), min_size=m * n, max_size=m * n)),
                 np.int64).reshape(m, n)
    b = np.array(draw(st.lists(st.integers(-5, 6), min_size=m, max_size=m)), np.int64)
    return LinearLayer(C, b)


@st.composite
def shuffled_rows(draw, layer: LinearLayer):
    """The same rows as ``layer`` in a non-canonical form: terms shuffled, padding and explicit
    zero coefficients anywhere, extra padding columns."""
    index, coef = rows_from_dense(layer.coefficients)
    n = layer.n_inputs
    extra = draw(st.integers(0, 3))
    index = np.concatenate([index, np.full((index.shape[0], extra), n)], axis=1)
    coef = np.concatenate([coef, np.zeros((coef.shape[0], extra), np.int64)], axis=1)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for r in range(index.shape[0]):
        p = rng.permutation(index.shape[1])
        index[r], coef[r] = index[r, p], coef[r, p]
    # a padded slot may name a real input with a zero coefficient: still no term
    pad = (index == n) & (rng.random(index.shape) < 0.5)
    index = np.where(pad, rng.integers(0, n, index.shape), index)
    dup = pad & np.isin(index, index[~pad]) if pad.any() else pad
    index = np.where(dup, n, index)  # keep "no input listed twice with a coefficient"
    return SparseLinearLayer(index, coef, layer.bounds, n)


@SETTINGS
@given(dense_linear(), st.data())
def test_rows_are_the_dense_function_on_every_input(layer, data):
    sparse = data.draw(shuffled_rows(layer))
    X = all_inputs(layer.n_inputs)
    truth = [semantics.RULES["linear"](layer, x) for x in X]
    assert np.array_equal(sparse.coefficients, layer.coefficients)
    assert [tuple(r) for r in sparse.forward(X).tolist()] == truth
    assert [tuple(r) for r in numpy_layer(sparse, X).tolist()] == truth
    assert [semantics.RULES["linear"](sparse, x) for x in X] == truth
    assert sparse == SparseLinearLayer.from_dense(layer)
    assert LinearLayer.from_arrays(sparse.arrays(), "layer") == layer
    index, coef = linear_terms(layer)
    assert ((index < layer.n_inputs) == (coef != 0)).all()


@SETTINGS
@given(dense_linear(max_n=6, max_m=4), st.integers(2, 3), st.data())
def test_engines_on_rows_agree_with_brute_force(layer, n_classes, data):
    sparse = data.draw(shuffled_rows(layer))
    out = data.draw(argmax_layers(layer.n_outputs, n_classes))
    dense_net, sparse_net = BNN((layer,), out), BNN((sparse,), out)
    X = all_inputs(layer.n_inputs)
    classes = [semantics.classify(dense_net, x) for x in X]
    assert Evaluator(sparse_net).classify(X).tolist() == classes
    want = data.draw(st.sets(st.integers(0, n_classes - 1), min_size=1))
    exists = any(c in want for c in classes)
    for method in ("sat", "bdd", "enum"):
        a = run.find_class(sparse_net, Whole(layer.n_inputs), sorted(want), method=method)
        assert a.search.outcome == (Outcome.FOUND if exists else Outcome.NONE), method
    counts = run.class_counts(sparse_net, Whole(layer.n_inputs), method="bdd").counts
    assert list(counts) == [classes.count(c) for c in range(n_classes)]


@SETTINGS
@given(st.one_of(conv_networks(max_inputs=9), integer_conv_networks()), st.integers(0, 2**32 - 1))
def test_conv_row_views_are_their_layers(net, seed):
    rng = np.random.default_rng(seed)
    lin = linear_view(net)
    for h, v in zip(net.hidden, lin.hidden):
        if h.kind in ("conv", "maxpool"):
            assert isinstance(v, SparseLinearLayer) and v.index.shape[1] <= h.row_cost
        if h.kind == "integer-conv":
            index, w, t = h.rows()
            dense = h.as_dense()
            rebuilt = np.zeros((h.n_outputs, h.n_inputs + 1), np.int64)
            rebuilt[np.arange(h.n_outputs)[:, None], index] = w
            assert np.array_equal(rebuilt[:, :-1], dense.weights) and np.array_equal(t, dense.thresholds)
    if net.inputs is None:
        X = rng.integers(0, 2, (32, net.n_inputs))
        assert Evaluator(lin).classify(X).tolist() == net.predict(X).tolist()


@SETTINGS
@given(integer_conv_networks(), st.integers(0, 2**32 - 1), st.integers(0, 2))
def test_lowered_integer_conv_rows_give_every_image_its_class(net, seed, eps):
    rng = np.random.default_rng(seed)
    lo, hi = net.inputs.lo, net.inputs.hi
    c = rng.integers(lo, hi + 1)
    box = IntBox(np.maximum(lo, c - eps), np.minimum(hi, c + eps))
    low = lower(net, box, "pixels")
    assert isinstance(low.nets[0].hidden[0], SparseLinearLayer)
    P = rng.integers(box.lo, box.hi + 1, (64, net.n_inputs))
    codes = low.encode(P)
    assert Evaluator(low.nets[0]).classify(codes).tolist() == net.predict(P).tolist()
    want = sorted(set(net.predict(P).tolist()))
    a = run.find_class(net, box, want, method="sat")
    assert a.search.outcome == Outcome.FOUND


def test_the_row_form_is_checked_and_named():
    with pytest.raises(ModelError, match="row 0 lists input 1 twice"):
        SparseLinearLayer(np.array([[1, 1]]), np.array([[1, 2]]), np.array([1]), 3)
    with pytest.raises(ModelError, match=r"index \[0, 1\] is 4, outside 0..3"):
        SparseLinearLayer(np.array([[1, 4]]), np.array([[1, 2]]), np.array([1]), 3)
    big = SparseLinearLayer(np.zeros((1 << 15, 1), np.int64), np.ones((1 << 15, 1), np.int64),
                            np.ones(1 << 15, np.int64), 1 << 14)
    with pytest.raises(ModelError, match="kept by rows"):
        big.coefficients  # noqa: B018 - the property raises


def test_a_wide_integer_conv_box_is_lowered_by_rows():
    # 3 x 20 x 20 pixels, 8 output channels of 3x3 kernels, an L∞ ball of 5 grey levels:
    # densely 3,200 x 30,000 coefficients; by rows 3,200 x 270
    rng = np.random.default_rng(1)
    w = rng.choice([-1, 1], (8, 3, 3, 3)).astype(np.int16)
    first = IntegerConvLayer(w, rng.integers(-200, 200, (8, 20, 20)), shape=(3, 20, 20), pads=(1, 1, 1, 1))
    out = ArgmaxLayer(rng.choice([-1, 1], (2, first.n_outputs)).astype(np.int8), np.ones(2), np.zeros(2))
    net = BNN((first,), out, inputs=IntegerInputs.pixels(first.n_inputs))
    c = rng.integers(5, 251, first.n_inputs)
    low = lower(net, IntBox(c - 5, c + 5), "pixels")
    row = low.nets[0].hidden[0]
    assert row.index.shape == (3200, 270) and row.n_inputs == 1200 * 10
    P = np.clip(c[None, :] + rng.integers(-5, 6, (16, first.n_inputs)), 0, 255)
    assert Evaluator(low.nets[0]).classify(low.encode(P)).tolist() == net.predict(P).tolist()
