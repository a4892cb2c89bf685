"""Independent cross-checks: every engine against every other and against brute force.

The networks here are deliberately nastier than ``strategies.networks``:
zero hidden layers, width-1 layers, one input, one class, identical rows,
all-constant hidden layers, thresholds far beyond ±n and of either parity,
output scales such as 0, ±1e-300, 5e-324 and ±1e308 (scores overflow to
±inf and tie), biases that tie only after float64 rounding (0.1·3 + 0 vs
0.1 + 0.2, 1e16 + 1), and classes that copy another class's row (exact
ties broken by the lower index).

Ground truth is ``strategies.plain_forward`` (a naive integer-matrix
forward pass written independently of the library) over
``strategies.all_inputs(n)`` filtered by ``region.contains``; the
bit-packed :class:`bnnverify.evaluation.evaluator.Evaluator` is itself checked against
it. Every witness must be a member of the region with the claimed class.
"""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bnnverify.engines.bdd import (
    bdd_class_counts,
    bdd_class_counts_by_radius,
    bdd_disagreements,
    bdd_find_class,
    bdd_joint_counts,
)
from bnnverify.engines.enumeration import enum_class_counts, enum_disagreements, enum_find_class, enum_joint_counts
from bnnverify.questions.equivalence import check_equivalence
from bnnverify.information.measures import info_over_region
from bnnverify.evaluation.evaluator import Evaluator, code_key, code_keys
from bnnverify.questions.robustness import check_robustness, choose_method, max_robust_radius
from bnnverify.engines.sat import SatStatus, sat_find_class, sat_find_disagreement, sat_max_radius
from bnnverify.questions.verdict import Verdict
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.encoders.regions import Cube, HammingBall, LinfBox, Whole
from strategies import (
    NASTY_BIASES,
    all_inputs,
    bit_vectors,
    nasty_networks,
    nasty_regions,
    net_and_region,
    plain_forward,
)

#: Scores such as 1e308 * 2 overflow to inf on purpose; numpy warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

# --- nasty networks and regions: strategies.nasty_networks, strategies.nasty_regions -------------


# --- ground truth -------------------------------------------------------------------------------


def truth(net: BNN, region):
    """(members, hidden codes per layer as bit matrices, classes) by brute force."""
    X = all_inputs(net.n_inputs)
    X = X[region.contains(X)]
    codes, _, cls = plain_forward(net, X)
    return X, codes, cls


def class_counts(net: BNN, cls: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.bincount(cls, minlength=net.n_classes))


def assert_member(region, x, n):
    x = np.asarray(x)
    assert x.shape == (n,) and x.dtype == np.uint8, (x.shape, x.dtype)
    assert bool(region.contains(x[None, :])[0]), f"witness {x} is not in the region {region.describe()}"


def classify_plain(net: BNN, x: np.ndarray) -> int:
    return int(plain_forward(net, np.asarray(x, np.uint8)[None, :])[2][0])


# --- counts and witnesses: brute force, evaluator, enumeration, BDD, SAT ---------------------------


@settings(max_examples=120)
@given(net_and_region())
def test_evaluator_matches_plain_forward(case):
    net, region = case
    X, codes, cls = truth(net, region)
    tr = Evaluator(net).trace(X)
    assert tr.classes.tolist() == cls.tolist()
    for l, c in enumerate(codes):
        got = [code_key(row) for row in c]
        assert code_keys(tr.codes[l]) == got


@settings(max_examples=120)
@given(net_and_region())
def test_class_counts_enum_bdd_brute_force(case):
    net, region = case
    X, _, cls = truth(net, region)
    want = class_counts(net, cls)
    assert sum(want) == region.size
    assert enum_class_counts(net, region).counts == want
    assert bdd_class_counts(net, region).counts == want
    assert enum_class_counts(net, region, batch_size=3).counts == want


