"""A per-layer summary of a :class:`~bnnverify.encoders.layers.BNN`, in the spirit of ``larq.models.summary``.

For each layer: its kind, inputs, neurons, binary (±1) parameters, other
parameters (integer thresholds; float64 output scale and bias), memory packed
(1 bit per binary weight) against the same parameters stored as float32, the
threshold range and how many neurons are constant (a threshold ``≤ −n`` is
always met, one ``> n`` never is, over dots ``d ∈ [−n, n]``).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
>>> h = ThresholdLayer(np.ones((3, 4), dtype=np.int8), np.array([0, -5, 9]))
>>> o = ArgmaxLayer(np.ones((2, 3), dtype=np.int8), np.ones(2), np.zeros(2))
>>> s = summarize(BNN((h,), o))
>>> (s.layers[0].binary_params, s.layers[0].always_on, s.layers[0].never_on)
(12, 1, 1)
>>> s.total.packed_bits, s.total.float32_bits
(370, 800)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.sparse_linear import linear_terms

__all__ = [
    "LayerKind",
    "LayerSummary",
    "Totals",
    "Summary",
    "summarize",
    "format_summary",
    "summary_to_dict",
    "BITS_BINARY",
    "BITS_THRESHOLD",
    "BITS_OUTPUT_FLOAT",
    "BITS_FLOAT32",
]

#: Memory of one ±1 weight, bit-packed.
BITS_BINARY = 1
#: Memory of one integer threshold (``|θ| ≤ n + 1`` fits in 32 bits for any practical n).
BITS_THRESHOLD = 32
#: Memory of one output scale or bias: float64, as the semantics computes scores in float64.
BITS_OUTPUT_FLOAT = 64
#: The float32 baseline: every parameter stored as a 32-bit float.
BITS_FLOAT32 = 32
_BITS_PER_BYTE = 8


class LayerKind(str, Enum):
    """What a layer computes."""

    THRESHOLD = "threshold"
    LINEAR = "linear"
    QUANTIZE = "quantize"
    INTEGER_THRESHOLD = "integer-threshold"
    CONV = "conv"
    MAXPOOL = "maxpool"
    INTEGER_CONV = "integer-conv"
    ARGMAX = "argmax"


@dataclass(frozen=True)
class LayerSummary:
    """One layer. ``threshold_min``/``threshold_max`` and the constant counts are
    ``None``/0 for the argmax layer; ``other_params`` are thresholds (threshold
    layer) or scale + bias (argmax layer)."""

    name: str
    kind: LayerKind
    inputs: int
    neurons: int
    binary_params: int
    other_params: int
    packed_bits: int
    float32_bits: int
    threshold_min: int | None
    threshold_max: int | None
    always_on: int
    never_on: int
    #: hidden layer k (1-based: the model file's ``layer{k-1}``); None for the output layer
    number: int | None = None

    @property
    def constant(self) -> int:
        """Neurons whose output never changes (always on or never on)."""
        return self.always_on + self.never_on

    @property
    def packed_bytes(self) -> int:
        return -(-self.packed_bits // _BITS_PER_BYTE)

    @property
    def float32_bytes(self) -> int:
        return -(-self.float32_bits // _BITS_PER_BYTE)


@dataclass(frozen=True)
class Totals:
    """Sums over all layers."""

    neurons: int
    binary_params: int
    other_params: int
    packed_bits: int
    float32_bits: int
    constant: int

    @property
    def packed_bytes(self) -> int:
        return -(-self.packed_bits // _BITS_PER_BYTE)

    @property
    def float32_bytes(self) -> int:
        return -(-self.float32_bits // _BITS_PER_BYTE)

    @property
    def compression(self) -> float:
        """float32 memory / packed memory."""
        return self.float32_bits / self.packed_bits if self.packed_bits else float("inf")


@dataclass(frozen=True)
class Summary:
    """The summary of one network: widths, metadata, layers and totals."""

    widths: tuple[int, ...]
    metadata: tuple[tuple[str, str], ...]
    thermometer_levels: int | None
    layers: tuple[LayerSummary, ...]
    total: Totals


#: A conv / maxpool layer's constant neurons are counted on its linear view (kept by rows: neurons x
#: patch terms) up to this many terms.
_CONSTANT_VIEW_MAX_ENTRIES = 1 << 22


def _other_layer(h, i: int, net: BNN | None = None) -> LayerSummary:
    """A layer of a kind other than ``threshold``: its stored integers; ±1 parameters are the
    ±1 weights it stores (a convolution's kernel is shared by every position)."""
    n, m = h.n_inputs, h.n_outputs
    kind = LayerKind(h.kind)
    if h.kind == "conv":
        binary, other = int(h.weights.size), int(h.thresholds.size)
    elif h.kind == "maxpool":
        binary, other = 0, int(h.polarity.size)
    else:
        arrays = h.arrays()
        binary = 0
        other = int(sum(a.size for k, a in arrays.items() if a.dtype.kind in "iu" and a.ndim >= 1))
    t = getattr(h, "thresholds", None)
    if h.kind == "linear":
        t = h.bounds
    on = off = 0
    lin = None
    if h.kind == "linear":
        lin = h
    elif h.kind in ("conv", "maxpool") and m * int(np.prod(h.geometry.kernel)) * (
            h.geometry.shape[0] if h.kind == "conv" else 1) <= _CONSTANT_VIEW_MAX_ENTRIES:
        lin = h.as_linear()
    if lin is not None:
        c = linear_terms(lin)[1]
        pos, neg = np.where(c > 0, c, 0).sum(axis=1), np.where(c < 0, c, 0).sum(axis=1)
        on, off = int((lin.bounds <= neg).sum()), int((lin.bounds > pos).sum())
    elif net is not None and net.inputs is not None and h.kind in ("quantize", "integer-threshold"):
        # constants over the declared feature ranges
        lo, hi = net.inputs.lo.astype(np.int64), net.inputs.hi.astype(np.int64)
        if h.kind == "quantize":
            c = h.thresholds
            on, off = int((c <= lo[:, None]).sum()), int((c > hi[:, None]).sum())
        else:
            W = h.weights.astype(np.int64)
            top = np.where(W > 0, W * hi, W * lo).sum(axis=1)
            bottom = np.where(W > 0, W * lo, W * hi).sum(axis=1)
            on, off = int((h.thresholds <= bottom).sum()), int((h.thresholds > top).sum())
    return LayerSummary(
        name=f"layer{i}", number=i + 1, kind=kind, inputs=n, neurons=m, binary_params=binary,
        other_params=other, packed_bits=binary * BITS_BINARY + other * BITS_THRESHOLD,
        float32_bits=(binary + other) * BITS_FLOAT32,
        threshold_min=int(t.min()) if t is not None and t.size else None,
        threshold_max=int(t.max()) if t is not None and t.size else None, always_on=on, never_on=off)


def summarize(net: BNN) -> Summary:
    """The :class:`Summary` of ``net`` (pure: reads the network, changes nothing)."""
    layers = []
    for i, h in enumerate(net.hidden):
        if h.kind != "threshold":
            layers.append(_other_layer(h, i, net))
            continue
        n, m = h.n_inputs, h.n_outputs
        t = h.thresholds
        layers.append(
            LayerSummary(
                name=f"layer{i}",
                number=i + 1,
                kind=LayerKind.THRESHOLD,
                inputs=n,
                neurons=m,
                binary_params=m * n,
                other_params=m,
                packed_bits=m * n * BITS_BINARY + m * BITS_THRESHOLD,
                float32_bits=(m * n + m) * BITS_FLOAT32,
                threshold_min=int(t.min()),
                threshold_max=int(t.max()),
                always_on=int((t <= -n).sum()),
                never_on=int((t > n).sum()),
            )
        )
    o = net.output
    c, n = o.n_classes, o.n_inputs
    layers.append(
        LayerSummary(
            name="output",
            kind=LayerKind.ARGMAX,
            inputs=n,
            neurons=c,
            binary_params=c * n,
            other_params=2 * c,
            packed_bits=c * n * BITS_BINARY + 2 * c * BITS_OUTPUT_FLOAT,
            float32_bits=(c * n + 2 * c) * BITS_FLOAT32,
            threshold_min=None,
            threshold_max=None,
            always_on=0,
            never_on=0,
        )
    )
    total = Totals(
        neurons=sum(l.neurons for l in layers),
        binary_params=sum(l.binary_params for l in layers),
        other_params=sum(l.other_params for l in layers),
        packed_bits=sum(l.packed_bits for l in layers),
        float32_bits=sum(l.float32_bits for l in layers),
        constant=sum(l.constant for l in layers),
    )
    return Summary(
        widths=net.widths,
        metadata=tuple(sorted(net.metadata.items())),
        thermometer_levels=net.thermometer_levels,
        layers=tuple(layers),
        total=total,
    )


def summary_to_dict(s: Summary) -> dict[str, Any]:
    """A JSON-ready dict of ``s`` (every count an exact int; bytes and constants included)."""

    def layer(l: LayerSummary) -> dict[str, Any]:
        d = dataclasses.asdict(l)
        d["kind"] = l.kind.value
        d.update(constant=l.constant, packed_bytes=l.packed_bytes, float32_bytes=l.float32_bytes)
        return d

    total = dataclasses.asdict(s.total)
    total.update(packed_bytes=s.total.packed_bytes, float32_bytes=s.total.float32_bytes,
                 compression=s.total.compression)
    return {
        "widths": list(s.widths),
        "metadata": dict(s.metadata),
        "thermometer_levels": s.thermometer_levels,
        "layers": [layer(l) for l in s.layers],
        "total": total,
    }


def _fmt_bits(bits: int) -> str:
    return f"{bits} b ({-(-bits // _BITS_PER_BYTE)} B)"


def format_summary(s: Summary, title: str | None = None) -> str:
    """A plain-text table of ``s`` (one row per layer, then totals).

    ``title`` defaults to the model's ``name`` metadata, else ``"model"``.
    """
    meta = dict(s.metadata)
    title = title if title is not None else meta.get("name", "model")
    head = f"Model: {title}  widths {'-'.join(map(str, s.widths))}"
    if "source" in meta:
        head += f"  (source: {meta['source']})"
    if s.thermometer_levels is not None:
        head += f"  thermometer levels {s.thermometer_levels}"
    cols = ["layer", "kind", "inputs", "neurons", "±1 params", "other params",
            "packed", "float32", "thresholds", "constant"]
    rows = []
    for l in s.layers:
        rng = "-" if l.threshold_min is None else f"{l.threshold_min}..{l.threshold_max}"
        const = "-" if l.kind is LayerKind.ARGMAX else f"{l.constant} ({l.always_on} on, {l.never_on} off)"
        rows.append([l.name if l.number is None else f"{l.number}: {l.name}", l.kind.value, str(l.inputs), str(l.neurons), str(l.binary_params),
                     str(l.other_params), _fmt_bits(l.packed_bits), _fmt_bits(l.float32_bits), rng, const])
    t = s.total
    rows.append(["total", "", "", str(t.neurons), str(t.binary_params), str(t.other_params),
                 _fmt_bits(t.packed_bits), _fmt_bits(t.float32_bits), "", str(t.constant)])
    widths = [max(len(r[i]) for r in [cols, *rows]) for i in range(len(cols))]
    numeric = {2, 3, 4, 5, 6, 7}

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    rule = "-" * len(line(cols))
    out = [head, rule, line(cols), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1]), rule]
    out.append(
        f"packed: {t.packed_bytes} B, float32: {t.float32_bytes} B ({t.compression:.1f}x smaller); "
        f"packed counts 1 bit per ±1 weight, {BITS_THRESHOLD} per threshold, "
        f"{BITS_OUTPUT_FLOAT} per output scale/bias"
    )
    return "\n".join(out)
