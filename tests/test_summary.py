"""`summarize` against brute force, `format_summary`, and the `summary` / `import bnnquanalyst` CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from strategies import networks

from bnnverify.importers.bnnquanalyst import import_bnnquanalyst, import_bnnquanalyst_report
from bnnverify.files.modelio import load_model, save_model
from bnnverify.model.summary import (
    BITS_FLOAT32,
    LayerKind,
    format_summary,
    summarize,
    summary_to_dict,
)
from bnnverify.cli import Exit, main

SMALL_MODEL = "mnist_bnn_2_blk_16_25_20_10"


def _all_inputs(n: int) -> np.ndarray:
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.uint8)


@given(networks(n_inputs=st.integers(1, 8), width=st.integers(1, 8)))
def test_summarize_matches_brute_force(net) -> None:
    s = summarize(net)
    assert s.widths == net.widths
    assert len(s.layers) == len(net.hidden) + 1
    for h, l in zip(net.hidden, s.layers):
        assert l.kind is LayerKind.THRESHOLD and (l.inputs, l.neurons) == (h.n_inputs, h.n_outputs)
        assert l.binary_params == h.weights.size
        # constant neurons by brute force over every input of this layer
        X = _all_inputs(h.n_inputs)
        dots = (2 * X.astype(np.int64) - 1) @ h.weights.T.astype(np.int64)
        fires = dots >= h.thresholds[None, :]
        assert l.always_on == int(fires.all(axis=0).sum())
        assert l.never_on == int((~fires).all(axis=0).sum())
        assert (l.threshold_min, l.threshold_max) == (int(h.thresholds.min()), int(h.thresholds.max()))
    out = s.layers[-1]
    assert out.kind is LayerKind.ARGMAX and out.neurons == net.n_classes and out.constant == 0
    params = [l.binary_params + l.other_params for l in s.layers]
    assert s.total.float32_bits == sum(params) * BITS_FLOAT32
    assert s.total.binary_params == sum(h.weights.size for h in net.hidden) + net.output.weights.size
    assert s.total.packed_bits == sum(l.packed_bits for l in s.layers)
    assert s.total.constant == sum(l.constant for l in s.layers)
    text = format_summary(s)
    assert all(l.name in text for l in s.layers) and "total" in text
    assert format_summary(s, title="my-net").startswith("Model: my-net")
    d = summary_to_dict(s)
    assert json.loads(json.dumps(d)) == d
    assert d["total"]["packed_bytes"] == -(-s.total.packed_bits // 8)


def test_summary_of_shipped_models(anchors: Path) -> None:
    for folder in sorted((anchors / "models").iterdir()):
        rep = import_bnnquanalyst_report(folder)
        s = summarize(rep.net)
        assert s.total.constant == rep.constant
        assert dict(s.metadata)["name"] == folder.name
        assert s.total.compression > 1


def test_cli_import_and_summary(anchors: Path, tmp_path: Path) -> None:
    r = CliRunner()
    src = anchors / "models" / SMALL_MODEL
    out = tmp_path / "m.npz"
    res = r.invoke(main, ["import", "bnnquanalyst", str(src), "--out", str(out)])
    assert res.exit_code == Exit.HOLDS, res.output
    assert "16-25-20-10" in res.output and "smallest folding margin" in res.output
    assert load_model(out) == import_bnnquanalyst(src)
    res = r.invoke(main, ["import", "bnnquanalyst", str(src), "--out", str(out), "--bn-eps", "1e-5", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["widths"] == [16, 25, 20, 10] and d["bn_eps"] == 1e-5 and 0 <= d["min_margin"] < 0.5
    assert set(d["margin_at"]) == {"layer", "name", "neuron", "boundary"} and d["out"].endswith(".npz")
    assert d["margin_at"]["name"] == f"layer{d['margin_at']['layer'] - 1}"  # hidden layer k = the file's layer{k-1}
    assert load_model(out).metadata["bn_eps"] == repr(1e-5)
    res = r.invoke(main, ["summary", str(out)])
    assert res.exit_code == 0 and "layer1" in res.output and "total" in res.output
    res = r.invoke(main, ["summary", str(out), "--json"])
    d = json.loads(res.output)
    assert {k: v for k, v in d.items() if k not in ("schema", "asked")} == summary_to_dict(summarize(load_model(out)))
    assert d["asked"]["models"][0]["path"] == str(out) and d["asked"]["command"] == "summary"


def test_cli_errors(anchors: Path, tmp_path: Path) -> None:
    r = CliRunner()
    res = r.invoke(main, ["import", "bnnquanalyst", str(tmp_path / "nope"), "--out", str(tmp_path / "m.npz")])
    assert res.exit_code == Exit.BAD_INPUT and "no such directory" in res.output
    bad = tmp_path / "bad"
    shutil.copytree(anchors / "models" / SMALL_MODEL, bad)
    (bad / "blk1" / "bn_mean.csv").unlink()
    res = r.invoke(main, ["import", "bnnquanalyst", str(bad), "--out", str(tmp_path / "m.npz")])
    assert res.exit_code == Exit.BAD_INPUT and "bn_mean.csv" in res.output
    assert not (tmp_path / "m.npz").exists()
    (tmp_path / "afile").write_text("")
    res = r.invoke(main, ["import", "bnnquanalyst", str(anchors / "models" / SMALL_MODEL),
                          "--out", str(tmp_path / "afile" / "m.npz")])
    assert res.exit_code == Exit.BAD_INPUT and "cannot write" in res.output
    res = r.invoke(main, ["summary", str(tmp_path / "none.npz")])
    assert res.exit_code == Exit.BAD_INPUT and "none.npz" in res.output


def test_summary_roundtrip_file(tmp_path: Path, anchors: Path) -> None:
    net = import_bnnquanalyst(anchors / "models" / SMALL_MODEL)
    p = save_model(net, tmp_path / "m.npz")
    assert summarize(load_model(p)) == summarize(net)


def test_demo_summary_step(anchors: Path, tmp_path: Path) -> None:
    from bnnverify import demo

    step = next(s for s in demo.STEPS if s.__name__ == "_step_summary")
    seen: list = []
    ctx = demo.DemoContext(tmp_path, seen.append)
    step(ctx)
    assert seen == []  # no models yet: skipped quietly
    ctx.models["m"] = import_bnnquanalyst(anchors / "models" / SMALL_MODEL)
    step(ctx)
    assert len(seen) == 1 and "layer1" in seen[0]
    ctx.as_json = True
    step(ctx)
    assert seen[-1]["step"] == "summary" and seen[-1]["model"] == "m" and seen[-1]["widths"] == [16, 25, 20, 10]
