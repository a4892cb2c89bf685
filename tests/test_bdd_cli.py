"""``bnnverify count``: exact per-class counts by the policy's engine or --method, JSON shape, budgets, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from strategies import all_inputs

from bnnverify.files.modelio import save_model
from bnnverify.evaluation.evaluator import Evaluator, code_keys
from bnnverify.cli import Exit, main
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.encoders.regions import HammingBall


def _net(n: int = 10, seed: int = 0) -> BNN:
    rng = np.random.default_rng(seed)
    pm = lambda *s: np.where(rng.random(s) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    return BNN(
        (ThresholdLayer(pm(8, n), rng.integers(-3, 4, 8)), ThresholdLayer(pm(6, 8), rng.integers(-2, 3, 6))),
        ArgmaxLayer(pm(3, 6), np.array([1.0, 0.5, 2.0]), np.array([0.0, 1.0, -1.0])),
    )


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("method", ["auto", "bdd", "enum"])
def test_count_whole_json_matches_enumeration(tmp_path, method):
    net = _net()
    model = save_model(net, tmp_path / "m.npz")
    r = _run("count", model, "--region", "whole", "--per-code", 2, "--json", "--method", method)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert set(d) == {"schema", "region_size", "class_counts", "seconds", "codes", "region", "method", "reason",
                      "asked"}
    # auto: the policy's engine (1024 members: enumeration), and it says why
    assert d["region"] == {"kind": "whole", "n": 10, "size": 1024} and d["method"] == ("enum" if method == "auto"
                                                                                       else method)
    assert d["reason"].startswith("auto: enumeration" if method == "auto" else f"asked for {method}")
    X = all_inputs(10)
    tr = Evaluator(net).trace(X)
    assert d["region_size"] == 1024
    assert d["class_counts"] == {str(c): int(v) for c, v in enumerate(np.bincount(tr.classes, minlength=3))}
    assert d["codes"] == len(set(code_keys(tr.codes[1])))
    assert isinstance(d["seconds"], float)


@pytest.mark.parametrize("method", ["auto", "ball", "bdd", "enum"])
def test_count_large_ball_goes_through_the_policy(tmp_path, method, monkeypatch):
    """A Hamming ball beyond AUTO_BALL_MIN members (lowered here, so brute force stays quick): auto counts
    it with the Hamming-ball engine and says why; every engine gives the brute-force counts."""
    from bnnverify.engines import policy
    from bnnverify.evaluation.flips import HAVE_NUMBA

    monkeypatch.setattr(policy, "AUTO_BALL_MIN", 1 << 16)
    AUTO_BALL_MIN = policy.AUTO_BALL_MIN

    n = 26
    net = _net(n=n, seed=3)
    model = save_model(net, tmp_path / "m.npz")
    x = np.random.default_rng(4).integers(0, 2, n).astype(np.uint8)
    ball = HammingBall(x, 5)  # 83,682 members
    assert ball.size > AUTO_BALL_MIN
    r = _run("count", model, "--hamming", 5, "--input", "".join(map(str, x)), "--json", "--method", method)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    X = np.concatenate(list(ball.members()))
    assert d["class_counts"] == {str(c): int(v) for c, v in enumerate(np.bincount(Evaluator(net).classify(X),
                                                                                  minlength=3))}
    if method == "auto" and HAVE_NUMBA:
        assert d["method"] == "ball" and "first-layer neurons can change" in d["reason"], d["reason"]


def test_count_hamming_text_and_mutable(tmp_path):
    net = _net(seed=1)
    model = save_model(net, tmp_path / "m.npz")
    x = "0110100110"
    (tmp_path / "mut.txt").write_text("0 3 4 9")
    r = _run("count", model, "--hamming", 2, "--input", x, "--mutable", tmp_path / "mut.txt", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    X = all_inputs(10)
    c = np.array([int(b) for b in x], dtype=np.uint8)
    diff = X != c
    keep = (diff.sum(1) <= 2) & ~diff[:, [1, 2, 5, 6, 7, 8]].any(1)
    expect = np.bincount(Evaluator(net).classify(X[keep]), minlength=3)
    assert d["region_size"] == 11 and list(d["class_counts"].values()) == expect.tolist()
    r = _run("count", model, "--hamming", 1, "--input", x)
    assert r.exit_code == 0 and "class 0:" in r.output and "11 inputs" in r.output


def test_count_budget_exit_3_and_bad_input_exit_2(tmp_path):
    model = save_model(_net(seed=2), tmp_path / "m.npz")
    r = _run("count", model, "--region", "whole", "--max-nodes", 5, "--method", "bdd")
    assert r.exit_code == Exit.UNDECIDED and "budget" in r.output
    r = _run("count", model, "--region", "whole", "--max-nodes", 5)  # auto: an engine the budget does not stop
    assert r.exit_code == 0 and "method: enum" in r.output, r.output
    r = _run("count", model, "--hamming", 2, "--input", "0101")
    assert r.exit_code == Exit.BAD_INPUT and "4 bits" in r.output
    r = _run("count", model, "--region", "whole", "--per-code", 7)
    assert r.exit_code == Exit.BAD_INPUT and "7" in r.output


@pytest.mark.parametrize("probe", ["answers", "out of memory", "out of time"])
def test_auto_probes_the_bdd_before_a_long_kernel_walk(tmp_path, probe, monkeypatch):
    """Beyond AUTO_BALL_BDD_WORK type multisets (lowered here) auto tries the BDD first under the probe's
    memory cap and time; when it runs out of either the kernel answers, and the reason says both. The
    counts are brute force's every time."""
    from bnnverify.engines import policy
    from bnnverify.evaluation.flips import HAVE_NUMBA

    if not HAVE_NUMBA:
        pytest.skip("the probe precedes the compiled kernel only")
    monkeypatch.setattr(policy, "AUTO_BALL_MIN", 1 << 10)
    monkeypatch.setattr(policy, "AUTO_BALL_BDD_WORK", 0)
    if probe == "out of memory":
        monkeypatch.setattr(policy, "AUTO_BDD_PROBE_MEMORY", 1)
    elif probe == "out of time":
        monkeypatch.setattr(policy, "AUTO_BDD_PROBE_SECONDS", 1e-9)
    n = 20
    net = _net(n=n, seed=5)
    model = save_model(net, tmp_path / "m.npz")
    x = np.random.default_rng(6).integers(0, 2, n).astype(np.uint8)
    ball = HammingBall(x, 4)
    r = _run("count", model, "--hamming", 4, "--input", "".join(map(str, x)), "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    X = np.concatenate(list(ball.members()))
    expect = np.bincount(Evaluator(net).classify(X), minlength=net.n_classes)
    assert d["class_counts"] == {str(c): int(v) for c, v in enumerate(expect)}
    if probe == "answers":
        assert d["method"] == "bdd" and "bdd first" in d["reason"], d["reason"]
    else:
        assert d["method"] == "ball" and "after bdd gave up" in d["reason"], d["reason"]


def test_the_probe_keeps_the_questions_own_time_limit(monkeypatch):
    """A question whose own time runs out during the probe ends in a timeout, not with the next engine."""
    from bnnverify.engines import policy
    from bnnverify.engines.base import Limits
    from bnnverify.engines.run import class_counts
    from bnnverify.evaluation.flips import HAVE_NUMBA

    if not HAVE_NUMBA:
        pytest.skip("the probe precedes the compiled kernel only")
    monkeypatch.setattr(policy, "AUTO_BALL_MIN", 1 << 10)
    monkeypatch.setattr(policy, "AUTO_BALL_BDD_WORK", 0)
    net = _net(n=20, seed=5)
    x = np.random.default_rng(6).integers(0, 2, 20).astype(np.uint8)
    limits = Limits(timeout=1e-6)
    a = class_counts(net, HammingBall(x, 4), limits=limits)
    assert a.counts is None and a.search.outcome.value == "timeout", a.search