@settings(max_examples=80)
@given(net_and_region(), st.data())
def test_find_class_every_engine(case, data):
    net, region = case
    X, _, cls = truth(net, region)
    wanted = data.draw(st.lists(st.integers(0, net.n_classes - 1), unique=True, max_size=net.n_classes))
    exists = bool(np.isin(cls, wanted).any())
    n = net.n_inputs
    for name, w in (("enum", enum_find_class(net, region, wanted)), ("bdd", bdd_find_class(net, region, wanted))):
        assert (w is not None) == exists, name
        if w is not None:
            assert_member(region, w, n)
            assert classify_plain(net, w) in wanted, name
    enc = data.draw(st.sampled_from(["unary", "seqcounter", "totalizer", "sortnetwrk", "cardnetwrk",
                                     "mtotalizer", "kmtotalizer"]))
    solver = data.draw(st.sampled_from(["cadical195", "glucose4", "minisat22", "lingeling"]))
    for ball_aware in (True, False):
        r = sat_find_class(net, region, wanted, solver=solver, encoding=enc, ball_aware=ball_aware)
        assert r.status is (SatStatus.SAT if exists else SatStatus.UNSAT), (enc, solver, ball_aware)
        if exists:
            assert_member(region, r.witness, n)
            assert classify_plain(net, r.witness) == r.witness_class in wanted


@settings(max_examples=60)
@given(net_and_region(n_hidden=st.integers(1, 3)), st.data())
def test_joint_counts_enum_bdd_brute_force(case, data):
    net, region = case
    X, codes, cls = truth(net, region)
    L = len(net.hidden)
    layers = data.draw(st.lists(st.integers(1, L), min_size=1, max_size=L, unique=True))
    with_class = data.draw(st.booleans())
    label = data.draw(st.one_of(st.none(), nasty_networks(n_inputs=st.just(net.n_inputs))))
    want: dict[tuple[int, ...], int] = {}
    lab = plain_forward(label, X)[2] if label is not None else None
    for r in range(len(X)):
        key = tuple(code_key(codes[l - 1][r]) for l in layers)
        key += (int(cls[r]),) if with_class else ()
        key += (int(lab[r]),) if label is not None else ()
        want[key] = want.get(key, 0) + 1
    e = enum_joint_counts(net, region, layers, with_class=with_class, label_net=label)
    b = bdd_joint_counts(net, region, layers, with_class=with_class, label_net=label)
    assert dict(e.counts) == want
    assert dict(b.counts) == want
    assert e.region_size == b.region_size == region.size


@st.composite
def related_pair(draw):
    """Two networks on the same inputs: unrelated, identical, or one weight/threshold/bias apart."""
    a = draw(nasty_networks())
    how = draw(st.sampled_from(["same", "copy", "threshold", "bias", "other"]))
    if how == "same":
        return a, a
    if how == "other":
        return a, draw(nasty_networks(n_inputs=st.just(a.n_inputs), n_classes=st.just(a.n_classes)))
    hidden = list(a.hidden)
    out = a.output
    if how == "threshold" and hidden:
        i = draw(st.integers(0, len(hidden) - 1))
        t = hidden[i].thresholds.copy()
        t[draw(st.integers(0, len(t) - 1))] += draw(st.sampled_from([-2, -1, 1, 2]))
        hidden[i] = ThresholdLayer(hidden[i].weights.copy(), t)
    elif how == "bias":
        b = out.bias.copy()
        b[draw(st.integers(0, len(b) - 1))] = draw(st.sampled_from(NASTY_BIASES))
        out = ArgmaxLayer(out.weights.copy(), out.scale.copy(), b)
    return a, BNN(tuple(hidden), ArgmaxLayer(out.weights.copy(), out.scale.copy(), out.bias.copy()))


@settings(max_examples=60)
@given(related_pair(), st.data())
def test_disagreements_every_engine(pair, data):
    a, b = pair
    region = data.draw(nasty_regions(a.n_inputs))
    X = all_inputs(a.n_inputs)
    X = X[region.contains(X)]
    ca, cb = plain_forward(a, X)[2], plain_forward(b, X)[2]
    conf: dict[tuple[int, int], int] = {}
    for p, q in zip(ca.tolist(), cb.tolist()):
        conf[(p, q)] = conf.get((p, q), 0) + 1
    differ = int((ca != cb).sum())
    n = a.n_inputs
    for name, d in (("enum", enum_disagreements(a, b, region)), ("bdd", bdd_disagreements(a, b, region))):
        assert dict(d.confusion) == conf, name
        assert d.count == differ, name
        if differ:
            assert_member(region, d.witness, n)
            assert classify_plain(a, d.witness) != classify_plain(b, d.witness), name
        else:
            assert d.witness is None
    enc = data.draw(st.sampled_from(["unary", "seqcounter", "totalizer", "cardnetwrk"]))
    r = sat_find_disagreement(a, b, region, encoding=enc, solver=data.draw(st.sampled_from(["cadical195", "glucose3"])))
    assert r.status is (SatStatus.SAT if differ else SatStatus.UNSAT)
    if differ:
        assert_member(region, r.witness, n)
        assert r.witness_class == (classify_plain(a, r.witness), classify_plain(b, r.witness))
    for method in ("enum", "bdd", "sat"):
        res = check_equivalence(a, b, region, method=method, count=method != "sat")
        assert res.verdict is (Verdict.NOT_EQUIVALENT if differ else Verdict.EQUIVALENT), method
        if method != "sat":
            assert res.disagreement_count == differ
        if differ:
            assert_member(region, res.witness, n)
            assert (res.class_a, res.class_b) == (classify_plain(a, res.witness), classify_plain(b, res.witness))


