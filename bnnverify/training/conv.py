"""Small convolutional BNNs: torch modules, training on bit images, exact export.

An architecture is a comma-separated list (``--arch`` of ``bnnverify train``):

* ``conv<O>k<K>[p<P>][s<S>]`` — a binary convolution of O output channels,
  K x K kernels, zero padding P (default 0) and stride S (default 1), then
  ``BatchNorm2d`` and sign (sign(0) = +1);
* ``maxpool<K>[s<S>]`` — max-pooling of the ±1 activations (stride default K);
* ``<m>`` — a dense hidden block (``BinaryLinear`` -> ``BatchNorm1d`` -> sign) of m
  neurons over the flattened map (channels first, torch's order);
* the last entry is an integer: the number of classes (the output block).

e.g. ``conv16k3p1,maxpool2,10`` on the 8x8 digits. The input is a square
single-channel bit image (``n = s*s``), its bits as spins ``s = 2x - 1``.

The export (:func:`export_conv`) folds every batch norm + sign exactly
(:func:`bnnverify.model.folding.fold_neuron` on the stored float32 values as
rationals; a negative scale negates the channel's kernel) into ``conv``,
``maxpool`` (polarity +1: the max of ±1 values is the OR of the bits),
``threshold`` and ``argmax`` layers, and reports the smallest margin. Training
is deterministic for a seed (private generator, one torch thread).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bnnverify.data.datasets import Dataset, load_dataset
from bnnverify.encoders.conv_layers import ConvLayer, MaxPoolLayer
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.errors import DataError, ModelError, UsageError
from bnnverify.model.folding import NeuronFractions, exact_fraction, fold_neuron
from bnnverify.training.modules import HiddenBlock, OutputBlock, binarize, neuron_fractions
from bnnverify.training.train import DEFAULT_BATCH_SIZE, DEFAULT_LR, LATENT_CLIP, TRAIN_THREADS

__all__ = ["ConvSpec", "PoolSpec", "parse_arch", "ConvBNNModule", "export_conv", "train_conv", "ConvTrainResult",
           "is_conv_arch"]

_CONV = re.compile(r"^conv(\d+)k(\d+)(?:p(\d+))?(?:s(\d+))?$")
_POOL = re.compile(r"^maxpool(\d+)(?:s(\d+))?$")


@dataclass(frozen=True)
class ConvSpec:
    out_channels: int
    kernel: int
    pad: int = 0
    stride: int = 1


@dataclass(frozen=True)
class PoolSpec:
    kernel: int
    stride: int


def is_conv_arch(text: str) -> bool:
    """Whether an ``--arch`` string describes a convolutional network (starts with conv/maxpool)."""
    first = text.split(",")[0].strip().lower()
    return bool(_CONV.match(first) or _POOL.match(first))


def parse_arch(text: str) -> tuple[list[ConvSpec | PoolSpec | int], int]:
    """The blocks and the class count of an architecture string (UsageError naming the entry)."""
    parts = [p.strip().lower() for p in text.split(",") if p.strip()]
    if len(parts) < 2:
        raise UsageError(f"arch: need blocks and a class count, e.g. conv16k3p1,maxpool2,10; got {text!r}",
                         param="arch")
    blocks: list[ConvSpec | PoolSpec | int] = []
    for p in parts[:-1]:
        if m := _CONV.match(p):
            o, k, pad, s = (int(v) if v is not None else None for v in m.groups())
            spec = ConvSpec(o, k, pad or 0, s or 1)  # type: ignore[arg-type]
            if spec.out_channels < 1 or spec.kernel < 1 or spec.stride < 1 or spec.pad >= spec.kernel:
                raise UsageError(f"arch: {p!r}: channels, kernel and stride must be positive, pad < kernel",
                                 param="arch")
            blocks.append(spec)
        elif m := _POOL.match(p):
            k = int(m.group(1))
            s = int(m.group(2)) if m.group(2) else k
            if k < 1 or s < 1:
                raise UsageError(f"arch: {p!r}: kernel and stride must be positive", param="arch")
            blocks.append(PoolSpec(k, s))
        elif p.isdigit() and int(p) > 0:
            blocks.append(int(p))
        else:
            raise UsageError(f"arch: {p!r} is not conv<O>k<K>[p<P>][s<S>], maxpool<K>[s<S>] or a width",
                             param="arch")
    if not parts[-1].isdigit() or int(parts[-1]) < 2:
        raise UsageError(f"arch: the last entry must be the number of classes (>= 2), got {parts[-1]!r}",
                         param="arch")
    seen_dense = False
    for b in blocks:
        if isinstance(b, int):
            seen_dense = True
        elif seen_dense:
            raise UsageError("arch: conv and maxpool blocks must come before the dense blocks", param="arch")
    return blocks, int(parts[-1])


class BinaryConv2d(nn.Module):
    """``sign(latent)`` kernels (sign(0) = +1, straight-through gradient), zero padding."""

    def __init__(self, c_in: int, spec: ConvSpec, generator: torch.Generator) -> None:
        super().__init__()
        k = spec.kernel
        w = torch.rand(spec.out_channels, c_in, k, k, generator=generator, dtype=torch.float32) * 2.0 - 1.0
        self.weight = nn.Parameter(w)
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, binarize(self.weight, "ste"), stride=self.spec.stride, padding=self.spec.pad)

    @torch.no_grad()
    def int_weights(self) -> np.ndarray:
        return np.where(self.weight.detach().cpu().numpy() >= 0, 1, -1).astype(np.int8)


class ConvBlock(nn.Module):
    """BinaryConv2d -> BatchNorm2d -> sign."""

    def __init__(self, c_in: int, spec: ConvSpec, generator: torch.Generator) -> None:
        super().__init__()
        self.conv = BinaryConv2d(c_in, spec, generator)
        self.bn = nn.BatchNorm2d(spec.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return binarize(self.bn(self.conv(x)), "ste")


class PoolBlock(nn.Module):
    def __init__(self, spec: PoolSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.spec.kernel, self.spec.stride)


class ConvBNNModule(nn.Module):
    """Conv / pool blocks over a ``(C, H, W)`` spin image, dense hidden blocks, the output block."""

    def __init__(self, shape: tuple[int, int, int], blocks: Sequence[ConvSpec | PoolSpec | int], n_classes: int,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.shape = tuple(int(v) for v in shape)
        self.specs = list(blocks)
        maps: list[nn.Module] = []
        dense: list[nn.Module] = []
        C, H, W = self.shape
        self.map_shapes = [(C, H, W)]
        for b in blocks:
            if isinstance(b, ConvSpec):
                maps.append(ConvBlock(C, b, generator))
                H = (H + 2 * b.pad - b.kernel) // b.stride + 1
                W = (W + 2 * b.pad - b.kernel) // b.stride + 1
                C = b.out_channels
            elif isinstance(b, PoolSpec):
                maps.append(PoolBlock(b))
                H = (H - b.kernel) // b.stride + 1
                W = (W - b.kernel) // b.stride + 1
            if H < 1 or W < 1:
                raise UsageError(f"arch: the map vanishes ({H}x{W}) after {b}", param="arch")
            if not isinstance(b, int):
                self.map_shapes.append((C, H, W))
        n = C * H * W
        for b in blocks:
            if isinstance(b, int):
                dense.append(HiddenBlock(n, b, generator=generator))
                n = b
        self.maps = nn.ModuleList(maps)
        self.dense = nn.ModuleList(dense)
        self.output = OutputBlock(n, n_classes, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(x.shape[0], *self.shape)
        for m in self.maps:
            h = m(h)
        h = h.reshape(h.shape[0], -1)
        for d in self.dense:
            h = d(h)
        return self.output(h)


def _bn_fractions(bn: nn.BatchNorm2d, j: int, where: str) -> NeuronFractions:
    g = float(bn.weight.detach()[j])
    b = float(bn.bias.detach()[j])
    mu = float(bn.running_mean.detach()[j])
    var = float(bn.running_var.detach()[j])
    S = exact_fraction(var, f"{where} channel {j} running_var") + exact_fraction(float(bn.eps), f"{where} eps")
    if S <= 0:
        raise ModelError(f"{where} channel {j}: running_var + eps must be > 0")
    return NeuronFractions(exact_fraction(g, f"{where} channel {j} bn.weight"), exact_fraction(1.0, "scale"),
                           exact_fraction(mu, f"{where} channel {j} running_mean"),
                           exact_fraction(b, f"{where} channel {j} bn.bias"), S)


def export_conv(module: ConvBNNModule, metadata: dict[str, str] | None = None) -> tuple[BNN, float]:
    """Fold ``module`` (eval mode) into a :class:`BNN` exactly; also the smallest folding margin."""
    layers: list = []
    margins = [math.inf]
    for block, shape in zip(module.maps, module.map_shapes):
        name = f"layer{len(layers)}"
        if isinstance(block, ConvBlock):
            w = block.conv.int_weights()
            K = int(np.prod(w.shape[1:]))
            theta = np.empty(w.shape[0], np.int64)
            for o in range(w.shape[0]):
                orient, th, margin = fold_neuron(_bn_fractions(block.bn, o, name), K)
                if orient < 0:
                    w[o] = -w[o]
                theta[o] = th
                margins.append(margin)
            s, p = block.conv.spec.stride, block.conv.spec.pad
            layers.append(ConvLayer(w, theta, shape=shape, stride=(s, s), pads=(p, p, p, p), name=name))
        else:
            k, s = block.spec.kernel, block.spec.stride
            layers.append(MaxPoolLayer((k, k), np.ones(shape[0], np.int8), shape=shape, stride=(s, s), name=name))
    for block in module.dense:
        name = f"layer{len(layers)}"
        w = block.linear.int_weights()
        theta = np.empty(w.shape[0], np.int64)
        for j in range(w.shape[0]):
            orient, th, margin = fold_neuron(neuron_fractions(block, j, name), w.shape[1])
            if orient < 0:
                w[j] = -w[j]
            theta[j] = th
            margins.append(margin)
        layers.append(ThresholdLayer(w, theta, name=name))
    alpha, beta = module.output.affine()
    out = ArgmaxLayer(module.output.linear.int_weights(), alpha, beta, name="output")
    return BNN(tuple(layers), out, metadata=dict(metadata or {})), min(margins)


@dataclass(frozen=True)
class ConvTrainResult:
    model: BNN
    module: ConvBNNModule
    arch: str
    train_accuracy: float
    test_accuracy: float
    min_margin: float
    seconds: float
    losses: tuple[float, ...]


def _image_shape(n: int) -> tuple[int, int, int]:
    s = math.isqrt(n)
    if s * s != n:
        raise DataError(f"a convolutional network needs a square one-channel bit image; the data has {n} bits")
    return (1, s, s)


def train_conv(dataset: "Dataset | str", arch: str, *, epochs: int, seed: int, lr: float = DEFAULT_LR,
               batch_size: int = DEFAULT_BATCH_SIZE, test_data: Dataset | None = None) -> ConvTrainResult:
    """Train a convolutional BNN of architecture ``arch`` (see the module docstring); export it exactly."""
    blocks, n_classes = parse_arch(arch)
    if isinstance(dataset, str):
        name = dataset
        train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    else:
        name, train, test = dataset.name, dataset, test_data
    if getattr(train, "feature_range", None) is not None:
        raise UsageError(f"data set {name} holds integer features; --arch trains conv BNNs over 0/1 inputs "
                         "(e.g. digits); integer first layers are --hidden with --input-layer", param="arch")
    if n_classes != train.n_classes:
        raise UsageError(f"arch: ends with {n_classes} classes, the data set has {train.n_classes}", param="arch")
    if epochs < 0 or batch_size < 1:
        raise UsageError("epochs must be >= 0 and batch_size >= 1", param="epochs")
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        gen = torch.Generator().manual_seed(int(seed))
        module = ConvBNNModule(_image_shape(train.n_inputs), blocks, n_classes, gen)
        opt = torch.optim.Adam(module.parameters(), lr=lr)
        X = torch.from_numpy(2.0 * train.X.astype(np.float32) - 1.0)
        y = torch.from_numpy(train.y.astype(np.int64))
        losses = []
        for _ in range(epochs):
            module.train()
            perm = torch.randperm(len(X), generator=gen)
            total = 0.0
            for s in range(0, len(X), batch_size):
                idx = perm[s:s + batch_size]
                if len(idx) < 2:  # batch norm needs two rows
                    continue
                loss = F.cross_entropy(module(X[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    for m in module.modules():
                        if isinstance(m, BinaryConv2d) or type(m).__name__ == "BinaryLinear":
                            m.weight.clamp_(-LATENT_CLIP, LATENT_CLIP)
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(X))
        module.eval()
    finally:
        torch.set_num_threads(threads)
    net, margin = export_conv(module, {"dataset": name, "arch": arch, "seed": str(seed), "epochs": str(epochs)})
    from bnnverify.evaluation.evaluator import Evaluator

    ev = Evaluator(net)
    acc_tr = float((ev.classify(train.X) == train.y).mean())
    acc_te = float((ev.classify(test.X) == test.y).mean()) if test is not None and len(test) else math.nan
    return ConvTrainResult(net, module, arch, acc_tr, acc_te, margin, time.perf_counter() - t0, tuple(losses))
