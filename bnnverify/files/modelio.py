"""Model files: ``.npz`` archives in the ``bnnverify/1`` format (no pickle).

``docs/model-format.md`` documents every key; in short:

| key | dtype, shape | meaning |
|---|---|---|
| ``format`` | str | ``"bnnverify/1"`` |
| ``n_inputs`` | int | n |
| ``layer{i}_kind`` | str, optional | hidden layer i's kind (default ``threshold``) |
| ``layer{i}_<suffix>`` | per kind | the arrays of that kind (``Layer.keys``) |
| ``output_kind`` | str, optional | the output layer's kind (default ``argmax``) |
| ``output_<suffix>`` | per kind | its arrays |
| ``thermometer_levels`` | int, optional | bits per thermometer feature |
| ``input_lo``/``input_hi`` | int, optional | integer features and their ranges (``input_scale``, ``input_offset``, ``input_shape``, ``input_layout`` optional) |
| ``meta_<name>`` | str, optional | metadata entries |

Files written before ``*_kind`` existed load unchanged (threshold hidden
layers, an argmax output). Unknown keys are ignored; missing, mistyped or
inconsistent keys raise :class:`ModelFileError` naming the file and the key.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import numpy as np

from bnnverify.encoders.layers import HIDDEN, LAYER_KINDS, OUTPUT, BNN, ArgmaxLayer, IntegerInputs, ThresholdLayer

from bnnverify.files.atomic import atomic_write
from bnnverify.errors import ModelError, ModelFileError
from bnnverify.files.npzfile import read_npz

__all__ = ["FORMAT", "save_model", "load_model", "model_to_arrays", "model_from_arrays", "model_digest"]

FORMAT = "bnnverify/1"
_LAYER_KEY = re.compile(r"^layer(\d+)_([a-z][a-z0-9_]*)$")
#: The kind a layer has when its file says none (files older than ``*_kind``).
_DEFAULT_KIND = {HIDDEN: ThresholdLayer.kind, OUTPUT: ArgmaxLayer.kind}
_META_PREFIX = "meta_"


def model_to_arrays(net: BNN) -> dict[str, np.ndarray]:
    """The arrays of the model file for ``net``."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "n_inputs": np.array(net.n_inputs, dtype=np.int64),
    }
    prefixes = [f"layer{i}" for i in range(len(net.hidden))] + ["output"]
    for prefix, layer in zip(prefixes, net.layers):
        arrays[f"{prefix}_kind"] = np.array(layer.kind)
        for suffix, a in layer.arrays().items():
            arrays[f"{prefix}_{suffix}"] = a
    if net.thermometer_levels is not None:
        arrays["thermometer_levels"] = np.array(net.thermometer_levels, dtype=np.int64)
    if net.inputs is not None:
        arrays.update(net.inputs.arrays())
    for k, v in net.metadata.items():
        arrays[_META_PREFIX + k] = np.array(v)
    return arrays


