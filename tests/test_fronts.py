"""First layers over integer features: torch eval mode, the exact export and the semantics agree.

Random small modules with a quantizer (K = 1..3 thresholds per feature) or an
``integer`` first layer get random batch-norm statistics — negative and zero
scales, and neurons whose real threshold lies *exactly* on an integer pixel
value or dot product (the tie rule sign(0) = +1 decides them). The exported
network must give the module's classes and hidden codes (the quantizer's up to
the recorded sort and negation, :class:`FrontMap`) on every image of the box.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.data.datasets import load_dataset
from bnnverify.errors import DataError, ModelError, UsageError
from bnnverify.evaluation.evaluator import Evaluator, unpack_bits
from bnnverify.files.modelio import load_model, save_model
from bnnverify.training.export import export_report
from bnnverify.training.fronts import FrontSpec
from bnnverify.training.modules import BNNModule

#: eps that makes var + eps a perfect square with a float32 var (as in test_export.py).
DYADIC_EPS = 2.0**-10


def all_images(lo: int, hi: int, n: int) -> np.ndarray:
    return np.array(list(itertools.product(range(lo, hi + 1), repeat=n)), dtype=np.int64)


def assert_export_agrees(module: BNNModule, X: np.ndarray, replay: int = 8) -> None:
    """Exported classes, scores and codes equal the module's eval mode on every row of ``X``."""
    module.eval()
    rep = export_report(module)
    codes, scores, classes = module.trace_bits(X)
    tr = Evaluator(rep.net).trace(X)
    wants = []
    for layer, c in enumerate(codes):
        want = rep.front_map.apply(c) if (layer == 0 and rep.front_map is not None) else c
        wants.append(want)
        got = unpack_bits(tr.codes[layer], want.shape[1])
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"layer {layer}: code differs at image {X[bad[0][0]].tolist()} neuron {bad[0][1]}"
    np.testing.assert_array_equal(tr.scores, scores)
    np.testing.assert_array_equal(tr.classes, classes)
    for i in np.linspace(0, len(X) - 1, min(replay, len(X))).astype(int):
        t = semantics.forward(rep.net, X[i])
        assert t.label == classes[i]
        assert t.codes == tuple(tuple(int(b) for b in w[i]) for w in wants)


def _neuron(draw, bn, j: int, tie_at) -> None:
    """Random batch-norm parameters of neuron j; ``tie_at(k, beta, r, gamma)`` -> the mean putting
    the real threshold exactly on the integer k (None: no exact tie possible)."""
    mode = draw(st.sampled_from(["random", "tie", "zero", "negtie"]))
    with torch.no_grad():
        if mode == "random":
            g = draw(st.floats(-3, 3, width=32))
            bn.weight[j] = g
            bn.bias[j] = draw(st.floats(-2, 2, width=32))
            bn.running_mean[j] = draw(st.floats(-2, 2, width=32))
            bn.running_var[j] = draw(st.floats(0.0625, 4, width=32))
            return
        if mode == "zero":
            bn.weight[j] = 0.0
            bn.bias[j] = draw(st.sampled_from([-1.0, 0.0, 0.5]))
            return
        gamma = draw(st.sampled_from([0.5, 1.0, 2.0])) * (-1.0 if mode == "negtie" else 1.0)
        beta = draw(st.sampled_from([0.0, 0.5, -1.25]))
        r = draw(st.sampled_from([0.5, 1.0, 2.0]))
        k = draw(st.integers(-3, 20))
        bn.weight[j], bn.bias[j], bn.running_var[j] = gamma, beta, r * r - DYADIC_EPS
        bn.running_mean[j] = tie_at(k, beta, r, gamma)


@st.composite
def front_modules(draw):
    kind = draw(st.sampled_from(["quantize", "integer"]))
    lo = draw(st.integers(-3, 2))
    hi = lo + draw(st.integers(0, 10))
    K = draw(st.integers(1, 3)) if kind == "quantize" else 1
    scale = draw(st.sampled_from([2.0**-4, 0.25, 1.0]))
    offset = draw(st.sampled_from([0.0, -0.5, 0.25]))
    spec = FrontSpec(kind, 2, lo, hi, levels=K, scale=scale, offset=offset)
    h = draw(st.integers(1, 3))
    c = draw(st.integers(2, 3))
    widths = (2, h, c) if kind == "integer" or draw(st.booleans()) else (2, c)
    seed = draw(st.integers(0, 2**16))
    scaled = kind == "integer" and draw(st.booleans())
    m = BNNModule(widths, front=spec, scale=scaled, generator=torch.Generator().manual_seed(seed))
    bns = [b.bn for b in m.hidden]
    if kind == "quantize":
        bns.insert(0, m.front.bn)
    for bn in bns:
        bn.eps = DYADIC_EPS
    if kind == "quantize":
        for q in range(2 * K):
            _neuron(draw, m.front.bn, q, lambda k, b, r, g: offset + scale * k + b * r / g)
    else:
        blk = m.hidden[0]
        with torch.no_grad():  # dyadic latent weights: row sums and row scales stay exact
            blk.linear.weight.copy_(torch.tensor(draw(st.lists(st.sampled_from([-1.0, -0.5, 0.5, 1.0]),
                                                                min_size=2 * h, max_size=2 * h))).reshape(h, 2))
        w = blk.linear.int_weights().astype(np.float64)
        a = blk.linear.row_scale()
        for j in range(h):
            aj = 1.0 if a is None else float(a[j].detach())
            rj = float(w[j].sum())
            _neuron(draw, blk.bn, j, lambda k, b, r, g, aj=aj, rj=rj: aj * offset * rj + aj * scale * k + b * r / g)
    rest = m.hidden[1:] if kind == "integer" else m.hidden
    for blk in rest:
        for j in range(blk.bn.weight.shape[0]):
            _neuron(draw, blk.bn, j, lambda k, b, r, g: k + b * r / g)
    with torch.no_grad():
        m.output.alpha.copy_(torch.tensor(draw(st.lists(st.floats(-2, 2, width=32), min_size=c, max_size=c))))
        m.output.beta.copy_(torch.tensor(draw(st.lists(st.floats(-2, 2, width=32), min_size=c, max_size=c))))
    return m, lo, hi


