"""The BNNQuanalyst importer against an independent float evaluation of the CSV semantics,
and its exact folding against an independent high-precision oracle."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify.errors import DataError, ModelError, ModelFileError
from bnnverify.importers.bnnquanalyst import (
    Query,
    QueryKind,
    RegionKind,
    fold_neuron,
    import_bnnquanalyst,
    import_bnnquanalyst_report,
    parse_queries,
    read_fixed_set,
    read_instance,
    read_targets,
)
from bnnverify.evaluation.evaluator import Evaluator, pack_bits

#: Random inputs checked per shipped model.
RANDOM_INPUTS = 3000
#: A float pre-activation (or score gap) this close to 0 is reported as a near-tie.
NEAR_TIE = 1e-9
#: Number of shipped BNNQuanalyst models.
SHIPPED_MODELS = 16
SMALL_MODEL = "mnist_bnn_2_blk_16_25_20_10"


def _csv(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)


def _float_model(folder: Path):
    """The CSV arrays, read independently of the importer."""
    blocks = []
    i = 1
    while (folder / f"blk{i}").is_dir():
        b = folder / f"blk{i}"
        blocks.append({k: _csv(b / f"{k}.csv") if k == "lin_weight" else _csv(b / f"{k}.csv").ravel()
                       for k in ("lin_weight", "lin_bias", "bn_weight", "bn_bias", "bn_mean", "bn_var")})
        i += 1
    out = (_csv(folder / "out_blk" / "lin_weight.csv"), _csv(folder / "out_blk" / "lin_bias.csv").ravel())
    return blocks, out


def _float_forward(blocks, out, X: np.ndarray):
    """The tool's formula in numpy float64: hidden bits per layer, classes, near-tie notes."""
    s = 2.0 * X.astype(np.float64) - 1.0
    codes, near = [], []
    for li, b in enumerate(blocks):
        z = s @ b["lin_weight"].T + b["lin_bias"]
        y = b["bn_weight"] * (z - b["bn_mean"]) / np.sqrt(b["bn_var"]) + b["bn_bias"]
        for r, j in np.argwhere(np.abs(y) < NEAR_TIE):
            near.append(f"layer {li} neuron {j} input {r}: pre-activation {y[r, j]!r}")
        bits = (y >= 0).astype(np.uint8)
        codes.append(bits)
        s = 2.0 * bits - 1.0
    scores = s @ out[0].T + out[1]
    top2 = np.sort(scores, axis=1)[:, -2:]
    for r in np.flatnonzero(np.abs(top2[:, 1] - top2[:, 0]) < NEAR_TIE):
        near.append(f"output input {r}: top scores {top2[r].tolist()}")
    return codes, np.argmax(scores, axis=1), near


def _models(anchors: Path) -> list[Path]:
    return sorted(p for p in (anchors / "models").iterdir() if p.is_dir())


def test_all_shipped_models_match_float_semantics(anchors: Path) -> None:
    models = _models(anchors)
    assert len(models) == SHIPPED_MODELS
    instances = sorted((anchors / "inputs").glob("instance_*.txt"))
    rng = np.random.default_rng(20261122)
    all_near: list[str] = []
    checked_instances = 0
    for folder in models:
        net = import_bnnquanalyst(folder)
        assert net.metadata["source"] == "bnnquanalyst" and net.metadata["name"] == folder.name
        blocks, out = _float_model(folder)
        n = net.n_inputs
        assert net.widths == (n, *(b["lin_weight"].shape[0] for b in blocks), out[0].shape[0])
        mine = [read_instance(p) for p in instances if p.name.endswith(f"_{n}.txt")]
        checked_instances += len(mine)
        X = np.concatenate([np.array(mine, dtype=np.uint8).reshape(-1, n),
                            rng.integers(0, 2, size=(RANDOM_INPUTS, n), dtype=np.uint8)])
        codes, classes, near = _float_forward(blocks, out, X)
        all_near += [f"{folder.name}: {s}" for s in near]
        tr = Evaluator(net).trace(X)
        for li, bits in enumerate(codes):
            np.testing.assert_array_equal(tr.codes[li], pack_bits(bits), err_msg=f"{folder.name} layer {li}")
        np.testing.assert_array_equal(tr.classes, classes, err_msg=folder.name)
    assert checked_instances > 100  # every shipped instance has a model of its width
    print("near-ties:", all_near)
    assert len(all_near) <= 5, all_near


