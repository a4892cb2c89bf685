"""Compiled kernels of the evaluator's conv front (numba; imported only when a batch uses them).

The numpy rules of the feature-map kinds (``encoders/conv_layers.py``:
``forward``) gather every patch of a batch into a float32 array and multiply it
with the kernel — exact, but at batch 1 of the 48x48x3 benchmark network most
of the 1.2 ms per image is spent building those arrays. These kernels compute
the same bits image by image with no intermediate array:

* :func:`conv_bits` (``conv``): the channels of every input position are
  packed once into a slot of bits; a patch is its taps' slots side by side in
  64-bit words, and output channel ``o`` counts ``dis = popcount((patch XOR
  w_o) AND valid_p)``, its disagreements over the positions inside the map:
  the dot product over the valid positions is ``nvalid_p - 2 dis``, so the
  neuron fires iff ``dis <= floor((nvalid_p - theta_o) / 2)`` (``limit``,
  precomputed). Packing slots instead of every patch bit (the first version):
  383 -> 195 µs per image on the 48x48x3 net's second convolution (16
  channels, 3x3: 9 slot inserts per patch instead of 144; load ~8);
* :func:`integer_conv` (``integer-conv``): per position the patch's pixels
  (0 at a padded position) gathered once, then one dot product per output
  channel; fires iff the sum ``>= theta[p, o]``;
* :func:`pool_bits` (``maxpool``): per output the number of set bits of its
  window (padded positions take no part) against ``need`` (1: OR, the
  window's valid size: AND);
* :func:`argmax_out` (``argmax``): a network of conv kinds only goes from its
  last map to its class in the same compiled pass (:func:`classify_front`):
  the evaluator's packed stages cost more per call than the whole
  computation at batch 1 (digits conv net, load ~10: 284 µs per image
  through them, 71 µs by the chained kernels, onnxruntime 64 µs).

The evaluator tests (``tests/test_conv_kernels.py``) compare every kernel with
the numpy rule and the semantics module; ``Evaluator(compiled=False)`` never
uses them. Compiled with ``cache=True`` and ``nogil``.
"""

from __future__ import annotations

import numba
import numpy as np

from bnnverify.encoders.conv_layers import feature_index
from bnnverify.evaluation.xorpop import _ctpop

__all__ = ["conv_bits", "integer_conv", "integer_conv32", "pool_bits", "argmax_out", "classify_front", "conv_tables", "run_layer"]


@numba.njit(cache=True, nogil=True)
def conv_bits(X, chan_idx, tap_q, Cw, wbits, valid, limit, out_idx, out):
    """``conv`` over rows ``X`` (N, n + 1) of 0/1 uint8 (the last column 0, unused here).

    Each input position's channels are packed once into a slot of ``Cw`` bits (a power of two up to
    64, or whole words: ``chan_idx`` (HW, C) their flat indices); a patch is its taps' slots side by
    side (``tap_q`` (P, T): the tap's input position, HW where padded: an empty slot), so bit
    ``t * Cw + c`` is channel c of tap t and no slot straddles a word. ``wbits`` (O, words) holds the
    kernel in that order (bit 1: weight +1), ``valid`` (P, words) the bits of the taps inside the
    map, ``limit`` (P, O) ``floor((nvalid - theta) / 2)``; writes ``out`` (N, m) uint8."""
    N = X.shape[0]
    HW, C = chan_idx.shape
    P, T = tap_q.shape
    O, words = wbits.shape
    cwords = (Cw + 63) // 64
    posw = np.zeros((HW + 1, cwords), np.uint64)
    patch = np.zeros(words, np.uint64)
    for b in range(N):
        x = X[b]
        for q in range(HW):
            for w in range(cwords):
                acc = np.uint64(0)
                for c in range(w * 64, min(C, w * 64 + 64)):
                    acc |= np.uint64(x[chan_idx[q, c]]) << np.uint64(c - w * 64)
                posw[q, w] = acc
        for p in range(P):
            for w in range(words):
                patch[w] = 0
            for t in range(T):
                q = tap_q[p, t]
                base = t * Cw
                if cwords == 1:
                    patch[base >> 6] |= posw[q, 0] << np.uint64(base & 63)
                else:
                    for w in range(cwords):
                        patch[(base >> 6) + w] = posw[q, w]
            for o in range(O):
                dis = 0
                for w in range(words):
                    dis += _ctpop((patch[w] ^ wbits[o, w]) & valid[p, w])
                out[b, out_idx[o, p]] = 1 if dis <= limit[p, o] else 0
    return out


