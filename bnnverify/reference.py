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

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

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

#: Rows evaluated per block: the (neurons x rows) XOR/popcount buffers of a
#: 512-neuron layer then take ~0.7 MB, inside a 1 MB L2.
DEFAULT_CHUNK = 160

#: numpy's ufunc buffer size (elements) while the block loops run. The default
#: (8192) makes numpy buffer broadcast operands whose rows are shorter than
#: ~4096 elements, which triples the cost of the XOR; 1024 avoids it.
UFUNC_BUFSIZE = 1024

#: Blocks with at most this many (word, neuron, row) triples are computed with
#: one broadcast XOR + one popcount + one reduction (few numpy calls: small batches).
ONE_SHOT_ELEMENTS = 1 << 17

#: Stages with at least this many neurons are computed as (rows, neurons)
#: blocks, narrower ones as (neurons, rows) blocks (numpy's inner loop runs
#: over the last axis and is slow when that axis is short).
ROW_MAJOR_MIN_NEURONS = 64

#: Byte popcounts of this many words are summed in uint8 (3 * 64 <= 255)
#: before one widening add into the accumulator.
POPCOUNT_GROUP = 3


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


@contextmanager
def _small_ufunc_buffers() -> Iterator[None]:
    """Run the block loops with numpy's ufunc buffer set to :data:`UFUNC_BUFSIZE` (per thread)."""
    old = np.setbufsize(UFUNC_BUFSIZE)
    try:
        yield
    finally:
        np.setbufsize(old)


