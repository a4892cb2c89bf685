"""Training: smoke, determinism, snapshots, accuracy, the torch importer and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bnnverify.data.datasets import load_dataset
from bnnverify.errors import DataError, ModelError, ModelFileError
from bnnverify.importers.torch_state import import_torch_state
from bnnverify.files.modelio import load_model, save_model
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.training.train import evaluate_model, train_bnn
from bnnverify.cli import main


@pytest.fixture(scope="module")
def ib_small():
    return train_bnn("ib12", [8, 4], epochs=3, seed=11, ste="approx_sign")


def test_training_smoke(ib_small):
    r = ib_small
    assert r.model.widths == (12, 8, 4, 2)
    assert 0.0 <= r.train_accuracy <= 1.0 and 0.0 <= r.test_accuracy <= 1.0
    assert r.min_margin >= 0 and r.seconds > 0 and r.snapshots == ()
    assert len(r.losses) == 3 and all(loss > 0 for loss in r.losses)
    assert r.model.metadata["dataset"] == "ib12" and r.model.metadata["seed"] == "11"
    # accuracies are the evaluator's
    te = load_dataset("ib12", "test")
    assert r.test_accuracy == float(np.mean(Evaluator(r.model).classify(te.X) == te.y))


def test_deterministic_for_a_seed(ib_small):
    again = train_bnn("ib12", [8, 4], epochs=3, seed=11, ste="approx_sign")
    assert again.model == ib_small.model
    assert again.train_accuracy == ib_small.train_accuracy
    other = train_bnn("ib12", [8, 4], epochs=3, seed=12, ste="approx_sign")
    assert other.model.hidden != ib_small.model.hidden


def test_digits_learns_and_thermometer_levels_carried():
    r = train_bnn("digits", [32], epochs=4, seed=0)
    assert r.test_accuracy > 0.5  # chance is 0.1
    t = train_bnn("digits-thermo2", [16], epochs=1, seed=0, scale=True)
    assert t.model.thermometer_levels == 2 and t.model.n_inputs == 128


def test_snapshots_every_epoch_and_subset(tmp_path):
    r = train_bnn("ib12", [6, 3], epochs=3, seed=1, snapshots=tmp_path / "s")
    names = [p.name for p in r.snapshots]
    assert names == ["epoch_0000.npz", "epoch_0001.npz", "epoch_0002.npz", "epoch_0003.npz"]
    last = load_model(r.snapshots[-1])
    assert last.hidden == r.model.hidden and last.output == r.model.output
    meta = last.metadata
    assert (meta["epoch"], meta["dataset"], meta["seed"], meta["ste"], meta["hidden"]) == ("3", "ib12", "1", "ste", "6,3")
    assert load_model(r.snapshots[0]).hidden != r.model.hidden  # epoch 0 is before training
    sub = train_bnn("ib12", [6, 3], epochs=3, seed=1, snapshots=tmp_path / "t", snapshot_epochs=[0, 2])
    assert [p.name for p in sub.snapshots] == ["epoch_0000.npz", "epoch_0002.npz"]


def test_train_on_dataset_object_and_errors():
    ds = load_dataset("ib12", "train")
    r = train_bnn(ds, [4], epochs=1, seed=0, test_data=load_dataset("ib12", "test"))
    assert 0 <= r.test_accuracy <= 1
    assert np.isnan(train_bnn(ds, [4], epochs=0, seed=0).test_accuracy)
    with pytest.raises(ModelError, match="ste"):
        train_bnn("ib12", [4], epochs=1, seed=0, ste="tanh")
    with pytest.raises(ModelError, match="hidden"):
        train_bnn("ib12", [0], epochs=1, seed=0)
    with pytest.raises(DataError, match="unknown data set"):
        train_bnn("nope", [4], epochs=1, seed=0)


def test_evaluate_model_per_class(ib_small):
    te = load_dataset("ib12", "test")
    acc = evaluate_model(ib_small.model, te)
    assert acc.n == len(te) and sum(c.n for c in acc.per_class) == len(te)
    assert sum(c.correct for c in acc.per_class) == acc.correct
    with pytest.raises(DataError, match="64 bits but the model has n_inputs=12"):
        evaluate_model(ib_small.model, load_dataset("digits", "test"))


# --- torch importer --------------------------------------------------------------


def test_import_torch_state_round_trip(tmp_path, ib_small):
    p = tmp_path / "state.pt"
    torch.save(ib_small.module.state_dict(), p)
    net = import_torch_state(p, (12, 8, 4, 2))
    assert net.hidden == ib_small.model.hidden and net.output == ib_small.model.output
    # a checkpoint dict wrapping the state_dict works too; scales are read from the state
    scaled = train_bnn("ib12", [5], epochs=1, seed=2, scale=True)
    torch.save({"state_dict": scaled.module.state_dict(), "epoch": 1}, p)
    net = import_torch_state(p, [12, 5, 2])
    assert net.hidden == scaled.model.hidden and net.output == scaled.model.output


def test_import_torch_state_errors(tmp_path, ib_small):
    p = tmp_path / "state.pt"
    torch.save(ib_small.module.state_dict(), p)
    with pytest.raises(ModelFileError, match=r"hidden.0.linear.weight' has shape \(8, 12\).*needs \(9, 12\)"):
        import_torch_state(p, (12, 9, 4, 2))
    with pytest.raises(ModelFileError, match="unexpected keys.*hidden.1"):
        import_torch_state(p, (12, 8, 2))
    with pytest.raises(ModelFileError, match="missing keys.*hidden.2"):
        import_torch_state(p, (12, 8, 4, 3, 2))
    with pytest.raises(ModelFileError, match="no such"):
        import_torch_state(tmp_path / "none.pt", (12, 8, 4, 2))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(ModelFileError, match="junk.pt"):
        import_torch_state(junk, (12, 8, 4, 2))


# --- CLI ---------------------------------------------------------------------------


def test_cli_train_eval_import(tmp_path):
    runner = CliRunner()
    out = tmp_path / "m.npz"
    state = tmp_path / "m.pt"
    r = runner.invoke(main, ["train", "--dataset", "ib12", "--hidden", "6,3", "--epochs", "2", "--seed", "5",
                             "--out", str(out), "--snapshots", str(tmp_path / "snaps"), "--torch-state", str(state),
                             "--ste", "approx_sign", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["widths"] == [12, 6, 3, 2] and d["snapshots"] == 3
    net = load_model(out)
    assert d["test_accuracy"] == evaluate_model(net, load_dataset("ib12", "test")).accuracy

    r = runner.invoke(main, ["eval", str(out), "--dataset", "ib12", "--json"])
    assert r.exit_code == 0, r.output
    e = json.loads(r.output)
    assert e["accuracy"] == d["test_accuracy"] and len(e["per_class"]) == 2

    r = runner.invoke(main, ["eval", str(out), "--dataset", "ib12", "--split", "all"])
    assert r.exit_code == 0 and "class 1:" in r.output

    data = tmp_path / "d.npz"
    all_ib = load_dataset("ib12", "all")
    np.savez(data, X=all_ib.X[:10], y=all_ib.y[:10])
    r = runner.invoke(main, ["eval", str(out), "--data", str(data), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["n"] == 10

    r = runner.invoke(main, ["eval", str(out), "--dataset", "digits"])
    assert r.exit_code == 2 and "64 bits but the model has n_inputs=12" in r.output
    r = runner.invoke(main, ["eval", str(out)])
    assert r.exit_code == 2

    out2 = tmp_path / "imported.npz"
    r = runner.invoke(main, ["import", "torch", str(state), "--arch", "12,6,3,2", "--out", str(out2)])
    assert r.exit_code == 0, r.output
    back = load_model(out2)
    assert back.hidden == net.hidden and back.output == net.output
    r = runner.invoke(main, ["import", "torch", str(state), "--arch", "12,7,3,2", "--out", str(out2)])
    assert r.exit_code == 2 and "hidden.0.linear.weight" in r.output


def test_cli_train_text_is_deterministic(tmp_path):
    runner = CliRunner()
    outs = []
    for k in range(2):
        out = tmp_path / f"m{k}.npz"
        r = runner.invoke(main, ["train", "--dataset", "ib12", "--hidden", "4", "--epochs", "1", "--seed", "9",
                                 "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert "test accuracy" in r.output and "smallest folding margin" in r.output
        outs.append(load_model(out))
    assert outs[0] == outs[1]
    r = runner.invoke(main, ["train", "--dataset", "ib12", "--hidden", "4,x", "--epochs", "1", "--seed", "9",
                             "--out", str(tmp_path / "z.npz")])
    assert r.exit_code == 2 and "--hidden" in r.output


def test_cli_import_torch_thermometer_and_eps(tmp_path):
    r = train_bnn("digits-thermo2", [8], epochs=1, seed=0)
    state = tmp_path / "t.pt"
    torch.save(r.module.state_dict(), state)
    out = tmp_path / "t.npz"
    runner = CliRunner()
    res = runner.invoke(main, ["import", "torch", str(state), "--arch", "128,8,10", "--out", str(out),
                               "--thermometer-levels", "2", "--json"])
    assert res.exit_code == 0, res.output
    net = load_model(out)
    assert net.thermometer_levels == 2 and net.hidden == r.model.hidden
    res = runner.invoke(main, ["import", "torch", str(state), "--arch", "128,8,10", "--out", str(out),
                               "--thermometer-levels", "3"])
    assert res.exit_code == 2 and "thermometer_levels" in res.output
    # a different eps is a different model: thresholds may move, never silently ignored
    eps_net = import_torch_state(state, (128, 8, 10), eps=0.5)
    assert eps_net.metadata["bn_eps"] == "0.5"
