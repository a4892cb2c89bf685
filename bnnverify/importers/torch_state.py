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

The keys also say which of the project's modules wrote the file:

* ``front.*`` — a first layer over integer features
  (:mod:`bnnverify.training.fronts`): ``front.levels`` K >= 1 is a quantizer
  (``front.bn.*`` of ``F*K`` bits), 0 an ``integer`` first hidden block;
  ``front.input_lo/input_hi/input_scale/input_offset/input_shape`` declare the
  features. ``arch`` then starts with the number of features F.
* ``*.linear.map_in`` … — ``lns`` layers (:class:`~bnnverify.training.binarizers.LNSLinear`):
  the binary row is ``sign(f_theta(w))``, computed from the stored mapping.
* ``*.linear.scale``, ``*.linear.u``, ``*.linear.mask``, ``*.linear.prev_grad`` —
  ``rbonn`` layers (:class:`~bnnverify.training.binarizers.RBONNLinear`): the
  binary row is ``sign(w_hat)`` with the stored mask and ``u``, the learned
  scale a positive factor of the fold. The correction depends on the variant:
  ``*.linear.code_variant`` says which; a file without it (written before the
  key existed) needs ``rbonn_variant`` unless no row is corrected
  (``u * mask = 0``, where both variants give ``w``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

from bnnverify.encoders.layers import BNN

from bnnverify.errors import BNNVerifyError, ModelError, ModelFileError, UsageError

__all__ = ["import_torch_state", "import_torch_state_report", "DEFAULT_BN_EPS"]

#: torch's BatchNorm1d default eps (not stored in a state_dict).
DEFAULT_BN_EPS = 1e-5
_OPTIONAL_SUFFIXES = ("use_scale", "num_batches_tracked", "code_variant", "input_shape")
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


def _front_spec(state: dict, widths: tuple[int, ...], where: str):
    """The :class:`FrontSpec` the ``front.*`` keys describe (None: a binary first layer)."""
    from bnnverify.training.fronts import FrontSpec, InputLayer

    if not any(k.startswith("front.") for k in state):
        return None
    for k in ("front.levels", "front.input_lo", "front.input_hi", "front.input_scale", "front.input_offset"):
        if k not in state:
            raise ModelFileError(f"{where}: has front.* keys (a first layer over integer features) but no '{k}'")
    lv = state["front.levels"]
    if lv.numel() != 1 or lv.is_floating_point() or int(lv) < 0:
        raise ModelFileError(f"{where}: key 'front.levels' must be one integer >= 0, got {lv.tolist()}")
    lo, hi = state["front.input_lo"], state["front.input_hi"]
    for k, v in (("front.input_lo", lo), ("front.input_hi", hi)):
        if v.is_floating_point() or tuple(v.shape) != (widths[0],):
            raise ModelFileError(f"{where}: key '{k}' must hold {widths[0]} integers (arch starts with "
                                 f"{widths[0]} features), got {v.dtype} {tuple(v.shape)}")
    if bool((lo > hi).any()):
        f = int(torch_nonzero_first(lo > hi))
        raise ModelFileError(f"{where}: feature {f} has input_hi {int(hi[f])} < input_lo {int(lo[f])}")
    shape = state.get("front.input_shape")
    shape_t = tuple(int(v) for v in shape.tolist()) if shape is not None and shape.numel() else None
    kind = InputLayer.QUANTIZE if int(lv) > 0 else InputLayer.INTEGER
    try:
        return FrontSpec(kind, widths[0], int(lo.min()), int(hi.max()), levels=max(int(lv), 1),
                         scale=float(state["front.input_scale"].flatten()[0]),
                         offset=float(state["front.input_offset"].flatten()[0]), shape=shape_t)
    except BNNVerifyError as e:
        raise ModelFileError(f"{where}: {e.message}") from None


def torch_nonzero_first(mask) -> int:
    """The first index where a boolean tensor is true."""
    return int(mask.nonzero()[0][0])


def _check_front_buffers(front, where: str) -> None:
    scale, offset = front.affine()
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(offset)):
        raise ModelFileError(f"{where}: front.input_scale must be finite and > 0 and front.input_offset finite, "
                             f"got {scale}, {offset}")


