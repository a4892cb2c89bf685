"""The bit-packed reference evaluator: what a network *means*.

Inputs are bit vectors (bit 1 = +1, bit 0 = -1). Each row is packed into
64-bit words (``np.packbits`` little-endian, viewed as ``uint64``); a dot
product is ``n - 2 * popcount(x XOR w)`` with ``np.bitwise_count``; hidden
neurons compare integers with their thresholds; the argmax layer computes
``scale * dot + bias`` in float64 and takes the smallest index of the maximum.

Every engine's answer is replayed here; tests compare every encoder with it.

>>> import numpy as np
>>> from encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
>>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> ev = Evaluator(BNN((h,), o))
>>> ev.classify(np.array([[1, 1], [0, 1], [1, 0], [0, 0]], dtype=np.uint8)).tolist()
[0, 1, 0, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encoders.layers import BNN

from .errors import DataError

__all__ = [
    "Evaluator",
    "Trace",
    "pack_bits",
    "unpack_bits",
    "code_key",
    "code_keys",
    "check_bits",
]

#: Rows evaluated at once: bounds the (rows x neurons) temporaries.
DEFAULT_CHUNK = 2048


def check_bits(X: object, n: int, what: str = "inputs") -> np.ndarray:
    """``X`` as an (N, n) uint8 array of 0/1, or :class:`DataError` naming the problem."""
    a = np.asarray(X)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise DataError(f"{what}: expected a bit vector or a matrix of rows, got shape {a.shape}")
    if a.shape[1] != n:
        raise DataError(f"{what}: rows have {a.shape[1]} bits, the model expects {n}")
    if a.dtype == np.uint8 or a.dtype == bool:
        b = a.view(np.uint8) if a.dtype == bool else a
        if b.size and b.max(initial=0) > 1:
            raise DataError(f"{what}: entries must be 0 or 1, found {int(b.max())}")
        return b
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise DataError(f"{what}: entries must be 0/1 numbers, got dtype {a.dtype}")
    bad = (a != 0) & (a != 1)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{what}: entries must be 0 or 1; row {r}, bit {c} is {a[r, c]!r}")
    return a.astype(np.uint8)


def pack_bits(X: np.ndarray) -> np.ndarray:
    """Pack (N, n) 0/1 rows into (N, ceil(n/64)) uint64 words, bit i at word i//64, bit i%64."""
    X = np.asarray(X, dtype=np.uint8)
    N, n = X.shape
    words = (n + 63) // 64
    b = np.packbits(X, axis=1, bitorder="little")
    if b.shape[1] != words * 8:
        b = np.concatenate([b, np.zeros((N, words * 8 - b.shape[1]), np.uint8)], axis=1)
    return np.ascontiguousarray(b).view("<u8").reshape(N, words)


def unpack_bits(P: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: (N, words) uint64 -> (N, n) uint8."""
    P = np.ascontiguousarray(P, dtype="<u8")
    b = P.view(np.uint8).reshape(P.shape[0], -1)
    return np.unpackbits(b, axis=1, count=n, bitorder="little")


def code_key(bits: np.ndarray) -> int:
    """A hidden code (one row of 0/1 bits) as a Python int with bit j = neuron j."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def code_keys(packed: np.ndarray) -> list[int]:
    """Keys (as :func:`code_key`) of every row of a packed (N, words) uint64 code array."""
    P = np.ascontiguousarray(packed, dtype="<u8")
    if P.shape[1] == 1:
        return [int(v) for v in P[:, 0]]
    return [int.from_bytes(row.tobytes(), "little") for row in P]


@dataclass(frozen=True)
class Trace:
    """Everything the evaluator computes for a batch of N inputs.

    ``codes[l]`` is hidden layer ``l``'s output packed as (N, words) uint64
    (l = 0 is the first hidden layer); ``dots`` the output layer's integer dot
    products (N, c); ``scores`` float64 (N, c); ``classes`` (N,) int64.
    """

    codes: tuple[np.ndarray, ...]
    dots: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


class Evaluator:
    """Bit-packed evaluation of one :class:`BNN` (weights packed once)."""

    def __init__(self, net: BNN, chunk: int = DEFAULT_CHUNK) -> None:
        self.net = net
        self.chunk = int(chunk)
        ones = lambda w: (np.asarray(w) == 1).astype(np.uint8)  # noqa: E731
        self._hidden = [
            (pack_bits(ones(h.weights)), h.n_inputs, h.thresholds.astype(np.int64))
            for h in net.hidden
        ]
        out = net.output
        self._out_w = pack_bits(ones(out.weights))
        self._out_n = out.n_inputs
        self._scale = out.scale
        self._bias = out.bias

    @staticmethod
    def _dots(xp: np.ndarray, wp: np.ndarray, n: int) -> np.ndarray:
        """(N, m) int64 dot products of packed rows ``xp`` with packed weights ``wp``."""
        N, words = xp.shape
        acc = np.zeros((N, wp.shape[0]), dtype=np.int32)
        for k in range(words):
            acc += np.bitwise_count(xp[:, k, None] ^ wp[None, :, k])
        return n - 2 * acc

    def _trace_packed(self, xp: np.ndarray) -> Trace:
        codes = []
        cur = xp
        for wp, n, theta in self._hidden:
            bits = (self._dots(cur, wp, n) >= theta[None, :]).astype(np.uint8)
            cur = pack_bits(bits)
            codes.append(cur)
        dots = self._dots(cur, self._out_w, self._out_n)
        scores = self._scale[None, :] * dots.astype(np.float64) + self._bias[None, :]
        classes = np.argmax(scores, axis=1).astype(np.int64)
        return Trace(tuple(codes), dots, scores, classes)

    def trace(self, X: np.ndarray) -> Trace:
        """Hidden codes, output dots, scores and classes of every row of ``X``."""
        X = check_bits(X, self.net.n_inputs)
        parts = [self._trace_packed(pack_bits(X[s : s + self.chunk])) for s in range(0, len(X), self.chunk)]
        if not parts:
            parts = [self._trace_packed(pack_bits(X))]
        return Trace(
            tuple(np.concatenate([p.codes[l] for p in parts]) for l in range(len(self._hidden))),
            np.concatenate([p.dots for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.classes for p in parts]),
        )

    def classify(self, X: np.ndarray) -> np.ndarray:
        """(N,) int64 classes."""
        return self.trace(X).classes

    def scores(self, X: np.ndarray) -> np.ndarray:
        """(N, c) float64 scores ``scale * dot + bias``."""
        return self.trace(X).scores

    def codes(self, X: np.ndarray, layer: int) -> np.ndarray:
        """Packed (N, words) uint64 code of hidden layer ``layer`` (1-based)."""
        if not 1 <= layer <= len(self._hidden):
            raise DataError(f"layer: must be between 1 and {len(self._hidden)}, got {layer}")
        return self.trace(X).codes[layer - 1]

    def classify_one(self, x: np.ndarray) -> int:
        """Class of a single input."""
        return int(self.classify(np.asarray(x)[None, :] if np.ndim(x) == 1 else x)[0])