@numba.njit(cache=True, nogil=True)
def integer_conv(X, idx, Wm, theta, out_idx, out):
    """``integer-conv`` over rows ``X`` (N, n + 1) of integers, the last column 0; ``Wm`` (O, K) of an
    integer type wide enough for every product, ``theta`` (P, O) int64; writes ``out`` (N, m) uint8.
    Per position the patch is gathered once, then each output channel is one dot product of K terms
    (a reduction LLVM vectorises; measured on the 48x48x3 net's first layer at load ~7: 300 µs per
    image, against 340-460 µs with the output channel innermost)."""
    N = X.shape[0]
    P, K = idx.shape
    O = Wm.shape[0]
    pv = np.zeros(K, Wm.dtype)
    for b in range(N):
        x = X[b]
        for p in range(P):
            for k in range(K):
                pv[k] = x[idx[p, k]]
            for o in range(O):
                acc = 0
                for k in range(K):
                    acc += Wm[o, k] * pv[k]
                out[b, out_idx[o, p]] = 1 if acc >= theta[p, o] else 0
    return out


@numba.njit(cache=True, nogil=True)
def integer_conv32(X, idx, Wm, theta, out_idx, out):
    """:func:`integer_conv` with int32 patches, weights and sums, for layers whose every partial sum
    stays below 2^31 (the caller checks), patches padded to a multiple of 8 terms (the padding
    index reads 0, weight 0): whole int32 vectors. Measured on the 48x48x3 net's first layer
    (three runs at load ~6): 311-374 µs per image against 504-652 µs for :func:`integer_conv`."""
    N = X.shape[0]
    P, K = idx.shape
    O = Wm.shape[0]
    pv = np.zeros(K, np.int32)
    for b in range(N):
        x = X[b]
        for p in range(P):
            for k in range(K):
                pv[k] = x[idx[p, k]]
            for o in range(O):
                acc = np.int32(0)
                w = Wm[o]
                for k in range(K):
                    acc += w[k] * pv[k]
                out[b, out_idx[o, p]] = 1 if acc >= theta[p, o] else 0
    return out


@numba.njit(cache=True, nogil=True)
def pool_bits(X, flat_idx, need, out):
    """``maxpool`` over rows ``X`` (N, n + 1) of 0/1 uint8, the last column 0; ``flat_idx`` (m, k)
    int64 in output order (n: padded), ``need`` (m,); writes ``out`` (N, m) uint8."""
    N = X.shape[0]
    m, k = flat_idx.shape
    for b in range(N):
        x = X[b]
        for j in range(m):
            s = 0
            for t in range(k):
                s += x[flat_idx[j, t]]
            out[b, j] = 1 if s >= need[j] else 0
    return out


@numba.njit(cache=True, nogil=True)
def argmax_out(X, W, scale, bias, out):
    """Classes of rows ``X`` (N, n) of 0/1 uint8 under the ``argmax`` rule: ``W`` (c, n) int8,
    ``scale``/``bias`` (c,) float64; score ``scale * dot + bias`` (one rounded multiply, one rounded
    add: no contraction without fastmath), the smallest index among the maximal scores."""
    N, n = X.shape
    c = W.shape[0]
    for b in range(N):
        x = X[b]
        best = 0
        top = 0.0
        for k in range(c):
            d = np.int32(0)  # |d| <= n < 2^31 (the exporter's and the model file's bound)
            for i in range(n):  # branch-free int32 lanes: 0.32 µs per row of 144 x 10, branchy 0.39, int64 0.49
                d += np.int32(W[k, i]) * (np.int32(2) * np.int32(x[i]) - np.int32(1))
            sc = scale[k] * np.float64(d) + bias[k]
            if k == 0 or sc > top:
                best, top = k, sc
        out[b] = best
    return out


def classify_front(layers, output, V: np.ndarray) -> np.ndarray:
    """Classes of rows ``V`` through conv-kind ``layers`` and the ``argmax`` ``output`` (compiled)."""
    for h in layers:
        V = run_layer(h, V)
    W = output.__dict__.get("_compiled_w")
    if W is None:
        W = output.__dict__.setdefault("_compiled_w", np.ascontiguousarray(output.weights, dtype=np.int8))
    return argmax_out(V, W, output.scale, output.bias, np.empty(V.shape[0], np.int64))