def test_bn_eps_changes_no_threshold(anchors: Path) -> None:
    for folder in _models(anchors):
        a = import_bnnquanalyst(folder)
        b = import_bnnquanalyst(folder, bn_eps=1e-5)
        assert b.metadata["bn_eps"] == repr(1e-5)
        for la, lb in zip(a.hidden, b.hidden):
            np.testing.assert_array_equal(la.thresholds, lb.thresholds, err_msg=folder.name)
            np.testing.assert_array_equal(la.weights, lb.weights, err_msg=folder.name)


def test_report_margin_is_the_smallest(anchors: Path) -> None:
    rep = import_bnnquanalyst_report(anchors / "models" / SMALL_MODEL)
    assert rep.margin is not None
    margins = [f.margin() for li, layer in enumerate(rep.folded) for f in layer
               if f.boundary is not None and abs(f.boundary) <= rep.net.hidden[li].n_inputs + 1]
    assert rep.margin.margin == min(margins)
    f = rep.folded[rep.margin.layer][rep.margin.neuron]
    assert f.margin() == rep.margin.margin
    assert rep.flipped == sum(f.flip for layer in rep.folded for f in layer)


# --------------------------------------------------------------------------- corrupt folders


@pytest.fixture
def small_copy(anchors: Path, tmp_path: Path) -> Path:
    dst = tmp_path / SMALL_MODEL
    shutil.copytree(anchors / "models" / SMALL_MODEL, dst)
    return dst


def test_missing_csv_named(small_copy: Path) -> None:
    (small_copy / "blk2" / "bn_var.csv").unlink()
    with pytest.raises(ModelFileError, match=r"blk2/bn_var\.csv.*missing"):
        import_bnnquanalyst(small_copy)


def test_missing_output_named(small_copy: Path) -> None:
    (small_copy / "out_blk" / "lin_bias.csv").unlink()
    with pytest.raises(ModelFileError, match=r"out_blk/lin_bias\.csv"):
        import_bnnquanalyst(small_copy)


def test_half_weight_named(small_copy: Path) -> None:
    p = small_copy / "blk1" / "lin_weight.csv"
    rows = p.read_text().splitlines()
    vals = rows[2].split(",")
    vals[4] = "0.5"
    rows[2] = ",".join(vals)
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(ModelFileError, match=r"blk1/lin_weight\.csv.*row 3, column 5 is 0\.5"):
        import_bnnquanalyst(small_copy)


def test_non_numeric_named(small_copy: Path) -> None:
    p = small_copy / "blk1" / "bn_mean.csv"
    p.write_text(p.read_text().replace(",", ",abc,", 1))
    with pytest.raises(ModelFileError, match=r"bn_mean\.csv.*'abc' is not a number"):
        import_bnnquanalyst(small_copy)