@settings(max_examples=60)
@given(st.data())
def test_robustness_verdicts_every_engine(data):
    L = data.draw(st.sampled_from([None, 1, 2]))
    net = data.draw(nasty_networks(thermometer=L))
    region = data.draw(nasty_regions(net.n_inputs, L))
    X, _, cls = truth(net, region)
    x = X[data.draw(st.integers(0, len(X) - 1))]
    pred = classify_plain(net, x)
    adv = int((cls != pred).sum())
    for method, count in (("enum", True), ("bdd", True), ("enum", False), ("bdd", False), ("sat", False),
                          ("auto", False), ("auto", True)):
        r = check_robustness(net, x, region, method=method, count=count,
                             encoding=data.draw(st.sampled_from([None, "seqcounter", "native"])) if method == "sat" else None)
        assert r.predicted_class == pred
        assert r.verdict is (Verdict.NOT_ROBUST if adv else Verdict.ROBUST), (method, count)
        if count:
            assert r.adversarial_count == adv
            assert tuple(r.class_counts) == class_counts(net, cls)
        if adv:
            assert_member(region, r.counterexample, net.n_inputs)
            assert classify_plain(net, r.counterexample) == r.counterexample_class != pred
        else:
            assert r.counterexample is None


def brute_radius(net: BNN, x: np.ndarray, mutable, cap: int) -> int | None:
    """Distance of the nearest input of another class (flips within ``mutable``), None if none <= cap."""
    X = all_inputs(net.n_inputs)
    moved = X != x
    ok = np.ones(len(X), bool) if mutable is None else ~moved[:, ~mutable].any(axis=1)
    bad = ok & (plain_forward(net, X)[2] != classify_plain(net, x))
    d = moved.sum(axis=1)[bad]
    return int(d.min()) if d.size and int(d.min()) <= cap else None


@settings(max_examples=50)
@given(st.data())
def test_max_radius_every_engine(data):
    net = data.draw(nasty_networks())
    n = net.n_inputs
    x = data.draw(bit_vectors(n))
    mutable = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n).map(
        lambda v: np.array(v, dtype=bool))))
    max_radius = data.draw(st.one_of(st.none(), st.integers(0, n)))
    n_mut = n if mutable is None else int(mutable.sum())
    cap = n_mut if max_radius is None else min(max_radius, n_mut)
    first = brute_radius(net, x, mutable, cap)
    for method in ("enum", "bdd", "sat", "auto"):
        r = max_robust_radius(net, x, mutable=mutable, max_radius=max_radius, method=method)
        assert r.exact, method
        if first is None:
            assert r.verdict is Verdict.ROBUST and r.radius == cap, method
        else:
            assert r.verdict is Verdict.NOT_ROBUST and r.radius == first - 1, method
            assert int((r.counterexample != x).sum()) == first
            if mutable is not None:
                assert not (r.counterexample != x)[~mutable].any()
            assert classify_plain(net, r.counterexample) == r.counterexample_class != classify_plain(net, x)
    s = sat_max_radius(net, x, mutable=mutable, max_radius=max_radius, solver="glucose4")
    assert s.radius == (cap if first is None else first - 1)


