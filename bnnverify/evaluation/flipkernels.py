"""The compiled kernels of :mod:`bnnverify.evaluation.flips` (numba when installed, else plain Python).

Imported only when a Hamming ball is counted: importing numba takes ~0.5 s and
loading these kernels from numba's disk cache another ~0.5 s. Every function
is compiled with ``nopython``, ``nogil`` (the caller runs work units on
threads) and ``cache=True``; ``.py_func`` is the same function as plain
Python (the tests run both).
"""

from __future__ import annotations

import numpy as np

try:  # numba is a dependency; without it the kernels stay plain Python
    import numba as _numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _numba = None

__all__ = ["INITIAL_TABLE_BITS"]

#: Initial hash-table size (log2); the table doubles when half full.
INITIAL_TABLE_BITS: int = 12

_EMPTY = -1
#: 2^64 / golden ratio, as a signed 64-bit integer (Knuth's multiplicative hashing).
_GOLDEN = -7046029254386353131
#: The product's bits 40..63 index tables of up to 2^24 slots (larger tables use the low bits too).
_HASH_SHIFT = 40


def _kernel(fn):
    """Compiled by numba (cached on disk, releasing the GIL) when it is installed; the plain Python
    function stays reachable as ``.py_func`` either way."""
    if _numba is None:  # pragma: no cover - exercised only where numba is missing
        fn.py_func = fn
        return fn
    return _numba.njit(cache=True, nogil=True)(fn)


@_kernel
def _slot(key, mask):
    """The first slot of ``key`` in a table of ``mask + 1`` slots: Fibonacci hashing (the
    wrapped product's high bits)."""
    return ((key * _GOLDEN) >> _HASH_SHIFT) & mask


@_kernel
def _insert(keys, vals, used, key, w):
    """Add ``w`` to ``key`` in the open-addressing table; returns the new number of used slots."""
    mask = len(keys) - 1
    h = _slot(key, mask)
    while True:
        kk = keys[h]
        if kk == key:
            vals[h] += w
            return used
        if kk == _EMPTY:
            keys[h] = key
            vals[h] = w
            return used + 1
        h = (h + 1) & mask


@_kernel
def _grow(keys, vals):
    nk = np.full(2 * len(keys), _EMPTY, np.int64)
    nv = np.zeros(2 * len(keys), np.int64)
    used = 0
    for i in range(len(keys)):
        if keys[i] != _EMPTY:
            used = _insert(nk, nv, used, keys[i], vals[i])
    return nk, nv


@_kernel
def _code(ge, f, always, at):
    c = always[f]
    for t in range(1, f + 1):
        c |= ge[t] & at[f, t]
    return c


@_kernel
def _extend(ge, d, c, col, R, full):
    """Row ``d`` of the path's ``ge`` table from row ``d - 1`` after ``c`` more flips of a type whose
    column (the neurons it moves) is ``col``: bit j of ``ge[d, s]`` says that at least ``s`` of the
    flips so far move neuron j (``ge[d, 0]`` is every neuron). One copy for the counting walk and
    the witness search."""
    for s in range(R + 1):
        g = ge[d - 1, s]
        if s >= c:
            g |= ge[d - 1, s - c] & col
        else:
            g |= col
        ge[d, s] = g
    ge[d, 0] = full


