"""The training-methods study (issue 13) at test size: every measure consistent with brute force."""

from __future__ import annotations

import numpy as np
import pytest

from bnnverify.data.datasets import load_dataset
from bnnverify.demo import run_study_demo
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.training.study import TINY, disagreement, format_tables, summarize_plane


@pytest.fixture(scope="module")
def tiny():
    lines = []
    result = run_study_demo(lines.append, config=TINY)
    return result, lines


def test_tiny_study_rows_and_measures(tiny):
    result, lines = tiny
    rows = result["methods"]
    assert sorted(r["method"] for r in rows) == sorted(
        ["ste", "approx_sign", "xnor", "ste-base", "ste-ft", "lns", "rbonn", "rbonn-u0", "rbonn-code"])
    for r in rows:
        assert 0 <= r["vra3"] <= r["vra2"] <= r["vra1"] <= r["test_acc"] <= 1
        for dl, wl, whole in zip(r["info_data"], r["info_balls"], r["codes_whole"]):
            assert 0 <= dl["I_TY"] <= dl["H_T"] + 1e-12 and dl["codes"] <= whole and wl["codes"] <= whole
        assert r["ball_rows"] == TINY.ball_rows
    lns = next(r for r in rows if r["method"] == "lns")
    assert lns["vs_start"]["space"] == 4096 and lns["vs_start"]["count"] == lns["vs_start"]["on_data"]
    assert (lns["vs_start"]["verdict"] == "equivalent") == (lns["vs_start"]["count"] == 0)
    assert "| lns |" in lines[-1] and "Information plane" in lines[-1]


def test_disagreement_count_is_brute_force():
    from bnnverify.training.train import train_bnn

    a = train_bnn("var_u", [6], epochs=1, seed=0).model
    b = train_bnn("var_u", [6], epochs=2, seed=0).model
    X = load_dataset("var_u", "all").X
    d = disagreement(a, b, "var_u")
    assert d["count"] == int((Evaluator(a).classify(X) != Evaluator(b).classify(X)).sum())
    assert disagreement(a, a, "var_u")["count"] == 0


def test_tiny_plane_points_and_verdicts(tiny):
    result, _ = tiny
    for p in result["planes"]:
        assert [q["epoch"] for q in p["points"]] == list(range(0, TINY.plane_epochs + 1, TINY.plane_every))
        for q in p["points"]:
            assert all(0 <= i <= h + 1e-12 <= 12 + 1e-12 for h, i in zip(q["H_T"], q["I_TY"]))
    for s in summarize_plane(result["planes"]):
        assert s["verdict"] in ("simultaneous", "two-phase", "no compression")
    assert "wall time" in format_tables(result)
