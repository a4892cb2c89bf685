"""Reading inputs, index files and region options as users give them.

An input is either a literal bit string (``"0110..."``) or a file of 0/1
values separated by spaces, commas, newlines or nothing (BNNQuanalyst's
instance files). An index file lists input positions (BNNQuanalyst's
fixed-set files list the positions that may change).
"""

from __future__ import annotations

import re

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import Cube, HammingBall, LinfBox, Region, Whole

from bnnverify.errors import DataError, RegionError
from bnnverify.files.textfile import is_existing_file, read_text

__all__ = ["parse_bits", "read_bits", "read_features", "read_input", "read_indices", "make_region",
           "IMAGE_SUFFIXES", "image_of"]

#: Image files read with Pillow (8-bit grey or RGB).
IMAGE_SUFFIXES = (".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".jpg", ".jpeg")

_SEP = re.compile(r"[\s,;]+")


def parse_bits(text: str, what: str) -> np.ndarray:
    """Bits from text: 0/1 values (separated by spaces, commas, newlines, or
    nothing), or a whole text of ±1 values (-1 means bit 0, as in some
    BNNQuanalyst instance files). Errors name ``what`` and the value's position.

    >>> parse_bits("1, 0 1", "x").tolist(), parse_bits("-1 +1", "x").tolist()
    ([1, 0, 1], [0, 1])
    """
    tokens = [t for t in _SEP.split(text.strip()) if t]
    if len(tokens) == 1 and re.fullmatch(r"[01]+", tokens[0]):
        tokens = list(tokens[0])  # a run of digits with no separators
    tokens = [t[1:] if t.startswith("+") else t for t in tokens]
    bad = [i for i, t in enumerate(tokens) if t not in ("0", "1", "-1")]
    if bad:
        i = bad[0]
        raise DataError(
            f"{what}: values must be 0 or 1, found {tokens[i]!r} "
            f"(value {i + 1} is {tokens[i]!r}; a whole file of -1/+1 is accepted too)"
        )
    if "-1" in tokens and "0" in tokens:
        i, j = tokens.index("0"), tokens.index("-1")
        raise DataError(f"{what}: mixes 0 (value {i + 1}) and -1 (value {j + 1}); use 0/1 or -1/+1 throughout")
    return np.array([t == "1" for t in tokens], dtype=np.uint8)


def read_bits(spec: str, n: int | None = None) -> np.ndarray:
    """An input bit vector from a file path or a literal bit string.

    >>> read_bits("0101").tolist()
    [0, 1, 0, 1]
    >>> read_bits("-1 1 1 -1").tolist()
    [0, 1, 1, 0]
    """
    if not spec:
        raise DataError("input: empty (give a file or a bit string of 0s and 1s)")
    if spec.lower().endswith(".npy") and is_existing_file(spec):
        return read_npy_input(spec, n)
    looks_literal = bool(re.fullmatch(r"[01]+|[-+01 ,]+", spec)) and not is_existing_file(spec)
    if not looks_literal:
        if not is_existing_file(spec):
            raise DataError(f"input {spec!r}: no such file, and not a bit string of 0s and 1s")
        bits = parse_bits(read_text(spec, "input file"), f"input file {spec}")
    else:
        bits = parse_bits(spec, "input bit string")
    if bits.size == 0:
        raise DataError(f"input {spec!r}: holds no bits")
    if n is not None and bits.shape[0] != n:
        raise DataError(f"input {spec!r}: has {bits.shape[0]} bits, the model expects {n}")
    return bits


def _image_features(path: str, net: BNN) -> np.ndarray:
    """The features of an image file, laid out as the model declares (``input_shape``/``input_layout``)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("1", "L", "P", "I;16", "I"):
                a = np.asarray(im.convert("L") if mode in ("1", "P") else im, dtype=np.int64)
            elif mode in ("RGB", "RGBA", "LA"):
                a = np.asarray(im.convert("RGB"), dtype=np.int64)
            else:
                raise DataError(f"input {path!r}: image mode {mode!r} is neither grey nor RGB")
    except (OSError, UnidentifiedImageError) as e:
        raise DataError(f"input {path!r}: cannot be read as an image ({e})") from None
    spec = net.inputs
    shape, layout = spec.shape, spec.layout
    if a.ndim == 3 and layout == "CHW":
        a = a.transpose(2, 0, 1)
    if shape is not None and a.shape != tuple(shape):
        if a.ndim == 2 and len(shape) == 3 and 1 in (shape[0], shape[-1]) and a.size == int(np.prod(shape)):
            a = a.reshape(shape)
        else:
            raise DataError(f"input {path!r}: image of shape {a.shape}, the model expects {tuple(shape)}"
                            + (f" ({layout})" if layout else ""))
    return a.reshape(-1)


def read_features(spec: str, net: BNN) -> np.ndarray:
    """Integer features for a model over integers: an image file (PNG, ...), a ``.npy`` array
    (any shape holding ``n`` values), a text file or a literal list of integers (``"3,0,255"``).

    Values are checked against the model's declared ranges (errors name the feature).
    """
    from bnnverify.errors import ModelError

    n = net.n_inputs
    low = spec.lower()
    if low.endswith(IMAGE_SUFFIXES):
        if not is_existing_file(spec):
            raise DataError(f"input {spec!r}: no such file")
        values = _image_features(spec, net)
    elif low.endswith(".npy"):
        if not is_existing_file(spec):
            raise DataError(f"input {spec!r}: no such file")
        values = read_npy_input(spec, n)
    else:
        text = read_text(spec, "input file") if is_existing_file(spec) else spec
        tokens = [t for t in _SEP.split(text.strip()) if t]
        try:
            values = np.array([int(t) for t in tokens], dtype=np.int64)
        except ValueError:
            bad = next(t for t in tokens if not re.fullmatch(r"[-+]?\d+", t))
            raise DataError(f"input {spec!r}: {bad!r} is not an integer feature value") from None
        if values.shape[0] != n:
            raise DataError(f"input {spec!r}: has {values.shape[0]} values, the model expects {n}")
    try:
        return np.asarray(net.inputs.check(values, f"input {spec!r}"), dtype=np.int64)
    except ModelError as e:
        raise DataError(str(e)) from None


def read_input(spec: str, net: BNN) -> np.ndarray:
    """The centre input as the model reads it: bits, or integer features (:func:`read_features`)."""
    return read_features(spec, net) if net.inputs is not None else read_bits(spec, net.n_inputs)


def image_of(net: BNN, x: np.ndarray) -> np.ndarray:
    """Features as an image array (H, W) or (H, W, C) for drawing, from the model's declared layout."""
    spec = net.inputs
    a = np.asarray(x)
    if spec is None or spec.shape is None:
        side = int(round(np.sqrt(a.size)))
        return a.reshape(side, side) if side * side == a.size else a.reshape(1, -1)
    img = a.reshape(spec.shape)
    if spec.layout == "CHW":
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img

def read_npy_input(path: str, n: int | None = None) -> np.ndarray:
    """One input from a ``.npy`` array (no pickle): the graph input's shape, a batch dimension of 1
    optional, its values (0/1 bits, or integer features such as 0..255 pixels) in flattened C order.
    The values are checked against the model when it reads them (bits, or each feature's range)."""
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"input {path!r}: not a readable .npy array ({e})") from None
    if a.dtype.kind not in "biuf":
        raise DataError(f"input {path!r}: dtype {a.dtype} is not numeric")
    if a.ndim >= 2 and a.shape[0] != 1 and n is not None and a.size != n:
        raise DataError(f"input {path!r}: shape {a.shape} holds {a.shape[0]} inputs; give one (batch 1 or none)")
    flat = a.reshape(-1)
    if a.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if bad.size:
            raise DataError(f"input {path!r}: value {int(bad[0])} (C order) is {flat[bad[0]]}, not an integer")
    if n is not None and flat.size != n:
        raise DataError(f"input {path!r}: shape {a.shape} holds {flat.size} values, the model expects {n}")
    return flat.astype(np.int64)