def test_shape_mismatch_named(small_copy: Path) -> None:
    p = small_copy / "blk2" / "lin_weight.csv"
    rows = [r.split(",")[:-1] for r in p.read_text().splitlines() if r.strip()]
    p.write_text("\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(ModelFileError, match=r"blk2/lin_weight\.csv.*columns.*chain"):
        import_bnnquanalyst(small_copy)


def test_vector_length_mismatch_named(small_copy: Path) -> None:
    p = small_copy / "blk1" / "bn_bias.csv"
    p.write_text(",".join(p.read_text().strip().split(",")[:-1]) + "\n")
    with pytest.raises(ModelFileError, match=r"bn_bias\.csv.*values"):
        import_bnnquanalyst(small_copy)


def test_nonpositive_variance_named(small_copy: Path) -> None:
    p = small_copy / "blk1" / "bn_var.csv"
    vals = p.read_text().strip().split(",")
    vals[3] = "0.0"
    p.write_text(",".join(vals) + "\n")
    with pytest.raises(ModelFileError, match=r"bn_var\.csv.*entry 4 is 0\.0"):
        import_bnnquanalyst(small_copy)
    assert import_bnnquanalyst(small_copy, bn_eps=1e-5).widths == (16, 25, 20, 10)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such directory"):
        import_bnnquanalyst(tmp_path / "nope")
    with pytest.raises(ModelError, match="bn_eps"):
        import_bnnquanalyst(tmp_path, bn_eps=-1.0)


# --------------------------------------------------------------------------- exact folding

_G = st.sampled_from([2.0, 1.0, 0.5, 0.25, 0.0, -0.25, -0.5, -1.0, -2.0, 0.003, -0.7])
_V = st.sampled_from([0.25, 1.0, 2.25, 4.0, 6.25, 0.5, 3.0, 42.40616989135742])
_B = st.sampled_from([0.0, 0.0, 0.5, -0.5, 1.0, -1.5, 0.26, -0.24382036924362183])
_LB = st.sampled_from([0.0, 0.25, -0.125, 0.09286832809448242])
_PREC_BITS = 2000


def _oracle(d: int, lb: float, g: float, beta: float, mu: float, v: float) -> bool:
    """``g·(d + lb − mu)/sqrt(v) + beta ≥ 0`` as ``g·(d + lb − mu) ≥ −beta·sqrt(v)`` in mpmath.

    At this precision products and sums of these float64 values are exact and
    the square root is correctly rounded (exact for perfect squares), so the
    comparison is exact whenever the boundary is an integer (perfect-square
    variances) and otherwise far from any rounding."""
    with mpmath.workprec(_PREC_BITS):
        lhs = mpmath.mpf(g) * (mpmath.mpf(d) + mpmath.mpf(lb) - mpmath.mpf(mu))
        rhs = -mpmath.mpf(beta) * mpmath.sqrt(mpmath.mpf(v))
        return bool(lhs >= rhs)


@st.composite
def bn_neurons(draw, n: int):
    g, v, beta, lb = draw(_G), draw(_V), draw(_B), draw(_LB)
    if draw(st.booleans()) and g != 0:
        # put the boundary exactly on an integer k (exact when sqrt(v) and /g are exact)
        k = draw(st.integers(-n - 2, n + 2))
        mu = k + lb + beta * float(np.sqrt(v)) / g
    else:
        mu = draw(st.sampled_from([0.0, -7.700669288635254, 1.0, 3.5, -2.0, 20.47905921936035]))
    return lb, g, beta, mu, v


@given(st.integers(0, 10).flatmap(lambda n: st.tuples(st.just(n), bn_neurons(n))))
def test_fold_neuron_exact(case) -> None:
    n, (lb, g, beta, mu, v) = case
    f = fold_neuron(n, lin_bias=lb, bn_weight=g, bn_bias=beta, bn_mean=mu, bn_var=v)
    assert -n - 1 <= f.threshold <= n + 1
    assert f.flip == (g < 0)
    for d in range(-n, n + 1):  # every integer, not only the reachable parity
        folded = (-d if f.flip else d) >= f.threshold
        assert folded == _oracle(d, lb, g, beta, mu, v), (d, f)


@pytest.mark.parametrize(
    "g, beta, mu, v, flip, theta",
    [
        # (d - 3)/2 + 0.5 >= 0  <=>  d >= 2: the boundary is the integer 2, equality fires
        (1.0, 0.5, 3.0, 4.0, False, 2),
        # -(d - 3)/2 + 0.5 >= 0  <=>  d <= 4  <=>  -d >= -4
        (-1.0, 0.5, 3.0, 4.0, True, -4),
        # beta < 0, sqrt(2.25) = 1.5: (d - 1)*0.5/1.5 - 1 >= 0  <=>  d >= 4
        (0.5, -1.0, 1.0, 2.25, False, 4),
        # -(d - 1)*0.5/1.5 - 1 >= 0  <=>  d <= -2  <=>  -d >= 2
        (-0.5, -1.0, 1.0, 2.25, True, 2),
        # irrational boundary: (d - 0)/sqrt(2) + 1 >= 0  <=>  d >= -1.414...
        (1.0, 1.0, 0.0, 2.0, False, -1),
        # zero gain: constant by the sign of bn_bias (>= 0 fires)
        (0.0, 0.0, 5.0, 1.0, False, -11),
        (0.0, -1e-300, 5.0, 1.0, False, 11),
        # boundary beyond the reachable dots: clamped
        (1.0, 0.0, 100.0, 1.0, False, 11),
        (1.0, 0.0, -100.0, 1.0, False, -11),
    ],
)
def test_fold_equality_cases(g, beta, mu, v, flip, theta) -> None:
    f = fold_neuron(10, lin_bias=0.0, bn_weight=g, bn_bias=beta, bn_mean=mu, bn_var=v)
    assert (f.flip, f.threshold) == (flip, theta)
    for d in range(-10, 11):
        assert ((-d if f.flip else d) >= f.threshold) == _oracle(d, 0.0, g, beta, mu, v)


def _write_row(path: Path, values) -> None:
    path.write_text(",".join(repr(float(x)) for x in values) + "\n")


@settings(max_examples=40)
@given(st.data())
def test_folded_model_equals_exact_predicate(data) -> None:
    n = data.draw(st.integers(1, 10), label="n")
    m = data.draw(st.integers(1, 6), label="m")
    W = np.array(data.draw(st.lists(st.sampled_from([1, -1]), min_size=m * n, max_size=m * n))).reshape(m, n)
    params = [data.draw(bn_neurons(n)) for _ in range(m)]
    Wo = np.array(data.draw(st.lists(st.sampled_from([1, -1]), min_size=2 * m, max_size=2 * m))).reshape(2, m)
    bo = data.draw(st.lists(st.sampled_from([0.0, 0.5, -0.5, 1.0]), min_size=2, max_size=2))
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "tiny"
        (root / "blk1").mkdir(parents=True)
        (root / "out_blk").mkdir()
        (root / "blk1" / "lin_weight.csv").write_text("\n".join(",".join(f"{float(x)}" for x in r) for r in W) + "\n")
        for k, idx in (("lin_bias", 0), ("bn_weight", 1), ("bn_bias", 2), ("bn_mean", 3), ("bn_var", 4)):
            _write_row(root / "blk1" / f"{k}.csv", [p[idx] for p in params])
        (root / "out_blk" / "lin_weight.csv").write_text("\n".join(",".join(f"{float(x)}" for x in r) for r in Wo) + "\n")
        _write_row(root / "out_blk" / "lin_bias.csv", bo)
        net = import_bnnquanalyst(root)
    X = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.uint8)
    tr = Evaluator(net).trace(X)
    dots = (2 * X.astype(np.int64) - 1) @ W.T
    expect = np.array([[_oracle(int(dots[r, j]), *params[j]) for j in range(m)] for r in range(len(X))], dtype=np.uint8)
    np.testing.assert_array_equal(tr.codes[0], pack_bits(expect))
    scores = (2.0 * expect - 1.0) @ Wo.T + np.array(bo)
    np.testing.assert_array_equal(tr.classes, np.argmax(scores, axis=1))


