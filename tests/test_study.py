"""The training-methods study (issue 13) at test size: every measure consistent with brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- the 17-level digits part ---------------------------------------------------------


def _brute_robust(net, x, label, eps):
    import itertools

    from bnnverify import semantics

    ranges = [range(max(int(lo), int(v) - eps), min(int(hi), int(v) + eps) + 1)
              for v, lo, hi in zip(x, net.inputs.lo, net.inputs.hi)]
    return all(semantics.classify(net, p) == label for p in itertools.product(*ranges))


def test_pixel_robustness_equals_brute_force_on_small_integer_nets():
    """Random 3-feature networks of both first-layer kinds over 0..6: every verdict against every image of the box."""
    from bnnverify.encoders.integer_layers import IntegerInputs, IntegerThresholdLayer, QuantizeLayer
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
    from bnnverify.training.study import pixel_robustness

    rng = np.random.default_rng(7)
    for trial in range(6):
        if trial % 2:
            first = QuantizeLayer(np.sort(rng.integers(0, 8, (3, 2)), axis=1))
            n1 = 6
        else:
            first = IntegerThresholdLayer(rng.choice([-1, 1], (4, 3)).astype(np.int16), rng.integers(-6, 7, 4))
            n1 = 4
        hid = ThresholdLayer(rng.choice([-1, 1], (3, n1)).astype(np.int8), rng.integers(-2, 3, 3))
        out = ArgmaxLayer(rng.choice([-1, 1], (3, 3)).astype(np.int8), rng.random(3) + 0.5, rng.random(3))
        net = BNN((first, hid), out, inputs=IntegerInputs.pixels(3, 0, 6))
        X = rng.integers(0, 7, (8, 3))
        y = Evaluator(net).classify(X)
        y[:2] = (y[:2] + 1) % 3  # two misclassified rows: attacked at every ε
        rob = pixel_robustness(net, X, y, (1, 2), timeout=30)
        for e in (1, 2):
            want = sum(int(Evaluator(net).classify(x[None])[0] == lab and _brute_robust(net, x, lab, e))
                       for x, lab in zip(X, y))
            st = rob["status"][str(e)]
            assert st["undecided"] == 0 and st["robust"] == want and st["robust"] + st["attacked"] == len(X)


def test_pixels_task_trains_and_measures():
    from dataclasses import replace

    from bnnverify.training.study import format_pixel_table, pixels_task

    cfg = replace(TINY, pixel_run=((6,), 1, 1, 0.01, 256), pixel_rows=3, pixel_timeout=10.0)
    row = pixels_task(("lns", "quantize", 0, cfg))
    assert row["first_layer"] == "quantize" and row["robustness"]["n"] == 3
    s1, s2 = row["robustness"]["status"]["1"], row["robustness"]["status"]["2"]
    assert s2["robust"] <= s1["robust"] and sum(s1.values()) == 3
    assert "| quantize (quantize) | lns | 1 |" in format_pixel_table([row], {"pixel_run": [[6], 1, 1, 0.01, 256],
                                                                           "pixel_timeout": 10.0})


def _dp_disagreements(a, b) -> int:
    """Exact number of inputs of {0,1}^n where two one-neuron networks differ: a dynamic programme
    over the inputs on the joint (dot of a, dot of b) distribution, Python ints (no enumeration)."""
    from bnnverify import semantics
    from bnnverify.encoders.layers import BNN

    wa, wb = a.hidden[0].weights[0].astype(int), b.hidden[0].weights[0].astype(int)
    states = {(0, 0): 1}
    for i in range(a.n_inputs):
        nxt: dict = {}
        for (da, db), c in states.items():
            for s in (-1, 1):
                k = (da + s * int(wa[i]), db + s * int(wb[i]))
                nxt[k] = nxt.get(k, 0) + c
        states = nxt
    ta, tb = int(a.hidden[0].thresholds[0]), int(b.hidden[0].thresholds[0])
    cls_a = [semantics.classify(BNN((), a.output), [bit]) for bit in (0, 1)]
    cls_b = [semantics.classify(BNN((), b.output), [bit]) for bit in (0, 1)]
    return sum(c for (da, db), c in states.items() if cls_a[int(da >= ta)] != cls_b[int(db >= tb)])


@given(st.data())
@settings(max_examples=6, deadline=None)
def test_whole_space_disagreement_count_over_2_to_the_n_is_exact(data):
    """Wide inputs (20..64 bits: beyond enumeration), one hidden neuron each: the study's BDD count over
    all 2^n inputs against a dynamic programme; and a count stopped by its time limit is None, never a guess."""
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(20, 64))

    def net():
        h = ThresholdLayer(rng.choice([-1, 1], (1, n)).astype(np.int8), rng.integers(-6, 7, 1))
        return BNN((h,), ArgmaxLayer(rng.choice([-1, 1], (3, 1)).astype(np.int8), rng.random(3) + 0.5, rng.random(3)))

    a, b = net(), net()
    from types import SimpleNamespace
    from unittest import mock

    X = rng.integers(0, 2, (50, n)).astype(np.uint8)
    with mock.patch("bnnverify.data.datasets.load_dataset", lambda name, split: SimpleNamespace(X=X)):
        d = disagreement(a, b, "wide")
        assert d["count"] == _dp_disagreements(a, b) and d["count_status"] == "exact" and d["space"] == 2**n
        assert (d["verdict"] == "equivalent") == (d["count"] == 0) and d["count"] >= d["on_data"]
        assert disagreement(a, a, "wide")["count"] == 0
        late = disagreement(a, b, "wide", count_timeout=1e-9)
        assert late["count"] is None and late["count_status"].startswith("timeout")