def model_digest(net: BNN) -> str:
    """SHA-256 of the network's content (every model-file array: key, dtype, shape, bytes; metadata
    excluded), so two files of the same network have the same digest, whatever their name or
    compression.

    >>> import numpy as np
    >>> from bnnverify.encoders.layers import ArgmaxLayer
    >>> net = BNN((), ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    >>> model_digest(net) == model_digest(BNN((), net.output, metadata={"note": "x"}))
    True
    """
    h = hashlib.sha256()
    for key, a in sorted(model_to_arrays(net).items()):
        if key.startswith(_META_PREFIX):
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_model(net: BNN, path: "str | os.PathLike[str]") -> Path:
    """Write ``net`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    buf = io.BytesIO()
    np.savez_compressed(buf, **model_to_arrays(net))
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path


def _scalar_int(arrays: dict, key: str, where: str) -> int:
    a = arrays[key]
    if a.shape != () or not np.issubdtype(a.dtype, np.integer):
        raise ModelFileError(f"{where}: key '{key}' must be an integer scalar, got dtype {a.dtype} shape {a.shape}")
    return int(a)


def _str_scalar(arrays: dict, key: str, where: str) -> str:
    a = arrays[key]
    if a.shape != () or a.dtype.kind != "U":
        raise ModelFileError(f"{where}: key '{key}' must be a string, got dtype {a.dtype} shape {a.shape}")
    return str(a)


def _typed(arrays: dict, key: str, where: str, kind: str, ndim: int) -> np.ndarray:
    if key not in arrays:
        raise ModelFileError(f"{where}: missing required key '{key}'")
    a = arrays[key]
    if kind == "str":
        return np.array(_str_scalar(arrays, key, where))
    ok = {
        "int8": a.dtype == np.int8,
        "int": np.issubdtype(a.dtype, np.integer),
        "float": np.issubdtype(a.dtype, np.floating),
    }[kind]
    if not ok:
        want = {"int8": "int8", "int": "an integer dtype (int64)", "float": "float64"}[kind]
        raise ModelFileError(f"{where}: key '{key}' must have {want}, got {a.dtype}")
    if a.ndim != ndim:
        raise ModelFileError(f"{where}: key '{key}' must be {ndim}-D, got shape {a.shape}")
    return a


def _layer(arrays: dict, prefix: str, role: str, where: str):
    """The layer stored under ``prefix`` (its kind's keys, validated)."""
    kind = _str_scalar(arrays, f"{prefix}_kind", where) if f"{prefix}_kind" in arrays else _DEFAULT_KIND[role]
    cls = LAYER_KINDS.get(kind)
    if cls is None or cls.role != role:
        known = ", ".join(k for k, c in LAYER_KINDS.items() if c.role == role)
        raise ModelFileError(f"{where}: key '{prefix}_kind' is {kind!r}, not a {role} layer kind ({known})")
    parts = {k.suffix: _typed(arrays, f"{prefix}_{k.suffix}", where, k.dtype, k.ndim) for k in cls.keys}
    try:
        return cls.from_arrays(parts, prefix)
    except ModelError as e:
        raise ModelFileError(f"{where}: {e}") from None


#: The keys of an integer-feature declaration (``IntegerInputs``): (key, dtype family, ndim).
_INPUT_KEYS = (("input_lo", "int", 1), ("input_hi", "int", 1), ("input_scale", "float", 1),
               ("input_offset", "float", 1), ("input_shape", "int", 1))


def _inputs(arrays: dict, where: str) -> IntegerInputs | None:
    """The integer-feature declaration (``input_*`` keys), or None for a network over bits."""
    present = [k for k, _, _ in _INPUT_KEYS if k in arrays] + (["input_layout"] if "input_layout" in arrays else [])
    if not present:
        return None
    if "input_lo" not in arrays or "input_hi" not in arrays:
        raise ModelFileError(f"{where}: key '{present[0]}' needs both 'input_lo' and 'input_hi'")
    got = {k: _typed(arrays, k, where, fam, nd) for k, fam, nd in _INPUT_KEYS if k in arrays}
    shape = tuple(int(v) for v in got["input_shape"]) if "input_shape" in got else None
    layout = _str_scalar(arrays, "input_layout", where) if "input_layout" in arrays else None
    try:
        return IntegerInputs(got["input_lo"], got["input_hi"], got.get("input_scale"), got.get("input_offset"),
                             shape, layout)
    except ModelError as e:
        raise ModelFileError(f"{where}: {e}") from None


def model_from_arrays(arrays: dict[str, np.ndarray], where: str = "model") -> BNN:
    """Validate the arrays of a model file and build the :class:`BNN`."""
    for key in ("format", "n_inputs"):
        if key not in arrays:
            raise ModelFileError(f"{where}: missing required key '{key}'")
    fmt = _str_scalar(arrays, "format", where)
    if fmt != FORMAT:
        raise ModelFileError(f"{where}: key 'format' is {fmt!r}, expected {FORMAT!r}")
    n = _scalar_int(arrays, "n_inputs", where)
    if n < 1:
        raise ModelFileError(f"{where}: key 'n_inputs' must be positive, got {n}")
    indices = sorted({int(m.group(1)) for k in arrays if (m := _LAYER_KEY.match(k))})
    if indices != list(range(len(indices))):
        missing = sorted(set(range(max(indices) + 1)) - set(indices)) if indices else []
        raise ModelFileError(f"{where}: hidden layers must be numbered 0..k without gaps; missing layer{missing[0]}")
    hidden = [_layer(arrays, f"layer{i}", HIDDEN, where) for i in indices]
    out = _layer(arrays, "output", OUTPUT, where)
    L = None
    if "thermometer_levels" in arrays:
        L = _scalar_int(arrays, "thermometer_levels", where)
    meta = {}
    for k in arrays:
        if k.startswith(_META_PREFIX):
            meta[k[len(_META_PREFIX):]] = _str_scalar(arrays, k, where)
    inputs = _inputs(arrays, where)
    try:
        net = BNN(tuple(hidden), out, thermometer_levels=L, metadata=meta, inputs=inputs)
    except ModelError as e:
        raise ModelFileError(f"{where}: {e}") from None
    if net.n_inputs != n:
        first = "layer0_weights" if hidden else "output_weights"
        raise ModelFileError(
            f"{where}: key 'n_inputs' is {n} but '{first}' has {net.n_inputs} columns"
        )
    return net


def load_model(path: "str | os.PathLike[str]") -> BNN:
    """Load and validate a model file (``allow_pickle=False``)."""
    return model_from_arrays(read_npz(path, "model", ModelFileError), str(Path(path)))
