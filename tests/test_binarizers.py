"""Binarizers (issue 13): registry, determinism, exact export, lns and rbonn rules, option errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bnnverify.cli import main
from bnnverify.data.datasets import _all_bit_rows, load_dataset
from bnnverify.errors import UsageError
from bnnverify.files.modelio import load_model
from bnnverify.training.binarizers import (
    BINARIZERS,
    BinarizerOptions,
    LNSLinear,
    RBONNLinear,
    _top_mask,
    build_module,
    get_binarizer,
    to_lns,
)
from bnnverify.training.export import export_model
from bnnverify.training.train import train_bnn

from test_export import assert_same_everywhere

SMALL = load_dataset("var_u", "train")
SMALL_TEST = load_dataset("var_u", "test")
ALL12 = _all_bit_rows(12)


def _train(name: str, seed: int = 5, **kw):
    return train_bnn(SMALL, [6, 4], epochs=2, seed=seed, binarizer=name, test_data=SMALL_TEST,
                     batch_size=256, **kw)


@pytest.mark.parametrize("name", BINARIZERS.names)
def test_each_binarizer_deterministic_and_exports_exactly(name):
    a = _train(name)
    b = _train(name)
    assert a.model == b.model and a.losses == b.losses and a.binarizer == name
    assert a.model.metadata["binarizer"] == name
    assert_same_everywhere(a.module, ALL12)  # eval-mode torch = exported model on all 4096 inputs
    net, margin = export_model(a.module)
    assert net.hidden == a.model.hidden and net.output == a.model.output and margin == a.min_margin
    other = _train(name, seed=6)
    assert other.model.hidden != a.model.hidden


def test_rbonn_code_variant_deterministic_exact_and_recorded():
    opts = BinarizerOptions(rbonn_variant="code")
    a, b = _train("rbonn", options=opts), _train("rbonn", options=opts)
    assert a.model == b.model and a.model.metadata["rbonn_variant"] == "code"
    assert_same_everywhere(a.module, ALL12)


def test_legacy_flags_name_the_same_training():
    assert train_bnn(SMALL, [5], epochs=1, seed=2, ste="approx_sign").model.hidden == \
        train_bnn(SMALL, [5], epochs=1, seed=2, binarizer="approx_sign").model.hidden
    assert train_bnn(SMALL, [5], epochs=1, seed=2, scale=True).model.hidden == \
        train_bnn(SMALL, [5], epochs=1, seed=2, binarizer="xnor").model.hidden
    with pytest.raises(UsageError, match="not both"):
        train_bnn(SMALL, [5], epochs=1, seed=2, binarizer="xnor", scale=True)


def test_lns_starts_from_its_baseline_and_learned_rows_export_exactly():
    lns = train_bnn(SMALL, [6, 4], epochs=2, finetune_epochs=1, seed=3, binarizer="lns")
    base = train_bnn(SMALL, [6, 4], epochs=2, seed=3, binarizer="ste")
    assert lns.start_model.hidden == base.model.hidden and lns.start_model.output == base.model.output
    assert len(lns.losses) == 3
    # zero epochs of fine-tuning: f_theta(w) = w exactly, the baseline's network
    zero = train_bnn(SMALL, [6, 4], epochs=2, finetune_epochs=0, seed=3, binarizer="lns")
    assert zero.model.hidden == base.model.hidden and zero.sign_disagreements == 0
    # a mapping that really flips weights: the exported rows are sign(f_theta(w)), not sign(w)
    m = to_lns(base.module, BinarizerOptions(), torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for lin in m.linears():
            assert isinstance(lin, LNSLinear)
            lin.map_out.copy_(torch.randn(lin.map_out.shape, generator=g))
    m.eval()
    flips = sum(lin.sign_disagreements() for lin in m.linears())
    assert flips > 0
    assert_same_everywhere(m, ALL12)


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.3, 0.45])
def test_lns_loss_is_natarajans_unbiased_estimator(rho):
    """E over the label noise of the surrogate equals the clean squared loss: (1-rho) l~(q,t) + rho l~(q,-t) = (q-t)^2."""
    q = torch.linspace(-2, 2, 41)
    for t in (1.0, -1.0):
        def sur(label):
            return ((1 - rho) * (q - label) ** 2 - rho * (q + label) ** 2) / (1 - 2 * rho)
        torch.testing.assert_close((1 - rho) * sur(t) + rho * sur(-t), (q - t) ** 2)
    lin = LNSLinear(5, 3, BinarizerOptions(rho=rho, alpha=2.0), torch.Generator().manual_seed(0))
    w = lin.weight.detach()
    t = torch.where(w >= 0, 1.0, -1.0)
    want = 2.0 * (((1 - rho) * (w - t) ** 2 - rho * (w + t) ** 2) / (1 - 2 * rho)).mean()
    torch.testing.assert_close(lin.aux_loss(), want)  # f_theta(w) = w at the start


def test_rbonn_rank_masks_paper_and_code():
    x = torch.tensor([0.3, 0.9, 0.1, 0.5, 0.7])
    assert _top_mask(x, 2, by_position=False).tolist() == [0, 1, 0, 0, 1]  # the two largest: 0.9, 0.7
    order = torch.argsort(-x, stable=True).tolist()  # [1, 4, 3, 0, 2]
    assert _top_mask(x, 2, by_position=True).tolist() == [float(o < 2) for o in order]
    lin = RBONNLinear(4, 5, BinarizerOptions(), torch.Generator().manual_seed(0))
    with torch.no_grad():
        lin.scale.copy_(torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0]))
        lin.weight.copy_(torch.tensor([[1.0] * 4, [0.1] * 4, [0.9] * 4, [0.8] * 4, [0.7] * 4]))
    lin.before_forward()  # k = ceil(0.6 * 5) = 3: high scale {0,1,2}, high L1 {0,2,3} -> {1}
    assert lin.mask.tolist() == [0, 1, 0, 0, 0]
    w_hat = lin.effective_latent().detach()
    torch.testing.assert_close(w_hat[1], 1.2 * lin.weight.detach()[1])
    torch.testing.assert_close(w_hat[0], lin.weight.detach()[0])


def test_rbonn_positive_scales_fold_exactly():
    spec = get_binarizer("rbonn")
    m = build_module(spec, (12, 7, 5, 3), BinarizerOptions(), torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for block in m.hidden:
            k = block.bn.weight.shape[0]
            block.linear.scale.copy_(torch.rand(k, generator=g) * 3 + 1e-3)
            block.linear.u.copy_(torch.rand(k, generator=g) * 4 - 3)  # u < -1 flips selected rows
            block.linear.before_forward()
            block.bn.weight.copy_(torch.randn(k, generator=g))
            block.bn.bias.copy_(torch.randn(k, generator=g))
            block.bn.running_mean.copy_(torch.randn(k, generator=g) * 2)
            block.bn.running_var.copy_(torch.rand(k, generator=g) + 0.1)
        m.output.linear.scale.copy_(torch.rand(3, generator=g) + 0.5)
    assert_same_everywhere(m, ALL12)
    net, _ = export_model(m)
    alpha, _ = m.output.affine()
    want = m.output.alpha.detach().double().numpy() * m.output.linear.scale.detach().double().numpy()
    np.testing.assert_array_equal(np.asarray(net.output.scale), want)
    np.testing.assert_array_equal(alpha, want)


@pytest.mark.parametrize("kw,param", [
    ({"rho": 0.5}, "rho"), ({"rho": -0.1}, "rho"), ({"rho": float("nan")}, "rho"), ({"alpha": -1.0}, "alpha"),
    ({"rbonn_variant": "github"}, "rbonn_variant"), ({"rbonn_tau": 0.0}, "rbonn_tau"),
    ({"lns_hidden": 0}, "lns_hidden"), ({"rbonn_lambda": -1e-4}, "rbonn_lambda"),
])
def test_options_validated(kw, param):
    with pytest.raises(UsageError) as e:
        BinarizerOptions(**kw)
    assert e.value.param == param and param in str(e.value)


def test_unknown_binarizer_names_the_valid_ones():
    with pytest.raises(UsageError, match="unknown binarizer 'tanh'; valid names: ste, approx_sign, xnor, lns, rbonn"):
        get_binarizer("tanh")
    assert get_binarizer("XU2022").name == "rbonn"


@pytest.mark.parametrize("args,needle", [
    (["--binarizer", "lns", "--rho", "0.7"], "--rho"),
    (["--binarizer", "lns", "--alpha", "-2"], "--alpha"),
    (["--binarizer", "nope"], "unknown binarizer"),
    (["--binarizer", "ste", "--rho", "0.1"], "--rho applies to --binarizer lns only"),
    (["--binarizer", "lns", "--rbonn-variant", "code"], "--rbonn-variant applies"),
    (["--binarizer", "xnor", "--scale"], "not both"),
    (["--binarizer", "rbonn", "--rbonn-variant", "github"], "--rbonn-variant"),
])
def test_cli_train_option_errors_exit_2(tmp_path, args, needle):
    r = CliRunner().invoke(main, ["train", "--dataset", "var_u", "--hidden", "4", "--epochs", "1", "--seed", "0",
                                  "--out", str(tmp_path / "m.npz"), *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert not (tmp_path / "m.npz").exists()


def test_cli_train_lns_and_rbonn(tmp_path):
    out = tmp_path / "l.npz"
    r = CliRunner().invoke(main, ["train", "--dataset", "var_u", "--hidden", "5", "--epochs", "1", "--seed", "0",
                                  "--binarizer", "lns", "--rho", "0.2", "--alpha", "0.5", "--finetune-epochs", "1",
                                  "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["binarizer"] == "lns" and d["sign_disagreements"] >= 0
    meta = load_model(out).metadata
    assert (meta["binarizer"], meta["rho"], meta["alpha"], meta["epochs"]) == ("lns", "0.2", "0.5", "2")
    r = CliRunner().invoke(main, ["train", "--dataset", "var_u", "--hidden", "5", "--epochs", "1", "--seed", "0",
                                  "--binarizer", "rbonn", "--rbonn-variant", "code", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "rbonn" in r.output and load_model(out).metadata["rbonn_variant"] == "code"