# --------------------------------------------------------------------------- input and query files


def test_read_shipped_inputs(anchors: Path) -> None:
    inp = anchors / "inputs"
    x = read_instance(inp / "instance_0_784.txt")
    assert x.dtype == np.uint8 and x.shape == (784,) and set(np.unique(x)) <= {0, 1}
    assert read_instance(inp / "instance_0_16.txt").tolist() == [int(t) for t in (inp / "instance_0_16.txt").read_text().split()]
    pm = read_instance(inp / "instance_0_400.txt")  # written -1/1
    assert pm.tolist() == [int(t == "1") for t in (inp / "instance_0_400.txt").read_text().split()]
    fs = read_fixed_set(inp / "fixed-set-file-28-up.txt", 784)
    assert fs.dtype == np.int64 and fs.tolist() == list(range(28))
    assert read_targets(inp / "target_5_class.txt") == [2, 3, 4, 7, 8]
    assert read_targets(inp / "single_target_3.txt", 10) == [3]
    for p in inp.glob("fixed*"):
        width = int(p.stem.split("_")[4]) if p.stem.startswith("fixed_set_file_random") else 784
        assert read_fixed_set(p, width).size > 0


def test_bad_input_files(tmp_path: Path) -> None:
    p = tmp_path / "instance_9_4.txt"
    p.write_text("0 1 2 0")
    with pytest.raises(DataError, match=r"value 3 is '2'"):
        read_instance(p)
    p.write_text("0 1 -1 1")
    with pytest.raises(DataError, match=r"mixes 0 \(value 1\) and -1 \(value 3\)"):
        read_instance(p)
    p.write_text("-1 1 -1 1")
    assert read_instance(p).tolist() == [0, 1, 0, 1]
    p.write_text("0 1 1")
    with pytest.raises(DataError, match="name says 4"):
        read_instance(p)
    q = tmp_path / "fs.txt"
    q.write_text("1 2 2")
    with pytest.raises(DataError, match="lists 2 twice"):
        read_fixed_set(q)
    q.write_text("1 5")
    with pytest.raises(DataError, match="outside 0..4"):
        read_fixed_set(q, 5)
    with pytest.raises(DataError, match="no such file"):
        read_targets(tmp_path / "none.txt")


