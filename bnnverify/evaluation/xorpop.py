"""The compiled XOR-popcount block kernel of the evaluator (numba; imported only for large blocks).

``popcounts(XT, wrows, out)`` fills ``out[r, j] = sum_k popcount(XT[k, r] XOR wrows[k, j])``:
the same numbers as the evaluator's numpy loop (one broadcast XOR, one
``bitwise_count`` and one add per 64-bit word), but in one pass with the
neuron loop innermost over a contiguous weight row, so LLVM vectorises the
XOR and the population count (``llvm.ctpop`` on 64-bit lanes) and nothing
goes through memory between them. Compiled with ``nogil`` (the evaluator's
threads run blocks side by side) and ``cache=True``.

Measured (``benchmarks/results/evaluator.md``): see the 784-512-512-10 rows.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

__all__ = ["popcounts"]


@intrinsic
def _ctpop(typingctx, x):
    """``llvm.ctpop`` of a 64-bit unsigned integer (numba has no popcount of its own)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@numba.njit(cache=True, nogil=True)
def popcounts(XT, wrows, out):
    """(N, m) popcounts of ``x XOR w``: ``XT`` is (words, N) uint64, ``wrows`` (words, m) uint64,
    ``out`` (N, m) of an unsigned integer type wide enough for the fan-in; returns ``out``."""
    words, N = XT.shape
    m = wrows.shape[1]
    acc = np.zeros(m, np.uint32)
    for r in range(N):
        acc[:] = 0
        for k in range(words):
            x = XT[k, r]
            row = wrows[k]
            for j in range(m):
                acc[j] += np.uint32(_ctpop(x ^ row[j]))
        for j in range(m):
            out[r, j] = acc[j]
    return out


def warm() -> None:
    """Compile (or load from the cache) for the evaluator's dtypes."""
    XT = np.zeros((1, 1), np.uint64)
    for dt in (np.uint16, np.uint32):
        popcounts(XT, XT, np.zeros((1, 1), dt))
