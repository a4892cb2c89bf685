"""The information plane over snapshots, the CSV and plot, and the info/infoplane/codes CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify.errors import DataError, RegionError
from bnnverify.information.measures import CountMethod, LabelKind, info_over_balls, info_over_dataset, info_over_region
from bnnverify.information.infoplane import CSV_COLUMNS, compute_infoplane, load_snapshots, plot_infoplane, write_csv
from bnnverify.files.modelio import save_model
from bnnverify.cli import main
from bnnverify.encoders.regions import HammingBall, Whole
from strategies import networks


def _write_run(tmp_path, nets, with_meta=True):
    d = tmp_path / "snaps"
    d.mkdir(exist_ok=True)
    for e, net in enumerate(nets):
        if with_meta:
            net = dataclasses.replace(net, metadata={"epoch": str(e)})
        save_model(net, d / f"epoch_{e:04d}.npz")
    return d


@st.composite
def runs(draw):
    """Several random networks of one architecture (a fake training run)."""
    first = draw(networks(n_inputs=st.integers(2, 8), n_hidden=st.integers(1, 3)))
    widths = first.widths
    more = [
        draw(networks(n_inputs=st.just(widths[0]), n_hidden=st.just(len(widths) - 2),
                      width=st.sampled_from(widths[1:-1]), n_classes=st.just(widths[-1])))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return [first] + [m for m in more if m.widths == widths]


@given(runs(), st.data())
@settings(max_examples=15)
def test_plane_points_equal_per_snapshot_reports(tmp_path_factory, nets, data):
    tmp = tmp_path_factory.mktemp("run")
    d = _write_run(tmp, nets)
    n = nets[0].n_inputs
    center = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.uint8)
    region = data.draw(st.sampled_from([Whole(n), HammingBall(center, 1)]))
    plane = compute_infoplane(d, region=region)  # labels default: the final snapshot
    assert plane.labels is LabelKind.TEACHER and plane.epochs == tuple(range(len(nets)))
    for e, net in enumerate(nets):
        rep = info_over_region(net, region, labels=nets[-1], method="enum")
        got = [p for p in plane.points if p.epoch == e]
        assert [(p.layer, p.codes) for p in got] == [(li.layer, li.codes) for li in rep.layers]
        for p, li in zip(got, rep.layers):
            assert abs(p.I_XT - li.I_XT) < 1e-12 and abs(p.I_TY - li.I_TY) < 1e-12
            assert p.region_size == region.size
    rows = np.array(data.draw(st.lists(st.lists(st.integers(0, 1), min_size=n, max_size=n), min_size=2, max_size=20)),
                    dtype=np.uint8)
    ds = SimpleNamespace(name="rows", X=rows, y=np.arange(len(rows)) % 2)
    plane = compute_infoplane(d, dataset=ds)
    assert plane.method is CountMethod.EVALUATOR and plane.labels is LabelKind.DATASET
    for e, net in enumerate(nets):
        rep = info_over_dataset(net, ds)
        assert [p.I_TY for p in plane.points if p.epoch == e] == [li.I_TY for li in rep.layers]
    radius = data.draw(st.integers(0, 2))
    small = SimpleNamespace(name="rows", X=rows[:3], y=np.arange(len(rows[:3])) % 3)
    plane = compute_infoplane(d, dataset=small, radius=radius)  # balls enumerated once, reused
    for e, net in enumerate(nets):
        rep = info_over_balls(net, small, radius, method="bdd")
        got = [p for p in plane.points if p.epoch == e]
        assert [p.codes for p in got] == [li.codes for li in rep.layers]
        assert all(abs(p.I_TY - li.I_TY) < 1e-12 and abs(p.I_XT - li.I_XT) < 1e-12 for p, li in zip(got, rep.layers))
        assert got[0].region_size == rep.region_size


def _fixed_run(tmp_path, k=4):
    nets = []
    rng = np.random.default_rng(1)
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    for _ in range(k):
        w = [6, 5, 3]
        hid = tuple(ThresholdLayer(rng.choice([-1, 1], size=(w[i + 1], w[i])).astype(np.int8),
                                   rng.integers(-2, 3, size=w[i + 1]), name=f"layer{i}") for i in range(2))
        o = ArgmaxLayer(rng.choice([-1, 1], size=(2, 3)).astype(np.int8), np.ones(2), np.zeros(2))
        nets.append(BNN(hid, o))
    return nets, _write_run(tmp_path, nets)


def test_csv_plot_and_snapshot_errors(tmp_path):
    nets, d = _fixed_run(tmp_path)
    plane = compute_infoplane(d, region=Whole(6), labels="model")
    out = write_csv(plane, tmp_path / "plane.csv")
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 4 * 2
    assert {(int(r["epoch"]), int(r["layer"])) for r in rows} == {(e, l) for e in range(4) for l in (1, 2)}
    png = plot_infoplane(plane, tmp_path / "plane.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # epochs from file names when there is no metadata; errors name the problem
    (tmp_path / "nometa").mkdir()
    d2 = _write_run(tmp_path / "nometa", nets, with_meta=False)
    assert [s.epoch for s in load_snapshots(d2)] == [0, 1, 2, 3]
    with pytest.raises(DataError, match="no .npz"):
        load_snapshots(tmp_path / "nometa" / "..")
    with pytest.raises(DataError, match="no such directory"):
        load_snapshots(tmp_path / "missing")
    with pytest.raises(RegionError, match="exactly one"):
        compute_infoplane(d)
    with pytest.raises(RegionError, match="dataset"):
        compute_infoplane(d, region=Whole(6), labels="dataset")


def test_cli_info_codes_infoplane(tmp_path):
    nets, d = _fixed_run(tmp_path)
    model = save_model(nets[0], tmp_path / "m.npz")
    teacher = save_model(nets[1], tmp_path / "t.npz")
    r = CliRunner().invoke(main, ["info", str(model), "--region", "whole", "--json"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.output)
    rep = info_over_region(nets[0], Whole(6))
    assert js["region_size"] == 64 and js["H_Y"] == rep.H_Y
    assert [l["layer"] for l in js["layers"]] == [1, 2]
    assert [l["I_TY"] for l in js["layers"]] == [li.I_TY for li in rep.layers]
    assert set(js["layers"][0]) >= {"layer", "width", "codes", "H_T", "I_XT", "H_T_given_Y", "I_TY"}
    r = CliRunner().invoke(main, ["info", str(model), "--hamming", "2", "--input", "010101", "--labels", str(teacher)])
    assert r.exit_code == 0, r.output
    assert "region size 22" in r.output and "H(T)=I(X;T)" in r.output
    r = CliRunner().invoke(main, ["info", str(model), "--region", "whole", "--labels", "dataset"])
    assert r.exit_code == 2 and "dataset" in r.output
    r = CliRunner().invoke(main, ["info", str(model)])
    assert r.exit_code == 2
    g = tmp_path / "c.graphml"
    r = CliRunner().invoke(main, ["codes", str(model), "--layer", "1", "--region", "whole", "--graph", str(g)])
    assert r.exit_code == 0, r.output
    back = nx.read_graphml(g)
    assert sum(dd["count"] for _, dd in back.nodes(data=True) if dd["layer"] == 1) == 64
    r = CliRunner().invoke(main, ["codes", str(model), "--layer", "7", "--region", "whole"])
    assert r.exit_code == 2 and "--layer" in r.output
    r = CliRunner().invoke(main, ["infoplane", str(d), "--region", "whole", "--plot", str(tmp_path / "p.png"),
                                  "--out", str(tmp_path / "p.csv")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p.png").exists() and (tmp_path / "p.csv").exists()
    r = CliRunner().invoke(main, ["infoplane", str(tmp_path / "nothing"), "--region", "whole"])
    assert r.exit_code == 2


def test_plot_format_follows_the_extension(tmp_path):
    from click.testing import CliRunner

    from bnnverify.cli import main
    from bnnverify.training.train import train_bnn

    train_bnn("ib12", (4,), epochs=2, seed=0, snapshots=tmp_path / "s")
    for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")):
        out = tmp_path / f"p.{ext}"
        r = CliRunner().invoke(main, ["infoplane", str(tmp_path / "s"), "--dataset", "ib12", "--plot", str(out),
                                      "--dpi", "40"])
        assert r.exit_code == 0, r.output
        assert out.read_bytes().startswith(magic)
    r = CliRunner().invoke(main, ["infoplane", str(tmp_path / "s"), "--dataset", "ib12", "--plot", str(tmp_path / "p.gif")])
    assert r.exit_code == 2 and "png, pdf, svg" in r.output
    r = CliRunner().invoke(main, ["infoplane", str(tmp_path / "s"), "--dataset", "ib12", "--vs-epoch",
                                  str(tmp_path / "e.svg")])
    assert r.exit_code == 0 and (tmp_path / "e.svg").read_bytes().startswith(b"<?xml")