def _linear_factory(state: dict, where: str, rbonn_variant: str | None):
    """How the file's layers binarise: None (sign of the latent weights), lns or rbonn layers."""
    from bnnverify.training.binarizers import BinarizerOptions, LNSLinear, RBONNLinear

    lns = [k for k in state if k.endswith(".linear.map_in")]
    rbonn = [k for k in state if k.endswith(".linear.u")]
    if lns and rbonn:
        raise ModelFileError(f"{where}: has both lns keys ({lns[0]}) and rbonn keys ({rbonn[0]})")
    if lns:
        sizes = {int(state[k].shape[0]) for k in lns if state[k].ndim == 2}
        if len(sizes) != 1:
            raise ModelFileError(f"{where}: the lns mappings' hidden sizes differ or are not 2-D: {sorted(sizes)}")
        opts = BinarizerOptions(lns_hidden=sizes.pop())
        return lambda a, b, g: LNSLinear(a, b, opts, g)
    if rbonn:
        has_variant = any(k.endswith(".linear.code_variant") for k in state)
        if not has_variant:
            masks = [(state[k], state.get(k[: -len("u")] + "mask")) for k in rbonn]
            corrected = any(m is not None and u.shape == m.shape and bool((u * m).abs().sum() > 0) for u, m in masks)
            if corrected and rbonn_variant is None:
                raise UsageError(f"{where}: an rbonn state_dict without 'code_variant' keys corrects some rows "
                                 "(u * mask != 0); say which rbonn variant trained it (paper or code)",
                                 param="rbonn_variant")
        opts = BinarizerOptions(rbonn_variant=rbonn_variant or "paper")
        return lambda a, b, g: RBONNLinear(a, b, opts, g)
    if rbonn_variant is not None:
        raise UsageError(f"{where}: rbonn_variant given, but the file holds no rbonn layers", param="rbonn_variant")
    return None


def import_torch_state_report(
    path: "str | os.PathLike[str]", arch: Sequence[int], *, eps: float = DEFAULT_BN_EPS,
    thermometer_levels: int | None = None, rbonn_variant: str | None = None,
) -> tuple[BNN, float]:
    """Like :func:`import_torch_state`, also returning the export's smallest folding margin."""
    import torch

    from bnnverify.training.binarizers import RBONNVariant
    from bnnverify.training.export import export_model
    from bnnverify.training.fronts import InputLayer
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
    front = _front_spec(state, widths, where)
    factory = _linear_factory(state, where, rbonn_variant)
    try:
        module = BNNModule(widths, scale=scale, front=front, linear=factory)
    except BNNVerifyError as e:
        raise ModelFileError(f"{where}: {e.message}") from None
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
    if front is not None and front.kind is InputLayer.QUANTIZE:
        module.front.bn.eps = float(eps)
    if front is not None:
        _check_front_buffers(module.front, where)
    for lin in module.linears():
        if hasattr(lin, "code_variant"):
            if not any(k.endswith(".linear.code_variant") for k in state):  # an older file: as told (or moot)
                lin.code_variant.fill_(lin.variant is RBONNVariant.CODE)
            lin.variant = RBONNVariant.CODE if bool(lin.code_variant) else RBONNVariant.PAPER
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
    thermometer_levels: int | None = None, rbonn_variant: str | None = None,
) -> BNN:
    """A :class:`BNN` from a saved ``BNNModule.state_dict()`` of widths ``arch`` (e.g. 12,10,7,5,4,3,2).

    Raises :class:`~bnnverify.errors.ModelFileError` naming the file and the
    key when the keys or shapes do not fit ``arch``.
    """
    return import_torch_state_report(path, arch, eps=eps, thermometer_levels=thermometer_levels,
                                     rbonn_variant=rbonn_variant)[0]
