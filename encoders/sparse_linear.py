"""``linear`` layers stored by rows: each neuron lists only the inputs it reads.

A convolution unrolled to a ``linear`` layer reads a patch of its input map
(27 of 6,912 pixels for a 3x3x3 kernel), and the order encoding of an L∞ box
gives each pixel a few order bits: as a dense matrix the first layer of a
48x48x3 network over an ε = 1 box is 36,864 x 13,824 coefficients (refused
before this module existed), by rows it is 36,864 x 54. :class:`SparseLinearLayer`
is the same kind (``linear``: ``y_j = [sum_i C[j, i] x_i >= b_j]`` over bits as
0/1, the rule in ``bnnverify.semantics``) in the padded-rows (ELL) form:

* ``index`` ``(m, k)``: the inputs row ``j`` reads, increasing, then the
  padding index ``n`` (the number of inputs: "no term") to fill the row;
* ``coef`` ``(m, k)``: their non-zero integer coefficients, 0 at the padding.

Every consumer reads rows through :func:`linear_terms`, which gives the dense
:class:`~.integer_layers.LinearLayer` the same form (computed once per
layer), so the CNF encoder (a cardinality constraint over the non-zero terms
only), the BDD compiler, the evaluator's front (:meth:`SparseLinearLayer.forward`:
one gather per row block) and the model summary have one code path for both.
``coefficients`` (the dense matrix, for the semantics module and the model
file) is built on request and refused above :data:`MAX_DENSE_ENTRIES`.

Rejected: ``scipy.sparse`` (CSR) — a transitive dependency only; the encoders
walk rows and need nothing of it but the row arrays, and the fixed row width
lets the numpy forward be one gather (conv rows differ in length only at the
padded border). Rejected: a new kind name — the meaning is ``linear``'s, so
engines that take ``linear`` take it with no new ``supports`` rule.

>>> import numpy as np
>>> s = SparseLinearLayer(np.array([[0, 2], [1, 3]]), np.array([[1, -1], [2, 0]]), np.array([1, 2]), 3)
>>> s.index.tolist(), s.coef.tolist()
([[0, 2], [1, 3]], [[1, -1], [2, 0]])
>>> s.coefficients.tolist()
[[1, 0, -1], [0, 2, 0]]
>>> s.forward(np.array([[1, 1, 0], [1, 0, 1]])).tolist()
[[1, 1], [0, 0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from .errors import ModelError
from .integer_layers import MAX_LINEAR_COEFFICIENT, LinearLayer
from .layer_base import BITS, HIDDEN, ArrayKey, frozen

__all__ = ["SparseLinearLayer", "linear_terms", "rows_from_dense", "MAX_DENSE_ENTRIES"]

#: ``coefficients`` (the dense matrix) is refused above this many entries (int64: 2 GiB).
MAX_DENSE_ENTRIES = 1 << 28

#: :meth:`SparseLinearLayer.forward` gathers blocks of about this many (row, term) pairs (int64: 128 MB).
_FORWARD_BLOCK_ENTRIES = 1 << 24

#: ``row_cost`` counts a stored term this many times (a gather, a product and a sum per term),
#: as ``conv_layers`` counts its patch entries.
_ROW_COST_FACTOR = 8


def rows_from_dense(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The padded rows ``(index, coef)`` of a dense ``(m, n)`` integer matrix (pad index ``n``)."""
    C = np.asarray(C, dtype=np.int64)
    m, n = C.shape
    nz = C != 0
    k = max(1, int(nz.sum(axis=1).max(initial=0)))
    # stable sort of "is zero" puts each row's non-zero columns first, in increasing order
    order = np.argsort(~nz, axis=1, kind="stable")[:, :k]
    keep = np.take_along_axis(nz, order, axis=1)
    index = np.where(keep, order, n)
    coef = np.where(keep, np.take_along_axis(C, order, axis=1), 0)
    return index.astype(np.int64), coef.astype(np.int64)