def read_indices(path: str, n: int) -> np.ndarray:
    """Input positions listed in a file (spaces, commas or newlines), each in 0..n-1."""
    tokens = [t for t in _SEP.split(read_text(path, "index file").strip()) if t]
    try:
        idx = np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise DataError(f"index file {path}: {bad!r} is not an integer index") from None
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise DataError(f"index file {path}: index {int(bad)} is outside 0..{n - 1}")
    if len(set(idx.tolist())) != idx.size:
        raise DataError(f"index file {path}: lists an index twice")
    return idx


def make_region(
    net: BNN,
    *,
    whole: bool = False,
    center: np.ndarray | None = None,
    hamming: int | None = None,
    mutable: np.ndarray | None = None,
    linf: int | None = None,
    free: np.ndarray | None = None,
    l0: int | None = None,
) -> Region:
    """The region a command's options describe (exactly one kind must be chosen).

    ``free`` (positions that may change, all others fixed to ``center``)
    gives a :class:`Cube`; ``mutable`` restricts a Hamming ball's flips.
    For a model over integer features: the whole box of declared ranges, an
    L∞ ball (``linf``; ``free``/``mutable`` mask the features that move) or an
    L0 ball (``l0``, within ``linf`` when both are given).
    """
    n = net.n_inputs
    if net.inputs is not None:
        return _pixel_region(net, whole=whole, center=center, hamming=hamming, mutable=mutable, linf=linf,
                             free=free, l0=l0)
    if l0 is not None:
        raise RegionError("an L0 ball is over integer features; this model reads bits (use a Hamming ball)",
                          param="l0")
    chosen = [k for k, v in (("whole", whole), ("hamming", hamming is not None), ("linf", linf is not None)) if v]
    if free is not None and hamming is None:
        chosen.append("free")
    if len(chosen) != 1:
        raise RegionError(
            "choose exactly one region: the whole space, a Hamming ball, an L-inf box or a set of free bits"
            + (f" (got {', '.join(chosen)})" if chosen else ""), param="region"
        )
    if whole:
        return Whole(n)
    if center is None:
        raise RegionError(f"a {chosen[0]} region needs a centre input", param="centre")
    if center.shape[0] != n:
        raise RegionError(f"centre input has {center.shape[0]} bits, the model expects {n}")
    if hamming is not None:
        if hamming < 0 or hamming > n:
            raise RegionError(f"radius must be between 0 and {n}, got {hamming}", param="hamming")
        mask = None
        sel = mutable if mutable is not None else free
        if sel is not None:
            mask = np.zeros(n, dtype=bool)
            mask[sel] = True
        return HammingBall(center, hamming, mask)
    if linf is not None:
        if net.thermometer_levels is None:
            raise RegionError("an L-inf box needs a model with thermometer_levels (thermometer-encoded inputs)", param="linf")
        if linf < 0:
            raise RegionError(f"eps must be >= 0, got {linf}", param="linf")
        return LinfBox(center, linf, net.thermometer_levels)
    return Cube.from_free(center, free)


