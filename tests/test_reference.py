"""The bit-packed evaluator equals a plain integer-matrix implementation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from bnnverify.errors import DataError
from bnnverify.evaluation.evaluator import Evaluator, code_key, code_keys, pack_bits, unpack_bits
from bnnverify.encoders.layers import winner
from strategies import all_inputs, networks, plain_forward
import pytest
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer


@given(networks(n_inputs=st.integers(1, 16), width=st.integers(1, 12)))
def test_evaluator_matches_plain_on_every_input(net):
    X = all_inputs(net.n_inputs) if net.n_inputs <= 12 else np.random.default_rng(0).integers(0, 2, (3000, net.n_inputs), dtype=np.uint8)
    codes, dots, classes = plain_forward(net, X)
    tr = Evaluator(net, chunk=257).trace(X)
    assert np.array_equal(tr.classes, classes)
    assert np.array_equal(tr.dots, dots)
    for l, c in enumerate(codes):
        assert np.array_equal(unpack_bits(tr.codes[l], c.shape[1]), c)
        assert code_keys(tr.codes[l])[:50] == [code_key(row) for row in c[:50]]
    # the scalar reference rule used by encoders agrees too
    for i in range(0, len(X), max(1, len(X) // 40)):
        assert winner(net.output, dots[i]) == classes[i]


@given(st.integers(1, 200), st.integers(1, 20), st.integers(0, 2**31))
def test_pack_unpack_roundtrip(n, N, seed):
    X = np.random.default_rng(seed).integers(0, 2, (N, n), dtype=np.uint8)
    P = pack_bits(X)
    assert P.shape == (N, (n + 63) // 64) and P.dtype == np.uint64
    assert np.array_equal(unpack_bits(P, n), X)


def test_bad_inputs_are_named():
    from strategies import pm1  # noqa: F401
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    net = BNN((ThresholdLayer(np.ones((2, 3), np.int8), np.zeros(2, np.int64)),),
              ArgmaxLayer(np.ones((2, 2), np.int8), np.ones(2), np.zeros(2)))
    ev = Evaluator(net)
    with pytest.raises(DataError, match="3"):
        ev.classify(np.zeros((1, 4), np.uint8))
    with pytest.raises(DataError, match="0 or 1"):
        ev.classify(np.array([[0, 2, 1]]))


@st.composite
def seeded_networks(draw, max_inputs: int = 140, max_width: int = 80):
    """Random networks too large for element-wise hypothesis drawing (weights from a seed)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    widths = [draw(st.integers(1, max_inputs))] + [draw(st.integers(1, max_width)) for _ in range(draw(st.integers(0, 3)))]
    hidden = []
    for i in range(len(widths) - 1):
        n, m = widths[i], widths[i + 1]
        w = np.where(rng.random((m, n)) < draw(st.sampled_from([0.5, 0.1, 0.9])), 1, -1).astype(np.int8)
        t = rng.integers(-n - 2, n + 3, m) if draw(st.booleans()) else rng.integers(-3, 4, m)
        hidden.append(ThresholdLayer(w, t.astype(np.int64)))
    c = draw(st.integers(2, 5))
    w = np.where(rng.random((c, widths[-1])) < 0.5, 1, -1).astype(np.int8)
    scale = rng.choice([1.0, -1.0, 0.5, 0.0, 2.0], c)
    bias = rng.choice([0.0, 0.0, 1.0, -0.5, 1e-9], c)
    return BNN(tuple(hidden), ArgmaxLayer(w, scale, bias))


@given(
    seeded_networks(),
    st.integers(1, 70),
    st.sampled_from([0, 1 << 17]),
    st.sampled_from([1, 64, 10**6]),
    st.integers(1, 3),
    st.integers(0, 2**31),
)
def test_block_paths_match_plain(net, chunk, one_shot, row_major_min, threads, seed):
    """Every kernel variant (one-shot / blocks, row- / column-major, threads) is the plain semantics."""
    X = np.random.default_rng(seed).integers(0, 2, (97, net.n_inputs), dtype=np.uint8)
    codes, dots, classes = plain_forward(net, X)
    ev = Evaluator(net, chunk=chunk, threads=threads)
    ev._one_shot, ev._row_major_min = one_shot, row_major_min
    tr = ev.trace(X)
    assert np.array_equal(tr.classes, classes) and np.array_equal(tr.dots, dots)
    assert np.array_equal(ev.classify(X), classes)
    for l, c in enumerate(codes):
        assert np.array_equal(unpack_bits(tr.codes[l], c.shape[1]), c)
        assert np.array_equal(ev.codes(X, l + 1), tr.codes[l])


def test_empty_batch_and_single_rows():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    rng = np.random.default_rng(1)
    w = np.where(rng.random((70, 130)) < 0.5, 1, -1).astype(np.int8)
    net = BNN((ThresholdLayer(w, rng.integers(-5, 5, 70)),),
              ArgmaxLayer(np.ones((3, 70), np.int8), np.array([1.0, 2.0, -1.0]), np.zeros(3)))
    ev = Evaluator(net)
    tr = ev.trace(np.zeros((0, 130), np.uint8))
    assert tr.classes.shape == (0,) and tr.dots.shape == (0, 3) and tr.codes[0].shape == (0, 2)
    X = rng.integers(0, 2, (5, 130), dtype=np.uint8)
    assert [ev.classify_one(x) for x in X] == ev.classify(X).tolist() == plain_forward(net, X)[2].tolist()


@given(st.integers(1, 200), st.integers(1, 50), st.integers(0, 2**31))
def test_column_and_row_packing_agree(m, N, seed):
    from bnnverify.evaluation.evaluator import _pack_columns, _pack_rows_T

    f = np.random.default_rng(seed).random((N, m)) < 0.5
    P, PT = _pack_rows_T(f)
    Q, QT = _pack_columns(np.ascontiguousarray(f.T))
    assert np.array_equal(P, Q) and np.array_equal(PT, QT) and np.array_equal(PT, P.T)
    assert np.array_equal(unpack_bits(P, m), f.astype(np.uint8))


@settings(max_examples=15)
@given(seeded_networks(max_inputs=100, max_width=60), st.integers(0, 2**31))
def test_large_blocks_of_narrow_layers(net, seed):
    """Blocks of thousands of rows take the column-packing path for narrow layers."""
    X = np.random.default_rng(seed).integers(0, 2, (5000, net.n_inputs), dtype=np.uint8)
    codes, dots, classes = plain_forward(net, X)
    tr = Evaluator(net, chunk=4096).trace(X)
    assert np.array_equal(tr.classes, classes) and np.array_equal(tr.dots, dots)
    for l, c in enumerate(codes):
        assert np.array_equal(unpack_bits(tr.codes[l], c.shape[1]), c)


def test_evaluator_pickles_without_its_buffers():
    import pickle

    rng = np.random.default_rng(3)
    w = np.where(rng.random((80, 100)) < 0.5, 1, -1).astype(np.int8)
    net = BNN((ThresholdLayer(w, rng.integers(-5, 5, 80)),),
              ArgmaxLayer(np.where(rng.random((4, 80)) < 0.5, 1, -1).astype(np.int8), np.ones(4), np.zeros(4)))
    ev = Evaluator(net, chunk=64, threads=2)
    X = rng.integers(0, 2, (500, 100), dtype=np.uint8)
    want = ev.classify(X)
    ev2 = pickle.loads(pickle.dumps(ev))
    assert ev2._workspaces == [] and np.array_equal(ev2.classify(X), want)
    assert np.array_equal(want, plain_forward(net, X)[2])
