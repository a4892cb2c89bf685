"""BNNQuanalyst models (CSV folders) and its instance, fixed-set, target and query files.

A BNNQuanalyst model is a folder ``<name>/`` holding internal blocks
``blk1, blk2, …`` and an output block ``out_blk``::

    blk<i>/lin_weight.csv   ±1, one row per neuron (m_i × n_i)
    blk<i>/lin_bias.csv, bn_weight.csv, bn_bias.csv, bn_mean.csv, bn_var.csv   (m_i values)
    out_blk/lin_weight.csv  ±1 (classes × m_last),  out_blk/lin_bias.csv (classes)

Neuron j of block i fires (+1) iff, with ``d = W_j · s(x)`` the integer dot,
``bn_weight·(d + lin_bias − bn_mean)/sqrt(bn_var) + bn_bias ≥ 0`` (the tool's
own rule: no epsilon unless ``bn_eps`` is given). The output class is the
smallest argmax of ``W_out · s(x) + b_out``.

:func:`import_bnnquanalyst` folds every neuron into an integer threshold
*exactly*: the CSV's float64 values are taken as exact rationals
(:class:`fractions.Fraction`), the square root is never evaluated (the
predicate is decided by comparing squares with signs), and the threshold is
found by bisection over the integers with that exact predicate. A negative
``bn_weight`` flips the row (weights ``−W``) and the threshold so that the
predicate is preserved, equality included; ``bn_weight == 0`` gives a constant
neuron.

>>> fold_neuron(4, lin_bias=0.0, bn_weight=1.0, bn_bias=0.0, bn_mean=1.0, bn_var=4.0)
FoldedNeuron(flip=False, threshold=1, boundary=1.0)
>>> fold_neuron(4, lin_bias=0.0, bn_weight=-1.0, bn_bias=0.0, bn_mean=1.0, bn_var=4.0)
FoldedNeuron(flip=True, threshold=-1, boundary=1.0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Union

import numpy as np

from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

from bnnverify.errors import DataError, ModelError, ModelFileError
from bnnverify.model.folding import NeuronFractions, exact_fraction
from bnnverify.files.textfile import read_text
from bnnverify.files.inputs import parse_bits
from bnnverify.model.folding import fold_neuron as fold_exact

__all__ = [
    "SOURCE",
    "BLOCK_FILES",
    "OUTPUT_FILES",
    "FoldedNeuron",
    "FoldMargin",
    "ImportResult",
    "fold_neuron",
    "import_bnnquanalyst",
    "import_bnnquanalyst_report",
    "read_instance",
    "read_fixed_set",
    "read_targets",
    "QueryKind",
    "RegionKind",
    "Query",
    "parse_queries",
]

#: ``metadata["source"]`` of an imported model.
SOURCE = "bnnquanalyst"
#: The CSV files (without ``.csv``) of one internal block, in reading order.
BLOCK_FILES = ("lin_weight", "lin_bias", "bn_weight", "bn_bias", "bn_mean", "bn_var")
#: The CSV files of the output block.
OUTPUT_FILES = ("lin_weight", "lin_bias")
#: Name of the output block's folder.
OUTPUT_BLOCK = "out_blk"
_BLOCK_DIR = re.compile(r"^blk(\d+)$")
#: Decimal digits used only to *report* a real boundary (never to decide a threshold).
_REPORT_DIGITS = 60

Number = Union[float, int, Fraction]


# --------------------------------------------------------------------------- folding


@dataclass(frozen=True)
class FoldedNeuron:
    """One neuron folded into ``[(±W) · s(x) ≥ threshold]``.

    ``flip`` says the row is negated (negative ``bn_weight``); ``boundary``
    is the real ``r`` at which the predicate changes as a function of the
    un-negated dot ``d`` (``d ≥ r`` when not flipped, ``d ≤ r`` when
    flipped), rounded to float for reporting; ``None`` for a constant neuron
    (``bn_weight == 0``).
    """

    flip: bool
    threshold: int
    boundary: float | None

    def margin(self) -> float | None:
        """Distance of the real boundary to the nearest integer (``None`` if constant)."""
        if self.boundary is None:
            return None
        return abs(self.boundary - round(self.boundary))


def _boundary(g: Fraction, shift: Fraction, beta: Fraction, v: Fraction) -> float:
    """The real r with ``g·(r + shift)/sqrt(v) + beta = 0``, for reporting only."""
    with localcontext() as ctx:
        ctx.prec = _REPORT_DIGITS

        def dec(q: Fraction) -> Decimal:
            return Decimal(q.numerator) / Decimal(q.denominator)

        r = -dec(shift) - dec(beta) * dec(v).sqrt() / dec(g)
        return float(r)


def fold_neuron(
    n: int,
    *,
    lin_bias: Number,
    bn_weight: Number,
    bn_bias: Number,
    bn_mean: Number,
    bn_var: Number,
    bn_eps: Number = 0,
) -> FoldedNeuron:
    """Fold one neuron over ``n`` inputs into an exact integer threshold.

    The predicate over the integer dot ``d`` is
    ``bn_weight·(d + lin_bias − bn_mean)/sqrt(bn_var + bn_eps) + bn_bias ≥ 0``
    (floats are taken as the exact rationals they denote). The threshold is
    clamped to ``[−n−1, n+1]``: ``−n−1`` (or any value ≤ −n) means always on,
    ``n+1`` never on. For ``bn_weight > 0``: fires iff ``d ≥ threshold``; for
    ``bn_weight < 0``: fires iff ``−d ≥ threshold`` (``flip=True``); for
    ``bn_weight == 0``: constant, on iff ``bn_bias ≥ 0``.

    >>> fold_neuron(3, lin_bias=0.5, bn_weight=2.0, bn_bias=-1.0, bn_mean=0.0, bn_var=1.0)
    FoldedNeuron(flip=False, threshold=0, boundary=0.0)
    >>> fold_neuron(3, lin_bias=0.0, bn_weight=0.0, bn_bias=-1.0, bn_mean=0.0, bn_var=1.0).threshold
    4
    """
    if n < 0:
        raise ModelError(f"n: must be >= 0, got {n}")
    g = exact_fraction(bn_weight, "bn_weight")
    beta = exact_fraction(bn_bias, "bn_bias")
    shift = exact_fraction(lin_bias, "lin_bias") - exact_fraction(bn_mean, "bn_mean")
    v = exact_fraction(bn_var, "bn_var") + exact_fraction(bn_eps, "bn_eps")
    if v <= 0:
        raise ModelError(f"bn_var + bn_eps: must be > 0, got {float(v)!r}")
    # g·(d + shift)/sqrt(v) + beta >= 0  <=>  g·(1·d − (−shift)) + beta·sqrt(v) >= 0 (sqrt(v) > 0)
    orient, theta, _ = fold_exact(NeuronFractions(g, Fraction(1), -shift, beta, v), n)
    return FoldedNeuron(orient < 0, theta, None if g == 0 else _boundary(g, shift, beta, v))


# --------------------------------------------------------------------------- CSV files


def _read_csv(path: Path) -> np.ndarray:
    """A CSV file of numbers as a 2-D float64 array (rows × columns)."""
    if not path.is_file():
        raise ModelFileError(f"{path}: missing (every block needs this CSV file)")
    text = read_text(path, "CSV file", ModelFileError)
    rows: list[list[float]] = []
    for r, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = []
        for c, tok in enumerate(line.split(","), 1):
            try:
                v = float(tok)
            except ValueError:
                raise ModelFileError(f"{path}: row {r}, column {c}: {tok.strip()!r} is not a number") from None
            if not math.isfinite(v):
                raise ModelFileError(f"{path}: row {r}, column {c}: {tok.strip()!r} is not finite")
            row.append(v)
        if rows and len(row) != len(rows[0]):
            raise ModelFileError(f"{path}: row {r} has {len(row)} values, row 1 has {len(rows[0])}")
        rows.append(row)
    if not rows:
        raise ModelFileError(f"{path}: is empty")
    return np.array(rows, dtype=np.float64)


def _read_weights(path: Path) -> np.ndarray:
    a = _read_csv(path)
    bad = (a != 1.0) & (a != -1.0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ModelFileError(
            f"{path}: weights must be exactly +1 or -1; row {r + 1}, column {c + 1} is {float(a[r, c])!r}"
        )
    return a.astype(np.int8)


def _read_vector(path: Path, m: int, weights: Path) -> np.ndarray:
    a = _read_csv(path)
    if 1 not in a.shape:
        raise ModelFileError(f"{path}: expected one row (or one column) of values, got shape {a.shape}")
    v = a.reshape(-1)
    if v.size != m:
        raise ModelFileError(f"{path}: has {v.size} values but {weights.name} has {m} rows (neurons)")
    return v


@dataclass(frozen=True)
class FoldMargin:
    """Where the folding is most fragile: neuron ``neuron`` of hidden layer ``layer`` (0-based).

    ``boundary`` is the real boundary ``r`` of the un-negated dot and
    ``margin = |r − round(r)|``: 0 means the tool's ``≥`` is decided by an
    exact equality at an integer dot.
    """

    layer: int
    neuron: int
    boundary: float
    margin: float


@dataclass(frozen=True)
class ImportResult:
    """An imported model with what the folding found.

    ``margin`` is the smallest :class:`FoldMargin` over the neurons whose
    boundary lies in ``[−n−1, n+1]`` (``None`` if there is none);
    ``constant`` counts the neurons that are always on or always off over
    ``d ∈ [−n, n]``, ``flipped`` those with a negative ``bn_weight``.
    """

    net: BNN
    margin: FoldMargin | None
    constant: int
    flipped: int
    folded: tuple[tuple[FoldedNeuron, ...], ...] = field(repr=False)


def _block_dirs(root: Path) -> list[Path]:
    found = {}
    for p in root.iterdir():
        m = _BLOCK_DIR.match(p.name)
        if m and p.is_dir():
            found[int(m.group(1))] = p
    if not found:
        return []
    want = list(range(1, max(found) + 1))
    missing = [i for i in want if i not in found]
    if missing:
        raise ModelFileError(f"{root}: blocks must be numbered blk1..blk{max(found)}; blk{missing[0]} is missing")
    return [found[i] for i in want]


def import_bnnquanalyst_report(directory: "str | Path", *, bn_eps: float = 0.0) -> ImportResult:
    """Import a BNNQuanalyst model folder; the :class:`BNN` with folding diagnostics."""
    root = Path(directory)
    if not root.is_dir():
        raise ModelFileError(f"{root}: not a BNNQuanalyst model folder (no such directory)")
    eps = float(bn_eps)
    if not math.isfinite(eps) or eps < 0:
        raise ModelError(f"bn_eps: must be a finite number >= 0, got {bn_eps!r}")
    name = root.name or root.resolve().name
    hidden: list[ThresholdLayer] = []
    folded_all: list[tuple[FoldedNeuron, ...]] = []
    best: FoldMargin | None = None
    constant = flipped = 0
    n_prev: int | None = None
    prev_where = ""
    for li, bdir in enumerate(_block_dirs(root)):
        wpath = bdir / "lin_weight.csv"
        w = _read_weights(wpath)
        m, n = w.shape
        if n_prev is not None and n != n_prev:
            raise ModelFileError(f"{wpath}: has {n} columns but {prev_where} has {n_prev} rows (shapes must chain)")
        vec = {k: _read_vector(bdir / f"{k}.csv", m, wpath) for k in BLOCK_FILES[1:]}
        bad = np.flatnonzero(~(vec["bn_var"] + eps > 0))
        if bad.size:
            j = int(bad[0])
            raise ModelFileError(
                f"{bdir / 'bn_var.csv'}: variance must be > 0 (with bn_eps={eps!r}); entry {j + 1} is {float(vec['bn_var'][j])!r}"
            )
        rows = w.copy()
        theta = np.empty(m, dtype=np.int64)
        folded = []
        for j in range(m):
            f = fold_neuron(
                n,
                lin_bias=vec["lin_bias"][j],
                bn_weight=vec["bn_weight"][j],
                bn_bias=vec["bn_bias"][j],
                bn_mean=vec["bn_mean"][j],
                bn_var=vec["bn_var"][j],
                bn_eps=eps,
            )
            folded.append(f)
            if f.flip:
                rows[j] = -rows[j]
                flipped += 1
            theta[j] = f.threshold
            if f.threshold <= -n or f.threshold > n:
                constant += 1
            if f.boundary is not None and abs(f.boundary) <= n + 1:
                mg = f.margin()
                assert mg is not None
                if best is None or mg < best.margin:
                    best = FoldMargin(li, j, f.boundary, mg)
        hidden.append(ThresholdLayer(rows, theta, name=f"layer{li}"))
        folded_all.append(tuple(folded))
        n_prev, prev_where = m, str(wpath)
    odir = root / OUTPUT_BLOCK
    wpath = odir / "lin_weight.csv"
    w = _read_weights(wpath)
    c, n = w.shape
    if n_prev is not None and n != n_prev:
        raise ModelFileError(f"{wpath}: has {n} columns but {prev_where} has {n_prev} rows (shapes must chain)")
    b = _read_vector(odir / "lin_bias.csv", c, wpath)
    out = ArgmaxLayer(w, np.ones(c, dtype=np.float64), b.astype(np.float64), name="output")
    meta = {"source": SOURCE, "name": name, "bn_eps": repr(eps)}
    net = BNN(tuple(hidden), out, metadata=meta)
    return ImportResult(net, best, constant, flipped, tuple(folded_all))


def import_bnnquanalyst(directory: "str | Path", *, bn_eps: float = 0.0) -> BNN:
    """Import a BNNQuanalyst model folder as an exactly folded :class:`BNN`.

    Raises :class:`~bnnverify.errors.ModelFileError` naming the file (and
    row/column/value) when a CSV is missing, not numeric, a weight is not
    ±1, shapes do not chain, or a variance is not positive.
    """
    return import_bnnquanalyst_report(directory, bn_eps=bn_eps).net


# --------------------------------------------------------------------------- input files

_SEP = re.compile(r"[\s,;]+")
_INSTANCE_NAME = re.compile(r"^instance_(.+)_(\d+)\.txt$")


def _tokens(path: Path, what: str) -> list[str]:
    return [t for t in _SEP.split(read_text(path, what).strip()) if t]


def read_instance(path: "str | Path", n: int | None = None) -> np.ndarray:
    """An input (``instance_<id>_<n>.txt``) as uint8 bits (1 = +1, 0 = −1).

    Values are separated by spaces (or commas/newlines) and written either
    0/1 (0 means −1) or ±1 (some shipped files, e.g. ``instance_0_400.txt``,
    use −1/1); a file mixing 0 and −1 is rejected. The width is checked
    against ``n`` if given, and against the ``<n>`` of the file name when it
    follows that pattern.
    """
    path = Path(path)
    bits = parse_bits(" ".join(_tokens(path, "instance file")), f"instance file {path}")
    if not bits.size:
        raise DataError(f"instance file {path}: holds no values")
    m = _INSTANCE_NAME.match(path.name)
    if m and int(m.group(2)) != bits.size:
        raise DataError(f"instance file {path}: holds {bits.size} values but its name says {m.group(2)}")
    if n is not None and bits.size != n:
        raise DataError(f"instance file {path}: holds {bits.size} values, expected {n}")
    return bits


def _read_ints(path: Path, what: str, bound: int | None, bound_name: str) -> list[int]:
    toks = _tokens(path, what)
    out = []
    for i, t in enumerate(toks):
        if not t.isdigit():
            raise DataError(f"{what} {path}: entry {i + 1} is {t!r}, expected a non-negative integer")
        v = int(t)
        if bound is not None and v >= bound:
            raise DataError(f"{what} {path}: entry {i + 1} is {v}, outside 0..{bound - 1} ({bound_name})")
        out.append(v)
    if len(set(out)) != len(out):
        dup = next(v for v in out if out.count(v) > 1)
        raise DataError(f"{what} {path}: lists {dup} twice")
    return out


def read_fixed_set(path: "str | Path", n: int | None = None) -> np.ndarray:
    """The input positions that may change (BNNQuanalyst fixed-set files) as int64, in file order."""
    return np.array(_read_ints(Path(path), "fixed-set file", n, "input width"), dtype=np.int64)


def read_targets(path: "str | Path", n_classes: int | None = None) -> list[int]:
    """The target classes of a target file (``target_*_class.txt``, ``single_target_<c>.txt``)."""
    return _read_ints(Path(path), "target file", n_classes, "classes")


# --------------------------------------------------------------------------- query files


class QueryKind(str, Enum):
    """The query kinds of BNNQuanalyst's query files (compare equal to their names)."""

    TARGET_ROBUSTNESS = "target_robustness"
    EF_EXPLAIN = "EF_explain"
    PI_EXPLAIN = "PI_explain"
    COMPUTE_SD = "compute_SD"