def linear_terms(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(index, coef)`` of a ``linear`` layer, dense or sparse (computed once for a dense one)."""
    if isinstance(layer, SparseLinearLayer):
        return layer.index, layer.coef
    cache = layer.__dict__
    if "_terms" not in cache:
        index, coef = rows_from_dense(layer.coefficients)
        index.setflags(write=False)
        coef.setflags(write=False)
        cache["_terms"] = (index, coef)
    return cache["_terms"]


@dataclass(frozen=True, eq=False)
class SparseLinearLayer:
    """``linear`` by rows: ``y_j = [sum_t coef[j, t] * x[index[j, t]] >= bounds[j]]`` (pad index = n)."""

    kind: ClassVar[str] = "linear"
    role: ClassVar[str] = HIDDEN
    reads: ClassVar[str] = BITS
    keys: ClassVar[tuple[ArrayKey, ...]] = LinearLayer.keys

    index: np.ndarray
    coef: np.ndarray
    bounds: np.ndarray
    width: int  #: the number of inputs n (also the padding index)
    name: str = field(default="layer", compare=False)

    def __post_init__(self) -> None:
        where = self.name
        n = int(self.width)
        if n < 1:
            raise ModelError(f"{where}: a linear layer needs at least one input, got width {n}")
        idx, c = np.asarray(self.index), np.asarray(self.coef)
        if idx.ndim != 2 or idx.shape != c.shape or idx.shape[0] == 0 or not (
                np.issubdtype(idx.dtype, np.integer) and np.issubdtype(c.dtype, np.integer)):
            raise ModelError(f"{where}: index and coef must be integer arrays of one shape (m, k), m >= 1; got "
                             f"{idx.dtype} {idx.shape} and {c.dtype} {c.shape}")
        idx = idx.astype(np.int64)
        c = c.astype(np.int64)
        if ((idx < 0) | (idx > n)).any():
            r, t = (int(v) for v in np.argwhere((idx < 0) | (idx > n))[0])
            raise ModelError(f"{where}: index [{r}, {t}] is {int(idx[r, t])}, outside 0..{n} ({n} = no term)")
        big = np.abs(c) > MAX_LINEAR_COEFFICIENT
        if big.any():
            r, t = (int(v) for v in np.argwhere(big)[0])
            raise ModelError(f"{where}: coefficient [{r}, {t}] is {int(c[r, t])}, beyond ±{MAX_LINEAR_COEFFICIENT}")
        # canonical rows: zero coefficients and padding dropped, indices increasing, padding last
        idx = np.where(c == 0, n, idx)
        c = np.where(idx == n, 0, c)
        order = np.argsort(idx, axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, axis=1)
        c = np.take_along_axis(c, order, axis=1)
        dup = (idx[:, 1:] == idx[:, :-1]) & (idx[:, 1:] < n)
        if dup.any():
            r, t = (int(v) for v in np.argwhere(dup)[0])
            raise ModelError(f"{where}: row {r} lists input {int(idx[r, t])} twice")
        k = max(1, int((idx < n).sum(axis=1).max(initial=0)))
        idx, c = idx[:, :k], c[:, :k]
        b = np.asarray(self.bounds)
        if not np.issubdtype(b.dtype, np.integer) or b.shape != (idx.shape[0],):
            raise ModelError(f"{where}_bounds: must be {idx.shape[0]} integers, got {b.dtype} shape {b.shape}")
        # every sum lies in [neg_j, pos_j]: clipping b to [neg_j, pos_j + 1] keeps each neuron exactly
        pos = np.where(c > 0, c, 0).sum(axis=1)
        neg = np.where(c < 0, c, 0).sum(axis=1)
        b = np.clip(b.astype(np.int64), neg, pos + 1)
        object.__setattr__(self, "width", n)
        object.__setattr__(self, "index", frozen(idx))
        object.__setattr__(self, "coef", frozen(c))
        object.__setattr__(self, "bounds", frozen(b))

    @classmethod
    def from_dense(cls, layer: LinearLayer) -> "SparseLinearLayer":
        index, coef = linear_terms(layer)
        return cls(index, coef, layer.bounds, layer.n_inputs, name=layer.name)

    @property
    def n_inputs(self) -> int:
        return self.width

    @property
    def n_outputs(self) -> int:
        return int(self.index.shape[0])

    @property
    def nnz(self) -> int:
        """Stored non-zero terms."""
        return int((self.index < self.width).sum())

    @property
    def row_cost(self) -> int:
        """Entries :meth:`forward` touches per input row: what the evaluator sizes its blocks by."""
        return _ROW_COST_FACTOR * (self.index.size + self.width)

    @property
    def coefficients(self) -> np.ndarray:
        """The dense ``(m, n)`` matrix (refused above :data:`MAX_DENSE_ENTRIES`)."""
        m, n = self.n_outputs, self.width
        if m * (n + 1) > MAX_DENSE_ENTRIES:
            raise ModelError(f"{self.name}: its dense form would need {m} x {n} coefficients "
                             f"(more than {MAX_DENSE_ENTRIES}); it is kept by rows")
        C = np.zeros((m, n + 1), np.int64)
        C[np.arange(m)[:, None], self.index] = self.coef
        C = C[:, :n]
        C.setflags(write=False)
        return C

    def arrays(self) -> dict[str, np.ndarray]:
        """The model-file arrays of ``linear`` (dense: the file format has one form)."""
        return {"coefficients": self.coefficients.astype(np.int32), "bounds": np.asarray(self.bounds, np.int64)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "SparseLinearLayer":
        return cls.from_dense(LinearLayer.from_arrays(arrays, name))

    def forward(self, V: np.ndarray) -> np.ndarray:
        """Output bits of rows ``V`` (N, n) of 0/1 bits: one gather of the terms per block of rows."""
        V = np.asarray(V)
        N = V.shape[0]
        out = np.empty((N, self.n_outputs), np.uint8)
        step = max(1, _FORWARD_BLOCK_ENTRIES // max(1, self.index.size))
        for s in range(0, N, step):
            b = V[s:s + step].astype(np.int64)
            Vp = np.concatenate([b, np.zeros((b.shape[0], 1), np.int64)], axis=1)
            d = (Vp[:, self.index] * self.coef[None]).sum(axis=2)
            out[s:s + step] = d >= self.bounds[None, :]
        return out

    def _key(self) -> tuple:
        return (self.width, self.index.shape, self.index.tobytes(), self.coef.tobytes(), self.bounds.tobytes())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())