def _pixel_region(net: BNN, *, whole, center, hamming, mutable, linf, free, l0) -> object:
    from bnnverify.encoders.pixel_regions import IntBox, l0_ball, linf_box

    lo, hi = net.inputs.lo, net.inputs.hi
    n = net.n_inputs
    if hamming is not None:
        raise RegionError("the model reads integer features (pixels): use --linf EPS or --l0 K, not a Hamming ball",
                          param="hamming")
    chosen = [k for k, v in (("whole", whole), ("linf", linf is not None and l0 is None), ("l0", l0 is not None)) if v]
    if len(chosen) != 1:
        raise RegionError(
            "choose exactly one region over the integer features: the whole box (--region whole), an L-inf ball "
            "(--linf EPS) or an L0 ball (--l0 K, optionally with --linf EPS)"
            + (f" (got {', '.join(chosen)})" if chosen else ""), param="pixel_region")
    if whole:
        return IntBox(lo, hi)
    if center is None:
        raise RegionError(f"an {chosen[0]} region needs a centre input", param="centre")
    sel = mutable if mutable is not None else free
    mask = None
    if sel is not None:
        mask = np.zeros(n, dtype=bool)
        mask[sel] = True
    if l0 is not None:
        if l0 < 0 or l0 > n:
            raise RegionError(f"k must be between 0 and {n}, got {l0}", param="l0")
        if linf is not None and linf < 0:
            raise RegionError(f"eps must be >= 0, got {linf}", param="linf")
        return l0_ball(center, l0, lo, hi, eps=linf, mask=mask)
    if linf < 0:
        raise RegionError(f"eps must be >= 0, got {linf}", param="linf")
    return linf_box(center, linf, lo, hi, mask)