class RegionKind(str, Enum):
    """How a query's input region is given."""

    HAMMING = "hamming"
    SET = "set"


@dataclass(frozen=True)
class Query:
    """One query of a BNNQuanalyst query file.

    ``region`` is ``hamming`` (``hamming`` = distance) or ``set``
    (``fixed_set`` = the fixed-set file's name, without ``.txt``); ``targets``
    names the target file (``None`` for ``compute_SD``); ``cover_count`` is
    PI_explain's number of covers, ``tolerance`` compute_SD's tolerance.
    Names are resolved against a benchmark folder (holding ``models/`` and
    ``inputs/``) with the ``*_path`` methods.
    """

    kind: QueryKind
    model: str
    instance: str
    region: RegionKind
    hamming: int | None = None
    fixed_set: str | None = None
    targets: str | None = None
    cover_count: int | None = None
    tolerance: float | None = None
    line: int = field(default=0, compare=False)

    def model_path(self, root: "str | Path") -> Path:
        return Path(root) / "models" / self.model

    def instance_path(self, root: "str | Path") -> Path:
        return Path(root) / "inputs" / f"{self.instance}.txt"

    def fixed_set_path(self, root: "str | Path") -> Path | None:
        return None if self.fixed_set is None else Path(root) / "inputs" / f"{self.fixed_set}.txt"

    def targets_path(self, root: "str | Path") -> Path | None:
        return None if self.targets is None else Path(root) / "inputs" / f"{self.targets}.txt"