@_kernel
def _popcount(x):
    """Population count of a uint64 (SWAR; LLVM turns the idiom into one instruction)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@_kernel
def _fence_counts(keys, vals, used, S, first_bit, D, U, w, stack, branch, vcode, fence):
    """The last flip by bitsets: for every pattern v of the fence neurons U, the number of later bits
    whose column restricted to U is v is the popcount of an intersection of the neurons' bitsets
    ``S[j]`` (bits in type order; the last row marks the bits that exist) over the bits from
    ``first_bit`` on. Adds ``w * count`` to ``D | v``
    for every nonzero count (a depth-first walk over U's neurons, pruned at empty intersections)."""
    nw = S.shape[1]
    k = S.shape[0] - 1
    w0 = first_bit >> 6
    nu = 0
    for j in range(k):
        if (U >> j) & 1:
            fence[nu] = j
            nu += 1
    for q in range(w0, nw):
        stack[0, q] = S[k, q]
    stack[0, w0] &= np.uint64(0xFFFFFFFFFFFFFFFF) << np.uint64(first_bit & 63)
    branch[0] = 0
    vcode[0] = 0
    d = 0
    while d >= 0:
        if d == nu:
            cnt = 0
            for q in range(w0, nw):
                cnt += _popcount(stack[d, q])
            used = _insert(keys, vals, used, D | vcode[d], w * np.int64(cnt))
            if 2 * used > len(keys):
                keys, vals = _grow(keys, vals)
            d -= 1
            continue
        b = branch[d]
        if b == 2:
            d -= 1
            continue
        branch[d] = b + 1
        j = fence[d]
        nz = np.uint64(0)
        if b == 0:
            for q in range(w0, nw):
                x = stack[d, q] & S[j, q]
                stack[d + 1, q] = x
                nz |= x
            vcode[d + 1] = vcode[d] | (np.int64(1) << j)
        else:
            for q in range(w0, nw):
                x = stack[d, q] & ~S[j, q]
                stack[d + 1, q] = x
                nz |= x
            vcode[d + 1] = vcode[d]
        if nz != 0:
            d += 1
            branch[d] = 0
    return keys, vals, used


@_kernel
def _count_roots(cols, mult, binom, always, at, radius, roots, table_bits, S, start, fence_max):
    """Exact counts of the unstable neurons' codes over every multiset of types whose smallest type
    is in ``roots`` (the empty multiset, the centre, is not counted here)."""
    T = len(cols)
    R = radius
    keys = np.full(1 << table_bits, _EMPTY, np.int64)
    vals = np.zeros(1 << table_bits, np.int64)
    used = 0
    full = np.int64(-1)
    # the path: type, copies, flips so far, weight, and ge[depth, 0..R]
    typ = np.zeros(R + 1, np.int64)
    cop = np.zeros(R + 1, np.int64)
    flips = np.zeros(R + 1, np.int64)
    wt = np.zeros(R + 1, np.int64)
    ge = np.zeros((R + 1, R + 1), np.int64)
    ge[0, 0] = full
    wt[0] = 1
    suffix = np.zeros(T + 1, np.int64)  # bits of types u >= t
    for u in range(T - 1, -1, -1):
        suffix[u] = suffix[u + 1] + mult[u]
    n_slots = 4
    while n_slots < 2 * T:
        n_slots *= 2
    lkeys = np.full(n_slots, _EMPTY, np.int64)  # the last flip's table: at most T keys, half full
    lvals = np.zeros(n_slots, np.int64)
    lused = np.zeros(T, np.int64)
    k = S.shape[0] - 1
    stack = np.zeros((k + 1, S.shape[1]), np.uint64)  # the bitset walk of the last flip
    branch = np.zeros(k + 1, np.int64)
    vcode = np.zeros(k + 1, np.int64)
    fence = np.zeros(k + 1, np.int64)
    for root in roots:
        # depth 1: the root type with c copies, then the subtree of larger types
        d = 1
        typ[1] = root
        cop[1] = 0
        while d >= 1:
            # next option at depth d: more copies of typ[d], else the next type
            t = typ[d]
            c = cop[d] + 1
            fprev = flips[d - 1]
            if c > mult[t] or fprev + c > R:
                if d == 1:
                    break
                # next type at this depth
                t += 1
                if t >= T:
                    d -= 1
                    continue
                typ[d] = t
                cop[d] = 0
                continue
            cop[d] = c
            f = fprev + c
            _extend(ge, d, c, cols[t], R, full)
            w = wt[d - 1] * binom[t, c]
            wt[d] = w
            flips[d] = f
            used = _insert(keys, vals, used, _code(ge[d], f, always, at), w)
            if 2 * used > len(keys):
                keys, vals = _grow(keys, vals)
            if f < R and t + 1 < T:
                if f + 1 == R:
                    # the last flip: every later type once. Its code is D | (col & U): D the
                    # neurons that fire whatever it is, U those that fire iff it raises them.
                    gd = ge[d]
                    D = always[R]
                    U = np.int64(0)
                    for s in range(1, R + 1):
                        D |= gd[s] & at[R, s]
                        U |= gd[s - 1] & ~gd[s] & at[R, s]
                    nu = 0
                    for j in range(k):
                        nu += (U >> j) & 1
                    if U == 0:
                        used = _insert(keys, vals, used, D, w * suffix[t + 1])
                    elif nu <= fence_max:
                        keys, vals, used = _fence_counts(keys, vals, used, S, start[t + 1], D, U, w, stack, branch,
                                                         vcode, fence)
                    else:
                        # sum the later types by col & U in a small table (L1), then flush
                        n_loc = 0
                        lmask = len(lkeys) - 1
                        for u in range(t + 1, T):
                            v = cols[u] & U
                            h = _slot(v, lmask)
                            while lkeys[h] != v and lkeys[h] != _EMPTY:
                                h = (h + 1) & lmask
                            if lkeys[h] == v:
                                lvals[h] += mult[u]
                            else:
                                lkeys[h] = v
                                lvals[h] = mult[u]
                                lused[n_loc] = h
                                n_loc += 1
                        for i in range(n_loc):
                            h = lused[i]
                            used = _insert(keys, vals, used, D | lkeys[h], w * lvals[h])
                            if 2 * used > len(keys):
                                keys, vals = _grow(keys, vals)
                            lkeys[h] = _EMPTY
                    if 2 * used > len(keys):
                        keys, vals = _grow(keys, vals)
                else:
                    d += 1
                    typ[d] = t + 1
                    cop[d] = 0
    n = 0
    for i in range(len(keys)):
        if keys[i] != _EMPTY:
            n += 1
    out_k = np.zeros(n, np.int64)
    out_v = np.zeros(n, np.int64)
    n = 0
    for i in range(len(keys)):
        if keys[i] != _EMPTY:
            out_k[n] = keys[i]
            out_v[n] = vals[i]
            n += 1
    return out_k, out_v


@_kernel
def _find(cols, mult, always, at, radius, targets):
    """The first multiset of types (as copies per type) whose code is in ``targets`` (sorted), or
    an all-zero vector when none is (the centre itself is checked by the caller)."""
    T = len(cols)
    R = radius
    out = np.zeros(T, np.int64)
    full = np.int64(-1)
    typ = np.zeros(R + 1, np.int64)
    cop = np.zeros(R + 1, np.int64)
    flips = np.zeros(R + 1, np.int64)
    ge = np.zeros((R + 1, R + 1), np.int64)
    ge[0, 0] = full
    if T == 0 or R == 0:
        return out
    d = 1
    typ[1] = 0
    cop[1] = 0
    while d >= 1:
        t = typ[d]
        c = cop[d] + 1
        fprev = flips[d - 1]
        if c > mult[t] or fprev + c > R:
            t += 1
            if t >= T:
                d -= 1
                continue
            typ[d] = t
            cop[d] = 0
            continue
        cop[d] = c
        f = fprev + c
        _extend(ge, d, c, cols[t], R, full)
        flips[d] = f
        code = _code(ge[d], f, always, at)
        i = np.searchsorted(targets, code)
        if i < len(targets) and targets[i] == code:
            for e in range(1, d + 1):
                out[typ[e]] = cop[e]
            return out
        if f < R and t + 1 < T:
            d += 1
            typ[d] = t + 1
            cop[d] = 0
    return out
