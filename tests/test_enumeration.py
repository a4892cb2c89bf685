"""Enumeration answers equal brute force over every input; the fast walks equal the plain path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bnnverify.engines.enumeration import (
    DEFAULT_ENUM_LIMIT,
    _walk,
    enum_class_counts,
    enum_disagreements,
    enum_find_class,
    enum_joint_counts,
)
from bnnverify.errors import DataError, RegionError
from bnnverify.evaluation.evaluator import Evaluator, InputTables, code_key
from bnnverify.encoders.regions import Cube, HammingBall, Whole
from strategies import all_inputs, networks, plain_forward, regions

small_nets = networks(n_inputs=st.integers(1, 10), width=st.integers(1, 8)) | networks(
    n_inputs=st.integers(2, 10), width=st.integers(1, 8), thermometer=2
)


def members_in_order(region) -> np.ndarray:
    return np.concatenate(list(region.members(batch_size=1 << 12)))


def brute(net, region):
    """Members of ``region`` found among all inputs, with plain classes and codes."""
    X = all_inputs(net.n_inputs)
    X = X[region.contains(X)]
    codes, _, classes = plain_forward(net, X)
    return X, codes, classes


@given(st.data())
def test_walks_visit_members_in_order_with_plain_classes(data):
    net = data.draw(small_nets)
    region = data.draw(regions(net))
    batch = data.draw(st.integers(1, 40))
    suffix = data.draw(st.sampled_from([1, 3, 10, 1 << 14]))
    layers = tuple(range(1, len(net.hidden) + 1))
    M = members_in_order(region)
    codes, _, classes = plain_forward(net, M)
    got_cls, got_rows, got_codes = [], [], {l: [] for l in layers}
    for b in _walk([net], region, [layers], batch=batch, suffix_rows=suffix):
        kept, cls = b.results[0]
        assert len(cls) == b.size
        got_cls.append(cls)
        got_rows.extend(b.member(t) for t in range(b.size))
        for l in layers:
            got_codes[l].append(kept[l])
    assert np.array_equal(np.array(got_rows), M)
    assert np.array_equal(np.concatenate(got_cls), classes)
    for l in layers:
        keys = [int.from_bytes(r.tobytes(), "little") for r in np.concatenate(got_codes[l])]
        assert keys == [code_key(r) for r in codes[l - 1]]


@given(st.data())
def test_class_counts_equal_brute_force(data):
    net = data.draw(small_nets)
    region = data.draw(regions(net))
    _, _, classes = brute(net, region)
    cc = enum_class_counts(net, region, batch_size=data.draw(st.integers(1, 300)))
    assert cc.region_size == region.size
    assert list(cc.counts) == np.bincount(classes, minlength=net.n_classes).tolist()


@given(st.data())
def test_find_class_is_first_member_in_order(data):
    net = data.draw(small_nets)
    region = data.draw(regions(net))
    wanted = data.draw(st.sets(st.integers(0, net.n_classes - 1), max_size=net.n_classes))
    M = members_in_order(region)
    classes = plain_forward(net, M)[2]
    hits = np.flatnonzero(np.isin(classes, list(wanted)))
    got = enum_find_class(net, region, wanted)
    if hits.size == 0:
        assert got is None
    else:
        assert got is not None and got.dtype == np.uint8 and np.array_equal(got, M[hits[0]])


@given(st.data())
def test_disagreements_equal_brute_force(data):
    net_a = data.draw(small_nets)
    n = net_a.n_inputs
    net_b = data.draw(networks(n_inputs=st.just(n), width=st.integers(1, 8)))
    if data.draw(st.booleans()):
        net_b = net_a  # equivalent: no witness
    region = data.draw(regions(net_a))
    M = members_in_order(region)
    ca, cb = plain_forward(net_a, M)[2], plain_forward(net_b, M)[2]
    d = enum_disagreements(net_a, net_b, region)
    conf: dict = {}
    for a, b in zip(ca.tolist(), cb.tolist()):
        conf[(a, b)] = conf.get((a, b), 0) + 1
    assert dict(d.confusion) == conf
    diff = np.flatnonzero(ca != cb)
    assert d.count == len(diff)
    if diff.size:
        assert np.array_equal(d.witness, M[diff[0]])
    else:
        assert d.witness is None


@given(st.data())
def test_joint_counts_equal_brute_force_and_marginals(data):
    net = data.draw(small_nets)
    region = data.draw(regions(net))
    layers = data.draw(st.lists(st.integers(1, len(net.hidden)), max_size=3))
    with_class = data.draw(st.booleans())
    label = data.draw(st.none() | networks(n_inputs=st.just(net.n_inputs), width=st.integers(1, 6)))
    X, codes, classes = brute(net, region)
    jc = enum_joint_counts(net, region, layers, with_class=with_class, label_net=label)
    want: dict = {}
    lab = plain_forward(label, X)[2] if label is not None else None
    for i in range(len(X)):
        key = tuple(code_key(codes[l - 1][i]) for l in layers)
        key += (int(classes[i]),) if with_class else ()
        key += (int(lab[i]),) if label is not None else ()
        want[key] = want.get(key, 0) + 1
    assert dict(jc.counts) == want
    assert jc.layers == tuple(layers) and jc.with_class == with_class and jc.with_label == (label is not None)
    if with_class:
        marg = jc.marginal((len(layers),))
        cc = enum_class_counts(net, region)
        assert {k[0]: v for k, v in marg.items()} == {c: v for c, v in enumerate(cc.counts) if v}


@settings(max_examples=10)
@given(st.integers(0, 2**31), st.integers(1, 3))
def test_twenty_bit_table_path_equals_packed(seed, depth):
    """Integer-coded inputs + layer tables = the packed evaluator on sampled inputs of 20-input nets."""
    rng = np.random.default_rng(seed)
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    # narrow layers (tabled) and some wider than a word (tables of 2-word codes, untabled successors)
    widths = [20] + [int(rng.integers(1, 20)) if rng.random() < 0.7 else int(rng.integers(60, 100))
                     for _ in range(depth)]
    pm = lambda *s: np.where(rng.random(s) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    hidden = tuple(ThresholdLayer(pm(widths[i + 1], widths[i]), rng.integers(-4, 5, widths[i + 1]))
                   for i in range(depth))
    net = BNN(hidden, ArgmaxLayer(pm(3, widths[-1]), rng.choice([1.0, -1.0, 0.5], 3), rng.choice([0.0, 1.0], 3)))
    u = rng.integers(0, 1 << 20, 3000).astype(np.uint64)
    X = ((u[:, None] >> np.arange(20, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    ev = Evaluator(net)
    want = ev.classify(X)
    assert np.array_equal(ev.classify_ints(u, table_limit=1 << 20), want)
    assert np.array_equal(ev.classify_ints(u, table_limit=0), want)
    assert np.array_equal(want, plain_forward(net, X)[2])


@given(st.integers(0, 2**31), st.integers(1, 30), st.integers(1, 12))
def test_input_tables_equal_plain_dots(seed, n, chunk_bits):
    rng = np.random.default_rng(seed)
    W = np.where(rng.random((5, n)) < 0.5, 1, -1).astype(np.int8)
    base = rng.integers(0, 2, n).astype(np.uint8)
    free = np.sort(rng.choice(n, int(rng.integers(0, min(n, 14) + 1)), replace=False))
    it = InputTables(W, base, free, chunk_bits=chunk_bits)
    u = np.arange(1 << len(free), dtype=np.uint64)
    X = np.broadcast_to(base, (len(u), n)).copy()
    X[:, free] = (u[:, None] >> np.arange(len(free), dtype=np.uint64)) & np.uint64(1)
    want = (2 * X.astype(np.int64) - 1) @ W.T.astype(np.int64)
    assert np.array_equal(it.dots(u), want)
    n_high = 1 << (len(free) - it.low_bits)
    assert np.array_equal(it.dots_block(0, n_high), want)
    theta = rng.integers(-n - 1, n + 2, 5)
    assert np.array_equal(it.fires_block(0, n_high, theta), want >= theta)


def test_bnnquanalyst_ball_and_cube(anchors):
    """A real model: a radius-2 ball and a 12-bit cube agree with the packed evaluator on members()."""
    imp = pytest.importorskip("bnnverify.importers.bnnquanalyst")
    net = imp.import_bnnquanalyst(anchors / "models" / "mnist_bnn_2_blk_100_50_20_10")
    x = np.loadtxt(anchors / "inputs" / "instance_0_100.txt", dtype=np.int64).astype(np.uint8).reshape(-1)
    ev = Evaluator(net)
    for region in (HammingBall(x, 2), Cube.from_free(x, np.arange(0, 100, 8))):
        want = np.bincount(np.concatenate([ev.classify(X) for X in region.members()]), minlength=10)
        assert list(enum_class_counts(net, region).counts) == want.tolist()


def test_errors_name_the_mismatch():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    net = BNN((ThresholdLayer(np.ones((2, 3), np.int8), np.zeros(2, np.int64)),),
              ArgmaxLayer(np.ones((2, 2), np.int8), np.ones(2), np.zeros(2)))
    with pytest.raises(RegionError, match=r"n=4.*n_inputs=3"):
        enum_class_counts(net, Whole(4))
    with pytest.raises(RegionError, match="second network"):
        enum_disagreements(net, BNN((ThresholdLayer(np.ones((2, 4), np.int8), np.zeros(2, np.int64)),),
                                    net.output), Whole(3))
    with pytest.raises(DataError, match="layers"):
        enum_joint_counts(net, Whole(3), [2])
    with pytest.raises(DataError, match="batch_size"):
        enum_class_counts(net, Whole(3), batch_size=0)
    assert enum_find_class(net, Whole(3), []) is None
    assert DEFAULT_ENUM_LIMIT == 10**7


@settings(max_examples=10)
@given(st.integers(0, 2**31), st.sampled_from([[1], [1, 2], [2, 1, 2], [2]]))
def test_joint_counts_of_wide_codes(seed, layers):
    """Codes wider than one word and keys wider than 64 bits (the unfused path)."""
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    rng = np.random.default_rng(seed)
    pm = lambda *s: np.where(rng.random(s) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    net = BNN((ThresholdLayer(pm(70, 9), rng.integers(-2, 3, 70)), ThresholdLayer(pm(30, 70), rng.integers(-4, 5, 30))),
              ArgmaxLayer(pm(3, 30), np.ones(3), np.zeros(3)))
    centre = rng.integers(0, 2, 9).astype(np.uint8)
    for region in (HammingBall(centre, 4), Whole(9), Cube.from_free(centre, [0, 3, 4, 8])):
        X, codes, classes = brute(net, region)
        want: dict = {}
        for i in range(len(X)):
            key = tuple(code_key(codes[l - 1][i]) for l in layers) + (int(classes[i]),)
            want[key] = want.get(key, 0) + 1
        assert dict(enum_joint_counts(net, region, layers, with_class=True).counts) == want


def test_find_class_rejects_a_class_that_does_not_exist():
    """Like the BDD and SAT engines: a nonexistent class is an error, not 'no member' (cross-check bug 3)."""
    import pytest as _pytest

    from bnnverify.engines.enumeration import enum_find_class
    from bnnverify.errors import DataError as _DataError
    from bnnverify.encoders.layers import BNN as _BNN, ArgmaxLayer as _Arg, ThresholdLayer as _Thr
    from bnnverify.encoders.regions import Whole as _Whole

    net = _BNN((_Thr(np.ones((1, 3), np.int8), np.zeros(1, np.int64)),),
               _Arg(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    with _pytest.raises(_DataError, match="5 is outside 0..1"):
        enum_find_class(net, _Whole(3), [5])
    assert enum_find_class(net, _Whole(3), []) is None