_STATEMENT = re.compile(r"(\w+)\s*:\s*<([^<>;]*)>\s*;")
_FIELDS = {
    QueryKind.TARGET_ROBUSTNESS: 5,
    QueryKind.EF_EXPLAIN: 5,
    QueryKind.PI_EXPLAIN: 6,
    QueryKind.COMPUTE_SD: 4,
}


def _nonneg_int(tok: str, where: str, what: str) -> int:
    if not tok.isdigit():
        raise DataError(f"{where}: {what} must be a non-negative integer, got {tok!r}")
    return int(tok)


def _make_query(kind_s: str, args: list[str], where: str, line: int) -> Query:
    try:
        kind = QueryKind(kind_s)
    except ValueError:
        known = ", ".join(k.value for k in QueryKind)
        raise DataError(f"{where}: unknown query kind {kind_s!r} (known: {known})") from None
    if len(args) != _FIELDS[kind] or any(not a for a in args):
        raise DataError(f"{where}: {kind.value} needs {_FIELDS[kind]} non-empty fields, got {len(args)}: {args}")
    model, instance = args[0], args[1]
    if kind is QueryKind.COMPUTE_SD:
        k = _nonneg_int(args[2], where, "hamming distance")
        try:
            tol = float(args[3])
        except ValueError:
            raise DataError(f"{where}: tolerance must be a number, got {args[3]!r}") from None
        if not (math.isfinite(tol) and tol >= 0):
            raise DataError(f"{where}: tolerance must be >= 0, got {args[3]!r}")
        return Query(kind, model, instance, RegionKind.HAMMING, hamming=k, tolerance=tol, line=line)
    try:
        region = RegionKind(args[2])
    except ValueError:
        raise DataError(f"{where}: region must be 'hamming' or 'set', got {args[2]!r}") from None
    hamming = _nonneg_int(args[3], where, "hamming distance") if region is RegionKind.HAMMING else None
    fixed = args[3] if region is RegionKind.SET else None
    cover = _nonneg_int(args[5], where, "cover count") if kind is QueryKind.PI_EXPLAIN else None
    return Query(kind, model, instance, region, hamming=hamming, fixed_set=fixed, targets=args[4],
                 cover_count=cover, line=line)


def parse_queries(path: "str | Path") -> list[Query]:
    """The queries of a BNNQuanalyst query file, in order.

    Each statement is ``kind: <field, field, …>;``; ``#`` starts a comment
    to the end of the line. Anything else raises :class:`DataError` naming
    the file and line.
    """
    path = Path(path)
    lines = read_text(path, "query file").splitlines()
    text = "\n".join(line.split("#", 1)[0] for line in lines)
    queries = []
    pos = 0
    for m in _STATEMENT.finditer(text):
        gap = text[pos : m.start()]
        if gap.strip():
            ln = text.count("\n", 0, pos + len(gap) - len(gap.lstrip())) + 1
            raise DataError(f"query file {path}, line {ln}: cannot parse {gap.strip().splitlines()[0]!r}")
        line = text.count("\n", 0, m.start()) + 1
        args = [a.strip() for a in m.group(2).split(",")]
        queries.append(_make_query(m.group(1), args, f"query file {path}, line {line}", line))
        pos = m.end()
    rest = text[pos:]
    if rest.strip():
        ln = text.count("\n", 0, pos + len(rest) - len(rest.lstrip())) + 1
        raise DataError(f"query file {path}, line {ln}: cannot parse {rest.strip().splitlines()[0]!r}")
    return queries
