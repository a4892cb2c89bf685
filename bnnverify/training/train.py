"""Training BNNs with torch and exporting them exactly; accuracy on data sets.

:func:`train_bnn` trains a :class:`~bnnverify.training.modules.BNNModule` with
Adam and cross-entropy (latent weights clipped to ``[-1, 1]`` after each
step, as in BinaryConnect), then folds it with
:func:`bnnverify.training.export.export_model` into a :class:`BNN` and measures it
with the reference evaluator. It is deterministic for a seed: parameters and
batch order come from a private ``torch.Generator`` seeded with ``seed``, and
torch runs single-threaded during training (the previous thread count is
restored afterwards).

Snapshots (for the information plane): with ``snapshots=DIR`` the exported
model is written after each epoch in ``snapshot_epochs`` (default: every
epoch, including epoch 0 = before training) as ``DIR/epoch_0000.npz``, ...,
with metadata ``epoch``, ``dataset``, ``seed``, ``ste``, ``hidden``, ``scale``,
``min_margin``.

First layers over integer features (``input_layer="quantize"`` or
``"integer"``, :mod:`bnnverify.training.fronts`) train on a data set of
integer features (``digits17``: the digits at their 17 grey levels); the
module normalises them to ``[0, 1]`` itself and the export declares the
features (``input_lo/hi``, the normalisation, the image shape, layout ``HW``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from bnnverify.encoders.layers import BNN

from bnnverify.data.datasets import Dataset, load_dataset
from bnnverify.errors import DataError, ModelError, UsageError
from bnnverify.files.modelio import save_model
from bnnverify.evaluation.evaluator import Evaluator

__all__ = [
    "TrainResult",
    "ClassAccuracy",
    "Accuracy",
    "train_bnn",
    "evaluate_model",
    "snapshot_path",
    "DEFAULT_LR",
    "DEFAULT_BATCH_SIZE",
]

#: Adam's learning rate unless told otherwise.
DEFAULT_LR = 0.01
#: Mini-batch size unless told otherwise.
DEFAULT_BATCH_SIZE = 128
#: Latent weights are clipped to [-LATENT_CLIP, LATENT_CLIP] after each step.
LATENT_CLIP = 1.0
#: Threads torch uses while training (1 = deterministic and fastest for small nets).
TRAIN_THREADS = 1


@dataclass(frozen=True)
class ClassAccuracy:
    """Accuracy of one class: ``correct`` of ``n`` examples labelled ``label``."""

    label: int
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else math.nan


@dataclass(frozen=True)
class Accuracy:
    """Accuracy of a model on a data set (exact counts; the evaluator's classes)."""

    dataset: str
    n: int
    correct: int
    per_class: tuple[ClassAccuracy, ...]

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else math.nan

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "n": self.n,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "per_class": [
                {"label": c.label, "n": c.n, "correct": c.correct, "accuracy": c.accuracy} for c in self.per_class
            ],
        }