def test_parse_shipped_queries(anchors: Path) -> None:
    qs = {p.name: parse_queries(p) for p in (anchors / "queries").iterdir()}
    assert sum(len(v) for v in qs.values()) == 4 + 2 + 2 + 2 + 4 + 4 + 6
    q = qs["q_check2"][1]
    assert q == Query(QueryKind.TARGET_ROBUSTNESS, "mnist_bnn_4_blk_784_50_50_50_50_10", "instance_0_784",
                      RegionKind.SET, fixed_set="fixed-set-file-20-up", targets="target_10_class")
    assert q.kind == "target_robustness" and q.region == "set"
    assert q.model_path(anchors).is_dir() and q.instance_path(anchors).is_file()
    assert q.fixed_set_path(anchors).is_file() and q.targets_path(anchors).is_file()
    pi = qs["query_demo_explain"][1]
    assert pi.kind is QueryKind.PI_EXPLAIN and pi.cover_count == 10 and pi.line == 7
    sd = qs["query_demo_maxDS"][1]
    assert sd.kind is QueryKind.COMPUTE_SD and sd.hamming == 3 and sd.tolerance == 0.03 and sd.targets is None
    h = qs["query_demo_robustness_hamming_distance_input"][0]
    assert h.region is RegionKind.HAMMING and h.hamming == 2 and h.targets == "target_2_class"
    for qlist in qs.values():
        for q in qlist:
            assert q.model_path(anchors).is_dir(), q
            assert q.instance_path(anchors).is_file(), q


def test_bad_query_files(tmp_path: Path) -> None:
    p = tmp_path / "q"
    p.write_text("# c\nfoo: <a,b,hamming,1,t>;\n")
    with pytest.raises(DataError, match=r"line 2: unknown query kind 'foo'"):
        parse_queries(p)
    p.write_text("target_robustness: <a,b,hamming,x,t>;\n")
    with pytest.raises(DataError, match="hamming distance"):
        parse_queries(p)
    p.write_text("target_robustness: <a,b,box,1,t>;\n")
    with pytest.raises(DataError, match="region"):
        parse_queries(p)
    p.write_text("target_robustness: <a,b,hamming,1,t>;\n\ngarbage here\n")
    with pytest.raises(DataError, match=r"line 3: cannot parse 'garbage here'"):
        parse_queries(p)
    p.write_text("target_robustness: <a,b,hamming,1>;\n")
    with pytest.raises(DataError, match="needs 5"):
        parse_queries(p)