@settings(max_examples=40)
@given(net_and_region(n_hidden=st.integers(1, 3)))
def test_information_enum_bdd_brute_force(case):
    net, region = case
    X, codes, cls = truth(net, region)
    e = info_over_region(net, region, method="enum")
    b = info_over_region(net, region, method="bdd")
    N = len(X)
    for l, (le, lb) in enumerate(zip(e.layers, b.layers)):
        keys = [code_key(r) for r in codes[l]]
        _, cnt = np.unique(np.array(keys, dtype=object).astype(str), return_counts=True)
        h = float(-(cnt / N * np.log2(cnt / N)).sum())
        assert le.codes == lb.codes == len(cnt)
        for v in (le.H_T, lb.H_T, le.I_XT, lb.I_XT):
            assert v == pytest.approx(h, abs=1e-9)
        assert le.I_TY == pytest.approx(lb.I_TY, abs=1e-9)
        assert le.H_T_given_Y == pytest.approx(lb.H_T_given_Y, abs=1e-9)
        assert -1e-12 <= le.I_TY <= min(le.H_T, e.H_Y) + 1e-9


# --- wide layers and many inputs: multi-word codes, coded walks on n > 64 ---------------------------


def members_independently(region, n: int) -> np.ndarray:
    """The members of a cube / Hamming ball built here from scratch (not region.members())."""
    import itertools

    if isinstance(region, Cube):
        free = [i for i in range(n) if not region.fixed_mask[i]]
        rows = []
        for bits in itertools.product((0, 1), repeat=len(free)):
            r = region.values.copy()
            r[free] = bits
            rows.append(r)
        return np.array(rows, dtype=np.uint8).reshape(-1, n)
    idx = range(n) if region.mutable is None else np.flatnonzero(region.mutable).tolist()
    rows = []
    for k in range(region.radius + 1):
        for flips in itertools.combinations(idx, k):
            r = region.center.copy()
            r[list(flips)] ^= 1
            rows.append(r)
    return np.array(rows, dtype=np.uint8).reshape(-1, n)