def _pack_rows_T(fires: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, m) booleans -> packed codes (N, words) and their transpose (words, N), both uint64."""
    N, m = fires.shape
    words = (m + 63) // 64
    b = np.packbits(fires, axis=1, bitorder="little")
    if b.shape[1] != words * 8:
        b = np.concatenate([b, np.zeros((N, words * 8 - b.shape[1]), np.uint8)], axis=1)
    P = b.view("<u8")
    return P, np.ascontiguousarray(P.T)


def _pack_inputs(X: np.ndarray, words: int) -> np.ndarray:
    """(N, n) 0/1 rows -> (words, N) uint64, one row per 64-bit input word (column-major blocks)."""
    return np.ascontiguousarray(pack_bits(X).reshape(len(X), words).T)


@dataclass(frozen=True, eq=False)
class _Stage:
    """One layer packed for the evaluator (hidden threshold layer or the argmax layer).

    ``wrows[k]`` holds 64-bit weight word k of every neuron (bit set = +1),
    shape (words, m); a neuron of a hidden stage fires iff its popcount of
    ``x XOR w`` is ``< lim`` (that is ``n - 2 * popcount >= threshold``).
    Wide stages (``m >= ROW_MAJOR_MIN_NEURONS``) are computed as (rows, m)
    blocks, narrow ones as (m, rows) blocks, so numpy's inner loops run
    over the longer axis.
    """

    wrows: np.ndarray
    n: int
    m: int
    lim: np.ndarray | None
    acc: type

    @property
    def words(self) -> int:
        return int(self.wrows.shape[0])

    @property
    def out_words(self) -> int:
        return (self.m + 63) // 64


def _make_stage(weights: np.ndarray, thresholds: np.ndarray | None) -> _Stage:
    m, n = weights.shape
    wp = pack_bits((np.asarray(weights) == 1).astype(np.uint8))  # (m, words)
    acc = np.uint16 if n < np.iinfo(np.uint16).max else np.uint32
    lim = None
    if thresholds is not None:
        # n - 2 pc >= t  <=>  pc <= floor((n - t) / 2)  <=>  pc < floor((n - t) / 2) + 1
        bound = (n - thresholds.astype(np.int64)) // 2 + 1
        lim = np.clip(bound, 0, n + 1).astype(acc)
    return _Stage(np.ascontiguousarray(wp.T), int(n), int(m), lim, acc)


class _Workspace:
    """Reusable per-thread buffers of one block: XOR words, byte popcounts, accumulators, fires."""

    def __init__(self) -> None:
        self._bufs: dict[tuple, np.ndarray] = {}

    def get(self, key: tuple, shape: tuple[int, int], dtype: type) -> np.ndarray:
        """A buffer of at least ``shape`` (rows x cols), viewed as exactly ``shape``."""
        k = (key, shape[1:], dtype)
        have = self._bufs.get(k)
        if have is None or have.shape[0] < shape[0]:
            have = np.empty(shape, dtype)
            self._bufs[k] = have
        return have[: shape[0]]


class Evaluator:
    """Bit-packed evaluation of one :class:`BNN` (weights packed once).

    ``chunk`` rows are evaluated per block (buffers of neurons x chunk stay in
    L2); ``threads > 1`` evaluates blocks on a thread pool (numpy releases
    the GIL in its loops). Results do not depend on either.
    """

    def __init__(self, net: BNN, chunk: int = DEFAULT_CHUNK, *, threads: int = 1) -> None:
        if int(chunk) < 1:
            raise DataError(f"chunk: must be a positive number of rows, got {chunk}")
        if int(threads) < 1:
            raise DataError(f"threads: must be at least 1, got {threads}")
        self.net = net
        self.chunk = int(chunk)
        self.threads = int(threads)
        self._stages = [_make_stage(h.weights, h.thresholds) for h in net.hidden]
        self._stages.append(_make_stage(net.output.weights, None))
        out = net.output
        self._scale = out.scale
        self._bias = out.bias
        self._one_shot = ONE_SHOT_ELEMENTS
        self._row_major_min = ROW_MAJOR_MIN_NEURONS
        self._workspaces: dict[int, _Workspace] = {}
        self._tables: dict[tuple[str, int], object] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_workspaces"] = {}
        state["_tables"] = {}
        return state

    # -- the block kernel ------------------------------------------------------------

    def _workspace(self) -> _Workspace:
        key = threading.get_ident()
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._workspaces.setdefault(key, _Workspace())
        return ws

    def _popcounts(self, index: int, XT: np.ndarray, ws: _Workspace) -> np.ndarray:
        """(N, m) popcounts of ``x XOR w`` for stage ``index`` (maybe a transposed view).

        ``XT`` is the (words, N) uint64 block of packed inputs of the stage.
        """
        st = self._stages[index]
        words, N = XT.shape
        if words * st.m * N <= self._one_shot:
            x = np.bitwise_xor(XT.T[:, :, None], st.wrows[None, :, :])
            return np.add.reduce(np.bitwise_count(x), axis=1, dtype=st.acc)
        row_major = st.m >= self._row_major_min
        shape = (N, st.m) if row_major else (st.m, N)
        buf = ws.get((index, "xor"), shape, np.uint64)
        acc = ws.get((index, "acc"), shape, st.acc)
        group = [ws.get((index, "pc", g), shape, np.uint8) for g in range(min(words, POPCOUNT_GROUP))]
        for k in range(words):
            if row_major:
                np.bitwise_xor(XT[k][:, None], st.wrows[k], out=buf)
            else:
                np.bitwise_xor(st.wrows[k][:, None], XT[k], out=buf)
            g = k % POPCOUNT_GROUP
            np.bitwise_count(buf, out=group[g])
            if g and g == POPCOUNT_GROUP - 1 or k == words - 1:
                for h in range(1, g + 1):  # <= GROUP * 64 <= 255: no uint8 overflow
                    np.add(group[0], group[h], out=group[0])
                if k < POPCOUNT_GROUP:
                    np.copyto(acc, group[0])
                else:
                    np.add(acc, group[0], out=acc)
        return acc if row_major else acc.T

    def _fire(self, index: int, pc: np.ndarray, ws: _Workspace) -> tuple[np.ndarray, np.ndarray]:
        """Packed code of hidden stage ``index`` from (N, m) popcounts: (N, words) and (words, N)."""
        st = self._stages[index]
        fires = ws.get((index, "fires"), pc.shape, np.bool_)
        np.less(pc, st.lim, out=fires)
        return _pack_rows_T(fires)

    def _output_dots(self, pc: np.ndarray) -> np.ndarray:
        """(c, N) int64 output dot products from output popcounts."""
        return self._stages[-1].n - 2 * pc.astype(np.int64)

    def _classes_of_dots(self, dots: np.ndarray) -> np.ndarray:
        """(N,) classes from (N, c) dots: smallest index of the maximal float64 score."""
        scores = self._scale[None, :] * dots.astype(np.float64) + self._bias[None, :]
        return np.argmax(scores, axis=1).astype(np.int64)

    def _run(self, XT: np.ndarray, ws: _Workspace, start: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
        """Codes (N, words) of hidden stages ``start..`` and the output popcounts (N, c)."""
        codes = []
        cur = XT
        for i in range(start, len(self._stages) - 1):
            code, cur = self._fire(i, self._popcounts(i, cur, ws), ws)
            codes.append(code)
        return codes, self._popcounts(len(self._stages) - 1, cur, ws)

    def _blocks(self, N: int) -> list[tuple[int, int]]:
        return [(s, min(N, s + self.chunk)) for s in range(0, N, self.chunk)]

    def _map_blocks(self, N: int, work: Callable[[int, int], None]) -> None:
        """Call ``work(start, stop)`` for every block, on a pool when ``threads > 1``."""

        def run(se: tuple[int, int]) -> None:
            with _small_ufunc_buffers():
                work(*se)

        blocks = self._blocks(N)
        if self.threads > 1 and len(blocks) > 1:
            with ThreadPoolExecutor(max_workers=min(self.threads, len(blocks))) as pool:
                list(pool.map(run, blocks))
        else:
            with _small_ufunc_buffers():
                for s, e in blocks:
                    work(s, e)

    # -- public evaluation -------------------------------------------------------------

    def trace(self, X: np.ndarray) -> Trace:
        """Hidden codes, output dots, scores and classes of every row of ``X``."""
        X = check_bits(X, self.net.n_inputs)
        N = len(X)
        XT = _pack_inputs(X, self._stages[0].words)
        codes = [np.empty((N, st.out_words), np.uint64) for st in self._stages[:-1]]
        dots = np.empty((N, self.net.n_classes), np.int64)

        def work(s: int, e: int) -> None:
            cs, pc = self._run(XT[:, s:e], self._workspace())
            for l, c in enumerate(cs):
                codes[l][s:e] = c
            dots[s:e] = self._output_dots(pc)

        self._map_blocks(N, work)
        scores = self._scale[None, :] * dots.astype(np.float64) + self._bias[None, :]
        classes = np.argmax(scores, axis=1).astype(np.int64)
        return Trace(tuple(codes), dots, scores, classes)

    def classify(self, X: np.ndarray) -> np.ndarray:
        """(N,) int64 classes."""
        X = check_bits(X, self.net.n_inputs)
        N = len(X)
        XT = _pack_inputs(X, self._stages[0].words)
        classes = np.empty(N, np.int64)

        def work(s: int, e: int) -> None:
            _, pc = self._run(XT[:, s:e], self._workspace())
            classes[s:e] = self._classes_of_dots(self._output_dots(pc))

        self._map_blocks(N, work)
        return classes

    def scores(self, X: np.ndarray) -> np.ndarray:
        """(N, c) float64 scores ``scale * dot + bias``."""
        return self.trace(X).scores

    def codes(self, X: np.ndarray, layer: int) -> np.ndarray:
        """Packed (N, words) uint64 code of hidden layer ``layer`` (1-based)."""
        if not 1 <= layer <= len(self._stages) - 1:
            raise DataError(f"layer: must be between 1 and {len(self._stages) - 1}, got {layer}")
        return self.trace(X).codes[layer - 1]

    def classify_one(self, x: np.ndarray) -> int:
        """Class of a single input."""
        return int(self.classify(np.asarray(x)[None, :] if np.ndim(x) == 1 else x)[0])
