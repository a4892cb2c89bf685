"""RowCounter's array paths (grouping by lexicographic sort, merging counters) against brute force."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.information.codecounts import RowCounter, _group_rows, _sum_by_row
from bnnverify.information.entropy import layer_info_from_pairs


@given(st.data())
@settings(max_examples=60)
def test_group_rows_is_the_sorted_distinct_rows(data):
    cols = data.draw(st.integers(1, 4))
    pool = data.draw(st.lists(st.tuples(*[st.integers(0, 2**64 - 1)] * cols), min_size=1, max_size=6))
    rows = data.draw(st.lists(st.sampled_from(pool), min_size=0, max_size=40))
    keys = np.array(rows, dtype=np.uint64).reshape(len(rows), cols)
    w = np.array(data.draw(st.lists(st.integers(0, 2**40), min_size=len(rows), max_size=len(rows))), np.int64)
    uniq, inv = _group_rows(keys)
    assert [tuple(int(v) for v in r) for r in uniq] == sorted(set(rows))
    assert (uniq[inv] == keys).all()
    u2, cnt = _sum_by_row(keys, w)
    want = Counter()
    for r, v in zip(rows, w.tolist()):
        want[r] += v
    assert {tuple(int(v) for v in r): int(c) for r, c in zip(u2, cnt)} == dict(want)


@given(st.data())
@settings(max_examples=30, deadline=None)
def test_merged_counters_of_wide_layers_match_brute_force(data):
    """Layers of 58..70 neurons (the code plus a 4-bit label no longer fits one uint64 key: the
    lexicographic path; beyond 64 neurons, two code words), rows in chunks, one counter per chunk merged."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(2, 7))
    w1 = data.draw(st.integers(58, 70))
    w2 = data.draw(st.integers(1, 5))
    h1 = ThresholdLayer(rng.choice([-1, 1], (w1, n)).astype(np.int8), rng.integers(-n, n + 1, w1))
    h2 = ThresholdLayer(rng.choice([-1, 1], (w2, w1)).astype(np.int8), rng.integers(-4, 5, w2))
    out = ArgmaxLayer(rng.choice([-1, 1], (3, w2)).astype(np.int8), np.ones(3), np.zeros(3))
    net = BNN((h1, h2), out)
    N = data.draw(st.integers(1, 60))
    X = rng.integers(0, 2, (N, n)).astype(np.uint8)
    y = rng.integers(0, 16, N)
    weights = rng.integers(1, 1000, N)
    cuts = sorted(data.draw(st.lists(st.integers(0, N), max_size=4)))
    ev = Evaluator(net)
    merged = RowCounter(net)
    for lo, hi in zip([0] + cuts, cuts + [N]):
        if lo >= hi:
            continue
        part = RowCounter(net)
        part.add(ev.trace(X[lo:hi]).codes, y[lo:hi], weight=weights[lo:hi])
        merged.merge(part)
    assert merged.total == int(weights.sum())
    for layer in (1, 2):
        pairs: Counter = Counter()
        for x, lab, wt in zip(X, y.tolist(), weights.tolist()):
            code = semantics.forward(net, x).codes[layer - 1]
            pairs[(sum(int(b) << j for j, b in enumerate(code)), lab)] += wt
        assert merged.pair_counts(layer) == dict(pairs)
        want = layer_info_from_pairs(layer, net.hidden[layer - 1].n_outputs, pairs)
        got = merged.infos()[layer - 1]
        assert got.codes == want.codes
        assert abs(got.H_T - want.H_T) < 1e-9 and abs(got.I_TY - want.I_TY) < 1e-9
