"""Convolution and pooling kinds (``conv``, ``maxpool``, ``integer-conv``) against the semantics.

The numpy rule (patch gathering), the bit-packed evaluator's front, ``BNN.predict``,
the exact dense views the encoders compile (``linear_view``) and the model file
must all give every input the semantics module's codes and class.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.conv_layers import ConvLayer, IntegerConvLayer, MaxPoolLayer, linear_view
from bnnverify.encoders.layers import BNN, ArgmaxLayer, numpy_layer
from bnnverify.errors import ModelError
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.files.modelio import model_from_arrays, model_to_arrays
from strategies import all_inputs, conv_networks, integer_conv_networks

SETTINGS = settings(max_examples=60, deadline=None, database=None)


def _inputs(net: BNN, rng: np.random.Generator, n: int = 64) -> np.ndarray:
    if net.inputs is None:
        return all_inputs(net.n_inputs) if net.n_inputs <= 7 else rng.integers(0, 2, (n, net.n_inputs))
    lo, hi = net.inputs.lo, net.inputs.hi
    return rng.integers(lo, hi + 1, (n, net.n_inputs))


@SETTINGS
@given(st.one_of(conv_networks(max_inputs=9), integer_conv_networks()), st.integers(0, 2**32 - 1))
def test_every_path_agrees_with_the_semantics(net, seed):
    X = _inputs(net, np.random.default_rng(seed))
    truth = [semantics.forward(net, x) for x in X]
    lin = linear_view(net)
    assert lin.layer_kinds <= {"linear", "integer-threshold", "threshold", "argmax"}
    tr = Evaluator(net).trace(X)
    v = X.astype(np.int64)
    for li, h in enumerate(net.hidden):
        v = numpy_layer(h, v)
        assert [tuple(r) for r in v.tolist()] == [t.codes[li] for t in truth]
    assert tr.classes.tolist() == [t.label for t in truth]
    assert net.predict(X).tolist() == [t.label for t in truth]
    assert [semantics.forward(lin, x) for x in X] == truth
    back = model_from_arrays(model_to_arrays(net))
    assert back == net and [semantics.forward(back, x) for x in X[:8]] == truth[:8]


def test_padding_contributes_zero_and_layouts_index_as_documented():
    # one 2x2 all-ones kernel, pad 1 on the left: the left column of windows reads one real column
    w = np.ones((1, 1, 2, 2), np.int8)
    c = ConvLayer(w, np.array([2]), shape=(1, 2, 2), pads=(0, 1, 0, 0))
    assert c.out_shape == (1, 1, 2)
    # x = all +1: window 0 has 2 valid positions (sum 2 >= 2), window 1 has 4 (sum 4)
    assert semantics.forward(BNN((c,), ArgmaxLayer(np.ones((1, 2), np.int8), np.ones(1), np.zeros(1))),
                             [1, 1, 1, 1]).codes[0] == (1, 1)
    x = np.array([[1, 0, 1, 0]])  # rows of the 2x2 map: (+1 -1), (+1 -1)
    assert c.forward(x).tolist() == [[1, 0]]  # window 0 reads column 0 only: 2; window 1: 0
    # HWC: feature (c, h, w) is (h*W + w)*C + c
    p = MaxPoolLayer((1, 1), np.array([1, 1]), shape=(2, 1, 2), layout="HWC")
    assert p.forward(np.array([[1, 0, 0, 1]])).tolist() == [[1, 0, 0, 1]]
    assert semantics.RULES["maxpool"](p, [1, 0, 0, 1]) == (1, 0, 0, 1)


def test_min_pooling_is_an_and_over_valid_positions():
    p = MaxPoolLayer((2, 2), np.array([-1]), shape=(1, 2, 2), stride=(1, 1), pads=(1, 1, 0, 0))
    assert p.out_shape == (1, 2, 2)
    x = [1, 1, 1, 0]
    # windows: top-left reads (0,0) only; top-right (0,0),(0,1); bottom-left (0,0),(1,0); bottom-right all
    assert semantics.RULES["maxpool"](p, x) == (1, 1, 1, 0)
    assert p.forward(np.array([x])).tolist() == [[1, 1, 1, 0]]


@pytest.mark.parametrize("make, match", [
    (lambda: ConvLayer(np.zeros((1, 1, 1, 1), np.int8), np.array([0]), shape=(1, 1, 1)), "exactly \\+1 or -1"),
    (lambda: ConvLayer(np.ones((1, 2, 1, 1), np.int8), np.array([0]), shape=(1, 1, 1)), "reads 2 channels"),
    (lambda: ConvLayer(np.ones((1, 1, 3, 1), np.int8), np.array([0]), shape=(1, 1, 1)), "does not fit"),
    (lambda: ConvLayer(np.ones((1, 1, 1, 1), np.int8), np.array([0]), shape=(1, 1, 1), layout="NHWC"), "layout"),
    (lambda: ConvLayer(np.ones((1, 1, 2, 1), np.int8), np.array([0]), shape=(1, 3, 1), pads=(2, 0, 0, 0)),
     "smaller than the window"),
    (lambda: ConvLayer(np.ones((2, 1, 1, 1), np.int8), np.array([0]), shape=(1, 1, 1)), "one per output channel"),
    (lambda: MaxPoolLayer((2, 2), np.array([0]), shape=(1, 2, 2)), "\\+1 or -1"),
    (lambda: IntegerConvLayer(np.ones((1, 1, 1, 1), np.int64), np.zeros((1, 2, 2), np.int64), shape=(1, 1, 1)),
     "shape \\(1, 1, 1\\)"),
])
def test_bad_layers_are_refused_by_name(make, match):
    with pytest.raises(ModelError, match=match):
        make()


def test_model_file_layout_must_be_a_string():
    c = ConvLayer(np.ones((1, 1, 1, 1), np.int8), np.array([0]), shape=(1, 1, 2))
    net = BNN((c,), ArgmaxLayer(np.ones((2, 2), np.int8), np.ones(2), np.zeros(2)))
    arrays = model_to_arrays(net)
    arrays["layer0_layout"] = np.array(3)
    with pytest.raises(ModelError, match="layer0_layout"):
        model_from_arrays(arrays)


# --- training (bnnverify train --arch) ---------------------------------------------------------

def test_trained_conv_module_is_exported_exactly():
    import torch

    from bnnverify.data.datasets import load_dataset
    from bnnverify.training.conv import train_conv

    res = train_conv("digits", "conv4k3p1,maxpool2,8,10", epochs=2, seed=1)
    assert [h.kind for h in res.model.hidden] == ["conv", "maxpool", "threshold"]
    d = load_dataset("digits", "all")
    with torch.no_grad():
        torch_classes = res.module(torch.from_numpy(2.0 * d.X.astype(np.float32) - 1)).argmax(1).numpy()
    assert res.min_margin > 1e-6  # far from a float tie: float32 torch and the exact rule must agree
    assert Evaluator(res.model).classify(d.X).tolist() == torch_classes.tolist()
    assert [semantics.classify(res.model, x) for x in d.X[:25]] == torch_classes[:25].tolist()


@pytest.mark.parametrize("arch, match", [("conv4k3", "class count"), ("10,conv4k3,10", "before the dense"),
                                         ("conv4k3p3,10", "pad < kernel"), ("convx,10", "is not conv")])
def test_bad_arch_is_refused(arch, match):
    from bnnverify.errors import UsageError
    from bnnverify.training.conv import parse_arch

    with pytest.raises(UsageError, match=match):
        parse_arch(arch)


def test_cli_train_conv_then_count_and_robustness(tmp_path):
    import json
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "bnnverify", *args], capture_output=True, text=True)

    model = tmp_path / "c.npz"
    out = cli("train", "--dataset", "digits", "--arch", "conv4k3,maxpool2,10", "--epochs", "1", "--seed", "0",
              "--out", str(model), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["layers"] == ["conv", "maxpool"]
    assert cli("train", "--dataset", "digits", "--arch", "conv4k3,10", "--hidden", "5", "--epochs", "1",
               "--seed", "0", "--out", str(model)).returncode == 2
    from bnnverify.data.datasets import load_dataset
    from bnnverify.files.modelio import load_model

    x = load_dataset("digits", "test").X[0]
    np.save(tmp_path / "x.npy", x.reshape(8, 8))
    net = load_model(model)
    counted = cli("count", str(model), "--input", str(tmp_path / "x.npy"), "--hamming", "1", "--json")
    assert counted.returncode == 0, counted.stderr
    brute = [semantics.classify(net, np.where(np.arange(64) == i, 1 - x, x)) for i in range(64)] + [
        semantics.classify(net, x)]
    got = json.loads(counted.stdout)
    per = got.get("class_counts") or got.get("counts")
    assert per is not None and [int(per[str(c)] if isinstance(per, dict) else per[c]) for c in range(10)] == [
        brute.count(c) for c in range(10)]
    rob = cli("robustness", str(model), "--input", str(tmp_path / "x.npy"), "--hamming", "1", "--json")
    assert rob.returncode == (0 if len(set(brute)) == 1 else 1), rob.stderr