@settings(max_examples=80)
@given(front_modules())
def test_export_equals_eval_mode_on_every_image_of_the_box(case):
    m, lo, hi = case
    assert_export_agrees(m, all_images(lo, hi, 2))


def test_every_image_of_a_17_level_2_pixel_net_with_ties_and_flips():
    """All 17^2 images; one bit's threshold exactly on a pixel value, one negative gamma, one zero gamma."""
    spec = FrontSpec("quantize", 2, 0, 16, levels=2)
    m = BNNModule((2, 3, 2), front=spec, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        bn = m.front.bn
        bn.weight.copy_(torch.tensor([1.0, -2.0, 0.0, 1.5]))
        bn.bias.copy_(torch.tensor([0.0, 0.3, -0.1, 0.2]))
        bn.running_mean.copy_(torch.tensor([5.0 / 16, 0.5, 0.1, 0.7]))  # bit 0: fires iff p >= 5, exactly
        bn.running_var.copy_(torch.tensor([0.04, 0.09, 1.0, 0.2]))
    m.eval()
    rep = export_report(m)
    C = rep.net.hidden[0].thresholds
    assert C[0].tolist() == sorted(C[0].tolist()) and 5 in C[0].tolist()
    assert rep.front_map.negated.tolist().count(True) == 1  # the negative gamma
    assert 17 in C[1].tolist()  # the zero-gamma bit is constant: beta < 0, so never on (p >= 17)
    assert_export_agrees(m, all_images(0, 16, 2), replay=len(all_images(0, 16, 2)))


@pytest.mark.parametrize("kind,levels", [("quantize", 1), ("quantize", 2), ("integer", 1)])
def test_trained_digits17_nets_agree_on_every_image_and_declare_their_inputs(tmp_path, kind, levels):
    from bnnverify.training.train import train_bnn

    r = train_bnn("digits17", [16], epochs=2, seed=1, input_layer=kind, levels=levels)
    X = load_dataset("digits17", "all").X
    assert_export_agrees(r.module, X)
    inp = r.model.inputs
    assert (inp.lo == 0).all() and (inp.hi == 16).all() and inp.shape == (8, 8) and inp.layout == "HW"
    assert (inp.scale == 1.0 / 16).all() and (inp.offset == 0.0).all()
    assert r.model.hidden[0].kind == ("quantize" if kind == "quantize" else "integer-threshold")
    assert r.model.metadata["input_layer"] == kind and r.input_layer == kind
    assert 0 < r.front_margin and r.min_margin <= r.front_margin
    back = load_model(save_model(r.model, tmp_path / "m.npz"))
    np.testing.assert_array_equal(Evaluator(back).classify(X), Evaluator(r.model).classify(X))
    assert back.inputs == inp


def test_training_with_a_front_is_deterministic():
    from bnnverify.training.train import train_bnn

    a = train_bnn("digits17", [8], epochs=1, seed=5, input_layer="integer")
    b = train_bnn("digits17", [8], epochs=1, seed=5, input_layer="integer")
    assert a.model == b.model


def test_wrong_data_for_the_first_layer_is_a_clear_error():
    from bnnverify.training.train import evaluate_model, train_bnn

    with pytest.raises(DataError, match="holds bits"):
        train_bnn("digits", [4], epochs=1, seed=0, input_layer="quantize")
    with pytest.raises(DataError, match="integer features"):
        train_bnn("digits17", [4], epochs=1, seed=0)
    with pytest.raises(UsageError, match="levels"):
        train_bnn("digits17", [4], epochs=1, seed=0, input_layer="integer", levels=2)
    with pytest.raises(UsageError, match="input_layer"):
        train_bnn("digits17", [4], epochs=1, seed=0, input_layer="conv")
    with pytest.raises(ModelError, match="hidden layer"):
        train_bnn("digits17", [], epochs=1, seed=0, input_layer="integer")
    net = train_bnn("digits", [4], epochs=1, seed=0).model
    with pytest.raises(DataError, match="reads bits"):
        evaluate_model(net, load_dataset("digits17", "test"))


def test_cli_train_input_layer(tmp_path):
    import json

    from click.testing import CliRunner

    from bnnverify.cli import main

    out = tmp_path / "q.npz"
    res = CliRunner().invoke(main, ["train", "--dataset", "digits17", "--input-layer", "quantize", "--levels", "2",
                                    "--hidden", "8", "--epochs", "1", "--seed", "0", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["input_layer"] == "quantize" and d["widths"] == [64, 128, 8, 10]
    assert load_model(out).hidden[0].kind == "quantize"
    bad = CliRunner().invoke(main, ["train", "--dataset", "digits17", "--input-layer", "integer", "--levels", "2",
                                    "--hidden", "8", "--epochs", "1", "--seed", "0", "--out", str(out)])
    assert bad.exit_code == 2 and "--levels" in bad.output
