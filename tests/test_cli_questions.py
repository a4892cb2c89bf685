"""CLI robustness/equivalence through click's runner: JSON shape, exit codes, every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from bnnverify.files.modelio import save_model
from bnnverify.cli import Exit, main
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.encoders.regions import HammingBall, Whole
from strategies import all_inputs, plain_forward

N = 10
ROBUSTNESS_KEYS = ["schema", "verdict", "predicted_class", "region", "counterexample", "counterexample_class",
                   "adversarial_count", "class_counts", "ties", "method", "reason", "seconds", "asked"]
EQUIVALENCE_KEYS = ["schema", "verdict", "region", "witness", "class_a", "class_b", "disagreement_count",
                    "confusion", "method", "reason", "seconds", "asked"]
ASKED_KEYS = ["schema", "command", "version", "models", "input", "ties", "limits"]


def _net(seed, n=N):
    rng = np.random.default_rng(seed)
    pm = lambda m, k: np.where(rng.random((m, k)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    return BNN((ThresholdLayer(pm(6, n), rng.integers(-2, 3, 6)),),
               ArgmaxLayer(pm(3, 6), np.ones(3), np.array([0.0, 0.5, 0.25])))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    net = _net(3)
    save_model(net, d / "a.npz")
    save_model(net, d / "a_copy.npz")
    save_model(_net(4), d / "b.npz")
    save_model(_net(5, n=N + 2), d / "wide.npz")
    # an input with a misclassified neighbour and one robust at radius 1
    X = all_inputs(N)
    cls = plain_forward(net, X)[2]
    robust1 = not_robust1 = None
    for i, x in enumerate(X):
        ball = HammingBall(x, 1)
        same = (cls[ball.contains(X)] == cls[i]).all()
        if same and robust1 is None:
            robust1 = x
        if not same and not_robust1 is None:
            not_robust1 = x
    (d / "robust.txt").write_text(" ".join(map(str, robust1)))
    (d / "fragile.txt").write_text(",".join(map(str, not_robust1)))
    (d / "short.txt").write_text("0 1 0")
    (d / "nonbinary.txt").write_text(" ".join(["0"] * (N - 1) + ["2"]))
    (d / "mutable.txt").write_text("0 3 5")
    (d / "badidx.txt").write_text(f"0 {N + 5}")
    rng = np.random.default_rng(0)
    np.savez(d / "data.npz", X=rng.integers(0, 2, (10, N)).astype(np.uint8), y=rng.integers(0, 3, 10))
    return d, net, robust1, not_robust1


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("method", ["enum", "sat", "bdd", "auto"])
def test_robustness_json_shape_and_exit_codes(files, method):
    d, net, robust1, fragile = files
    code, out, _ = run("robustness", d / "a.npz", "--input", d / "robust.txt", "--hamming", 1,
                       "--method", method, "--json")
    j = json.loads(out)
    assert code == Exit.HOLDS and list(j) == ROBUSTNESS_KEYS
    assert list(j["asked"]) == ASKED_KEYS and j["schema"] == j["asked"]["schema"] == "bnnverify-result/1"
    assert j["asked"]["models"][0]["path"] == str(d / "a.npz") and len(j["asked"]["models"][0]["sha256"]) == 64
    assert j["asked"]["input"] == {"kind": "file", "path": str(d / "robust.txt")}
    assert j["verdict"] == "robust" and j["counterexample"] is None
    assert j["region"] == {"kind": "hamming", "radius": 1, "size": N + 1}
    assert j["method"] == ("enum" if method == "auto" else method)

    code, out, _ = run("robustness", d / "a.npz", "--input", d / "fragile.txt", "--hamming", 1,
                       "--method", method, "--json")
    j = json.loads(out)
    assert code == Exit.VIOLATED and j["verdict"] == "not_robust"
    w = np.array([int(b) for b in j["counterexample"]], np.uint8)
    assert int(plain_forward(net, w[None, :])[2][0]) == j["counterexample_class"] != j["predicted_class"]


@pytest.mark.parametrize("method", ["enum", "bdd", "auto"])
def test_robustness_counts_are_exact(files, method):
    d, net, _, fragile = files
    code, out, _ = run("robustness", d / "a.npz", "--input", "".join(map(str, fragile)), "--hamming", 3,
                       "--count", "--method", method, "--json")
    j = json.loads(out)
    X = all_inputs(N)
    region = HammingBall(fragile, 3)
    cls = plain_forward(net, X[region.contains(X)])[2]
    expect = {str(c): int(v) for c, v in enumerate(np.bincount(cls, minlength=3))}
    assert code == Exit.VIOLATED and j["class_counts"] == expect
    assert j["adversarial_count"] == region.size - expect[str(j["predicted_class"])]
    assert j["region"]["size"] == region.size


def test_robustness_text_output_and_whole_region(files):
    d, _, robust1, _ = files
    code, out, _ = run("robustness", d / "a.npz", "--input", d / "robust.txt", "--region", "whole", "--count")
    assert code == Exit.VIOLATED
    assert "verdict: not_robust" in out and f"of {2 ** N}" in out and "method: enum" in out


def test_budget_exceeded_is_exit_3(files, tmp_path):
    big = BNN((ThresholdLayer(np.ones((1, 40), np.int8), np.array([0])),),
              ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    save_model(big, tmp_path / "big.npz")
    code, out, err = run("robustness", tmp_path / "big.npz", "--input", "1" * 40, "--region", "whole",
                         "--method", "enum", "--json")
    assert code == Exit.UNDECIDED and json.loads(out)["verdict"] == "unknown"
    assert "budget exceeded" in err


def test_max_radius(files):
    d, net, robust1, _ = files
    code, out, _ = run("robustness", d / "a.npz", "--input", d / "robust.txt", "--max-radius", "--json")
    j = json.loads(out)
    X = all_inputs(N)
    cls = plain_forward(net, X)[2]
    pred = j["predicted_class"]
    dist = (X != robust1).sum(axis=1)
    expect = int(dist[cls != pred].min()) - 1 if (cls != pred).any() else N
    assert code == Exit.HOLDS and j["max_robust_radius"] == expect and j["exact"] is True
    code, out, _ = run("robustness", d / "a.npz", "--input", d / "robust.txt", "--max-radius",
                       "--method", "sat", "--hamming", 1)
    assert code == Exit.HOLDS and "max robust radius: 1" in out


def test_dataset_index_and_sweep_with_resume(files, tmp_path):
    d, net, _, _ = files
    data = d / "data.npz"
    code, out, _ = run("robustness", d / "a.npz", "--dataset", data, "--split", "all", "--index", 4,
                       "--hamming", 1, "--json")
    single = json.loads(out)
    assert code in (Exit.HOLDS, Exit.VIOLATED)
    res = tmp_path / "r.jsonl"
    args = ["robustness", d / "a.npz", "--dataset", data, "--split", "all", "--all", "--hamming", 1,
            "--out", res, "--json"]
    code, out, _ = run(*args, "--limit", 6)
    s = json.loads(out)
    assert s["instances"] == 6 and s["resumed"] == 0
    code, out, _ = run(*args, "--resume")
    s = json.loads(out)
    assert s["instances"] == 10 and s["resumed"] == 6
    lines = [json.loads(t) for t in res.read_text().splitlines()]
    assert sorted(ln["index"] for ln in lines) == list(range(10))
    line4 = next(ln for ln in lines if ln["index"] == 4)
    result_keys = [k for k in ROBUSTNESS_KEYS if k not in ("seconds", "schema", "asked")]
    assert {k: line4[k] for k in result_keys} == {k: single[k] for k in result_keys}
    assert single["asked"]["input"] == {"kind": "dataset", "dataset": str(data), "index": 4,  # a file: no split
                                        "label": line4["label"]}
    assert code == (Exit.VIOLATED if any(ln["verdict"] == "not_robust" for ln in lines) else Exit.HOLDS)
    code, _, err = run(*args)
    assert code == Exit.BAD_INPUT and "--resume" in err


def test_equivalence_json_shape_and_exit_codes(files):
    d, *_ = files
    code, out, _ = run("equivalence", d / "a.npz", d / "a_copy.npz", "--json")
    j = json.loads(out)
    assert code == Exit.HOLDS and list(j) == EQUIVALENCE_KEYS and j["verdict"] == "equivalent"
    assert j["region"] == Whole(N).describe()
    code, out, _ = run("equivalence", d / "a.npz", d / "b.npz", "--count", "--json")
    j = json.loads(out)
    assert code == Exit.VIOLATED and j["verdict"] == "not_equivalent" and j["disagreement_count"] > 0
    assert sum(v for row in j["confusion"].values() for v in row.values()) == 2 ** N
    code, out, _ = run("equivalence", d / "a.npz", d / "b.npz", "--method", "sat", "--input", d / "robust.txt",
                       "--hamming", 2)
    assert code in (Exit.HOLDS, Exit.VIOLATED) and "method: sat" in out


BAD = [
    (["robustness", "{d}/missing.npz", "--input", "0" * N, "--hamming", "1"], "missing.npz"),
    (["robustness", "{d}/a.npz", "--input", "{d}/nofile.txt", "--hamming", "1"], "nofile.txt"),
    (["robustness", "{d}/a.npz", "--input", "{d}/short.txt", "--hamming", "1"], f"has 3 bits, the model expects {N}"),
    (["robustness", "{d}/a.npz", "--input", "0101", "--hamming", "1"], f"has 4 bits, the model expects {N}"),
    (["robustness", "{d}/a.npz", "--input", "{d}/nonbinary.txt", "--hamming", "1"], "found '2'"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--hamming", "-1"], "radius must be between 0 and"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--hamming", str(N + 1)], "radius must be between 0 and"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--max-radius", "--hamming", str(N + 1)],
     "radius must be between 0 and"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--hamming", "1", "--solver", "nosuchsolver"],
     "nosuchsolver"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--hamming", "1", "--encoding", "nosuchenc"],
     "nosuchenc"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--hamming", "1", "--mutable", "{d}/badidx.txt"],
     f"index {N + 5} is outside"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--hamming", "1", "--count", "--method", "sat"],
     "SAT decides but does not count"),
    (["robustness", "{d}/a.npz", "--hamming", "1"], "exactly one input source"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt"], "choose exactly one region"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--linf", "1"], "thermometer"),
    (["robustness", "{d}/a.npz", "--dataset", "{d}/data.npz", "--index", "99", "--hamming", "1"], "--index 99"),
    (["robustness", "{d}/a.npz", "--dataset", "{d}/data.npz", "--all", "--hamming", "1"], "--all needs --out"),
    (["robustness", "{d}/a.npz", "--input", "{d}/robust.txt", "--hamming", "1", "--jobs", "2"], "only go with --all"),
    (["robustness", "{d}/a.npz", "--dataset", "{d}/nodata.npz", "--index", "0", "--hamming", "1"], "nodata.npz"),
    (["equivalence", "{d}/a.npz", "{d}/wide.npz"], f"{N} inputs but"),
    (["equivalence", "{d}/a.npz", "{d}/b.npz", "--solver", "nosuchsolver"], "nosuchsolver"),
    (["equivalence", "{d}/a.npz", "{d}/b.npz", "--hamming", "1"], "needs a centre input"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_exit_2_with_a_message_naming_it(files, args, message):
    d = files[0]
    code, out, err = run(*[a.format(d=d) for a in args])
    assert code == Exit.BAD_INPUT, (out, err)
    assert message in err, err


#: Anchor queries whose regions are small enough to check against a naive forward pass.
ANCHOR_MAX_SIZE = 1 << 13


@pytest.mark.anchors
def test_bnnquanalyst_robustness_queries_through_the_cli(anchors, tmp_path):
    from bnnverify.importers.bnnquanalyst import QueryKind, RegionKind, parse_queries

    ran = 0
    models = {}
    for qf in sorted((anchors / "queries").iterdir()):
        for q in parse_queries(qf):
            if q.kind is not QueryKind.TARGET_ROBUSTNESS:
                continue
            if q.model not in models:
                path = tmp_path / f"{q.model}.npz"
                code, _, err = run("import", "bnnquanalyst", q.model_path(anchors), "--out", path)
                assert code == 0, err
                from bnnverify.files.modelio import load_model

                models[q.model] = (path, load_model(path))
            path, net = models[q.model]
            region_args = (["--hamming", q.hamming] if q.region is RegionKind.HAMMING
                           else ["--free", q.fixed_set_path(anchors)])
            base = ["robustness", path, "--input", q.instance_path(anchors), *region_args, "--json"]
            x = np.array([int(t) for t in q.instance_path(anchors).read_text().split()], np.uint8)
            if q.region is RegionKind.HAMMING:
                region = HammingBall(x, q.hamming)
            else:
                from bnnverify.encoders.regions import Cube

                free = [int(t) for t in q.fixed_set_path(anchors).read_text().split()]
                region = Cube.from_free(x, free)
            if region.size > ANCHOR_MAX_SIZE:
                continue  # benchmarks/bench_questions.py runs these
            code, out, err = run(*base, "--count")
            j = json.loads(out)
            assert code in (Exit.HOLDS, Exit.VIOLATED), err
            assert j["region"]["size"] == region.size
            members = np.concatenate(list(region.members()))
            cls = plain_forward(net, members)[2]
            expect = {str(c): int(v) for c, v in enumerate(np.bincount(cls, minlength=net.n_classes))}
            assert j["class_counts"] == expect, (qf.name, q.line)
            assert j["verdict"] == ("robust" if j["adversarial_count"] == 0 else "not_robust")
            code_sat, out_sat, _ = run(*base, "--method", "sat")
            assert json.loads(out_sat)["verdict"] == j["verdict"] and code_sat == code
            ran += 1
    assert ran >= 8