def evaluate_model(net: BNN, data: Dataset) -> Accuracy:
    """Accuracy and per-class accuracy of ``net`` on ``data`` with the reference evaluator.

    Raises :class:`DataError` if the widths differ or a label is not a class of the model.
    """
    if bool(getattr(data, "integer_features", False)) != bool(net.reads_integers):
        what = "integer features" if net.reads_integers else "bits"
        raise DataError(f"data set {data.name}: the model reads {what}, the data set holds "
                        f"{'integer features' if data.integer_features else 'bits'}")
    if data.n_inputs != net.n_inputs:
        raise DataError(
            f"data set {data.name}: rows have {data.n_inputs} bits but the model has n_inputs={net.n_inputs}"
        )
    if len(data) and int(data.y.max()) >= net.n_classes:
        raise DataError(
            f"data set {data.name}: label {int(data.y.max())} is not a class of the model "
            f"({net.n_classes} classes)"
        )
    pred = Evaluator(net).classify(data.X) if len(data) else np.zeros(0, np.int64)
    ok = pred == data.y
    per = tuple(
        ClassAccuracy(c, int((data.y == c).sum()), int(ok[data.y == c].sum())) for c in range(net.n_classes)
    )
    return Accuracy(data.name, len(data), int(ok.sum()), per)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_bnn` returns.

    ``test_accuracy`` is NaN when there is no test set (a :class:`Dataset`
    passed without ``test_data``). ``min_margin`` is the export's smallest
    folding margin (see :mod:`bnnverify.training.export`). ``module`` is the trained
    torch module (eval mode).
    """

    model: BNN
    train_accuracy: float
    test_accuracy: float
    min_margin: float
    snapshots: tuple[Path, ...]
    seconds: float
    module: object = field(default=None, compare=False, repr=False)
    #: mean training cross-entropy of each epoch 1..epochs (float32 training mode)
    losses: tuple[float, ...] = field(default=(), compare=False, repr=False)
    #: the binarizer's canonical name (``ste+scale`` style names for old flag combinations)
    binarizer: str = "ste"
    #: binary weights (all layers) that differ from the sign of their latent weight
    sign_disagreements: int = 0
    #: lns from scratch: the exported baseline the fine-tuning started from
    start_model: BNN | None = field(default=None, compare=False, repr=False)
    #: what the first layer reads (``binary``, ``quantize``, ``integer``)
    input_layer: str = "binary"
    #: the smallest folding margin of a first layer over integer features (inf without one)
    front_margin: float = math.inf


#: Adam's moment decay rates and denominator epsilon (Kingma & Ba's defaults).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class _Adam:
    """Adam (Kingma & Ba 2015) on a list of parameters, with torch's foreach kernels.

    Same update as ``torch.optim.Adam`` (no weight decay, bias-corrected),
    without its per-step dispatch overhead, which dominates for tiny BNNs.
    """

    def __init__(self, params: list, lr: float, factors: list[float] | None = None) -> None:
        import torch

        self.params = params
        self.lr = float(lr)
        #: per-parameter learning-rate factor (1 unless told otherwise, e.g. rbonn's u at 0.1x)
        self.factors = [1.0] * len(params) if factors is None else [float(f) for f in factors]
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        b1, b2 = ADAM_BETAS
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        self.t += 1
        for f in sorted({self.factors[i] for i in live}):
            group = [i for i in live if self.factors[i] == f]
            params = [self.params[i] for i in group]
            grads = [self.params[i].grad for i in group]
            m = [self.m[i] for i in group]
            v = [self.v[i] for i in group]
            with torch.no_grad():
                torch._foreach_lerp_(m, grads, 1.0 - b1)
                torch._foreach_mul_(v, b2)
                torch._foreach_addcmul_(v, grads, grads, value=1.0 - b2)
                den = torch._foreach_sqrt(v)
                torch._foreach_div_(den, math.sqrt(1.0 - b2**self.t))
                torch._foreach_add_(den, ADAM_EPS)
                torch._foreach_addcdiv_(params, m, den, value=-self.lr * f / (1.0 - b1**self.t))


def snapshot_path(directory: Path, epoch: int) -> Path:
    """``DIR/epoch_0007.npz``."""
    return Path(directory) / f"epoch_{epoch:04d}.npz"


def _to_pm1(X: np.ndarray):
    import torch

    return torch.from_numpy(2.0 * np.asarray(X, dtype=np.float32) - 1.0)


def train_bnn(
    dataset: "Dataset | str",
    hidden: Sequence[int],
    *,
    epochs: int,
    seed: int,
    ste: str | None = None,
    scale: bool = False,
    binarizer: str | None = None,
    options: "BinarizerOptions | None" = None,
    finetune_epochs: int | None = None,
    start: object | None = None,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    snapshots: "Path | str | None" = None,
    snapshot_epochs: Iterable[int] | None = None,
    progress: bool = False,
    test_data: Dataset | None = None,
    input_layer: str = "binary",
    levels: int = 1,
) -> TrainResult:
    """Train a BNN of hidden widths ``hidden`` and export it exactly.

    ``dataset`` is a name (trained on its ``"train"`` split, tested on
    ``"test"``) or a :class:`Dataset` (trained on all of it, tested on
    ``test_data`` if given).

    The training method is ``binarizer`` (a name of
    :data:`bnnverify.training.binarizers.BINARIZERS`, options in ``options``)
    or, as before, the estimator ``ste`` and the flag ``scale`` (not both).
    ``start`` continues from a trained module (a :class:`TrainResult`'s
    ``module``, copied, never changed) instead of a fresh initialisation:
    fine-tuning. ``lns`` without ``start`` first trains its plain-sign
    baseline for ``epochs`` epochs, then fine-tunes for ``finetune_epochs``
    (default: ``epochs``); with ``start`` it fine-tunes for ``epochs``.
    Snapshots number the epochs of both phases consecutively.

    ``input_layer`` is ``binary`` (0/1 inputs, the default), ``quantize`` (a
    learned per-feature quantizer with ``levels`` thresholds per feature) or
    ``integer`` (a ±1 first layer over the normalised features); the last two
    need a data set of integer features (``digits17``).

    >>> r = train_bnn("ib12", [6, 4], epochs=2, seed=0)
    >>> r.model.widths, 0.0 <= r.test_accuracy <= 1.0
    ((12, 6, 4, 2), True)
    """
    import copy

    import torch
    from tqdm import tqdm

    from bnnverify.training.binarizers import (
        BinarizerOptions,
        WeightRule,
        build_module,
        get_binarizer,
        legacy_binarizer,
        sign_disagreements,
        to_lns,
    )
    from bnnverify.training.export import export_report
    from bnnverify.training.fronts import FrontSpec, InputLayer
    from bnnverify.training.modules import STE_KINDS, BNNModule

    if isinstance(dataset, Dataset):
        train, test = dataset, test_data
        ds_name = dataset.name
    else:
        ds_name = str(dataset)
        train, test = load_dataset(ds_name, "train"), load_dataset(ds_name, "test")
    hidden = [int(h) for h in hidden]
    if any(h < 1 for h in hidden):
        raise ModelError(f"hidden: widths must be positive, got {hidden}")
    if ste is not None and ste not in STE_KINDS:
        raise ModelError(f"ste: unknown estimator {ste!r}; valid: {', '.join(STE_KINDS)}")
    if binarizer is not None and (ste is not None or scale):
        raise UsageError("give a binarizer or the estimator/scale options, not both", param="binarizer")
    spec = get_binarizer(binarizer) if binarizer is not None else legacy_binarizer(ste or "ste", bool(scale))
    opts = options if options is not None else BinarizerOptions()
    if epochs < 0:
        raise ModelError(f"epochs: must be >= 0, got {epochs}")
    if finetune_epochs is not None and (spec.rule is not WeightRule.LNS or start is not None):
        raise UsageError("finetune_epochs: only for lns trained from scratch (baseline, then fine-tuning)",
                         param="finetune_epochs")
    if finetune_epochs is not None and finetune_epochs < 0:
        raise UsageError(f"finetune_epochs: must be >= 0, got {finetune_epochs}", param="finetune_epochs")
    if start is not None and not isinstance(start, BNNModule):
        raise UsageError(f"start: expected a trained BNNModule, got {type(start).__name__}", param="start")
    if batch_size < 2:
        raise ModelError(f"batch_size: must be >= 2 (batch norm needs 2 rows), got {batch_size}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ModelError(f"lr: must be a positive number, got {lr}")
    if len(train) < 2:
        raise DataError(f"data set {train.name}: need at least 2 training examples, got {len(train)}")
    try:
        kind = InputLayer(str(getattr(input_layer, "value", input_layer)).lower())
    except ValueError:
        raise UsageError(f"input_layer: must be one of {', '.join(k.value for k in InputLayer)}, "
                         f"got {input_layer!r}", param="input_layer") from None
    if kind is InputLayer.BINARY:
        if train.integer_features:
            raise DataError(f"data set {train.name}: holds integer features (0..{train.feature_range[1]}); "
                            "train it with input_layer quantize or integer, or use a data set of bits")
        if levels != 1:
            raise UsageError("levels: only a quantize first layer has thresholds per feature", param="levels")
        front = None
    else:
        if not train.integer_features:
            raise DataError(f"data set {train.name}: holds bits; the {kind.value} first layer reads integer "
                            "features (e.g. digits17, the digits at their 17 grey levels)")
        lo, hi = train.feature_range
        front = FrontSpec(kind, train.n_inputs, lo, hi, levels=levels, shape=train.image_shape)
    n_classes = max(train.n_classes, 2)
    widths = (train.n_inputs, *hidden, n_classes)
    if start is not None and tuple(start.widths) != widths:
        raise UsageError(f"start: the module has widths {tuple(start.widths)}, training needs {widths}",
                         param="start")
    lns = spec.rule is WeightRule.LNS
    phases: list[tuple[str, int]]  # (what, epochs): "train" or "finetune"
    if lns and start is None:
        phases = [("baseline", epochs), ("finetune", epochs if finetune_epochs is None else int(finetune_epochs))]
    else:
        phases = [("finetune" if lns else "train", epochs)]
    total_epochs = sum(e for _, e in phases)
    snap_dir = Path(snapshots) if snapshots is not None else None
    if snap_dir is not None:
        if snap_dir.exists() and not snap_dir.is_dir():
            raise DataError(f"snapshots folder {snap_dir}: is a file")
        if not snap_dir.parent.is_dir():
            raise DataError(f"snapshots folder {snap_dir}: the folder {snap_dir.parent} does not exist")
        snap_dir.mkdir(exist_ok=True)  # the folder asked for, never its parents
    snap_set = set(range(total_epochs + 1)) if snapshot_epochs is None else {int(e) for e in snapshot_epochs}
    meta_base = {
        "dataset": ds_name,
        "seed": str(seed),
        "ste": spec.activation,
        "binarizer": spec.name,
        "hidden": ",".join(str(h) for h in hidden),
        "scale": str(bool(spec.scale)).lower(),
        **opts.describe(spec.rule),
    }
    if front is not None:
        meta_base["input_layer"] = kind.value
        if kind is InputLayer.QUANTIZE:
            meta_base["quantizer_levels"] = str(front.levels)
    if start is not None:
        meta_base["start"] = "module"

    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    written: list[Path] = []
    losses: list[float] = []
    start_model: BNN | None = None
    try:
        gen = torch.Generator().manual_seed(int(seed))
        if start is not None:
            module = copy.deepcopy(start)
            if spec.rule is WeightRule.SIGN and (module.ste != spec.activation or any(
                    lin.scaled != spec.scale or type(lin).__name__ != "BinaryLinear" for lin in module.linears())):
                raise UsageError(f"start: a plain {spec.name} run continues only a plain module of the same kind",
                                 param="start")
            if spec.rule is WeightRule.RBONN:
                raise UsageError("start: rbonn trains from a fresh initialisation", param="start")
            if module.front_spec != front:
                raise UsageError(f"start: the module's first layer reads {module.input_layer.value}, "
                                 f"training asks for {kind.value}", param="start")
        else:
            module = build_module(spec if not lns else legacy_binarizer(spec.activation, False), widths, opts, gen,
                                  front=front)
        Xt = _to_pm1(train.X) if front is None else torch.from_numpy(np.asarray(train.X, dtype=np.float32))
        yt = torch.from_numpy(np.array(train.y, dtype=np.int64))
        N = len(train)
        loss_fn = torch.nn.CrossEntropyLoss()
        done = 0

        def snapshot(epoch: int) -> None:
            if snap_dir is None or epoch not in snap_set:
                return
            module.eval()
            rep = export_report(module, None, train.thermometer_levels)
            net, margin = rep.net, rep.min_margin
            net = dataclasses.replace(net, metadata={**meta_base, "epoch": str(epoch), "min_margin": repr(margin)})
            written.append(save_model(net, snapshot_path(snap_dir, epoch)))

        snapshot(0)
        bar = tqdm(total=total_epochs, disable=not progress, desc=spec.name, unit="epoch")
        for what, n_epochs in phases:
            if what == "finetune" and lns:
                module.eval()
                start_model = export_report(module, {**meta_base, "phase": "start"}, train.thermometer_levels).net
                module = to_lns(module, opts, gen)
            linears = module.linears()
            params, factors = [], []
            for lin in linears:
                for group, f in lin.param_groups():
                    params += group
                    factors += [f] * len(group)
            own = {id(p) for p in params}
            for p in module.parameters():  # batch norm, output alpha/beta
                if id(p) not in own:
                    params.append(p)
                    factors.append(1.0)
            opt = _Adam(params, lr, factors)
            latent = [lin.weight for lin in linears]
            bar.set_description(f"{spec.name} {what}")
            for _ in range(n_epochs):
                module.train()
                perm = torch.randperm(N, generator=gen)
                starts = list(range(0, N, batch_size))
                if N - starts[-1] < 2 and len(starts) > 1:  # batch norm cannot train on one row
                    starts.pop()
                total, count = 0.0, 0
                for k, s in enumerate(starts):
                    e = starts[k + 1] if k + 1 < len(starts) else N
                    idx = perm[s:e]
                    opt.zero_grad()
                    for lin in linears:
                        lin.before_forward()
                    ce = loss_fn(module(Xt[idx]), yt[idx])
                    loss = ce
                    for lin in linears:
                        extra = lin.aux_loss()
                        if extra is not None:
                            loss = loss + extra
                    loss.backward()
                    opt.step()
                    total += float(ce.detach()) * len(idx)
                    count += len(idx)
                    with torch.no_grad():
                        for lin in linears:
                            lin.after_step()
                        for w in latent:
                            w.clamp_(-LATENT_CLIP, LATENT_CLIP)
                losses.append(total / count)
                done += 1
                snapshot(done)
                bar.update(1)
        bar.close()
        module.eval()
        meta = {**meta_base, "epochs": str(total_epochs), "lr": repr(float(lr)), "batch_size": str(batch_size)}
        final = export_report(module, meta, train.thermometer_levels)
        net, margin = final.net, final.min_margin
        flips = sign_disagreements(module)
    finally:
        torch.set_num_threads(threads)
    train_acc = evaluate_model(net, train).accuracy
    test_acc = evaluate_model(net, test).accuracy if test is not None and len(test) else math.nan
    return TrainResult(net, train_acc, test_acc, margin, tuple(written), time.perf_counter() - t0, module,
                       tuple(losses), spec.name, flips, start_model, kind.value, final.front_margin)
