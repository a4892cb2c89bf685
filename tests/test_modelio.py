"""Model files: round trip is identity; every corruption is rejected naming the key."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from pathlib import Path
from hypothesis import given, strategies as st

from bnnverify.errors import ModelError, ModelFileError
from bnnverify.files.modelio import load_model, model_to_arrays, save_model
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from strategies import networks


@given(networks(thermometer=None) | networks(thermometer=3))
def test_roundtrip_is_identity(tmp_path_factory, net):
    p = tmp_path_factory.mktemp("m") / "model.npz"
    save_model(net, p)
    back = load_model(p)
    assert back == net
    assert back.widths == net.widths
    assert back.thermometer_levels == net.thermometer_levels


def _small():
    return BNN(
        (ThresholdLayer(np.array([[1, -1, 1], [-1, -1, 1]], np.int8), np.array([1, -3]), name="layer0"),),
        ArgmaxLayer(np.array([[1, -1], [1, 1]], np.int8), np.array([1.0, 2.0]), np.array([0.0, -1.0])),
        metadata={"source": "test"},
    )


def _write(tmp_path, arrays):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    return p


REQUIRED = ["format", "n_inputs", "layer0_weights", "layer0_thresholds", "output_weights", "output_scale", "output_bias"]


@pytest.mark.parametrize("key", REQUIRED)
def test_missing_key_named(tmp_path, key):
    a = model_to_arrays(_small())
    del a[key]
    with pytest.raises(ModelFileError, match=key):
        load_model(_write(tmp_path, a))


@pytest.mark.parametrize(
    "key,value,msg",
    [
        ("layer0_weights", np.array([[1, -1, 1], [-1, -1, 1]], np.float32), "int8"),
        ("layer0_weights", np.array([[1, 0, 1], [-1, -1, 1]], np.int8), r"\[0, 1\] is 0"),
        ("layer0_weights", np.array([[1, 2, 1], [-1, -1, 1]], np.int8), r"is 2"),
        ("output_weights", np.array([[1, -1, 1], [1, 1, 1]], np.int8), "output_weights"),
        ("layer0_thresholds", np.array([1.5, 2.0]), "integer"),
        ("layer0_thresholds", np.array([1, 2, 3]), "layer0_thresholds"),
        ("output_scale", np.array([np.nan, 1.0]), "output_scale.*finite"),
        ("output_bias", np.array([0.0, np.inf]), "output_bias.*finite"),
        ("output_scale", np.array([1.0, 2.0, 3.0]), "output_scale"),
        ("n_inputs", np.array(4), "n_inputs"),
        ("n_inputs", np.array(3.0), "n_inputs"),
        ("format", np.array("other/9"), "format"),
        ("thermometer_levels", np.array(2), "thermometer_levels"),
    ],
)
def test_corruption_named(tmp_path, key, value, msg):
    a = model_to_arrays(_small())
    a[key] = value
    with pytest.raises(ModelFileError, match=msg):
        load_model(_write(tmp_path, a))


def test_unknown_keys_ignored(tmp_path):
    a = model_to_arrays(_small())
    a["something_new"] = np.arange(3)
    assert load_model(_write(tmp_path, a)) == _small()


def test_layer_gap_named(tmp_path):
    a = model_to_arrays(_small())
    a["layer2_weights"] = np.ones((2, 2), np.int8)
    a["layer2_thresholds"] = np.zeros(2, np.int64)
    with pytest.raises(ModelFileError, match="layer1"):
        load_model(_write(tmp_path, a))


def test_pickle_never_loaded(tmp_path):
    a = model_to_arrays(_small())
    a["format"] = np.array(["bnnverify/1", None], dtype=object)
    p = tmp_path / "obj.npz"
    np.savez(p, **a)
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(p)


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.npz"
    p.write_text("hello")
    with pytest.raises(ModelFileError, match="x.npz"):
        load_model(p)
    with pytest.raises(ModelFileError, match="no such"):
        load_model(tmp_path / "absent.npz")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "m.npz"
    save_model(_small(), p)
    before = p.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(RuntimeError):
        save_model(_small(), p)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["m.npz"]


def test_layer_validation_is_one_exception_type():
    with pytest.raises(ModelError, match="layer0_weights.*shape|layer0_weights.*2-D"):
        ThresholdLayer(np.ones(3, np.int8), np.zeros(3, np.int64), name="layer0")
    with pytest.raises(ModelError, match="output_weights: has 3 inputs but layer0 has 2"):
        BNN((ThresholdLayer(np.ones((2, 3), np.int8), np.zeros(2, np.int64), name="layer0"),),
            ArgmaxLayer(np.ones((2, 3), np.int8), np.ones(2), np.zeros(2)))


@given(st.integers(1, 12), st.integers(-(2**63), 2**63 - 1))
def test_thresholds_clipped_without_changing_meaning(n, theta):
    from strategies import all_inputs, plain_forward
    from bnnverify.evaluation.evaluator import Evaluator

    w = np.ones((1, n), np.int8)
    layer = ThresholdLayer(w, np.array([theta], np.int64))
    assert -n - 1 <= int(layer.thresholds[0]) <= n + 1
    net = BNN((layer,), ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    X = all_inputs(min(n, 10)) if n <= 10 else np.zeros((1, n), np.uint8)
    dots = (2 * X.astype(object) - 1).sum(axis=1)
    expected = np.array([0 if d >= theta else 1 for d in dots])  # Python ints: no overflow
    assert np.array_equal(Evaluator(net).classify(X), expected)


def test_unsigned_threshold_does_not_wrap():
    layer = ThresholdLayer(np.ones((1, 3), np.int8), np.array([2**64 - 1], dtype=np.uint64))
    assert int(layer.thresholds[0]) == 4  # never fires, as 2**64-1 means


# --- docs/model-format.md is true ------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "model-format.md"


def test_the_documented_hand_written_file_loads(tmp_path, monkeypatch):
    import re as _re

    from bnnverify.files.modelio import load_model as _load

    code = _re.search(r"```python\n(.*?)```", DOC.read_text(), _re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DOC), "exec"), {})
    net = _load(tmp_path / "tiny.npz")
    assert net.widths == (6, 4, 2) and net.metadata == {"source": "written by hand"}
    assert net.layer_kinds == {"threshold", "argmax"}


def test_the_documented_error_messages_are_the_real_ones(tmp_path):
    import numpy as _np

    from bnnverify.errors import ModelFileError as _MFE
    from bnnverify.files.modelio import model_from_arrays

    good = {
        "format": _np.array("bnnverify/1"), "n_inputs": _np.array(6),
        "layer0_weights": _np.ones((4, 6), _np.int8), "layer0_thresholds": _np.zeros(4, _np.int64),
        "layer1_weights": _np.ones((3, 4), _np.int8), "layer1_thresholds": _np.zeros(3, _np.int64),
        "output_weights": _np.ones((2, 3), _np.int8), "output_scale": _np.ones(2), "output_bias": _np.zeros(2),
    }
    documented = [line.strip()[3:-1] for line in DOC.read_text().splitlines() if line.strip().startswith("* `model.npz:")]
    cases = {
        "missing required key 'layer1_thresholds'": {"layer1_thresholds": None},
        "key 'layer0_weights' must have int8, got float32": {"layer0_weights": _np.ones((4, 6), _np.float32)},
        "layer0_weights: weights must be exactly +1 or -1; entry [3, 5] is 0":
            {"layer0_weights": _np.where(_np.arange(24).reshape(4, 6) == 23, 0, 1).astype(_np.int8)},
        "key 'layer1_kind' is 'lstm', not a hidden layer kind (threshold, linear, quantize, integer-threshold, conv, maxpool, integer-conv)": {"layer1_kind": _np.array("lstm")},
        "key 'n_inputs' is 7 but 'layer0_weights' has 6 columns": {"n_inputs": _np.array(7)},
        "hidden layers must be numbered 0..k without gaps; missing layer1":
            {"layer1_weights": None, "layer1_thresholds": None, "layer2_weights": _np.ones((3, 4), _np.int8),
             "layer2_thresholds": _np.zeros(3, _np.int64)},
    }
    for message, change in cases.items():
        arrays = {**good, **change}
        arrays = {k: v for k, v in arrays.items() if v is not None}
        with pytest.raises(_MFE) as e:
            model_from_arrays(arrays, "model.npz")
        assert str(e.value) == f"model.npz: {message}"
    import re as _re

    def shape(m: str) -> str:  # the message with its numbers and dtype names abstracted
        return _re.sub(r"\d+", "N", m.replace("float32", "T"))

    assert {shape(d[len("model.npz: "):]) for d in documented} == {shape(m) for m in cases}
