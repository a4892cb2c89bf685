"""The bit-packed reference evaluator: what a network *means*.

Inputs are bit vectors (bit 1 = +1, bit 0 = -1). Each row is packed into
64-bit words (``np.packbits`` little-endian, viewed as ``uint64``); a dot
product is ``n - 2 * popcount(x XOR w)`` with ``np.bitwise_count``; hidden
neurons compare integers with their thresholds; the argmax layer computes
``scale * dot + bias`` in float64 and takes the smallest index of the maximum.

Every engine's answer is replayed here; tests compare every encoder with it.

How it is made fast (semantics unchanged; ``benchmarks/bench_evaluator.py``):

* inputs are evaluated in blocks of ``chunk`` rows; per 64-bit word k a
  layer does one broadcast XOR into a reusable (rows, neurons) uint64
  buffer (neurons, rows for narrow layers, so the inner loop is long), one
  ``bitwise_count`` into uint8, and every 3 words one widening add into a
  uint16 accumulator; thresholds become popcount limits
  (``n - 2 pc >= t  <=>  pc < floor((n - t) / 2) + 1``);
* numpy's ufunc buffer is lowered while the loops run (with the default,
  broadcast operands of short rows are buffered, tripling the XOR's cost);
* small batches use one broadcast XOR / popcount / reduction per layer;
* ``threads > 1`` evaluates blocks on a thread pool (numpy releases the GIL);
* large batches (:data:`COMPILED_MIN_WORK` word operations and more) use the
  compiled XOR-popcount kernel (:mod:`bnnverify.evaluation.xorpop`, numba)
  for every stage when numba is installed (``compiled=False``: never); the
  popcounts are the same integers, everything else is unchanged;
* a front of conv kinds (``conv``, ``maxpool``, an ``integer-conv`` or
  ``quantize`` first layer) runs through the compiled conv front
  (:mod:`bnnverify.evaluation.convkernels`: per-layer plans built once per
  evaluator, the integer first layer through oneDNN when provably exact, a
  front that ends in ``argmax`` classified in one compiled pass; its integer
  inputs checked in one compiled pass, :meth:`Evaluator._checked_fast`);
* enumeration helpers: :class:`InputTables` (first-layer dots of integer-coded
  inputs from per-chunk tables), :meth:`Evaluator.finish` /
  :meth:`Evaluator.finish_fires` (run the rest of the network from the first
  layer's dots or bits, replacing layers of at most :data:`TABLE_MAX_FANIN`
  inputs by lookup tables over their input codes) and
  :meth:`Evaluator.classify_ints`.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
>>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> ev = Evaluator(BNN((h,), o))
>>> ev.classify(np.array([[1, 1], [0, 1], [1, 0], [0, 0]], dtype=np.uint8)).tolist()
[0, 1, 0, 0]
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from bnnverify.encoders.integer_layers import MAX_FEATURE_MAGNITUDE
from bnnverify.encoders.layers import BNN, numpy_layer

from bnnverify.errors import DataError, InternalError

if TYPE_CHECKING:
    from bnnverify.evaluation.convkernels import ConvFront

__all__ = [
    "Evaluator",
    "Trace",
    "pack_bits",
    "unpack_bits",
    "code_key",
    "code_keys",
    "check_bits",
    "InputTables",
    "TABLE_MAX_FANIN",
    "INPUT_CHUNK_BITS",
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

#: Layers with at most this many inputs may be replaced by a lookup table
#: indexed by their input code (2**20 entries: a few MB, built in ~0.1 s).
TABLE_MAX_FANIN = 20

#: Integer-coded inputs are split into chunks of at most this many bits, each
#: with a table of its partial dot products (2**10 rows per chunk).
INPUT_CHUNK_BITS = 10

#: Rows per block in :meth:`Evaluator.finish` (table lookups are cheap per row).
FINISH_BLOCK = 1 << 14

#: :meth:`Evaluator.classify_ints` builds layer tables when the batch has at
#: least this many times as many rows as the largest table.
TABLE_MIN_ROWS_FACTOR = 1

#: Narrow stages' fires are packed column-wise (see ``_pack_columns``) in
#: blocks of at least this many rows (below, its per-call overhead dominates).
PACK_COLUMNS_MIN_ROWS = 2048

#: Largest layer table kept (bytes): 2**20 codes of up to 4 words, or classes.
TABLE_MAX_BYTES = 1 << 25

#: Table building evaluates blocks of about this many (row, neuron) pairs.
TABLE_BLOCK_ELEMENTS = 1 << 17

#: The numpy front (layers over integer features, ``linear``) computes blocks of about this
#: many (row, neuron, input) products at a time (int64: 64 MB).
FRONT_BLOCK_ELEMENTS = 1 << 23

#: Integer-coded inputs: at most this many input bits (codes are uint64).
MAX_CODED_BITS = 63

#: Batches of at least this many (row, neuron, 64-bit word) operations in all use the compiled
#: XOR-popcount kernel when numba is installed: numba's import and the kernel's cache load cost
#: ~1 s once per process, which the numpy loop (~0.7 ns per operation) spends on ~10^9 of them;
#: measured in ``benchmarks/results/evaluator.md`` (784-512-512-10: 1.1·10^4 operations per row).
COMPILED_MIN_WORK = 1 << 30

#: Once the kernel is loaded in this process, batches of at least this many operations use it
#: (below, the numpy loop's few calls cost no more than the kernel's dispatch).
COMPILED_WARM_MIN_WORK = 1 << 20

#: The feature-map kinds the compiled conv-front kernels compute.
_CONV_KINDS = frozenset({"conv", "maxpool", "integer-conv"})

#: What a conv front may also start with and still be one compiled pass (pixels -> bits).
_FRONT_KERNEL_KINDS = _CONV_KINDS | {"quantize"}

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
    """(N, m) booleans -> packed codes (N, words) and their transpose (words, N), both uint64.

    Packs the flattened rows in one call (``np.packbits`` along a short last
    axis loops row by row).
    """
    N, m = fires.shape
    words = (m + 63) // 64
    m8 = -(-m // 8) * 8
    if m8 != m:
        f = np.zeros((N, m8), np.bool_)
        f[:, :m] = fires
        fires = f
    b = np.packbits(np.ascontiguousarray(fires).reshape(-1), bitorder="little").reshape(N, m8 // 8)
    if m8 // 8 != words * 8:
        padded = np.zeros((N, words * 8), np.uint8)
        padded[:, : m8 // 8] = b
        b = padded
    P = b.view("<u8")
    return P, (P.reshape(1, N) if words == 1 else np.ascontiguousarray(P.T))


def _pack_columns(fires: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, N) booleans -> packed codes (N, words) (a transposed view) and (words, N), uint64.

    Builds each code byte from 8 rows with uint8 shifts, then each word from
    its bytes: ~m + m/8 vector passes over N, instead of transposing the
    booleans (numpy copies transposed 1-byte arrays slowly).
    """
    m, N = fires.shape
    words = (m + 63) // 64
    u8 = np.ascontiguousarray(fires).view(np.uint8)
    out = np.zeros((words, N), np.uint64)
    byte = np.empty(N, np.uint8)
    tmp = np.empty(N, np.uint8)
    wide = np.empty(N, np.uint64)
    for k in range(0, m, 8):
        np.copyto(byte, u8[k])
        for j in range(1, min(8, m - k)):
            np.left_shift(u8[k + j], np.uint8(j), out=tmp)
            np.bitwise_or(byte, tmp, out=byte)
        np.copyto(wide, byte)
        np.left_shift(wide, np.uint64(k % 64), out=wide)
        np.bitwise_or(out[k // 64], wide, out=out[k // 64])
    return out.T, out


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

    def __init__(self, net: BNN, chunk: int = DEFAULT_CHUNK, *, threads: int = 1,
                 compiled: bool | None = None) -> None:
        if int(chunk) < 1:
            raise DataError(f"chunk: must be a positive number of rows, got {chunk}")
        if int(threads) < 1:
            raise DataError(f"threads: must be at least 1, got {threads}")
        self.net = net
        self.chunk = int(chunk)
        self.threads = int(threads)
        self.compiled = compiled  # None: the compiled kernel for large batches when numba is installed
        # The front: leading layers of kinds other than ``threshold`` (over integer features,
        # or ``linear``) are computed with numpy integer arithmetic (``numpy_layer``); the
        # bit-packed stages start at the first ``threshold`` layer.
        k = 0
        while k < len(net.hidden) and net.hidden[k].kind != "threshold":
            k += 1
        for i, h in enumerate(net.hidden[k:], start=k):
            if h.kind != "threshold":
                raise DataError(f"layer{i}: the evaluator computes layer kind {h.kind!r} only "
                                "before the first threshold layer")
        self._front = tuple(net.hidden[:k])
        self._conv_front = any(h.kind in _CONV_KINDS for h in self._front)
        self._conv_only = (self._conv_front and all(h.kind in _FRONT_KERNEL_KINDS for h in self._front)
                           and k == len(net.hidden))
        self._front_cost = sum(getattr(h, "row_cost", 0) for h in self._front)
        self._front_plan: object | None = None  # the compiled conv front, once built
        self._stages = [_make_stage(h.weights, h.thresholds) for h in net.hidden[k:]]
        self._stages.append(_make_stage(net.output.weights, None))
        out = net.output
        self._scale = out.scale
        self._bias = out.bias
        self._one_shot = ONE_SHOT_ELEMENTS
        self._row_major_min = ROW_MAJOR_MIN_NEURONS
        self._workspaces: list[_Workspace] = []
        self._tables: dict[tuple[str, int], object] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_workspaces"] = []
        state["_tables"] = {}
        state["_front_plan"] = None  # rebuilt on first use (it holds torch tensors)
        return state

    # -- the block kernel ------------------------------------------------------------

    @contextmanager
    def _workspace(self) -> Iterator[_Workspace]:
        """A free workspace for one block (list pop/append are atomic: safe across threads;
        there are never more workspaces than blocks evaluated at the same time)."""
        try:
            ws = self._workspaces.pop()
        except IndexError:
            ws = _Workspace()
        try:
            yield ws
        finally:
            self._workspaces.append(ws)

    def _popcounts(self, index: int, XT: np.ndarray, ws: _Workspace, kernel: Callable | None = None) -> np.ndarray:
        """(N, m) popcounts of ``x XOR w`` for stage ``index`` (maybe a transposed view).

        ``XT`` is the (words, N) uint64 block of packed inputs of the stage; ``kernel`` the compiled
        XOR-popcount kernel, if the batch uses it.
        """
        st = self._stages[index]
        words, N = XT.shape
        if kernel is not None:
            return kernel(XT, st.wrows, ws.get((index, "acc"), (N, st.m), st.acc))
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
        if not pc.flags.c_contiguous and pc.shape[0] >= PACK_COLUMNS_MIN_ROWS:
            # (m, N) popcounts of a narrow stage: compare and pack without transposing
            return _pack_columns(np.less(pc.T, st.lim[:, None]))
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

    def _run(self, XT: np.ndarray, ws: _Workspace, start: int = 0,
             kernel: Callable | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """Codes (N, words) of hidden stages ``start..`` and the output popcounts (N, c)."""
        codes = []
        cur = XT
        for i in range(start, len(self._stages) - 1):
            code, cur = self._fire(i, self._popcounts(i, cur, ws, kernel), ws)
            codes.append(code)
        return codes, self._popcounts(len(self._stages) - 1, cur, ws, kernel)

    def _conv_kernels(self, N: int) -> "ConvFront | None":
        """The compiled conv front (:mod:`.convkernels`: plans of the front's conv-kind layers, built
        once) if a batch of ``N`` rows uses it: as for the XOR-popcount kernel, by the front's work
        (``row_cost``) against COMPILED_MIN_WORK (once loaded, every batch: their dispatch costs less
        than the numpy rules' arrays). Measured on the 48x48x3 benchmark network at load ~7: batch
        1,000 in 2.3 s against the numpy rules' 3.9 s; on the digits conv net at batch 1 (load ~10,
        with :meth:`ConvFront.classify`): 71 µs against 284 µs. The plan of an ``integer-conv``
        layer is chosen from the network's input range (``max |lo|, |hi|``): see
        :func:`.convkernels.plan_layer`."""
        if self.compiled is False or not self._conv_front:
            return None
        if self._front_plan is not None:  # resolved once: the kernels are loaded
            return self._front_plan
        loaded = "bnnverify.evaluation.convkernels" in sys.modules
        if not self.compiled and not loaded and N * self._front_cost < COMPILED_MIN_WORK:  # once loaded: every batch
            return None
        from bnnverify.evaluation.flips import HAVE_NUMBA

        if not HAVE_NUMBA:
            return None
        from bnnverify.evaluation.convkernels import build_front

        ins = self.net.inputs
        vmax = (max(int(np.abs(ins.lo).max(initial=0)), int(np.abs(ins.hi).max(initial=0))) if ins is not None
                else MAX_FEATURE_MAGNITUDE)
        self._front_plan = build_front(self._front, self.net.output if self._conv_only else None, vmax)
        return self._front_plan

    def _kernel_for(self, N: int) -> Callable | None:
        """The compiled XOR-popcount kernel if a batch of ``N`` rows uses it (see COMPILED_MIN_WORK)."""
        if self.compiled is False:
            return None
        work = N * sum(st.words * st.m for st in self._stages)
        loaded = "bnnverify.evaluation.xorpop" in sys.modules
        if not self.compiled and work < (COMPILED_WARM_MIN_WORK if loaded else COMPILED_MIN_WORK):
            return None
        from bnnverify.evaluation.flips import HAVE_NUMBA

        if not HAVE_NUMBA:
            return None
        from bnnverify.evaluation.xorpop import popcounts

        return popcounts

    def _tabled(self, index: int, limit: int) -> bool:
        """Whether stage ``index`` gets a lookup table when tables of up to ``limit`` rows are
        allowed (and the table stays within :data:`TABLE_MAX_BYTES`)."""
        st = self._stages[index]
        if st.n > TABLE_MAX_FANIN or (1 << st.n) > limit:
            return False
        row_bytes = 8 if index == len(self._stages) - 1 else 8 * st.out_words
        return (1 << st.n) * row_bytes <= TABLE_MAX_BYTES

    def _stage_table(self, index: int) -> np.ndarray:
        """Stage ``index`` evaluated on every input code ``0 .. 2**fan_in - 1`` (cached):
        (2**f, out_words) uint64 codes of a hidden stage, (2**f,) int64 classes of the output."""
        key = ("stage", index)
        have = self._tables.get(key)
        if have is not None:
            return have  # type: ignore[return-value]
        st = self._stages[index]
        XT = np.arange(1 << st.n, dtype=np.uint64)[None, :]
        last = index == len(self._stages) - 1
        out = np.empty(XT.shape[1], np.int64) if last else np.empty((XT.shape[1], st.out_words), np.uint64)
        block = max(self.chunk, TABLE_BLOCK_ELEMENTS // st.m)
        with _small_ufunc_buffers(), self._workspace() as ws:
            for s, e in self._blocks(XT.shape[1], block):
                pc = self._popcounts(index, XT[:, s:e], ws)
                out[s:e] = self._classes_of_dots(self._output_dots(pc)) if last else self._fire(index, pc, ws)[0]
        self._tables[key] = out
        return out

    def _finish_block(
        self, code: np.ndarray, XT: np.ndarray, ws: _Workspace, start: int, keep: frozenset[int], limit: int
    ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Run stages ``start..`` on one block whose input (hidden layer ``start``'s code) is
        ``code`` (N, words) / ``XT`` (words, N); codes of hidden layers in ``keep`` and classes."""
        kept: dict[int, np.ndarray] = {}
        last = len(self._stages) - 1
        for i in range(start, last + 1):
            if i >= 1 and i in keep:
                kept[i] = code
            if self._tabled(i, limit):
                tab = self._stage_table(i)
                idx = code[:, 0]
                if i == last:
                    return kept, tab[idx]
                code = tab[idx]
                XT = np.ascontiguousarray(code.T)
            else:
                pc = self._popcounts(i, XT, ws)
                if i == last:
                    return kept, self._classes_of_dots(self._output_dots(pc))
                code, XT = self._fire(i, pc, ws)
        raise InternalError("unreachable: the output stage returns")

    def _bit_first_layer(self, what: str) -> None:
        if self._front:
            raise DataError(f"{what}: needs a network whose first layer is 'threshold' over bits; "
                            f"{self.net!r} starts with {self._front[0].kind!r} (use classify/trace)")

    def finish(
        self, first_dots: np.ndarray, *, layers: tuple[int, ...] = (), table_limit: int = 0
    ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Classes (and hidden codes) of inputs given by their first-layer dot products.

        ``first_dots`` is (N, m) integer: the dot products of the first layer
        (the output layer if there is no hidden layer). Returns the packed
        (N, words) codes of the hidden layers in ``layers`` (1-based) and the
        (N,) classes. Layers with ``f <= TABLE_MAX_FANIN`` inputs and
        ``2**f <= table_limit`` are replaced by lookup tables over their input
        codes (built once, cached): worth it when at least ``2**f`` rows will
        be evaluated (the default 0 builds none).
        """
        self._bit_first_layer("finish")
        dots = np.asarray(first_dots)
        if len(self._stages) == 1:
            return {}, self._classes_of_dots(dots)
        info = np.iinfo(dots.dtype) if np.issubdtype(dots.dtype, np.integer) else None
        theta = self.net.hidden[0].thresholds
        if info is not None:
            theta = np.clip(theta, info.min, info.max).astype(dots.dtype)  # |dot| <= n: same answers
        return self.finish_fires(dots >= theta, layers=layers, table_limit=table_limit)

    def finish_fires(
        self, fires: np.ndarray, *, layers: tuple[int, ...] = (), table_limit: int = 0,
        transposed: bool = False,
    ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """As :meth:`finish`, given the first hidden layer's output bits (N, m) instead of its dots.

        ``transposed=True``: ``fires`` is (m, N) (one row per neuron; cheaper
        to build and to pack for narrow layers).
        """
        self._bit_first_layer("finish_fires")
        if len(self._stages) == 1:
            raise DataError(f"{self.net!r} has no hidden layer: give its output dots to finish()")
        fires = np.asarray(fires, dtype=np.bool_)
        m_axis = 0 if transposed else 1
        if fires.ndim != 2 or fires.shape[m_axis] != self._stages[0].m:
            want = f"({self._stages[0].m}, N)" if transposed else f"(N, {self._stages[0].m})"
            raise DataError(f"fires: expected shape {want}, got {fires.shape}")
        keep = frozenset(int(l) for l in layers)
        N = fires.shape[1 - m_axis]
        kept: dict[int, np.ndarray] = {l: np.empty((N, self._stages[l - 1].out_words), np.uint64) for l in keep}
        classes = np.empty(N, np.int64)

        def work(s: int, e: int) -> None:
            code, XT = _pack_columns(fires[:, s:e]) if transposed else _pack_rows_T(fires[s:e])
            with self._workspace() as ws:
                got, cls = self._finish_block(code, XT, ws, 1, keep, table_limit)
            if 1 in keep:
                got[1] = code
            for l, c in got.items():
                kept[l][s:e] = c
            classes[s:e] = cls

        self._map_blocks(N, work, block=max(self.chunk, FINISH_BLOCK))
        return kept, classes

    def input_tables(self) -> "InputTables":
        """Chunk tables of the first layer over all ``n`` inputs (n <= 63; cached)."""
        self._bit_first_layer("input_tables")
        have = self._tables.get(("inputs", 0))
        if have is None:
            n = self.net.n_inputs
            if n > MAX_CODED_BITS:
                raise DataError(f"integer-coded inputs: the model has {n} inputs, at most {MAX_CODED_BITS} fit a code")
            w = self.net.hidden[0].weights if self.net.hidden else self.net.output.weights
            have = InputTables(w, np.zeros(n, np.uint8), np.arange(n))
            self._tables[("inputs", 0)] = have
        return have  # type: ignore[return-value]

    def classify_ints(self, codes: np.ndarray, *, table_limit: int | None = None) -> np.ndarray:
        """Classes of inputs given as integers (bit i of the code = input i), for n <= 63.

        The first layer comes from :class:`InputTables` (no bit rows are
        built); later layers become lookup tables as in :meth:`finish`, with
        ``table_limit`` defaulting to the batch size.

        >>> import numpy as np
        >>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
        >>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
        >>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
        >>> Evaluator(BNN((h,), o)).classify_ints(np.arange(4)).tolist()  # codes 0..3 = rows 00, 10, 01, 11
        [0, 0, 1, 0]
        """
        self._bit_first_layer("classify_ints")
        codes = np.asarray(codes)
        n = self.net.n_inputs
        if codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
            raise DataError(f"integer-coded inputs: expected a 1-D integer array, got {codes.dtype} {codes.shape}")
        if codes.size and (int(codes.min()) < 0 or int(codes.max()) >> n):
            raise DataError(f"integer-coded inputs: codes must lie in 0 .. 2**{n} - 1")
        limit = len(codes) if table_limit is None else int(table_limit)
        return self.finish(self.input_tables().dots(codes.astype(np.uint64)), table_limit=limit)[1]

    def _blocks(self, N: int, block: int | None = None) -> list[tuple[int, int]]:
        step = block or self.chunk
        return [(s, min(N, s + step)) for s in range(0, N, step)]

    def _map_blocks(self, N: int, work: Callable[[int, int], None], block: int | None = None) -> None:
        """Call ``work(start, stop)`` for every block, on a pool when ``threads > 1``."""

        def run(se: tuple[int, int]) -> None:
            with _small_ufunc_buffers():
                work(*se)

        blocks = self._blocks(N, block)
        if self.threads > 1 and len(blocks) > 1:
            with ThreadPoolExecutor(max_workers=min(self.threads, len(blocks))) as pool:
                list(pool.map(run, blocks))
        else:
            with _small_ufunc_buffers():
                for s, e in blocks:
                    work(s, e)

    # -- public evaluation -------------------------------------------------------------

    def _checked(self, X: np.ndarray) -> np.ndarray:
        """Rows of ``X`` checked: integer features within their ranges, or bits."""
        if self.net.inputs is not None:
            try:
                return np.atleast_2d(self.net.inputs.check(X, "inputs"))
            except Exception as e:  # a ModelError about the data: a DataError here
                raise DataError(str(e)) from None
        return check_bits(X, self.net.n_inputs)

    def _checked_fast(self, X: np.ndarray) -> np.ndarray:
        """:meth:`_checked` for the compiled conv front: an integer array within the input ranges is
        used as it is (one compiled pass, :func:`.convkernels.in_bounds`); anything else, or any
        entry out of range, goes through :meth:`_checked` (which converts, or names the problem)."""
        ins = self.net.inputs
        front = self._front_plan
        if (ins is not None and front is not None and isinstance(X, np.ndarray) and X.ndim == 2
                and X.shape[1] == ins.lo.shape[0] and X.dtype.kind in "iu" and X.dtype.itemsize <= 8
                and X.dtype != np.uint64):
            if front.in_range(X, ins.lo, ins.hi):  # type: ignore[attr-defined]
                return X
        return self._checked(X)

    def _inputs(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Checked inputs through the front: the front's codes (unpacked) and the bits the
        packed stages read (the inputs themselves when there is no front)."""
        V = self._checked(X)
        if not self._front:
            return [], V
        outs: list[list[np.ndarray]] = [[] for _ in self._front]
        step = max(1, FRONT_BLOCK_ELEMENTS // max(1, max(getattr(h, "row_cost", h.n_inputs * h.n_outputs)
                                                         for h in self._front)))
        plan = self._conv_kernels(len(V))
        for s in range(0, len(V), step):
            v = V[s:s + step]
            for i, h in enumerate(self._front):
                if plan is not None and plan.plans[i] is not None:
                    v = plan.plans[i].run(v)  # compiled: image by image, bit-packed patches
                else:
                    v = h.forward(v) if hasattr(h, "forward") else numpy_layer(h, v)  # conv kinds: uint8 patch kernels
                outs[i].append(v.astype(np.uint8))
        codes = [np.concatenate(o) if o else np.zeros((0, h.n_outputs), np.uint8)
                 for o, h in zip(outs, self._front)]
        return codes, codes[-1]

    def trace(self, X: np.ndarray) -> Trace:
        """Hidden codes, output dots, scores and classes of every row of ``X``."""
        front, X = self._inputs(X)
        N = len(X)
        XT = _pack_inputs(X, self._stages[0].words)
        codes = [pack_bits(c) for c in front] + [np.empty((N, st.out_words), np.uint64) for st in self._stages[:-1]]
        dots = np.empty((N, self.net.n_classes), np.int64)
        kernel = self._kernel_for(N)

        def work(s: int, e: int) -> None:
            with self._workspace() as ws:  # pc lives in the workspace: use it before release
                cs, pc = self._run(XT[:, s:e], ws, kernel=kernel)
                dots[s:e] = self._output_dots(pc)
            for l, c in enumerate(cs):
                codes[len(front) + l][s:e] = c

        self._map_blocks(N, work)
        scores = self._scale[None, :] * dots.astype(np.float64) + self._bias[None, :]
        classes = np.argmax(scores, axis=1).astype(np.int64)
        return Trace(tuple(codes), dots, scores, classes)

    def classify(self, X: np.ndarray) -> np.ndarray:
        """(N,) int64 classes."""
        if self._conv_only:
            plan = self._conv_kernels(len(X) if np.ndim(X) == 2 else 1)
            if plan is not None:  # conv kinds then argmax: one compiled pass, block by block
                return plan.classify(self._checked_fast(X))
        _, X = self._inputs(X)
        N = len(X)
        XT = _pack_inputs(X, self._stages[0].words)
        classes = np.empty(N, np.int64)
        kernel = self._kernel_for(N)

        def work(s: int, e: int) -> None:
            with self._workspace() as ws:  # pc lives in the workspace: use it before release
                _, pc = self._run(XT[:, s:e], ws, kernel=kernel)
                classes[s:e] = self._classes_of_dots(self._output_dots(pc))

        self._map_blocks(N, work)
        return classes

    def scores(self, X: np.ndarray) -> np.ndarray:
        """(N, c) float64 scores ``scale * dot + bias``."""
        return self.trace(X).scores

    def codes(self, X: np.ndarray, layer: int) -> np.ndarray:
        """Packed (N, words) uint64 code of hidden layer ``layer`` (1-based)."""
        n_hidden = len(self.net.hidden)
        if not 1 <= layer <= n_hidden:
            raise DataError(f"layer: must be between 1 and {n_hidden}, got {layer}")
        return self.trace(X).codes[layer - 1]

    def classify_one(self, x: np.ndarray) -> int:
        """Class of a single input."""
        return int(self.classify(np.asarray(x)[None, :] if np.ndim(x) == 1 else x)[0])


class InputTables:
    """First-layer dot products of integer-coded inputs, from per-chunk tables.

    An input is given by an integer ``u`` over the ``free`` input positions
    (bit t of ``u`` is the value of input ``free[t]``); every other input is
    fixed to ``base``. Its dot products are
    ``base_dot + sum_k T_k[(u >> offset_k) & (2**bits_k - 1)]``: the free
    bits are split into chunks of at most ``chunk_bits`` bits and ``T_k``
    holds, for every value of chunk k, what its one-bits add (``+2 W``
    each, starting from all free bits at 0 = -1).

    >>> import numpy as np
    >>> W = np.array([[1, -1, 1], [-1, -1, 1]], dtype=np.int8)
    >>> it = InputTables(W, np.array([1, 0, 0], np.uint8), free=[1, 2], chunk_bits=1)
    >>> it.dots(np.arange(4)).tolist()  # x = (1, u0, u1)
    [[1, -1], [-1, -3], [3, 1], [1, -1]]
    """

    def __init__(self, weights: np.ndarray, base: np.ndarray, free: "np.ndarray | list[int]",
                 chunk_bits: int = INPUT_CHUNK_BITS) -> None:
        W = np.asarray(weights).astype(np.int64)
        m, n = W.shape
        free = np.asarray(free, dtype=np.int64).reshape(-1)
        if len(free) > MAX_CODED_BITS:
            raise DataError(f"integer-coded inputs: {len(free)} free bits, at most {MAX_CODED_BITS} fit a code")
        if chunk_bits < 1:
            raise DataError(f"chunk_bits: must be positive, got {chunk_bits}")
        s = 2 * np.asarray(base, dtype=np.int64) - 1
        s[free] = -1
        self.n_free = len(free)
        self.m = m
        self.dtype = np.int16 if n < np.iinfo(np.int16).max // 2 else np.int32
        self.base_dot = (W @ s).astype(self.dtype)
        self.offsets: list[int] = []
        self.tables: list[np.ndarray] = []
        for off in range(0, len(free), chunk_bits):
            cols = free[off : off + chunk_bits]
            b = len(cols)
            v = np.arange(1 << b, dtype=np.int64)
            bits = (v[:, None] >> np.arange(b)[None, :]) & 1
            self.offsets.append(off)
            self.tables.append(np.ascontiguousarray((2 * bits @ W[:, cols].T).astype(self.dtype)))

    @property
    def low_bits(self) -> int:
        """Bits of the first chunk (the block unit of :meth:`dots_block`)."""
        return int(self.tables[0].shape[0]).bit_length() - 1 if self.tables else 0

    def _digit(self, u: np.ndarray, k: int) -> np.ndarray:
        mask = np.uint64(self.tables[k].shape[0] - 1)
        return ((u >> np.uint64(self.offsets[k])) & mask).astype(np.intp)

    def dots(self, u: np.ndarray) -> np.ndarray:
        """(N, m) dot products of the inputs coded by ``u`` (uint64)."""
        u = np.asarray(u, dtype=np.uint64)
        out = np.broadcast_to(self.base_dot, (len(u), self.m)).copy()
        for k in range(len(self.tables)):
            out += self.tables[k][self._digit(u, k)]
        return out

    def dots_block(self, high_start: int, high_count: int) -> np.ndarray:
        """Dots of the codes ``u = h * 2**low_bits + lo`` for ``h`` in
        ``[high_start, high_start + high_count)`` and every ``lo``, in increasing ``u``:
        ((high_count * 2**low_bits), m)."""
        if not self.tables:
            return self.base_dot[None, :].copy()
        lb = self.low_bits
        h = (np.arange(high_start, high_start + high_count, dtype=np.uint64)) << np.uint64(lb)
        high = np.broadcast_to(self.base_dot, (high_count, self.m)).copy()
        for k in range(1, len(self.tables)):
            high += self.tables[k][self._digit(h, k)]
        out = self.tables[0][None, :, :] + high[:, None, :]
        return out.reshape(-1, self.m)

    def _shifted_thresholds(self, high_start: int, high_count: int, thresholds: np.ndarray) -> np.ndarray:
        """(high_count, m) thresholds minus base and high chunks' dots, clipped to the low table's range."""
        lb = self.low_bits
        h = (np.arange(high_start, high_start + high_count, dtype=np.uint64)) << np.uint64(lb)
        shifted = np.asarray(thresholds, dtype=np.int64)[None, :] - self.base_dot.astype(np.int64)[None, :]
        for k in range(1, len(self.tables)):
            shifted = shifted - self.tables[k][self._digit(h, k)]
        lo, hi = int(self.tables[0].min(initial=0)), int(self.tables[0].max(initial=0))
        return np.clip(shifted, lo - 1, hi + 1).astype(self.dtype)  # same comparisons

    def fires_block(self, high_start: int, high_count: int, thresholds: np.ndarray,
                    transposed: bool = False) -> np.ndarray:
        """``dots_block(high_start, high_count) >= thresholds`` as (N, m) booleans
        ((m, N) if ``transposed``), computed by comparing the low chunk's table with
        per-high shifted thresholds (no sum array is built)."""
        if not self.tables:
            f = (self.base_dot >= thresholds)[None, :]
            return f.T.copy() if transposed else f
        shifted = self._shifted_thresholds(high_start, high_count, thresholds)
        if transposed:  # inner axis = the 2**low_bits low codes: long contiguous loops
            low = np.ascontiguousarray(self.tables[0].T)
            return (low[:, None, :] >= shifted.T[:, :, None]).reshape(self.m, -1)
        return (self.tables[0][None, :, :] >= shifted[:, None, :]).reshape(-1, self.m)
