"""`bnnverify predict` (the semantics module's answer for inputs) and `bnnverify list`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from bnnverify import semantics
from bnnverify.cli import main
from bnnverify.data.datasets import load_dataset
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.engines.registry import ENGINES
from bnnverify.files.modelio import save_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(5)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    net = BNN((ThresholdLayer(pm(8, 12), rng.integers(-3, 4, 8)),), ArgmaxLayer(pm(2, 8), np.ones(2), np.zeros(2)))
    path = tmp_path_factory.mktemp("p") / "m.npz"
    save_model(net, path)
    return net, path


def test_predict_a_data_set_equals_the_semantics(model):
    net, path = model
    r = CliRunner().invoke(main, ["predict", str(path), "--dataset", "ib12", "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(t) for t in r.output.splitlines()]
    ds = load_dataset("ib12", "test")
    assert len(lines) == len(ds.X)
    for ln, x, y in zip(lines, ds.X, ds.y):
        t = semantics.forward(net, x)
        assert ln["class"] == t.label and ln["label"] == int(y) and tuple(ln["scores"]) == t.scores
        assert ln["codes"]["1"] == "".join(map(str, t.codes[0]))  # hidden layer 1 = the file's layer0


def test_predict_one_input_text(model):
    net, path = model
    bits = "010011010110"
    r = CliRunner().invoke(main, ["predict", str(path), "--input", bits])
    assert r.exit_code == 0 and f"class {semantics.classify(net, [int(b) for b in bits])};" in r.output


@pytest.mark.parametrize("args", [[], ["--input", "0101", "--dataset", "ib12"], ["--index", "3"]])
def test_predict_needs_exactly_one_source(model, args):
    r = CliRunner().invoke(main, ["predict", str(model[1]), *args])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_list_engines_is_the_registry():
    r = CliRunner().invoke(main, ["list", "engines", "--json"])
    got = json.loads(r.output)["engines"]
    assert [e["name"] for e in got] == list(ENGINES.names())
    for e in got:
        assert set(e["capabilities"]) == {c.value for c in ENGINES.get(e["name"]).capabilities}


@pytest.mark.parametrize("what", ["solvers", "encodings", "datasets", "binarizers", "layer-kinds"])
def test_list_the_rest(what):
    r = CliRunner().invoke(main, ["list", what, "--json"])
    rows = json.loads(r.output)[what.replace("-", "_")]
    assert r.exit_code == 0 and rows and all(row["name"] for row in rows)


def test_every_command_has_the_same_default_split():
    """`--index 2` is the same image in every command."""
    import click

    def commands(group):
        for cmd in group.commands.values():
            if isinstance(cmd, click.Group):
                yield from commands(cmd)
            else:
                yield cmd

    defaults = {cmd.name: p.default for cmd in commands(main) for p in cmd.params if p.name == "split"}
    assert len(defaults) >= 5 and set(defaults.values()) == {"test"}, defaults


def test_wrong_argument_types_are_type_errors():
    import bnnverify

    net = load_model_fixture()
    x = np.zeros(net.n_inputs, np.uint8)
    with pytest.raises(TypeError, match="region: expected a region"):
        bnnverify.check_robustness(net, x, 2)
    with pytest.raises(TypeError, match="net: expected a BNN"):
        bnnverify.check_robustness("m.npz", x, bnnverify.Whole(net.n_inputs))
    with pytest.raises(TypeError, match="net_b: expected a BNN"):
        bnnverify.check_equivalence(net, None)
    with pytest.raises(TypeError, match="region: expected a region"):
        bnnverify.info_over_region(net, [0, 1])


def load_model_fixture():
    return BNN((ThresholdLayer(np.ones((1, 3), np.int8), np.array([0])),),
               ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))


def test_a_misclassified_data_set_input_is_warned_about_unless_quiet(model, tmp_path):
    net, _ = model
    from bnnverify.data.datasets import load_dataset

    ds = load_dataset("ib12", "test")
    i = next(i for i, x in enumerate(ds.X) if semantics.classify(net, x) != ds.y[i])
    path = tmp_path / "m.npz"
    save_model(net, path)
    args = ["robustness", str(path), "--dataset", "ib12", "--index", str(i), "--hamming", "1"]
    loud = CliRunner().invoke(main, args)
    assert "warning: the model predicts class" in loud.stderr and f"its label is {ds.y[i]}" in loud.stderr
    quiet = CliRunner().invoke(main, ["--quiet", *args])
    assert quiet.stderr == "" and quiet.exit_code == loud.exit_code


def test_written_files_and_margins_have_one_name_in_every_json(tmp_path):
    """'out' is the file a command wrote, 'min_margin' the smallest folding margin (train, import)."""
    import torch  # noqa: F401 - the torch importer needs it

    r = CliRunner().invoke(main, ["train", "--dataset", "ib12", "--hidden", "3", "--epochs", "1", "--seed", "0",
                                  "--out", str(tmp_path / "t.npz"), "--torch-state", str(tmp_path / "t.pt"), "--json"])
    t = json.loads(r.output)
    r = CliRunner().invoke(main, ["import", "torch", str(tmp_path / "t.pt"), "--arch", "12,3,2",
                                  "--out", str(tmp_path / "i.npz"), "--json"])
    i = json.loads(r.output)
    r = CliRunner().invoke(main, ["export-cnf", str(tmp_path / "t.npz"), "--region", "whole", "--class", "0",
                                  "--out", str(tmp_path / "q.cnf"), "--json"])
    e = json.loads(r.output)
    assert t["out"] == str(tmp_path / "t.npz") and i["out"] == str(tmp_path / "i.npz") and e["out"] == str(tmp_path / "q.cnf")
    assert isinstance(t["min_margin"], float) and t["min_margin"] == i["min_margin"]


def test_one_layer_numbering_in_every_output(model):
    """Hidden layer 1 is the file's layer0 in summary, info, codes and predict alike."""
    net, path = model
    s = json.loads(CliRunner().invoke(main, ["summary", str(path), "--json"]).output)
    first = s["layers"][0]
    assert (first["number"], first["name"]) == (1, "layer0") and s["layers"][-1]["number"] is None
    info = json.loads(CliRunner().invoke(main, ["info", str(path), "--region", "whole", "--json"]).output)
    assert [li["layer"] for li in info["layers"]] == list(range(1, len(net.hidden) + 1))
    codes = json.loads(CliRunner().invoke(main, ["codes", str(path), "--layer", "1", "--region", "whole",
                                                 "--json"]).output)
    assert codes["layer"] == 1 and codes["codes_in"] == info["layers"][0]["codes"]
    p = json.loads(CliRunner().invoke(main, ["predict", str(path), "--input", "0" * 12, "--json"]).output)
    assert list(p["codes"]) == [str(k) for k in range(1, len(net.hidden) + 1)]