def _words(bits: np.ndarray) -> np.ndarray:
    """Rows of 0/1 (a multiple of 64 wide) as uint64 words: bit k of word w is entry 64 w + k."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


def conv_tables(layer) -> tuple:
    """The kernel's arrays of a conv-kind layer (computed once per layer; read-only)."""
    cache = layer.geometry.__dict__.setdefault("_cache", {})
    if "compiled" in cache:
        return cache["compiled"]
    g = layer.geometry
    n = g.n_in
    if layer.kind == "conv":
        C, H, Wd = g.shape
        kh, kw = g.kernel
        T = kh * kw
        O = layer.out_channels
        Cw = 1 << max(0, (C - 1).bit_length()) if C <= 64 else 64 * ((C + 63) // 64)
        words = (T * Cw + 63) // 64
        hh, ww = np.divmod(np.arange(H * Wd), Wd)
        chan_idx = feature_index(g.layout, C, H, Wd, np.arange(C)[None, :], hh[:, None], ww[:, None])
        idx = g.windows(channels=True).reshape(-1, C, T)  # (P, C, T): kernel order (c, i, j)
        inside = idx[:, 0, :] < n  # a tap is inside the map for every channel or for none
        q_of = np.full(n + 1, H * Wd, np.int64)
        q_of[chan_idx[:, 0]] = np.arange(H * Wd)
        tap_q = np.where(inside, q_of[np.minimum(idx[:, 0, :], n)], H * Wd)
        bitpos = (np.arange(T)[None, :] * Cw + np.arange(C)[:, None])  # (C, T): bit of channel c, tap t
        kb = np.zeros((O, words * 64), np.uint8)
        kb[:, bitpos.reshape(-1)] = (layer.weights.reshape(O, C, T) > 0).reshape(O, -1)
        vb = np.zeros((idx.shape[0], words * 64), np.uint8)
        vb[:, bitpos.reshape(-1)] = np.broadcast_to(inside[:, None, :], (idx.shape[0], C, T)).reshape(idx.shape[0], -1)
        nvalid = inside.sum(axis=1).astype(np.int64) * C
        limit = (nvalid[:, None] - layer.thresholds[None, :].astype(np.int64)) // 2
        t = (np.ascontiguousarray(chan_idx.astype(np.int64)), np.ascontiguousarray(tap_q), int(Cw), _words(kb),
             _words(vb), np.ascontiguousarray(limit), g.out_index(O))
    elif layer.kind == "integer-conv":
        idx = g.windows(channels=True)
        O = layer.out_channels
        WT = np.ascontiguousarray(layer.weights.reshape(O, -1).astype(np.int64))  # (O, K)
        theta = np.ascontiguousarray(layer.thresholds.reshape(O, -1).T.astype(np.int64))
        t = (np.ascontiguousarray(idx), WT, theta, g.out_index(O))
    else:
        idx = g.windows(channels=False)
        need = np.where(layer.polarity[:, None] > 0, 1, (idx < n).sum(axis=2))
        order = np.argsort(g.out_index(layer.out_channels).reshape(-1))
        t = (np.ascontiguousarray(idx.reshape(-1, idx.shape[2])[order]),
             np.ascontiguousarray(need.reshape(-1)[order].astype(np.int64)))
    cache["compiled"] = t
    return t


#: ``integer-conv`` gathers its patches as int32 when every product and partial sum stays below this
#: (|pixel| x |weight| x fan-in; ±1 kernels of 27 taps over 0..255 pixels: 6,912), else int64; the
#: sums are int64. (int16 patches measured no faster: 302 against 301 µs per image.)
_INT32_EXACT = 1 << 31

#: :func:`integer_conv32` pads each patch to a multiple of this many terms (int32 lanes of AVX2).
_INT32_LANES = 8


def _padded(V: np.ndarray, dtype) -> np.ndarray:
    """Rows ``V`` with a zero column appended (what a padded position reads)."""
    out = np.empty((V.shape[0], V.shape[1] + 1), dtype)
    out[:, :-1] = V
    out[:, -1] = 0
    return out


def run_layer(layer, V: np.ndarray) -> np.ndarray:
    """Output bits (N, m) uint8 of a conv-kind layer on rows ``V`` with the compiled kernels."""
    out = np.empty((V.shape[0], layer.n_outputs), np.uint8)
    t = conv_tables(layer)
    if layer.kind == "conv":
        return conv_bits(_padded(V, np.uint8), *t, out)
    if layer.kind == "maxpool":
        return pool_bits(_padded(V, np.uint8), *t, out)
    idx, WT, theta, out_idx = t
    vmax = int(np.abs(V).max(initial=0))
    bound = (vmax + 1) * int(np.abs(WT).max(initial=0)) * (idx.shape[1] + 1)
    if bound < _INT32_EXACT:
        cache = layer.geometry.__dict__["_cache"]
        if "compiled32" not in cache:
            n, (P, K) = V.shape[1], idx.shape
            Kp = -(-K // _INT32_LANES) * _INT32_LANES
            idxp = np.full((P, Kp), n, np.int64)
            idxp[:, :K] = idx
            Wp = np.zeros((WT.shape[0], Kp), np.int32)
            Wp[:, :K] = WT
            cache["compiled32"] = (idxp, Wp)
        idxp, Wp = cache["compiled32"]
        return integer_conv32(_padded(V, np.int32), idxp, Wp, theta, out_idx, out)
    return integer_conv(_padded(V, np.int64), idx, WT, theta, out_idx, out)
