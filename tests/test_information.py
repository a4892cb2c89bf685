"""Exact information measures against brute force (plain integer forward pass + mpmath)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify.engines.enumeration import enum_joint_counts
from bnnverify.errors import BNNVerifyError, DataError, EngineError, RegionError
from bnnverify.information.measures import (
    CountMethod,
    LabelKind,
    conditional_entropy_bits,
    entropy_bits,
    info_from_rows,
    info_over_balls,
    info_over_dataset,
    info_over_region,
    layer_info_from_pairs,
    resolve_method,
)
from bnnverify.encoders.regions import HammingBall, Whole
from strategies import all_inputs, networks, plain_forward, regions

TOL = 1e-9


def mp_entropy(counts) -> mpmath.mpf:
    """Reference entropy in bits, with enough digits that 1 - 1/N is not rounded to 1."""
    counts = [int(c) for c in counts if int(c) > 0]
    total = sum(counts)
    with mpmath.workdps(40 + total.bit_length()):
        N = mpmath.mpf(total)
        return +mpmath.fsum((c / N) * mpmath.log(N / c, 2) for c in counts)


def brute_measures(codes: list[tuple], labels: list[int]) -> dict:
    """H(T), H(Y), H(T|Y), H(Y|T), I(T;Y) of one layer from per-input rows, via mpmath."""
    nt = Counter(codes)
    ny = Counter(labels)
    nty = Counter(zip(codes, labels))
    h_t, h_y, h_ty = mp_entropy(nt.values()), mp_entropy(ny.values()), mp_entropy(nty.values())
    return {
        "codes": len(nt),
        "H_T": float(h_t),
        "H_Y": float(h_y),
        "H_T_given_Y": float(h_ty - h_y),
        "H_Y_given_T": float(h_ty - h_t),
        "I_TY": float(h_t + h_y - h_ty),
        "pairs": nty,
    }


def brute_layers(net, X, labels):
    hidden, _, classes = plain_forward(net, X)
    y = classes if labels is None else labels
    return [brute_measures([tuple(r) for r in h], [int(v) for v in y]) for h in hidden]


def region_rows(region):
    X = all_inputs(region.n)
    return X[region.contains(X)]


def check_report(rep, ref, size):
    assert rep.region_size == size
    assert len(rep.layers) == len(ref)
    for li, r in zip(rep.layers, ref):
        assert li.codes == r["codes"]
        assert abs(li.H_T - r["H_T"]) < TOL and li.I_XT == li.H_T
        assert abs(rep.H_Y - r["H_Y"]) < TOL
        assert abs(li.H_T_given_Y - r["H_T_given_Y"]) < TOL
        assert abs(li.H_Y_given_T - r["H_Y_given_T"]) < TOL
        assert abs(li.I_TY - r["I_TY"]) < TOL
        # information inequalities
        assert -1e-12 <= li.I_TY <= li.I_XT + 1e-12
        assert li.I_TY <= rep.H_Y + 1e-12
    for a, b in zip(rep.layers, rep.layers[1:]):  # data processing across layers
        assert a.I_XT >= b.I_XT - 1e-12
        assert a.I_TY >= b.I_TY - 1e-12


@st.composite
def net_and_region(draw, n_inputs=st.integers(1, 10)):
    net = draw(networks(n_inputs=n_inputs))
    return net, draw(regions(net, kinds=("whole", "cube", "hamming", "hamming_mask")))


@given(net_and_region())
def test_region_enum_matches_brute_force(nr):
    net, region = nr
    rep = info_over_region(net, region, labels="model", method="enum")
    assert rep.method is CountMethod.ENUM and rep.labels is LabelKind.MODEL
    check_report(rep, brute_layers(net, region_rows(region), None), region.size)


@given(net_and_region(), st.data())
@settings(max_examples=40)
def test_bdd_and_enum_agree_exactly(nr, data):
    """Both engines give identical exact pair counts, hence bit-identical measures."""
    from bnnverify.engines.bdd import bdd_layer_labels
    from bnnverify.information.codecounts import enum_counter

    net, region = nr
    labels = data.draw(st.sampled_from(["model", "teacher"]))
    if labels == "teacher":
        labels = data.draw(networks(n_inputs=st.just(net.n_inputs)))
    rc = enum_counter(net, region, labels)
    bp = bdd_layer_labels(net, region, labels, None)
    for l in range(1, len(net.hidden) + 1):
        assert rc.pair_counts(l) == bp.pair_counts(l)
    a = info_over_region(net, region, labels=labels, method="bdd")
    b = info_over_region(net, region, labels=labels, method="enum")
    assert a.method is CountMethod.BDD and b.method is CountMethod.ENUM
    assert a.region_size == b.region_size == region.size
    for x, y in zip(a.layers, b.layers):
        assert x.codes == y.codes
        for f in ("H_T", "H_T_given_Y", "H_Y_given_T", "I_TY"):
            assert abs(getattr(x, f) - getattr(y, f)) < 1e-12
    assert abs(a.H_Y - b.H_Y) < 1e-12


@given(st.data())
@settings(max_examples=80)
def test_hamming_ball_programme_matches_brute_force(data):
    """method='ball' (no enumeration) gives the brute-force counts and measures, masks included."""
    net = data.draw(networks(n_inputs=st.integers(1, 11)))
    region = data.draw(regions(net, kinds=("hamming", "hamming_mask")))
    rep = info_over_region(net, region, labels="model", method="ball")
    assert rep.method is CountMethod.BALL
    check_report(rep, brute_layers(net, region_rows(region), None), region.size)
    from bnnverify.engines.ball import ball_counter
    from bnnverify.information.codecounts import enum_counter

    a, b = ball_counter(net, region, "model"), enum_counter(net, region, "model")
    for l in range(1, len(net.hidden) + 1):
        assert a.pair_counts(l) == b.pair_counts(l)


@given(net_and_region(), st.data())
@settings(max_examples=30)
def test_teacher_labels_match_brute_force(nr, data):
    net, region = nr
    teacher = data.draw(networks(n_inputs=st.just(net.n_inputs)))
    X = region_rows(region)
    _, _, y = plain_forward(teacher, X)
    rep = info_over_region(net, region, labels=teacher, method="auto")
    assert rep.labels is LabelKind.TEACHER and rep.method is CountMethod.ENUM
    check_report(rep, brute_layers(net, X, y), region.size)


@given(net_and_region())
@settings(max_examples=30)
def test_counts_agree_with_enumeration_engine(nr):
    """The vectorised counter and the enumeration engine give the same exact pair counts."""
    from bnnverify.information.codecounts import enum_counter

    net, region = nr
    rc = enum_counter(net, region, "model")
    ref = brute_layers(net, region_rows(region), None)
    for l in range(1, len(net.hidden) + 1):
        jc = enum_joint_counts(net, region, [l], with_class=True)
        mine = rc.pair_counts(l)
        assert mine == jc.counts
        bits = {(sum(int(b) << j for j, b in enumerate(t)), y): v for (t, y), v in ref[l - 1]["pairs"].items()}
        assert mine == bits


@given(st.data())
@settings(max_examples=40)
def test_dataset_rows_match_brute_force(data):
    net = data.draw(networks(n_inputs=st.integers(1, 12)))
    n_rows = data.draw(st.integers(1, 40))
    rows = data.draw(st.lists(st.lists(st.integers(0, 1), min_size=net.n_inputs, max_size=net.n_inputs),
                              min_size=n_rows, max_size=n_rows))
    X = np.array(rows, dtype=np.uint8)
    y = np.array(data.draw(st.lists(st.integers(0, 4), min_size=n_rows, max_size=n_rows)), dtype=np.int64)
    ds = SimpleNamespace(name="random", X=X, y=y)
    rep = info_over_dataset(net, ds, labels="dataset")
    assert rep.method is CountMethod.EVALUATOR and rep.labels is LabelKind.DATASET
    check_report(rep, brute_layers(net, X, y), n_rows)
    rep_m = info_over_dataset(net, ds, labels="model")
    check_report(rep_m, brute_layers(net, X, None), n_rows)


@given(st.data())
@settings(max_examples=25)
def test_ball_mixture_matches_brute_force(data):
    net = data.draw(networks(n_inputs=st.integers(2, 9)))
    n = net.n_inputs
    rows = data.draw(st.lists(st.lists(st.integers(0, 1), min_size=n, max_size=n), min_size=1, max_size=4))
    X = np.array(rows, dtype=np.uint8)
    y = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(rows), max_size=len(rows))))
    radius = data.draw(st.integers(0, 2))
    ds = SimpleNamespace(name="random", X=X, y=y)
    rep = info_over_balls(net, ds, radius, labels="dataset")
    for other in ("bdd", "ball"):
        rep_o = info_over_balls(net, ds, radius, labels="dataset", method=other)
        assert [li.codes for li in rep_o.layers] == [li.codes for li in rep.layers]
        assert all(abs(a.I_TY - b.I_TY) < 1e-12 for a, b in zip(rep.layers, rep_o.layers))
    allx, ally = [], []
    for x, lab in zip(X, y):
        members = region_rows(HammingBall(x, radius))
        allx.append(members)
        ally += [int(lab)] * len(members)
    XX = np.concatenate(allx)
    check_report(rep, brute_layers(net, XX, np.array(ally)), len(XX))


# --- accuracy of the entropy arithmetic ---------------------------------------


def test_entropy_of_huge_near_even_split():
    N = 2**300
    for counts in ([2**299 + 1, 2**299 - 1], [N - 1, 1], [N - 2**200, 2**200], [3**150, N - 3**150]):
        assert abs(entropy_bits(counts) - float(mp_entropy(counts))) <= 1e-15 * max(1.0, float(mp_entropy(counts)))
    tiny = entropy_bits([N - 1, 1])
    ref = float(mp_entropy([N - 1, 1]))
    assert tiny > 0 and abs(tiny - ref) <= 1e-12 * ref  # relative accuracy, far below 2^-53


@given(st.lists(st.integers(1, 2**800), min_size=1, max_size=30))
@settings(max_examples=60)
def test_entropy_of_big_counts_matches_mpmath(counts):
    h = entropy_bits(counts)
    assert abs(h - float(mp_entropy(counts))) < TOL


@given(st.lists(st.integers(0, 2**40), min_size=1, max_size=200).filter(lambda c: sum(c) > 0))
def test_entropy_fast_path_matches_mpmath(counts):
    assert abs(entropy_bits(counts) - float(mp_entropy(counts))) < TOL


@given(st.dictionaries(st.tuples(st.integers(0, 5), st.integers(0, 3)), st.integers(1, 2**700), min_size=1))
@settings(max_examples=60)
def test_big_pair_counts_match_mpmath(pairs):
    li = layer_info_from_pairs(1, 3, pairs)
    nt, ny = Counter(), Counter()
    for (t, y), v in pairs.items():
        nt[t] += v
        ny[y] += v
    h_t, h_y, h_ty = mp_entropy(nt.values()), mp_entropy(ny.values()), mp_entropy(pairs.values())
    assert abs(li.H_T - float(h_t)) < TOL
    assert abs(li.H_T_given_Y - float(h_ty - h_y)) < TOL
    assert abs(li.H_Y_given_T - float(h_ty - h_t)) < TOL
    assert abs(li.I_TY - float(h_t + h_y - h_ty)) < TOL
    assert abs(conditional_entropy_bits(pairs) - float(h_ty - h_y)) < TOL


# --- errors and method choice -----------------------------------------------------


def test_region_rejects_dataset_labels_and_bad_method():
    net = networks().example() if False else None  # noqa: F841 (keep hypothesis out of plain tests)
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    h = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([0]))
    o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    net = BNN((h,), o)
    with pytest.raises(RegionError, match="dataset"):
        info_over_region(net, Whole(2), labels="dataset")
    with pytest.raises(EngineError, match="unknown engine 'magic'"):
        info_over_region(net, Whole(2), method="magic")
    with pytest.raises(DataError, match="labels"):
        info_over_region(net, Whole(2), labels="nonsense")
    with pytest.raises(RegionError, match="bits"):
        info_over_region(net, Whole(3))
    with pytest.raises(DataError, match="expects 2"):
        info_over_dataset(net, SimpleNamespace(name="d", X=np.zeros((3, 5), np.uint8), y=np.zeros(3)))
    with pytest.raises(BNNVerifyError):
        entropy_bits([0, 0])
    assert resolve_method(Whole(30), "auto") is CountMethod.BDD
    big_ball = HammingBall(np.zeros(40, np.uint8), 10)
    assert resolve_method(big_ball, "auto", allow_ball=True) is CountMethod.BALL
    assert resolve_method(big_ball, "auto") is CountMethod.BDD
    with pytest.raises(EngineError, match="Hamming balls only"):
        resolve_method(Whole(3), "ball", allow_ball=True)
    with pytest.raises(DataError, match="label model"):
        info_over_region(net, HammingBall(np.zeros(2, np.uint8), 1), labels=net, method="ball")
    assert resolve_method(Whole(20), "auto") is CountMethod.ENUM
    rep = info_from_rows(net, np.array([[1, 1], [0, 0]], np.uint8))
    assert rep.layers[0].codes == 2 and rep.H_Y == 1.0 and rep.layers[0].I_TY == 1.0
