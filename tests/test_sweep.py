"""Sweeps: serial, process-pool and Dask runs give the same lines; resume loses and repeats nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bnnverify.errors import DataError
from bnnverify.questions.robustness import check_robustness
from bnnverify.questions.sweep import RegionSpec, RobustnessQuery, question_identity, read_results, summarize, sweep
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

N_INPUTS = 10
N_INSTANCES = 12


def _net(seed=3):
    rng = np.random.default_rng(seed)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    return BNN(
        (ThresholdLayer(pm(6, N_INPUTS), rng.integers(-2, 3, 6)),),
        ArgmaxLayer(pm(3, 6), np.ones(3), np.array([0.0, 0.5, 0.25])),
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.integers(0, 2, (N_INSTANCES, N_INPUTS)).astype(np.uint8)
    y = rng.integers(0, 3, N_INSTANCES)
    return _net(), X, y


QUERY = RobustnessQuery(RegionSpec(hamming=2), method="enum", count=True)


def _strip(lines):
    """Lines without their timings, by index."""
    return {ln["index"]: {k: v for k, v in ln.items() if k != "seconds"} for ln in lines}


def test_serial_sweep_matches_single_questions(data, tmp_path):
    net, X, y = data
    out = tmp_path / "r.jsonl"
    seen = []
    s = sweep(net, X, y, QUERY, out, on_result=seen.append)
    lines = [json.loads(t) for t in out.read_text().splitlines()]
    assert len(lines) == N_INSTANCES == len(seen) == s.n_instances
    for ln in lines:
        r = check_robustness(net, X[ln["index"]], QUERY.region.around(net, X[ln["index"]]), method="enum", count=True)
        want = r.to_json()
        assert {k: v for k, v in ln.items() if k not in ("seconds", "index", "label", "question")} == {
            k: v for k, v in want.items() if k != "seconds"
        }
        assert ln["question"] == question_identity(net, QUERY)
        assert ln["label"] == int(y[ln["index"]])
    robust_correct = sum(ln["verdict"] == "robust" and ln["predicted_class"] == ln["label"] for ln in lines)
    assert s.n_verified == robust_correct
    assert s.verified_robust_accuracy == robust_correct / N_INSTANCES
    assert sum(s.verdict_counts.values()) == N_INSTANCES
    assert s.seconds_median <= s.seconds_p95


def test_resume_after_a_crash_mid_line(data, tmp_path):
    net, X, y = data
    full = tmp_path / "full.jsonl"
    sweep(net, X, y, QUERY, full)
    part = tmp_path / "part.jsonl"
    text = full.read_text().splitlines(keepends=True)
    part.write_text("".join(text[:5]) + text[5][: len(text[5]) // 2])  # torn 6th line
    with pytest.raises(DataError, match="already holds results; resume it"):
        sweep(net, X, y, QUERY, part)
    s = sweep(net, X, y, QUERY, part, resume=True)
    assert s.n_resumed == 5
    lines = [json.loads(t) for t in part.read_text().splitlines()]
    assert sorted(ln["index"] for ln in lines) == list(range(N_INSTANCES))
    assert _strip(lines) == _strip(read_results(full).values())
    s2 = sweep(net, X, y, QUERY, part, resume=True)  # nothing left to do
    assert s2.n_resumed == N_INSTANCES and len(part.read_text().splitlines()) == N_INSTANCES
    other = RobustnessQuery(RegionSpec(hamming=1), method="enum")
    with pytest.raises(DataError, match="another region"):
        sweep(net, X, y, other, part, resume=True)


def test_process_pool_matches_serial(data, tmp_path):
    net, X, y = data
    sweep(net, X, y, QUERY, tmp_path / "a.jsonl")
    sweep(net, X, y, QUERY, tmp_path / "b.jsonl", jobs=2)
    assert _strip(read_results(tmp_path / "a.jsonl").values()) == _strip(read_results(tmp_path / "b.jsonl").values())


def test_dask_cluster_matches_serial(data, tmp_path):
    distributed = pytest.importorskip("distributed")
    net, X, y = data
    sweep(net, X, y, QUERY, tmp_path / "a.jsonl")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        s = sweep(net, X, y, QUERY, tmp_path / "d.jsonl", dask=cluster.scheduler_address)
    assert s.n_instances == N_INSTANCES
    assert _strip(read_results(tmp_path / "a.jsonl").values()) == _strip(read_results(tmp_path / "d.jsonl").values())


def test_bad_sweeps_fail_before_any_work(data, tmp_path):
    net, X, y = data
    with pytest.raises(DataError, match="index 99"):
        sweep(net, X, y, QUERY, tmp_path / "x.jsonl", indices=[0, 99])
    with pytest.raises(DataError, match="cannot connect to the Dask scheduler"):
        sweep(net, X, y, QUERY, tmp_path / "x.jsonl", dask="tcp://127.0.0.1:1", dask_timeout=1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"index": 0, "verdict": "robust"}\nnot json\n{"index": 1, "verdict": "robust"}\n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_results(bad)


def test_summary_percentiles_and_accuracy():
    lines = [
        {"index": i, "label": 0, "predicted_class": 0 if i < 3 else 1, "verdict": v, "seconds": float(i)}
        for i, v in enumerate(["robust", "not_robust", "robust", "robust", "timeout"])
    ]
    s = summarize(lines)
    assert (s.n_instances, s.n_correct, s.n_verified) == (5, 3, 2)
    assert s.verdict_counts == {"robust": 3, "not_robust": 1, "timeout": 1, "unknown": 0}
    assert (s.seconds_median, s.seconds_p95) == (2.0, 4.0)


def test_resume_refuses_a_file_written_for_another_question(data, tmp_path):
    """A sweep of model A is never summarised as model B's, nor another split's or engine's."""
    net, X, y = data
    out = tmp_path / "a.jsonl"
    src = {"model": "a.npz", "dataset": "d", "split": "test"}
    sweep(net, X[:4], y[:4], QUERY, out, source=src)
    line = json.loads(out.read_text().splitlines()[0])
    assert line["question"]["model_sha256"] and line["question"]["split"] == "test"
    assert line["question"]["ties"].startswith("argmax")
    cases = {
        "model_sha256": dict(net=_net(seed=4)),
        "split": dict(source={**src, "split": "train"}),
        "dataset": dict(source={**src, "dataset": "other"}),
        "method": dict(query=RobustnessQuery(RegionSpec(hamming=2), method="bdd", count=True)),
        "count": dict(query=RobustnessQuery(RegionSpec(hamming=2), method="enum")),
    }
    for field, change in cases.items():
        kw = {"net": net, "query": QUERY, "source": src, **change}
        with pytest.raises(DataError, match=f"answers another {field} "):
            sweep(kw["net"], X, y, kw["query"], out, resume=True, source=kw["source"])
    # the same question under another path resumes (the content digest decides, not the name)
    s = sweep(net, X, y, QUERY, out, resume=True, source={**src, "model": "moved/a.npz"})
    assert s.n_resumed == 4 and s.n_instances == N_INSTANCES
    # a file without question identities (an older bnnverify) is refused
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps({k: v for k, v in json.loads(t).items() if k != "question"}) + "\n"
                           for t in out.read_text().splitlines()))
    with pytest.raises(DataError, match="no question identity"):
        sweep(net, X, y, QUERY, old, resume=True, source=src)
