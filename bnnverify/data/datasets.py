"""Data sets for training and measuring BNNs: bit-vector inputs, integer labels.

Every data set is a :class:`Dataset` of 0/1 rows ``X`` (uint8, bit 1 = +1,
bit 0 = -1) and labels ``y`` (int64, ``0 <= y < n_classes``). Built-in sets
are generated or loaded deterministically (no file is shipped, no network):

``ib12`` (alias ``ib``)
    All 4096 inputs of 12 bits, in the spirit of Shwartz-Ziv & Tishby's
    synthetic task. Bit ``i`` sits on vertex ``p_i`` of a regular icosahedron
    (unit vectors; vertex list in :data:`ICOSAHEDRON`). With ``s(b) = 2b - 1``,

        f(x) = sum_{i<j} s(x_i) s(x_j) g(p_i . p_j),
        g(t) = round(sqrt(5) * t)

    i.e. ``g = +1`` for adjacent vertices (``p_i . p_j = 1/sqrt5``), ``-1`` for
    non-adjacent, non-antipodal ones (``-1/sqrt5``) and ``-2`` for antipodal
    ones (``-1``). ``f`` is an integer; the label is ``y = [f(x) >= 0]``
    (θ = 0; a tie ``f = 0`` is positive). 2036 of the 4096 inputs (49.7 %)
    are positive. ``f`` only depends on the angles between vertices, so the
    label is invariant under every symmetry of the icosahedron (rotations and
    reflections permute the bits). This is a stand-in, not the paper's data:
    until issue 13 the alias ``tishby12`` pointed here; it now names ``var_u``.

``var_u`` (alias ``tishby12``)
    The synthetic task of Shwartz-Ziv & Tishby (2017) (their ``var_u.mat``,
    also used by Lorenzen, Igel & Nielsen, ICLR 2022), generated exactly:
    all 4096 inputs of 12 bits in binary-counting order — input bit 0 is the
    *most* significant bit of the row index (row ``r`` holds bit
    ``(r >> (11 - i)) & 1`` at position i, unlike ``ib12``). With ``k`` the
    number of set bits and ``e1, e2, e3`` the numbers of near, far and
    antipodal pairs among the set bits (pairs in :data:`VAR_U_NEAR`,
    :data:`VAR_U_ANTIPODAL`, every other pair far), the label is
    ``y = [23 k + e1 - 5 e2 - 8 e3 >= 99]``: 2118 positives,
    ``H(Y) = 0.99916`` bits.

``digits`` (aliases ``digits8x8``, ``sklearn-digits``)
    scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes,
    pixels 0..16), binarized: bit = ``[pixel >= 8]``; 64 bits.

``digits17`` (aliases ``digits-pixels``, ``digits-grey``)
    The same images at their native 17 grey levels: 64 *integer features*
    ``p in 0..16`` (pixel f in row-major order of the 8x8 image), not bits —
    the data of networks whose first layer reads integers (``bnnverify train
    --input-layer quantize|integer``). ``feature_range = (0, 16)``,
    ``image_shape = (8, 8)``.

``digits-thermo<L>`` (e.g. ``digits-thermo3``, 1 <= L <= 16)
    The same images with each pixel ``p`` quantized to the level
    ``l = floor((p*L + 8) / 16)`` (``p*L/16`` rounded half up, so
    ``l in 0..L``; L = 1 is the binarization above) and written as the
    thermometer code ``1^l 0^(L-l)``: feature ``f`` (pixel ``f`` in row-major
    order) is bits ``[f*L, (f+1)*L)``; ``n = 64*L``, ``thermometer_levels = L``.

Splits: ``"train"`` and ``"test"`` are a fixed stratified 80/20 split (per
class, a permutation by ``numpy.random.default_rng(SPLIT_SEED)``; the first
``round(0.2 * class size)`` go to test); ``"all"`` is every example in the
original order.

>>> ds = load_dataset("ib12", "all")
>>> ds.X.shape, int(ds.y.sum()), ds.n_classes
((4096, 12), 2036, 2)
>>> int(load_dataset("tishby12", "all").y.sum())
2118
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from bnnverify.errors import DataError

__all__ = [
    "Dataset",
    "DATASETS",
    "ALIASES",
    "SPLITS",
    "load_dataset",
    "load_data_file",
    "dataset_names",
    "ib12_scores",
    "var_u_scores",
    "VAR_U_NEAR",
    "VAR_U_ANTIPODAL",
    "ICOSAHEDRON",
    "INTEGER_DATASETS",
    "thermometer_encode",
]

#: Valid ``split`` arguments.
SPLITS = ("train", "test", "all")
#: Seed of the fixed stratified train/test split.
SPLIT_SEED = 20240607
#: Fraction of each class that goes to the test split.
TEST_FRACTION = 0.2
#: Digits: pixel values run 0..DIGITS_MAX.
DIGITS_MAX = 16
#: Digits: binarization ``bit = [pixel >= DIGITS_BINARY_CUT]``.
DIGITS_BINARY_CUT = 8
#: Largest thermometer level count accepted for ``digits-thermo<L>``.
MAX_THERMO_LEVELS = DIGITS_MAX
#: ib12: threshold θ of ``y = [f(x) >= θ]``.
IB12_THETA = 0
IB12_BITS = 12
#: var_u: ``y = [VAR_U_K * k + VAR_U_NEAR_W * e1 + VAR_U_FAR_W * e2 + VAR_U_ANTI_W * e3 >= VAR_U_THETA]``
#: (the coefficients of Shwartz-Ziv & Tishby's generator, as given in issue 13).
VAR_U_K, VAR_U_NEAR_W, VAR_U_FAR_W, VAR_U_ANTI_W, VAR_U_THETA = 23, 1, -5, -8, 99
VAR_U_BITS = 12
#: var_u: the 30 near pairs (neighbours on the icosahedron of Shwartz-Ziv & Tishby's task).
VAR_U_NEAR: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 3), (0, 5), (0, 10), (0, 11), (1, 2), (1, 3), (1, 4), (1, 11), (2, 3),
    (2, 4), (2, 8), (2, 9), (3, 8), (3, 10), (4, 6), (4, 9), (4, 11), (5, 6), (5, 7),
    (5, 10), (5, 11), (6, 7), (6, 9), (6, 11), (7, 8), (7, 9), (7, 10), (8, 9), (8, 10),
)
#: var_u: the 6 antipodal pairs; the remaining 30 pairs are far.
VAR_U_ANTIPODAL: tuple[tuple[int, int], ...] = ((0, 9), (1, 7), (2, 5), (3, 6), (4, 10), (8, 11))

_PHI = (1.0 + 5.0**0.5) / 2.0


def _icosahedron() -> np.ndarray:
    verts = []
    for a in (1.0, -1.0):
        for b in (1.0, -1.0):
            verts += [(0.0, a, b * _PHI), (a, b * _PHI, 0.0), (b * _PHI, 0.0, a)]
    v = np.array(verts, dtype=np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v.setflags(write=False)
    return v


#: The 12 unit vertices ``p_i`` of the regular icosahedron (bit i sits on row i).
ICOSAHEDRON = _icosahedron()


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set: (N, n) uint8 0/1 rows, (N,) int64 labels in ``0..n_classes-1``.

    ``thermometer_levels`` (L) says the rows are ``n / L`` thermometer features.
    ``feature_range = (lo, hi)`` says the rows are *integer features* in
    ``lo..hi`` (int64), not bits (``image_shape``: how they lie in an image).
    Arrays are read-only.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    n_classes: int
    thermometer_levels: int | None = None
    feature_range: tuple[int, int] | None = None
    image_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        X0 = np.asarray(self.X)
        if self.feature_range is not None:
            lo, hi = (int(v) for v in self.feature_range)
            if lo > hi or self.thermometer_levels is not None:
                raise DataError(f"data set {self.name}: feature_range {self.feature_range} must have lo <= hi "
                                "and no thermometer levels")
            if X0.size and (not np.issubdtype(X0.dtype, np.integer) or X0.min() < lo or X0.max() > hi):
                raise DataError(f"data set {self.name}: X must hold integers in {lo}..{hi}")
            object.__setattr__(self, "feature_range", (lo, hi))
            dtype = np.int64
        else:
            if X0.size and ((X0 != 0) & (X0 != 1)).any():
                raise DataError(f"data set {self.name}: X must hold 0/1 bits only")
            dtype = np.uint8
        X = np.array(X0, dtype=dtype, copy=True)
        y = np.array(self.y, dtype=np.int64, copy=True)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise DataError(f"data set {self.name}: X must be (N, n) and y (N,), got {X.shape} and {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= self.n_classes):
            raise DataError(
                f"data set {self.name}: labels must be in 0..{self.n_classes - 1}, found {int(y.min())}..{int(y.max())}"
            )
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    @property
    def n_inputs(self) -> int:
        return int(self.X.shape[1])

    @property
    def integer_features(self) -> bool:
        """Whether the rows are integer features (``feature_range``) rather than bits."""
        return self.feature_range is not None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, N={len(self)}, n={self.n_inputs}, classes={self.n_classes})"


# --- generators --------------------------------------------------------------


def _all_bit_rows(n: int) -> np.ndarray:
    """Every n-bit input, row r holding the bits of r (bit i = (r >> i) & 1)."""
    r = np.arange(1 << n, dtype=np.int64)
    return ((r[:, None] >> np.arange(n)) & 1).astype(np.uint8)


def _ib12_pair_weights() -> np.ndarray:
    """Integer matrix ``g(p_i . p_j) = round(sqrt5 * p_i . p_j)`` (zero diagonal)."""
    gram = ICOSAHEDRON @ ICOSAHEDRON.T
    g = np.rint(np.sqrt(5.0) * gram).astype(np.int64)
    np.fill_diagonal(g, 0)
    return g


def ib12_scores(X: np.ndarray) -> np.ndarray:
    """The integer ``f(x) = sum_{i<j} s(x_i) s(x_j) g(p_i . p_j)`` of each 12-bit row."""
    s = 2 * np.asarray(X, dtype=np.int64) - 1
    g = np.triu(_ib12_pair_weights(), 1)
    return np.einsum("ni,ij,nj->n", s, g, s)


def _make_ib12() -> tuple[np.ndarray, np.ndarray, int, int | None]:
    X = _all_bit_rows(IB12_BITS)
    y = (ib12_scores(X) >= IB12_THETA).astype(np.int64)
    return X, y, 2, None


def _var_u_pair_weights() -> np.ndarray:
    """Symmetric matrix of pair weights (near 1, far -5, antipodal -8; zero diagonal)."""
    g = np.full((VAR_U_BITS, VAR_U_BITS), VAR_U_FAR_W, dtype=np.int64)
    for i, j in VAR_U_NEAR:
        g[i, j] = g[j, i] = VAR_U_NEAR_W
    for i, j in VAR_U_ANTIPODAL:
        g[i, j] = g[j, i] = VAR_U_ANTI_W
    np.fill_diagonal(g, 0)
    return g


def var_u_scores(X: np.ndarray) -> np.ndarray:
    """The integer ``23 k + e1 - 5 e2 - 8 e3`` of each 12-bit row (pairs of set bits)."""
    b = np.asarray(X, dtype=np.int64)
    g = np.triu(_var_u_pair_weights(), 1)
    return VAR_U_K * b.sum(axis=1) + np.einsum("ni,ij,nj->n", b, g, b)


def _make_var_u() -> tuple[np.ndarray, np.ndarray, int, int | None]:
    r = np.arange(1 << VAR_U_BITS, dtype=np.int64)
    X = ((r[:, None] >> (VAR_U_BITS - 1 - np.arange(VAR_U_BITS))) & 1).astype(np.uint8)
    y = (var_u_scores(X) >= VAR_U_THETA).astype(np.int64)
    return X, y, 2, None


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits (pixels, labels) as read-only arrays (read once per process)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    P = np.asarray(d.data, dtype=np.int64)
    y = np.asarray(d.target, dtype=np.int64)
    P.setflags(write=False)
    y.setflags(write=False)
    return P, y


def _make_digits() -> tuple[np.ndarray, np.ndarray, int, int | None]:
    P, y = _digits_raw()
    return (P >= DIGITS_BINARY_CUT).astype(np.uint8), y, 10, None


def _make_digits17() -> tuple[np.ndarray, np.ndarray, int, int | None]:
    P, y = _digits_raw()
    return P, y, 10, None


#: Built-in data sets of integer features: name -> (feature range, image shape).
INTEGER_DATASETS: dict[str, tuple[tuple[int, int], tuple[int, ...]]] = {
    "digits17": ((0, DIGITS_MAX), (8, 8)),
}


def thermometer_encode(levels: np.ndarray, L: int) -> np.ndarray:
    """Thermometer bits of integer levels: (N, F) levels in 0..L -> (N, F*L) bits ``1^l 0^(L-l)``.

    Feature f occupies bits ``[f*L, (f+1)*L)``.

    >>> thermometer_encode(np.array([[0, 2, 3]]), 3).tolist()
    [[0, 0, 0, 1, 1, 0, 1, 1, 1]]
    """
    lv = np.asarray(levels, dtype=np.int64)
    bits = (np.arange(L)[None, None, :] < lv[:, :, None]).astype(np.uint8)
    return bits.reshape(lv.shape[0], lv.shape[1] * L)


def _make_digits_thermo(L: int) -> Callable[[], tuple[np.ndarray, np.ndarray, int, int | None]]:
    def make() -> tuple[np.ndarray, np.ndarray, int, int | None]:
        P, y = _digits_raw()
        lv = (P * L + DIGITS_MAX // 2) // DIGITS_MAX
        return thermometer_encode(lv, L), y, 10, L

    return make


#: Built-in data sets: canonical name -> generator of (X, y, n_classes, thermometer_levels).
DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, int, int | None]]] = {
    "ib12": _make_ib12,
    "var_u": _make_var_u,
    "digits": _make_digits,
    "digits17": _make_digits17,
}
#: Alternative names.
ALIASES: dict[str, str] = {
    "ib": "ib12",
    # "tishby12" named ib12 until issue 13; it now names the real task.
    "tishby12": "var_u",
    "digits8x8": "digits",
    "sklearn-digits": "digits",
    "digits-pixels": "digits17",
    "digits-grey": "digits17",
}
_THERMO = re.compile(r"^digits-thermo(\d+)$")


def dataset_names() -> list[str]:
    """Valid names for :func:`load_dataset` (the thermometer family as a pattern)."""
    return sorted(DATASETS) + sorted(ALIASES) + ["digits-thermo<L> (1<=L<=16)"]


def stratified_split(y: np.ndarray, seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) index arrays: per class a seeded permutation, the first share to test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        k = int(round(test_fraction * idx.size))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _resolve(name: str) -> tuple[str, Callable[[], tuple[np.ndarray, np.ndarray, int, int | None]]]:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in DATASETS:
        return key, DATASETS[key]
    m = _THERMO.match(key)
    if m:
        L = int(m.group(1))
        if not 1 <= L <= MAX_THERMO_LEVELS:
            raise DataError(f"data set {name!r}: thermometer levels must be in 1..{MAX_THERMO_LEVELS}, got {L}")
        return key, _make_digits_thermo(L)
    raise DataError(f"unknown data set {name!r}; valid names: {', '.join(dataset_names())}, or a .npz file")


def load_dataset(name: "str | os.PathLike[str]", split: str = "test") -> Dataset:
    """A built-in data set by name (or a user's ``.npz`` file, see :func:`load_data_file`).

    ``split`` is ``"train"``, ``"test"`` or ``"all"`` of a built-in set's fixed
    stratified 80/20 split. A user's file is used whole, whatever ``split``
    says: its rows are the user's choice, never cut by the built-in split.

    >>> load_dataset("digits", "train").X.shape
    (1438, 64)
    >>> load_dataset("digits-thermo3", "test").thermometer_levels
    3
    """
    if split not in SPLITS:
        raise DataError(f"split {split!r}: must be one of {', '.join(SPLITS)}")
    if isinstance(name, os.PathLike) or str(name).lower().endswith(".npz"):
        return load_data_file(name)
    key, make = _resolve(str(name))
    X, y, c, L = make()
    rng, shape = INTEGER_DATASETS.get(key, (None, None))
    if split == "all":
        return Dataset(key, X, y, c, L, rng, shape)
    tr, te = stratified_split(y)
    idx = tr if split == "train" else te
    return Dataset(f"{key}:{split}", X[idx], y[idx], c, L, rng, shape)


def load_data_file(path: "str | os.PathLike[str]") -> Dataset:
    """A user's ``.npz`` with ``X`` (2-D, entries 0/1) and ``y`` (1-D integers >= 0, same length).

    Loaded with ``allow_pickle=False``; an optional integer scalar
    ``thermometer_levels`` is honoured. Errors are :class:`DataError` naming
    the file, the key and the problem.
    """
    from bnnverify.files.npzfile import read_npz

    p = Path(path)
    where = str(p)
    arrays = read_npz(p, "data", DataError)
    for key in ("X", "y"):
        if key not in arrays:
            raise DataError(f"{where}: missing key '{key}' (have: {', '.join(sorted(arrays)) or 'none'})")
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 2:
        raise DataError(f"{where}: key 'X' must be 2-D (rows, bits), got shape {X.shape}")
    if X.shape[1] == 0:
        raise DataError(f"{where}: key 'X' has no columns")
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating) or X.dtype == bool):
        raise DataError(f"{where}: key 'X' must hold 0/1 numbers, got dtype {X.dtype}")
    bad = (X != 0) & (X != 1)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{where}: key 'X' must be 0 or 1; entry [{r}, {c}] is {X[r, c].item()!r}")
    if y.ndim != 1:
        raise DataError(f"{where}: key 'y' must be 1-D, got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise DataError(f"{where}: key 'y' has {y.shape[0]} labels but 'X' has {X.shape[0]} rows")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise DataError(f"{where}: key 'y' must hold integers, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        i = int(np.flatnonzero(y < 0)[0])
        raise DataError(f"{where}: key 'y' must be >= 0; entry [{i}] is {int(y[i])}")
    L = None
    if "thermometer_levels" in arrays:
        t = arrays["thermometer_levels"]
        if t.shape != () or not np.issubdtype(t.dtype, np.integer) or int(t) < 1 or X.shape[1] % int(t):
            raise DataError(f"{where}: key 'thermometer_levels' must be a positive integer dividing {X.shape[1]}, got {t!r}")
        L = int(t)
    n_classes = int(y.max()) + 1 if y.size else 1
    return Dataset(p.name, X.astype(np.uint8), y.astype(np.int64), n_classes, L)