@settings(max_examples=12)
@given(st.data())
def test_wide_layers_and_many_inputs(data):
    n = data.draw(st.sampled_from([3, 9, 63, 64, 65, 100, 130]))
    small = n <= 9
    widths = [data.draw(st.sampled_from([1, 63, 64, 65, 70, 129])) for _ in range(data.draw(st.integers(1, 2)))]
    net = data.draw(nasty_networks(n_inputs=st.just(n), n_hidden=st.just(len(widths)),
                                   width=st.sampled_from(widths), n_classes=st.integers(2, 3)))
    c = data.draw(bit_vectors(n))
    if small:
        region = data.draw(st.sampled_from([Whole(n), HammingBall(c, min(2, n))]))
    elif data.draw(st.booleans()):
        free = data.draw(st.lists(st.integers(0, n - 1), unique=True, min_size=1, max_size=8))
        region = Cube.from_free(c, free)
    else:
        mask = None if data.draw(st.booleans()) else np.array(
            data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        region = HammingBall(c, data.draw(st.integers(0, 2)), mask)
    X = all_inputs(n) if isinstance(region, Whole) else members_independently(region, n)
    assert len(X) == region.size
    codes, _, cls = plain_forward(net, X)
    want = class_counts(net, cls)
    assert enum_class_counts(net, region).counts == want
    assert bdd_class_counts(net, region).counts == want
    layers = list(range(1, len(net.hidden) + 1))
    jc = {}
    for r in range(len(X)):
        k = tuple(code_key(codes[l - 1][r]) for l in layers) + (int(cls[r]),)
        jc[k] = jc.get(k, 0) + 1
    assert dict(enum_joint_counts(net, region, layers, with_class=True).counts) == jc
    assert dict(bdd_joint_counts(net, region, layers, with_class=True).counts) == jc
    others = [k for k in range(net.n_classes) if k != int(cls[0])]
    r = sat_find_class(net, region, others)
    assert r.status is (SatStatus.SAT if any(want[k] for k in others) else SatStatus.UNSAT)


# --- huge regions: exact counts by symmetry ----------------------------------------------------------


def blown_up(small: BNN, groups: list[int]) -> BNN:
    """``small``'s input i becomes ``groups[i]`` identical copies (same weight in every row)."""
    h0 = small.hidden[0]
    w = np.repeat(h0.weights, groups, axis=1)
    first = ThresholdLayer(np.ascontiguousarray(w), h0.thresholds.copy())
    return BNN((first, *small.hidden[1:]), small.output)


def symmetric_counts(small: BNN, groups: list[int], center_ones: list[int] | None = None,
                     radius: int | None = None) -> tuple[int, ...]:
    """Exact class counts of ``blown_up(small, groups)`` over the whole space, or over a Hamming
    ball whose centre has ``center_ones[i]`` ones in group i, counted per number of ones per group."""
    import itertools

    h0 = small.hidden[0]
    counts = [0] * small.n_classes
    if radius is None:
        choices = [[(o, comb(g, o)) for o in range(g + 1)] for g in groups]
    else:
        choices = []
        for g, c in zip(groups, center_ones):  # (ones after flipping, multiplicity, flips used)
            choices.append([(c - u + v, comb(c, u) * comb(g - c, v), u + v)
                            for u in range(min(c, radius) + 1) for v in range(min(g - c, radius) + 1)
                            if u + v <= radius])
    for combo in itertools.product(*choices):
        if radius is not None and sum(t[2] for t in combo) > radius:
            continue
        ones = np.array([t[0] for t in combo], dtype=np.int64)
        mult = 1
        for t in combo:
            mult *= t[1]
        s = 2 * ones - np.array(groups)  # per group: sum of the signs
        bits = (h0.weights.astype(np.int64) @ s >= h0.thresholds).astype(np.uint8)
        for layer in small.hidden[1:]:
            bits = (layer.weights.astype(np.int64) @ (2 * bits.astype(np.int64) - 1) >= layer.thresholds).astype(np.uint8)
        dots = small.output.weights.astype(np.int64) @ (2 * bits.astype(np.int64) - 1)
        scores = [float(small.output.scale[c]) * float(dots[c]) + float(small.output.bias[c]) for c in range(len(dots))]
        cls = scores.index(max(scores))
        counts[cls] += mult
    return tuple(counts)


@settings(max_examples=12)
@given(st.data())
def test_huge_whole_space_and_ball_counts_by_symmetry(data):
    k = data.draw(st.integers(1, 3))
    small = data.draw(nasty_networks(n_inputs=st.just(k), n_hidden=st.integers(1, 2), width=st.integers(1, 4),
                                     n_classes=st.integers(2, 3)))
    # thresholds of the blown-up first layer must be meaningful for n ~ 120: rescale them
    groups = data.draw(st.lists(st.integers(1, 50), min_size=k, max_size=k))
    n = sum(groups)
    h0 = small.hidden[0]
    t = np.array(data.draw(st.lists(st.integers(-n - 1, n + 1), min_size=h0.n_outputs, max_size=h0.n_outputs)))
    small = BNN((ThresholdLayer(h0.weights.copy(), t), *small.hidden[1:]), small.output)
    big = blown_up(small, groups)
    want = symmetric_counts(small, groups)
    assert sum(want) == 1 << n
    got = bdd_class_counts(big, Whole(n)).counts
    assert got == want
    r = data.draw(st.integers(0, 3))
    ones = [data.draw(st.integers(0, g)) for g in groups]
    center = np.concatenate([(np.arange(g) < o).astype(np.uint8) for g, o in zip(groups, ones)])
    ball = HammingBall(center, r)
    want_ball = symmetric_counts(small, groups, ones, r)
    assert sum(want_ball) == ball.size
    assert bdd_class_counts(big, ball).counts == want_ball
    assert enum_class_counts(big, ball).counts == want_ball
    pred = int(Evaluator(big).classify_one(center))
    res = check_robustness(big, center, Whole(n), method="auto", count=True)
    assert res.adversarial_count == (1 << n) - want[pred]
    assert res.method is choose_method("auto", 1 << n, True)
    s = sat_find_class(big, Whole(n), [c for c in range(big.n_classes) if c != pred])
    assert (s.status is SatStatus.SAT) == (want[pred] < 1 << n)


# --- every encoding × several solvers; timeouts are never proofs -------------------------------------

from bnnverify.engines.sat import ENCODINGS  # noqa: E402

#: Solvers that keep native at-most constraints, and clausal ones of every family.
NATIVE_SOLVERS = ["minicard", "gluecard3", "gluecard4"]
CLAUSAL_SOLVERS = ["cadical195", "cadical153", "glucose3", "glucose42", "minisat22", "maplechrono",
                   "mergesat3", "lingeling", "kissat404"]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@settings(max_examples=8)
@given(case=net_and_region(), data=st.data())
def test_every_encoding_with_several_solvers(encoding, case, data):
    net, region = case
    X, _, cls = truth(net, region)
    solvers = NATIVE_SOLVERS if encoding == "native" else CLAUSAL_SOLVERS
    solver = data.draw(st.sampled_from(solvers))
    wanted = data.draw(st.lists(st.integers(0, net.n_classes - 1), unique=True, max_size=net.n_classes))
    exists = bool(np.isin(cls, wanted).any())
    r = sat_find_class(net, region, wanted, solver=solver, encoding=encoding)
    assert r.status is (SatStatus.SAT if exists else SatStatus.UNSAT), (encoding, solver)
    if exists:
        assert_member(region, r.witness, net.n_inputs)
        assert classify_plain(net, r.witness) == r.witness_class in wanted


@settings(max_examples=25)
@given(st.data())
def test_sat_time_limits_are_never_proofs(data):
    """Under a time limit too short to finish, SAT answers ``timeout`` or the truth — never a wrong proof."""
    net = data.draw(nasty_networks(n_inputs=st.integers(1, 8)))
    region = data.draw(nasty_regions(net.n_inputs))
    X, _, cls = truth(net, region)
    x = X[0]
    pred = classify_plain(net, x)
    robust = bool((cls == pred).all())
    t = data.draw(st.sampled_from([1e-9, 1e-6, 1e-4, 1e-3]))
    solver = data.draw(st.sampled_from(["cadical195", "glucose4", "kissat404", "lingeling"]))
    r = check_robustness(net, x, region, method="sat", timeout=t, solver=solver)
    assert r.verdict in (Verdict.TIMEOUT, Verdict.UNKNOWN, Verdict.ROBUST if robust else Verdict.NOT_ROBUST)
    if r.verdict.undecided:
        assert r.counterexample is None and r.note
    mr = max_robust_radius(net, x, method="sat", timeout=t, solver=solver)
    first = brute_radius(net, x, None, net.n_inputs)
    true_radius = net.n_inputs if first is None else first - 1
    assert mr.radius <= true_radius
    if mr.exact:
        assert mr.radius == true_radius
    else:
        assert mr.verdict in (Verdict.TIMEOUT, Verdict.UNKNOWN)
    e = check_equivalence(net, net, region, method="sat", timeout=t, solver=solver)
    assert e.verdict in (Verdict.TIMEOUT, Verdict.UNKNOWN, Verdict.EQUIVALENT)


# --- the same network compared with itself, the CLI's verdicts ---------------------------------------


@settings(max_examples=30)
@given(net_and_region())
def test_a_network_is_equivalent_to_itself_and_a_copy(case):
    net, region = case
    copy = BNN(tuple(ThresholdLayer(h.weights.copy(), h.thresholds.copy()) for h in net.hidden),
               ArgmaxLayer(net.output.weights.copy(), net.output.scale.copy(), net.output.bias.copy()),
               thermometer_levels=net.thermometer_levels)
    for other in (net, copy):
        for method in ("sat", "bdd", "enum"):
            r = check_equivalence(net, other, region, method=method, count=method != "sat")
            assert r.verdict is Verdict.EQUIVALENT and r.witness is None
            if method != "sat":
                assert r.disagreement_count == 0 and sum(r.confusion.values()) == region.size


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()


def _json_of(res) -> dict:
    """The one JSON object a command printed on stdout (notes go to stderr)."""
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1, res.output
    return json.loads(lines[0])


def _bits(x: np.ndarray) -> str:
    return "".join(str(int(b)) for b in x)


@settings(max_examples=12)
@given(st.data())
def test_cli_robustness_exit_codes_and_json(tmp_path_factory, data):
    from click.testing import CliRunner

    from bnnverify import cli
    from bnnverify.files.modelio import save_model

    net = data.draw(nasty_networks(n_inputs=st.integers(2, 7), n_classes=st.integers(2, 3)))
    n = net.n_inputs
    path = tmp_path_factory.mktemp("m") / "net.npz"
    save_model(net, path)
    x = data.draw(bit_vectors(n))
    k = data.draw(st.integers(0, n))
    region = HammingBall(x, k)
    _, _, cls = truth(net, region)
    pred = classify_plain(net, x)
    adv = int((cls != pred).sum())
    method = data.draw(st.sampled_from(["sat", "bdd", "enum", "auto"]))
    args = ["robustness", str(path), "--input", _bits(x), "--hamming", str(k), "--method", method, "--json"]
    if method != "sat":
        args.append("--count")
    res = CliRunner().invoke(cli.main, args)
    assert res.exit_code == (1 if adv else 0), res.output
    out = _json_of(res)
    assert out["verdict"] == ("not_robust" if adv else "robust")
    assert out["predicted_class"] == pred
    assert out["region"]["size"] == region.size
    if method != "sat":
        assert out["adversarial_count"] == adv
        assert out["class_counts"] == {str(c): v for c, v in enumerate(class_counts(net, cls))}
    if adv:
        w = np.array([int(ch) for ch in out["counterexample"]], dtype=np.uint8)
        assert_member(region, w, n)
        assert classify_plain(net, w) == out["counterexample_class"] != pred
    # max radius through the CLI: exit 0 when exact, the JSON radius is the brute-force one
    res = CliRunner().invoke(cli.main, ["robustness", str(path), "--input", _bits(x), "--max-radius",
                                        "--method", method, "--json"])
    assert res.exit_code == 0, res.output
    out = _json_of(res)
    first = brute_radius(net, x, None, n)
    assert out["max_robust_radius"] == (n if first is None else first - 1)
    assert out["exact"] is True


def test_cli_equivalence_and_exact_huge_counts(tmp_path, runner):
    from bnnverify import cli
    from bnnverify.files.modelio import save_model

    small = BNN((ThresholdLayer(np.array([[1, -1], [1, 1]], np.int8), np.array([0, 1])),),
                ArgmaxLayer(np.array([[1, 1], [1, -1]], np.int8), np.array([1.0, 1.0]), np.array([0.0, 0.0])))
    groups = [60, 61]
    big = blown_up(small, groups)
    n = sum(groups)
    pa, pb = tmp_path / "a.npz", tmp_path / "b.npz"
    save_model(big, pa)
    save_model(big, pb)
    res = runner.invoke(cli.main, ["count", str(pa), "--region", "whole", "--json"])
    assert res.exit_code == 0, res.output
    out = _json_of(res)
    want = symmetric_counts(small, groups)
    assert out["region_size"] == 1 << n
    assert out["class_counts"] == {str(c): v for c, v in enumerate(want)}  # exact 121-bit integers
    for method in ("sat", "bdd"):
        res = runner.invoke(cli.main, ["equivalence", str(pa), str(pb), "--region", "whole", "--method", method,
                                       "--json"])
        assert res.exit_code == 0, res.output
        assert _json_of(res)["verdict"] == "equivalent"
    other = BNN((ThresholdLayer(big.hidden[0].weights.copy(), big.hidden[0].thresholds + 2),), big.output)
    save_model(other, pb)
    for method in ("sat", "bdd"):
        args = ["equivalence", str(pa), str(pb), "--region", "whole", "--method", method, "--json"]
        res = runner.invoke(cli.main, args + (["--count"] if method == "bdd" else []))
        assert res.exit_code == 1, res.output
        out = _json_of(res)
        w = np.array([int(ch) for ch in out["witness"]], dtype=np.uint8)
        assert (out["class_a"], out["class_b"]) == (classify_plain(big, w), classify_plain(other, w))
        assert out["class_a"] != out["class_b"]
        if method == "bdd":
            assert isinstance(out["disagreement_count"], int) and 0 < out["disagreement_count"] < 1 << n
    res = runner.invoke(cli.main, ["equivalence", str(pa), str(pb), "--region", "whole", "--method", "sat",
                                   "--timeout", "1e-9", "--json"])
    assert res.exit_code == 3, res.output
    assert _json_of(res)["verdict"] == "timeout"
    res = runner.invoke(cli.main, ["robustness", str(pa), "--input", "0" * (n - 1), "--hamming", "1"])
    assert res.exit_code == 2


# --- regressions of bugs found here (see /work/notes/bugs.md) -----------------------------------


def test_extreme_int64_thresholds():
    """Thresholds near the int64 limits are legal constants (always on / always off)."""
    o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    X = all_inputs(3)
    for theta in (np.iinfo(np.int64).max, np.iinfo(np.int64).max - 1, np.iinfo(np.int64).min,
                  np.iinfo(np.int64).min + 1):
        net = BNN((ThresholdLayer(np.array([[1, 1, -1]], np.int8), np.array([theta], np.int64)),), o)
        want = class_counts(net, plain_forward(net, X)[2])
        assert np.bincount(Evaluator(net).classify(X), minlength=2).tolist() == list(want)
        assert enum_class_counts(net, Whole(3)).counts == want
        assert bdd_class_counts(net, Whole(3)).counts == want
        for c in (0, 1):
            assert (sat_find_class(net, Whole(3), [c]).status is SatStatus.SAT) == (want[c] > 0)
