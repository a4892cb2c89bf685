"""``bnnverify import torch`` for every module the project trains: first layers over integer
features (quantizer, ±1 over pixels) and the lns / rbonn binarizers — the imported network
equals the torch module's eval mode on every input (exhaustive on small cases)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify.cli import main
from bnnverify.errors import ModelFileError, UsageError
from bnnverify.evaluation.evaluator import Evaluator, unpack_bits
from bnnverify.importers.torch_state import import_torch_state, import_torch_state_report
from bnnverify.training.binarizers import BinarizerOptions, LNSLinear, RBONNLinear
from bnnverify.training.export import export_report
from bnnverify.training.fronts import FrontSpec
from bnnverify.training.modules import BNNModule
from test_fronts import DYADIC_EPS, all_images, front_modules


def _bits(n: int) -> np.ndarray:
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.uint8)


def _assert_imported_equals_module(path, module: BNNModule, X: np.ndarray, eps: float, **kw) -> None:
    module.eval()
    net = import_torch_state(path, list(module.widths), eps=eps, **kw)
    codes, scores, classes = module.trace_bits(X)
    tr = Evaluator(net).trace(X)
    fmap = export_report(module).front_map
    for layer, c in enumerate(codes):
        want = fmap.apply(c) if (layer == 0 and fmap is not None) else c
        np.testing.assert_array_equal(unpack_bits(tr.codes[layer], want.shape[1]), want)
    np.testing.assert_array_equal(tr.scores, scores)
    np.testing.assert_array_equal(tr.classes, classes)
    assert net.layers == export_report(module).net.layers


@settings(max_examples=40)
@given(front_modules())
def test_import_of_front_modules_equals_eval_mode(tmp_path_factory, case):
    m, lo, hi = case
    p = tmp_path_factory.mktemp("imp") / "s.pt"
    torch.save(m.state_dict(), p)
    _assert_imported_equals_module(p, m, all_images(lo, hi, 2), DYADIC_EPS)


@st.composite
def binarizer_modules(draw):
    """Random lns / rbonn modules (either variant, random u, masks and previous gradients), any input layer."""
    which = draw(st.sampled_from(["lns", "rbonn-paper", "rbonn-code"]))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    if which == "lns":
        opts = BinarizerOptions(lns_hidden=draw(st.integers(1, 4)))

        def factory(a, b, gen):
            return LNSLinear(a, b, opts, gen)
    else:
        opts = BinarizerOptions(rbonn_variant=which.split("-")[1])

        def factory(a, b, gen):
            return RBONNLinear(a, b, opts, gen)
    front = draw(st.sampled_from([None, FrontSpec("quantize", 2, 0, 4, levels=2), FrontSpec("integer", 2, 0, 4)]))
    n = 4 if front is None else 2
    m = BNNModule((n, draw(st.integers(1, 3)), 2), generator=g, linear=factory, front=front)
    with torch.no_grad():
        for name, prm in m.named_parameters():
            if "map_out" in name or name.endswith(".u") or name.endswith(".scale"):  # not the zero/initial values
                prm.copy_(torch.randn(prm.shape, generator=g) * (0.5 if "map_out" in name else 1.0))
                if name.endswith(".scale"):
                    prm.abs_().add_(1e-3)
        for lin in m.linears():
            if isinstance(lin, RBONNLinear):
                lin.mask.copy_((torch.rand(lin.mask.shape, generator=g) < 0.5).float())
                lin.prev_grad.copy_(torch.randn(lin.prev_grad.shape, generator=g))
        for blk in m.hidden:
            blk.bn.running_mean.copy_(torch.randn(blk.bn.running_mean.shape, generator=g))
            blk.bn.weight.copy_(torch.randn(blk.bn.weight.shape, generator=g))
    X = _bits(4) if front is None else all_images(0, 4, 2)
    return m, X


@settings(max_examples=30)
@given(binarizer_modules())
def test_import_of_lns_and_rbonn_modules_equals_eval_mode(tmp_path_factory, case):
    m, X = case
    p = tmp_path_factory.mktemp("imp") / "s.pt"
    torch.save(m.state_dict(), p)
    _assert_imported_equals_module(p, m, X, 1e-5)


def test_trained_lns_and_rbonn_on_digits17_import_exactly(tmp_path):
    from bnnverify.data.datasets import load_dataset
    from bnnverify.training.train import train_bnn

    X = load_dataset("digits17", "all").X
    for b, kind in (("lns", "quantize"), ("rbonn", "integer")):
        r = train_bnn("digits17", [8], epochs=1, seed=0, input_layer=kind, binarizer=b)
        p = tmp_path / f"{b}.pt"
        torch.save(r.module.state_dict(), p)
        net, margin = import_torch_state_report(p, [64, 8, 10])
        assert net.layers == r.model.layers and net.inputs == r.model.inputs and margin == r.min_margin
        np.testing.assert_array_equal(Evaluator(net).classify(X), r.module.trace_bits(X)[2])


def test_old_rbonn_files_need_the_variant_when_rows_are_corrected(tmp_path):
    m = BNNModule((4, 3, 2), linear=lambda a, b, g: RBONNLinear(a, b, BinarizerOptions(rbonn_variant="code"), g),
                  generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for lin in m.linears():
            lin.mask.fill_(1.0)
            lin.prev_grad.copy_(torch.randn(lin.prev_grad.shape))
    state = {k: v for k, v in m.state_dict().items() if not k.endswith("code_variant")}
    p = tmp_path / "old.pt"
    torch.save(state, p)
    with pytest.raises(UsageError, match="variant") as e:
        import_torch_state(p, [4, 3, 2])
    assert e.value.param == "rbonn_variant"
    m.eval()
    net = import_torch_state(p, [4, 3, 2], rbonn_variant="code")
    np.testing.assert_array_equal(Evaluator(net).classify(_bits(4)), m.trace_bits(_bits(4))[2])
    res = CliRunner().invoke(main, ["import", "torch", str(p), "--arch", "4,3,2", "--out", str(tmp_path / "m.npz")])
    assert res.exit_code == 2 and "--rbonn-variant" in res.output
    res = CliRunner().invoke(main, ["import", "torch", str(p), "--arch", "4,3,2", "--out", str(tmp_path / "m.npz"),
                                    "--rbonn-variant", "code", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["widths"] == [4, 3, 2]


def test_front_files_with_bad_keys_are_named(tmp_path):
    m = BNNModule((2, 3, 2), front=FrontSpec("quantize", 2, 0, 16))
    state = m.state_dict()
    for drop, match in (("front.levels", "front.levels"), ("front.bn.weight", "missing keys")):
        p = tmp_path / "bad.pt"
        torch.save({k: v for k, v in state.items() if k != drop}, p)
        with pytest.raises(ModelFileError, match=match):
            import_torch_state(p, [2, 3, 2])
    bad = dict(state)
    bad["front.input_hi"] = torch.tensor([16, -1])
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="feature 1 has input_hi -1"):
        import_torch_state(tmp_path / "bad.pt", [2, 3, 2])
    torch.save(state, tmp_path / "ok.pt")
    with pytest.raises(ModelFileError, match="front.input_lo"):
        import_torch_state(tmp_path / "ok.pt", [3, 3, 2])  # arch says 3 features
