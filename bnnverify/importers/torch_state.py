"""Import a torch ``state_dict`` of bnnverify's own :class:`~bnnverify.training.modules.BNNModule`.

The file is read with ``torch.load(..., weights_only=True)`` (no pickle of
arbitrary objects). Its keys must be those of ``BNNModule(arch)``:
``hidden.{i}.linear.weight`` (latent weights, sign gives ±1 with sign(0)=+1),
``hidden.{i}.bn.{weight,bias,running_mean,running_var}``, ``output.linear.weight``,
``output.alpha``, ``output.beta``; ``*.linear.use_scale`` (XNOR-style row
scales on or off) and ``*.bn.num_batches_tracked`` are optional (scales off
unless ``use_scale`` says otherwise). A checkpoint dict holding the weights
under ``"state_dict"`` is accepted too. The network is then folded exactly by
:func:`bnnverify.training.export.export_model`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from bnnverify.encoders.layers import BNN

from bnnverify.errors import ModelError, ModelFileError

__all__ = ["import_torch_state", "import_torch_state_report", "DEFAULT_BN_EPS"]

#: torch's BatchNorm1d default eps (not stored in a state_dict).
DEFAULT_BN_EPS = 1e-5
_OPTIONAL_SUFFIXES = ("use_scale", "num_batches_tracked")
_SHOW_KEYS = 5


def _check_arch(arch: Sequence[int], where: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in arch)
    except (TypeError, ValueError):
        raise ModelFileError(f"{where}: arch must be a list of integers, got {arch!r}") from None
    if len(widths) < 2 or any(w < 1 for w in widths) or widths[-1] < 2:
        raise ModelFileError(
            f"{where}: arch must be inputs, hidden widths..., classes (all positive, >= 2 classes), got {list(widths)}"
        )
    return widths


def import_torch_state_report(
    path: "str | os.PathLike[str]", arch: Sequence[int], *, eps: float = DEFAULT_BN_EPS,
    thermometer_levels: int | None = None,
) -> tuple[BNN, float]:
    """Like :func:`import_torch_state`, also returning the export's smallest folding margin."""
    import torch

    from bnnverify.training.export import export_model
    from bnnverify.training.modules import BNNModule

    p = Path(path)
    where = str(p)
    widths = _check_arch(arch, where)
    if not p.exists():
        raise ModelFileError(f"{where}: no such state_dict file")
    if p.is_dir():
        raise ModelFileError(f"{where}: is a directory, expected a torch state_dict file")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (UnpicklingError, RuntimeError, ...)
        raise ModelFileError(f"{where}: not a readable torch state_dict ({type(e).__name__}: {e})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ModelFileError(f"{where}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise ModelFileError(f"{where}: key '{k}' is a {type(v).__name__}, expected a tensor")

    scale = any(bool(v.flatten()[0]) for k, v in state.items() if k.endswith("use_scale") and v.numel() == 1)
    module = BNNModule(widths, scale=scale)
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:_SHOW_KEYS]}" + (" ..." if len(missing) > _SHOW_KEYS else ""))
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:_SHOW_KEYS]}" + (" ..." if len(unexpected) > _SHOW_KEYS else ""))
        raise ModelFileError(
            f"{where}: does not fit arch {','.join(map(str, widths))}: {'; '.join(parts)}"
        )
    for k, v in state.items():
        want = expected[k]
        if tuple(v.shape) != tuple(want.shape):
            raise ModelFileError(
                f"{where}: key '{k}' has shape {tuple(v.shape)}, arch {','.join(map(str, widths))} "
                f"needs {tuple(want.shape)}"
            )
        if want.is_floating_point() and not v.is_floating_point():
            raise ModelFileError(f"{where}: key '{k}' must be floating point, got {v.dtype}")
        if want.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise ModelFileError(f"{where}: key '{k}' holds a non-finite value")
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=False)
    for block in module.hidden:
        block.bn.eps = float(eps)
    module.eval()
    try:
        net, margin = export_model(
            module, {"imported_from": f"torch:{p.name}", "bn_eps": repr(float(eps))}, thermometer_levels
        )
    except ModelError as e:
        raise ModelFileError(f"{where}: {e}") from None
    return net, margin


def import_torch_state(
    path: "str | os.PathLike[str]", arch: Sequence[int], *, eps: float = DEFAULT_BN_EPS,
    thermometer_levels: int | None = None,
) -> BNN:
    """A :class:`BNN` from a saved ``BNNModule.state_dict()`` of widths ``arch`` (e.g. 12,10,7,5,4,3,2).

    Raises :class:`~bnnverify.errors.ModelFileError` naming the file and the
    key when the keys or shapes do not fit ``arch``.
    """
    return import_torch_state_report(path, arch, eps=eps, thermometer_levels=thermometer_levels)[0]
