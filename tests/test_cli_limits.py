"""One vocabulary of limits: --timeout and --max-nodes/--max-memory mean the same in every command."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from bnnverify.cli import main
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.files.modelio import save_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(2)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    net = BNN((ThresholdLayer(pm(12, 14), rng.integers(-2, 3, 12)), ThresholdLayer(pm(6, 12), rng.integers(-2, 3, 6))),
              ArgmaxLayer(pm(3, 6), np.ones(3), np.zeros(3)))
    path = tmp_path_factory.mktemp("lim") / "m.npz"
    save_model(net, path)
    return str(path)


CENTRE = "01" * 7

COMMANDS = {
    "robustness": ["robustness", "{m}", "--input", CENTRE, "--region", "whole", "--method", "bdd", "--count"],
    "equivalence": ["equivalence", "{m}", "{m}", "--region", "whole", "--method", "bdd", "--count"],
    "count": ["count", "{m}", "--region", "whole", "--method", "bdd"],
    "info": ["info", "{m}", "--region", "whole", "--method", "bdd"],
    "codes": ["codes", "{m}", "--region", "whole", "--layer", "1", "--method", "bdd"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_max_nodes_is_a_budget_everywhere(model, name):
    args = [a.format(m=model) for a in COMMANDS[name]]
    ok = CliRunner().invoke(main, args)
    assert ok.exit_code in (0, 1), ok.output
    tight = CliRunner().invoke(main, args + ["--max-nodes", "3"])
    assert tight.exit_code == 3 and "budget" in tight.output, tight.output


@pytest.mark.parametrize("name", ["info", "codes"])
def test_budget_is_the_old_name_of_max_nodes(model, name):
    args = [a.format(m=model) for a in COMMANDS[name]]
    r = CliRunner().invoke(main, args + ["--budget", "3"])
    assert r.exit_code == 3 and "budget" in r.output
    both = CliRunner().invoke(main, args + ["--budget", "3", "--max-nodes", "3"])
    assert both.exit_code == 2 and "old name of --max-nodes" in both.output


def test_count_takes_a_timeout(model):
    r = CliRunner().invoke(main, ["count", model, "--region", "whole", "--timeout", "60", "--json"])
    assert r.exit_code == 0 and '"timeout": 60.0' in r.output


def test_a_data_set_centre_works_wherever_a_region_has_a_centre(tmp_path):
    """count, export-cnf and equivalence take --dataset/--index like robustness: the same as --input of its bits."""
    import json

    from bnnverify.data.datasets import load_dataset

    rng = np.random.default_rng(4)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    net = BNN((ThresholdLayer(pm(8, 12), rng.integers(-2, 3, 8)),), ArgmaxLayer(pm(2, 8), np.ones(2), np.zeros(2)))
    m = tmp_path / "ib.npz"
    save_model(net, m)
    bits = "".join(map(str, load_dataset("ib12", "test").X[5]))
    run = lambda *a: CliRunner().invoke(main, [str(x) for x in a])  # noqa: E731
    by_index = json.loads(run("count", m, "--dataset", "ib12", "--index", 5, "--hamming", 2, "--json").output)
    by_bits = json.loads(run("count", m, "--input", bits, "--hamming", 2, "--json").output)
    assert by_index["class_counts"] == by_bits["class_counts"]
    assert by_index["asked"]["input"] == {"kind": "dataset", "dataset": "ib12", "split": "test", "index": 5,
                                          "label": int(load_dataset("ib12", "test").y[5])}
    eq = json.loads(run("equivalence", m, m, "--dataset", "ib12", "--index", 5, "--hamming", 2, "--count",
                        "--json").output)
    assert eq["verdict"] == "equivalent" and eq["region"]["size"] == 79
    r = run("export-cnf", m, "--dataset", "ib12", "--index", 5, "--hamming", 2, "--class", 0, "--out", tmp_path / "q.cnf")
    r2 = run("export-cnf", m, "--input", bits, "--hamming", 2, "--class", 0, "--out", tmp_path / "q2.cnf")
    assert r.exit_code == r2.exit_code == 0
    assert (tmp_path / "q.cnf").read_text().split("\n", 1)[1] == (tmp_path / "q2.cnf").read_text().split("\n", 1)[1]
    both = run("count", m, "--input", bits, "--dataset", "ib12", "--index", 5, "--hamming", 2)
    assert both.exit_code == 2 and "give one centre" in both.output


def test_a_split_of_a_users_file_is_an_error_not_ignored(tmp_path):
    from bnnverify.data.datasets import load_dataset

    ds = load_dataset("ib12", "test")
    np.savez(tmp_path / "d.npz", X=ds.X[:30], y=ds.y[:30])
    rng = np.random.default_rng(6)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    save_model(BNN((ThresholdLayer(pm(4, 12), rng.integers(-2, 3, 4)),), ArgmaxLayer(pm(2, 4), np.ones(2), np.zeros(2))),
               tmp_path / "m.npz")
    base = ["robustness", str(tmp_path / "m.npz"), "--data", str(tmp_path / "d.npz"), "--index", "3", "--hamming", "1"]
    bad = CliRunner().invoke(main, base + ["--split", "train"])
    assert bad.exit_code == 2 and "used whole" in bad.output
    for ok in (base, base + ["--split", "all"]):
        r = CliRunner().invoke(main, ok)
        assert r.exit_code in (0, 1), r.output
