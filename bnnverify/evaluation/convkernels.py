"""Compiled kernels of the evaluator's conv front (numba; imported only when a batch uses them).

The numpy rules of the feature-map kinds (``encoders/conv_layers.py``:
``forward``) gather every patch of a batch into a float32 array and multiply it
with the kernel — exact, but at batch 1 of the 48x48x3 benchmark network most
of the 1.2 ms per image is spent building those arrays. :func:`build_front`
turns a network's leading layers into a :class:`ConvFront` once (tables,
bounds, the choice of kernel per layer); it computes the same bits as the numpy
rules. The figures below are µs per image on the 2 shared cores, measured as
ratios in one process (the machine's load was 2-5), batch 1 unless said.

* ``conv`` (:func:`conv_bits32` for slots of at most 32 bits, :func:`conv_bits`
  for wider ones): the channels of every input position are packed once into a
  slot of bits (for an HWC map of a multiple of 8 channels, eight channel bytes
  per multiply: ``(w * 0x0102040810204080) >> 56``); a patch is its taps' slots
  side by side, and output channel ``o`` counts ``dis = popcount(patch XOR
  w_o)``. A padded tap's slot is empty (0 bits), so it adds the number of
  ``+1`` weights of channel ``o`` on it, a constant per (position, channel)
  folded into the limit: the neuron fires iff ``dis <= floor((nvalid_p -
  theta_o) / 2) + pad_p,o`` (no mask word per patch). The output channel is
  the innermost loop over a (words, O) weight table, so LLVM vectorises the
  XOR and the population count (``vpopcntd`` / ``vpopcntq`` on AVX-512); a
  position's input channels are read at ``qbase[q] + c * cstride`` and its
  outputs written at ``obase[p] + o * ostride`` (both layouts are affine),
  through a slice when the stride is 1 (HWC). Measured on the 48x48x3 net's
  second convolution (16 -> 32 channels, 24x24): 52 µs at batch 100 (first
  version: a packed patch per output, words innermost, gathered channel
  indices, scattered stores) -> 34 µs (channels innermost) -> 17 µs (slices:
  the stores had been scalar, 10 µs of them; packing through a gathered
  channel index table: 10 µs, through ``qbase + c``: 0.8 µs); at batch 1:
  25.8 -> 21.0 (channel words) -> 16.4-18.0 (32-bit lanes). Rejected: fixed
  chunks of 8 output channels (36 against 21.5 µs); patches from row segments
  (20.5 against 18.0); slices of the input row for the packing (26.5 against
  22.3). Before all this, packing every patch bit instead of slots: 383 ->
  195 µs.
* ``maxpool`` (:func:`pool_words`, :func:`pool_channels`, :func:`pool_flat`):
  the OR (polarity +1) or AND (-1) of a window's valid positions. HWC maps of
  a multiple of 8 channels: eight channels per 64-bit word (each byte 0 or 1,
  so the OR and AND of the words are the bits'); 48x48x3 net's first pooling
  10.1 -> 4.3 µs (8.5 -> 2.4 at batch 100). Other channel-contiguous maps:
  int32 counters with channels innermost (17.8 -> 8.6 µs at batch 100 against
  one gathered window per output; the 16-channel loops are too short for the
  vectorised loop body, and fixed 16-lane chunks were slower: 14.1 µs). CHW
  maps: one gathered window per output (a channel-innermost loop with stride
  H*W measured 0.46 against 0.28 µs on the digits conv net).
* ``integer-conv`` (:func:`threshold_map` after oneDNN, else
  :func:`integer_conv32` / :func:`integer_conv`): when every partial sum is
  an integer of magnitude below 2^24 — checked once, at :func:`build_front`,
  from the weights and the input range (``max |pixel| * max_o sum_k
  |W[o, k]|``, which bounds every partial sum in any order of summation) —
  the convolution runs through torch's oneDNN direct convolution in float32
  (``torch.mkldnn_convolution``; torch is a core dependency), on one torch
  thread: every product and every partial sum is then an exact float32
  integer, whatever order oneDNN adds in, and :func:`threshold_map` compares
  with the thresholds (float32 integers clipped to ±2^24: the same
  comparisons). It is not taken when the bound fails, when torch is set to a
  reduced-precision float32 mode (``torch.get_float32_matmul_precision() !=
  "highest"`` or a oneDNN ``fp32_precision`` other than IEEE; checked at every
  call), or when probe images at build (every pixel at its low bound, at its
  high bound, and random images, in batches of 1 and of ``_FloatConv.batch``)
  do not give the integer kernel's bits (a Winograd or otherwise inexact
  algorithm would show there): then the exact integer kernels run. oneDNN
  picks its kernel by shape, batch size included, so it is only ever called
  on those two probed sizes: longer inputs in chunks, a shorter rest padded
  with zero rows (``_FloatConv.run``; the batch is the front's block of
  ``FRONT_BLOCK_BYTES`` of this layer's float32 sums, 7 images on the
  48x48x3 net). One-channel inputs are given plain NCHW strides: with
  channels-last strides (stride 1 on a channel axis of size 1) torch 2.13's
  convolution returned wrong sums from batch 12 on (found by the hypothesis
  test; ``tests/test_conv_kernels.py`` keeps the case). Measured on the
  48x48x3 net's first layer (27 taps x 16 channels at 2,304 positions):
  oneDNN 37 µs at batch 1 (of which ~22 µs is the call's fixed cost), 14 µs
  per image at batch 8 and more, against 117-128 µs for
  :func:`integer_conv32`. ``F.conv2d`` on the same channels-last tensor: 75
  µs at batch 1 (another code path); on an NCHW copy 32 µs at batch 1 but 49
  µs per image at batch 100. Rejected: a numba kernel with the output channel
  innermost (a 16-lane int32 accumulator per position, the patch gathered
  once): 212 µs, with slices 237 µs (the accumulator goes through memory for
  each of the 27 taps); int16 patches in :func:`integer_conv32`: no faster
  (302 against 301 µs); a float32 GEMM over patches gathered here (numba
  gather 20.7 µs + OpenBLAS sgemm 24.8 µs, torch.mm 27.4): no gain; the image
  cut into row strips as a batch of 8 (to take oneDNN's batched kernels): 42
  µs; torch's ``ge`` for the thresholds: 13 µs, against 2-3 for
  :func:`threshold_map`; the thresholds fused into the max-pooling after the
  layer (reading the float32 sums): 10.8 µs against 2.1 + 4.3.
* ``quantize`` (:func:`quantize_bits`): a pixel network's first layer, so that
  ``quantize`` then conv kinds is one compiled pass too.
* ``argmax`` (:func:`argmax_words`): a network of conv kinds only goes from its
  last map to its class in the same pass (:meth:`ConvFront.classify`): the
  evaluator's packed stages cost more per call than the whole computation at
  batch 1 (digits conv net, load ~10: 284 µs per image through them, 71 µs by
  the chained kernels, onnxruntime 64 µs); the head itself by XOR-popcounts.

:meth:`ConvFront.classify` runs the layers on blocks of images whose widest
map fits :data:`FRONT_BLOCK_BYTES` (a 1,000-image batch of the 48x48x3 net
would otherwise write a 37 MB first map and read it back from memory). A front
whose ``conv`` layers read at most :data:`SLICE_MAX_FANIN` bits per patch (the
digits conv net: 9), after at most a ``quantize`` layer, runs on 64 images per
word at batches of :data:`SLICE_MIN_ROWS` and more (:func:`conv_sliced`: the
disagreements of 64 images counted at once in bit-sliced ripple counters, then
compared with the limit bit by bit; :func:`pool_sliced`: ORs and ANDs of
words): digits conv net at batch 1,000, 1.13 µs for the per-image conv kernel
-> 0.29 µs per image for the whole network (onnxruntime 0.70).

The evaluator tests (``tests/test_conv_kernels.py``) compare every kernel with
the numpy rule and the semantics module; ``Evaluator(compiled=False)`` never
uses them. Compiled with ``cache=True`` and ``nogil``; one thread (no
``prange``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from bnnverify.encoders.conv_layers import feature_index
from bnnverify.evaluation.xorpop import _ctpop

__all__ = ["conv_bits", "conv_bits32", "pool_channels", "pool_words", "pool_flat", "threshold_map", "integer_conv",
           "integer_conv32", "argmax_words", "in_bounds", "quantize_bits", "slice_rows", "unslice_rows", "conv_sliced",
           "pool_sliced", "LayerPlan", "ConvFront", "build_front", "plan_layer", "run_layer", "FLOAT32_EXACT",
           "FRONT_BLOCK_BYTES", "SLICE_MAX_FANIN", "SLICE_MIN_ROWS", "SLICE_BLOCK"]

#: float32 adds integers exactly while every partial sum stays below this in magnitude (the mantissa).
FLOAT32_EXACT = 1 << 24

#: :meth:`ConvFront.classify` evaluates blocks of images whose widest map (bytes per image, float32
#: for an ``integer-conv`` through oneDNN) takes about this much: inside the 1 MB L2.
FRONT_BLOCK_BYTES = 1 << 20

#: ``integer-conv`` gathers its patches as int32 when every product and partial sum stays below this
#: (|pixel| x |weight| x fan-in; ±1 kernels of 27 taps over 0..255 pixels: 6,912), else int64; the
#: sums are int64. (int16 patches measured no faster: 302 against 301 µs per image.)
_INT32_EXACT = 1 << 31

#: :func:`integer_conv32` pads each patch to a multiple of this many terms (int32 lanes of AVX2).
_INT32_LANES = 8

#: :meth:`ConvFront.classify` computes a front of ``conv`` / ``maxpool`` layers on 64 images per
#: word (:func:`conv_sliced`) when every ``conv`` reads at most this many bits per patch and the
#: batch has at least :data:`SLICE_MIN_ROWS` images: the ripple counters cost ~3 (1 + log2 K)
#: operations per patch entry for 64 images, against a packed patch per image.
SLICE_MAX_FANIN = 32

#: Batches below this many images keep the per-image kernels (a word of 64 images half empty costs
#: as much as a full one).
SLICE_MIN_ROWS = 64

#: Images per block of the bit-sliced front (16 words per map row: two AVX-512 vectors).
SLICE_BLOCK = 1024

#: :func:`conv_bits32` takes the layers whose slots fit 32-bit words (at most 32 channels).
_DWORD_BITS = 32

#: Bits of a word (the output layer's packed weights).
_WORD_BITS = 64

#: A byte 1 in each of the 8 bytes of a word (the AND identity of :func:`pool_words`).
_BYTE_ONES = 0x0101010101010101

#: ``(w * _BYTE_GATHER) >> 56`` is the 8 bytes of ``w`` (each 0 or 1) as 8 bits, byte i at bit i:
#: the products' bits never collide, so nothing carries (:func:`conv_bits`' word packing).
_BYTE_GATHER = 0x0102040810204080

#: Seed of the random probe images :func:`plan_layer` runs through both ``integer-conv`` paths.
_PROBE_SEED = 0

#: Random probe images per check (oneDNN picks other kernels for other batch sizes: one of torch
#: 2.13's returned wrong sums from batch 12 on, for one-channel inputs given degenerate strides;
#: so oneDNN is only ever called on batches of 1 and of one other size, both probed).
_PROBE_IMAGES = 32


@numba.njit(cache=True, nogil=True)
def conv_bits(X, qbase, cstride, C, tap_q, Cw, wT, lim, obase, ostride, out):
    """``conv`` over rows ``X`` (N, n) of 0/1 uint8.

    Channel c of input position q is ``X[b, qbase[q] + c * cstride]``; the channels of a position are
    packed once into a slot of ``Cw`` bits (a power of two up to 64, or whole words); a patch is its
    taps' slots side by side (``tap_q`` (P, T): the tap's input position, HW where padded: an empty
    slot), so bit ``t * Cw + c`` is channel c of tap t and no slot straddles a word. ``wT`` (words, O)
    holds the kernel in that order (bit 1: weight +1), ``lim`` (P, O) int64 the largest number of
    disagreements at which the neuron fires (padded taps' +1 weights included); output channel o of
    position p is written at ``obase[p] + o * ostride`` of ``out`` (N, m) uint8."""
    N = X.shape[0]
    HW = qbase.shape[0]
    P, T = tap_q.shape
    words, O = wT.shape
    cwords = (Cw + 63) // 64
    posw = np.zeros((HW + 1, cwords), np.uint64)  # row HW: the empty slot of a padded tap
    patch = np.zeros(words, np.uint64)
    acc = np.zeros(O, np.int64)
    by_words = cstride == 1 and C % 8 == 0  # HWC: 8 channel bytes per 64-bit word
    gather = np.uint64(_BYTE_GATHER)
    for b in range(N):
        if by_words:
            xw = X[b].view(np.uint64)
            for q in range(HW):
                qw = qbase[q] >> 3
                for w in range(cwords):
                    a = np.uint64(0)
                    for k in range(min(8, C // 8 - w * 8)):
                        a |= ((xw[qw + w * 8 + k] * gather) >> np.uint64(56)) << np.uint64(8 * k)
                    posw[q, w] = a
        else:
            for q in range(HW):
                qb = qbase[q]
                for w in range(cwords):
                    a = np.uint64(0)
                    lo = w * 64
                    for c in range(lo, min(C, lo + 64)):
                        a |= np.uint64(X[b, qb + c * cstride]) << np.uint64(c - lo)
                    posw[q, w] = a
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
                acc[o] = 0
            for w in range(words):
                pw = patch[w]
                for o in range(O):
                    acc[o] += np.int64(_ctpop(pw ^ wT[w, o]))
            ob = obase[p]
            if ostride == 1:
                dst = out[b, ob:ob + O]
                for o in range(O):
                    dst[o] = acc[o] <= lim[p, o]
            else:
                for o in range(O):
                    out[b, ob + o * ostride] = acc[o] <= lim[p, o]
    return out


@intrinsic
def _ctpop32(typingctx, x):
    """``llvm.ctpop`` of a 32-bit unsigned integer (``vpopcntd``: 16 lanes of AVX-512)."""
    if x != types.uint32:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return types.uint32(types.uint32), codegen


@numba.njit(cache=True, nogil=True)
def conv_bits32(X, qbase, cstride, C, tap_q, Cw, wT, lim, obase, ostride, out):
    """:func:`conv_bits` for slots of at most 32 bits (C <= 32) in 32-bit words: ``wT`` (dwords, O)
    uint32, ``lim`` (P, O) int32; the popcounts and the limits are int32 lanes (16 per AVX-512
    vector instead of 8). Measured on the 48x48x3 net at batch 1: 21.0 -> 16.4 µs per image on the
    second convolution (16 channels), 8.0 -> 6.6 on the third (32). Rejected: patches from row
    segments (the ``kw`` slots of a kernel row are ``kw * Cw`` contiguous bits, built once per image
    and input row: 3 inserts per patch instead of 9): 18.0 -> 20.5 µs on the second convolution;
    positions innermost (all patches of the image as (dwords, P), one long loop per output channel
    and word, then scattered stores): 18.6 against 17.8 µs. The store loop is written out here and
    in :func:`conv_bits` on purpose: one shared ``inline="always"`` helper taking ``lim[p]`` cost the
    48x48x3 net 10,914 -> 9,747 inputs/s at batch 1 (onnxruntime 9,904-10,007; load 0.6)."""
    N = X.shape[0]
    HW = qbase.shape[0]
    P, T = tap_q.shape
    dwords, O = wT.shape
    posw = np.zeros(HW + 1, np.uint32)  # entry HW: the empty slot of a padded tap
    patch = np.zeros(dwords, np.uint32)
    acc = np.zeros(O, np.int32)
    by_words = cstride == 1 and C % 8 == 0
    gather = np.uint64(_BYTE_GATHER)
    for b in range(N):
        if by_words:
            xw = X[b].view(np.uint64)
            for q in range(HW):
                qw = qbase[q] >> 3
                a = np.uint64(0)
                for k in range(C // 8):
                    a |= ((xw[qw + k] * gather) >> np.uint64(56)) << np.uint64(8 * k)
                posw[q] = np.uint32(a)
        else:
            for q in range(HW):
                qb = qbase[q]
                a = np.uint64(0)
                for c in range(C):
                    a |= np.uint64(X[b, qb + c * cstride]) << np.uint64(c)
                posw[q] = np.uint32(a)
        for p in range(P):
            for w in range(dwords):
                patch[w] = 0
            for t in range(T):
                base = t * Cw
                patch[base >> 5] |= np.uint32(posw[tap_q[p, t]] << np.uint32(base & 31))
            for o in range(O):
                acc[o] = 0
            for w in range(dwords):
                pw = patch[w]
                for o in range(O):
                    acc[o] += np.int32(_ctpop32(np.uint32(pw ^ wT[w, o])))
            ob = obase[p]
            if ostride == 1:
                dst = out[b, ob:ob + O]
                for o in range(O):
                    dst[o] = acc[o] <= lim[p, o]
            else:
                for o in range(O):
                    out[b, ob + o * ostride] = acc[o] <= lim[p, o]
    return out


@numba.njit(cache=True, nogil=True)
def pool_channels(X, base, need, obase, out):
    """``maxpool`` over rows ``X`` (N, n) of 0/1 uint8 of a map whose channels are contiguous (HWC):
    ``base`` (P, k) the index of channel 0 of each window position (-1: padded), ``need`` (P, C) int32;
    channel c of output position p is written at ``obase[p] + c`` of ``out`` (N, m) uint8. (Slices of
    ``X`` and ``out`` per window position instead of indices: 28.5 against 8.6 µs per image on the
    48x48x3 net's first pooling.)"""
    N = X.shape[0]
    P, k = base.shape
    C = need.shape[1]
    s = np.zeros(C, np.int32)
    for b in range(N):
        for p in range(P):
            for c in range(C):
                s[c] = 0
            for t in range(k):
                q = base[p, t]
                if q >= 0:
                    for c in range(C):
                        s[c] += X[b, q + c]
            ob = obase[p]
            for c in range(C):
                out[b, ob + c] = s[c] >= need[p, c]
    return out


@numba.njit(cache=True, nogil=True)
def pool_words(Xw, base, orm, obase, out):
    """``maxpool`` of an HWC map whose channel count is a multiple of 8, eight channels per 64-bit
    word: ``Xw`` (N, n / 8) uint64 (the 0/1 bytes of the map), ``base`` (P, k) the word of channel 0
    of each window position (-1: padded), ``orm`` (C / 8,) uint64 with byte 0xFF for an OR channel
    (polarity +1) and 0 for an AND channel; output position p's words at ``obase[p]`` of ``out``
    (N, m / 8) uint64. Each byte is 0 or 1, so the OR and the AND of the words are those of the
    bits. (Channels innermost as int32 counters, :func:`pool_channels`: 10.1 against 4.3 µs per
    image at batch 1 on the 48x48x3 net's first pooling, 8.5 against 2.4 at batch 100; the inner
    loops of 16 channels are too short for the vectorised loop, and fixed chunks of 16 lanes were
    slower still: 14.1 µs.)"""
    N = Xw.shape[0]
    P, k = base.shape
    CW = orm.shape[0]
    for b in range(N):
        for p in range(P):
            ob = obase[p]
            for w in range(CW):
                a = np.uint64(_BYTE_ONES)
                o = np.uint64(0)
                for t in range(k):
                    q = base[p, t]
                    if q >= 0:
                        v = Xw[b, q + w]
                        o |= v
                        a &= v
                out[b, ob + w] = (o & orm[w]) | (a & ~orm[w])
    return out


@numba.njit(cache=True, nogil=True)
def pool_flat(X, flat_idx, need, out):
    """``maxpool`` over rows ``X`` (N, n) of 0/1 uint8: ``flat_idx`` (m, k) int64 in output order
    (-1: padded), ``need`` (m,); writes ``out`` (N, m) uint8."""
    N = X.shape[0]
    m, k = flat_idx.shape
    for b in range(N):
        x = X[b]
        for j in range(m):
            s = 0
            for t in range(k):
                q = flat_idx[j, t]
                if q >= 0:
                    s += x[q]
            out[b, j] = 1 if s >= need[j] else 0
    return out


@numba.njit(cache=True, nogil=True)
def quantize_bits(X, cuts, out):
    """``quantize`` over checked integer rows ``X`` (N, n): bit ``f * K + k`` of ``out`` (N, n K) uint8
    is ``X[b, f] >= cuts[f, k]`` (a front's first layer, so that a network of pixels through
    ``quantize`` then conv kinds stays in the compiled pass)."""
    N, n = X.shape
    K = cuts.shape[1]
    for b in range(N):
        for f in range(n):
            v = X[b, f]
            for k in range(K):
                out[b, f * K + k] = v >= cuts[f, k]
    return out


@numba.njit(cache=True, nogil=True)
def threshold_map(D, theta, out):
    """Bits ``D >= theta`` of exact integer sums ``D`` (N, m) float32 stored in the output map's order
    against ``theta`` (m,) float32, into ``out`` (N, m) uint8. (Through (N, P, O) views with an
    affine output index: 7-10 µs per image on the 48x48x3 net's first layer; flat: 3.2 µs.)"""
    N, m = D.shape
    for b in range(N):
        d = D[b]
        o = out[b]
        for j in range(m):
            o[j] = d[j] >= theta[j]
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
def argmax_words(X, W, scale, bias, out):
    """Classes of rows ``X`` (N, n) of 0/1 uint8 under the ``argmax`` rule, by XOR-popcounts: ``W``
    (c, words) uint64 holds the output weights' bits (1: +1; the bits past n 0); each row is packed
    once (eight bytes per multiply when n % 8 == 0), then ``dot = n - 2 popcount(x XOR w)`` and the
    score ``scale * dot + bias`` (one rounded multiply, one rounded add: no contraction without
    fastmath), the smallest index among the maximal scores. Measured against the int32 dot products
    it replaces (``W[k, i] * (2 x_i - 1)``, branch-free int32 lanes; those had measured 0.32 µs per
    row of 144 x 10 against 0.39 branchy and 0.49 in int64): 48x48x3 net's head (1,152 x 43) 3.7 ->
    1.2 µs at batch 1, 2.7 -> 0.24 µs per row at batch 1,000; digits (144 x 10) 0.11 -> 0.06."""
    N, n = X.shape
    c, words = W.shape
    x = np.zeros(words, np.uint64)
    gather = np.uint64(_BYTE_GATHER)
    by_words = n % 8 == 0
    for b in range(N):
        for w in range(words):
            x[w] = 0
        if by_words:
            xw = X[b].view(np.uint64)
            for k in range(n // 8):
                x[k >> 3] |= ((xw[k] * gather) >> np.uint64(56)) << np.uint64(8 * (k & 7))
        else:
            for i in range(n):
                x[i >> 6] |= np.uint64(X[b, i]) << np.uint64(i & 63)
        best = 0
        top = 0.0
        for k in range(c):
            dis = 0
            for w in range(words):
                dis += _ctpop(x[w] ^ W[k, w])
            sc = scale[k] * np.float64(n - 2 * np.int64(dis)) + bias[k]
            if k == 0 or sc > top:
                best, top = k, sc
        out[b] = best
    return out


# -- bit-sliced over images ---------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def slice_rows(X, XT):
    """Rows ``X`` (N, n) of 0/1 uint8 as ``XT`` (n, G) uint64: bit ``b % 64`` of word ``b // 64`` of row
    k is image b's bit k (G = ceil(N / 64); the last word's spare bits 0)."""
    N, n = X.shape
    XT[:, :] = 0
    for b in range(N):
        g = b >> 6
        sh = np.uint64(b & 63)
        for k in range(n):
            XT[k, g] |= np.uint64(X[b, k]) << sh
    return XT


@numba.njit(cache=True, nogil=True)
def unslice_rows(YT, out):
    """Inverse of :func:`slice_rows`: ``YT`` (m, G) uint64 -> ``out`` (N, m) uint8."""
    N, m = out.shape
    for b in range(N):
        g = b >> 6
        sh = np.uint64(b & 63)
        for j in range(m):
            out[b, j] = (YT[j, g] >> sh) & np.uint64(1)
    return out


@numba.njit(cache=True, nogil=True)
def conv_sliced(XT, idx, wmask, lim, obase, ostride, B, out):
    """``conv`` on 64 images per word: ``XT`` (n, G) uint64 (:func:`slice_rows`), ``idx`` (P, K) the
    flat input index of each patch entry (-1: padded), ``wmask`` (O, K) uint64 (all ones where the
    weight is +1), ``lim`` (P, O) the largest number of disagreements at which the neuron fires;
    neuron (o, p) is row ``obase[p] + o * ostride`` of ``out`` (m, G). The disagreements of every
    image are counted in ``B`` bit-sliced counters (ripple half adders, vectorised over G)."""
    P, K = idx.shape
    O = wmask.shape[0]
    G = XT.shape[1]
    cnt = np.zeros((B, G), np.uint64)
    carry = np.zeros(G, np.uint64)
    ones = ~np.uint64(0)
    for p in range(P):
        for o in range(O):
            lp = lim[p, o]
            row = obase[p] + o * ostride
            if lp < 0:
                for g in range(G):
                    out[row, g] = 0
                continue
            if lp >= (1 << B) - 1:
                for g in range(G):
                    out[row, g] = ones
                continue
            cnt[:, :] = 0
            for t in range(K):
                q = idx[p, t]
                if q < 0:
                    continue
                wm = wmask[o, t]
                for g in range(G):
                    carry[g] = XT[q, g] ^ wm
                for bb in range(B):
                    for g in range(G):
                        c = cnt[bb, g]
                        cnt[bb, g] = c ^ carry[g]
                        carry[g] = c & carry[g]
            for g in range(G):  # count <= lp, from the most significant bit: not (count > lp)
                gt = np.uint64(0)
                eq = ones
                for bb in range(B - 1, -1, -1):
                    c = cnt[bb, g]
                    if (lp >> bb) & 1:
                        eq &= c
                    else:
                        gt |= eq & c
                        eq &= ~c
                out[row, g] = ~gt
    return out


@numba.njit(cache=True, nogil=True)
def pool_sliced(XT, flat_idx, is_or, out):
    """``maxpool`` on 64 images per word: ``flat_idx`` (m, k) in output order (-1: padded), ``is_or``
    (m,) 1 for OR (polarity +1), 0 for AND; ``out`` (m, G)."""
    m, k = flat_idx.shape
    G = XT.shape[1]
    for j in range(m):
        if is_or[j]:
            for g in range(G):
                out[j, g] = 0
            for t in range(k):
                q = flat_idx[j, t]
                if q >= 0:
                    for g in range(G):
                        out[j, g] |= XT[q, g]
        else:
            for g in range(G):
                out[j, g] = ~np.uint64(0)
            for t in range(k):
                q = flat_idx[j, t]
                if q >= 0:
                    for g in range(G):
                        out[j, g] &= XT[q, g]
    return out


@numba.njit(cache=True, nogil=True)
def in_bounds(X, lo, hi):
    """Whether every entry of the integer rows ``X`` (N, n) lies in ``[lo[f], hi[f]]`` (one pass,
    no copy: ``IntegerInputs.check`` converts and compares in several numpy passes, 7 µs per image
    at batch 1 of the 48x48x3 net, 10 µs per image at batch 1,000)."""
    N, n = X.shape
    ok = True
    for b in range(N):
        for f in range(n):
            v = X[b, f]
            ok &= (v >= lo[f]) & (v <= hi[f])
        if not ok:
            return False
    return ok


# -- tables ------------------------------------------------------------------------------------


def _words(bits: np.ndarray) -> np.ndarray:
    """Rows of 0/1 (a multiple of 64 wide) as uint64 words: bit k of word w is entry 64 w + k."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


def _out_affine(g: Any, O: int) -> tuple[np.ndarray, int]:
    """``(obase, ostride)`` with ``out_index(O)[o, p] == obase[p] + o * ostride`` (both layouts)."""
    oi = g.out_index(O)
    obase = np.ascontiguousarray(oi[0], dtype=np.int64)
    ostride = int(oi[1, 0] - oi[0, 0]) if O > 1 else 1
    if not np.array_equal(oi, obase[None, :] + ostride * np.arange(O, dtype=np.int64)[:, None]):
        raise AssertionError("feature maps are stored with an affine channel index")  # both LAYOUTS are
    return obase, ostride


def _channel_affine(g: Any) -> tuple[np.ndarray, int]:
    """``(qbase, cstride)``: channel c of input position q (row-major) is at ``qbase[q] + c * cstride``."""
    C, H, W = g.shape
    hh, ww = np.divmod(np.arange(H * W), W)
    qbase = feature_index(g.layout, C, H, W, 0, hh, ww).astype(np.int64)
    cstride = int(feature_index(g.layout, C, H, W, 1, 0, 0) - feature_index(g.layout, C, H, W, 0, 0, 0))
    return np.ascontiguousarray(qbase), cstride if C > 1 else 1


def _conv_tables(layer: Any) -> tuple:
    g = layer.geometry
    n = g.n_in
    C, H, Wd = g.shape
    kh, kw = g.kernel
    T = kh * kw
    O = layer.out_channels
    Cw = 1 << max(0, (C - 1).bit_length()) if C <= 64 else 64 * ((C + 63) // 64)
    words = (T * Cw + 63) // 64
    qbase, cstride = _channel_affine(g)
    idx = g.windows(channels=True).reshape(-1, C, T)  # (P, C, T): kernel order (c, i, j)
    inside = idx[:, 0, :] < n  # a tap is inside the map for every channel or for none
    q_of = np.full(n + 1, H * Wd, np.int64)
    q_of[qbase] = np.arange(H * Wd)
    tap_q = np.where(inside, q_of[np.minimum(idx[:, 0, :], n)], H * Wd)
    bitpos = (np.arange(T)[None, :] * Cw + np.arange(C)[:, None])  # (C, T): bit of channel c, tap t
    kb = np.zeros((O, words * 64), np.uint8)
    kb[:, bitpos.reshape(-1)] = (layer.weights.reshape(O, C, T) > 0).reshape(O, -1)
    plus = (layer.weights.reshape(O, C, T) > 0).sum(axis=1).astype(np.int64)  # (O, T): +1 weights per tap
    pad_plus = (~inside).astype(np.int64) @ plus.T  # (P, O): +1 weights on padded taps (empty slots)
    nvalid = inside.sum(axis=1).astype(np.int64) * C
    limit = (nvalid[:, None] - layer.thresholds[None, :].astype(np.int64)) // 2 + pad_plus
    obase, ostride = _out_affine(g, O)
    return (qbase, cstride, C, np.ascontiguousarray(tap_q), int(Cw), np.ascontiguousarray(_words(kb).T),
            np.ascontiguousarray(np.maximum(limit, -1)), obase, ostride)


def _pool_tables(layer: Any) -> tuple[str, tuple]:
    g = layer.geometry
    n = g.n_in
    idx = g.windows(channels=False)  # (C, P, k)
    valid = (idx[0] < n).sum(axis=1)  # (P,)
    need = np.where(layer.polarity[:, None] > 0, 1, valid[None, :])  # (C, P)
    qbase, cstride = _channel_affine(g)
    obase, ostride = _out_affine(g, layer.out_channels)
    C = g.shape[0]
    # channels contiguous in the input *and* the output map (an HWC layer; a CHW map of one position
    # has input stride 1 but not output stride 1: hypothesis found it)
    if cstride == 1 and (ostride == 1 or C == 1):
        if C % 8 == 0:
            orm = np.where(layer.polarity > 0, 0xFF, 0).astype(np.uint8).view(np.uint64)
            return "pool_words", (np.ascontiguousarray(np.where(idx[0] < n, idx[0] // 8, -1)),
                                  np.ascontiguousarray(orm), np.ascontiguousarray(obase // 8))
        base = np.where(idx[0] < n, idx[0], -1)
        return "pool_channels", (np.ascontiguousarray(base), np.ascontiguousarray(need.T.astype(np.int32)), obase)
    order = np.argsort(g.out_index(layer.out_channels).reshape(-1))  # windows in output order
    flat = idx.reshape(-1, idx.shape[2])[order]
    return "pool_flat", (np.ascontiguousarray(np.where(flat < n, flat, -1)),
                         np.ascontiguousarray(need.reshape(-1)[order].astype(np.int64)))


def _integer_tables(layer: Any, vmax: int) -> tuple[str, tuple]:
    """The exact integer kernel for pixels of magnitude at most ``vmax``."""
    g = layer.geometry
    idx = g.windows(channels=True)
    O = layer.out_channels
    WT = np.ascontiguousarray(layer.weights.reshape(O, -1).astype(np.int64))  # (O, K)
    theta = np.ascontiguousarray(layer.thresholds.reshape(O, -1).T.astype(np.int64))
    bound = (vmax + 1) * int(np.abs(WT).max(initial=0)) * (idx.shape[1] + 1)
    if bound < _INT32_EXACT:
        n, (P, K) = g.n_in, idx.shape
        Kp = -(-K // _INT32_LANES) * _INT32_LANES
        idxp = np.full((P, Kp), n, np.int64)
        idxp[:, :K] = idx
        Wp = np.zeros((O, Kp), np.int32)
        Wp[:, :K] = WT
        return "integer_conv32", (idxp, Wp, theta, g.out_index(O))
    return "integer_conv", (np.ascontiguousarray(idx), WT, theta, g.out_index(O))


def _torch_strict() -> bool:
    """Whether torch computes float32 convolutions in IEEE float32 (no reduced-precision mode)."""
    import torch

    if torch.get_float32_matmul_precision() != "highest":
        return False
    for owner in (torch.backends, getattr(torch.backends, "mkldnn", None),
                  getattr(getattr(torch.backends, "mkldnn", None), "conv", None)):
        p = getattr(owner, "fp32_precision", None)
        if p is not None and p not in ("none", "ieee"):
            return False
    return True


@dataclass(frozen=True, eq=False)
class _FloatConv:
    """An ``integer-conv`` through torch's oneDNN convolution in float32 (exact: see the module doc)."""

    weight: Any  # torch float32 (O, C, kh, kw), channels-last for an HWC layer
    shape: tuple[int, int, int]
    layout: str
    padding: list[int]
    pad4: tuple[int, int, int, int] | None  # (left, right, top, bottom) when the pads are asymmetric
    stride: list[int]
    theta: np.ndarray  # (m,) float32, in the output map's order
    mkldnn: bool  # torch.mkldnn_convolution (oneDNN direct), else F.conv2d
    batch: int  # the one batch size above 1 that oneDNN is called with (probed at plan time)

    def sums(self, V: np.ndarray) -> np.ndarray:
        """(N, m) float32 exact sums of rows ``V`` in the output map's order (a view of torch's output:
        an HWC layer's input is read channels-last, and oneDNN writes its output channels-last). The
        reshapes are numpy views (each torch call costs ~1 µs at batch 1); no ``no_grad`` block
        (nothing requires a gradient: 1.4 µs). The convolution runs on one torch thread (the
        thread count is set to 1 around it and restored, ~2 µs): with torch's default 2 OpenMP
        threads, in a process that had loaded numba, at load ~4 on the 2 shared cores, it took
        10-16 ms per image at batch 1 instead of 0.04 ms (and 119 against 22 µs per image at batch
        100). (Rejected: the prepacked-weight ``torch.ops.mkldnn._convolution_pointwise``, 29.5
        against 34 µs at batch 1: a private op with an opaque weight tensor.)"""
        import torch

        N = V.shape[0]
        C, H, W = self.shape
        x = np.ascontiguousarray(V, dtype=np.float32)
        # one channel: plain (N, 1, H, W) strides, never the degenerate channels-last ones (stride 1 on
        # the channel axis), on which torch 2.13's convolution returned wrong sums from batch 12 on
        x = x.reshape(N, H, W, C).transpose(0, 3, 1, 2) if self.layout == "HWC" and C > 1 else x.reshape(N, C, H, W)
        t = torch.from_numpy(x)
        if self.pad4 is not None:
            t = torch.nn.functional.pad(t, self.pad4)
        threads = torch.get_num_threads()
        if threads != 1:  # one thread, restored after (as the trainer does, TRAIN_THREADS)
            torch.set_num_threads(1)
        try:
            if self.mkldnn:
                d = torch.mkldnn_convolution(t, self.weight, None, self.padding, self.stride, [1, 1], 1)
            else:
                d = torch.nn.functional.conv2d(t, self.weight, None, self.stride, self.padding)
        finally:
            if threads != 1:
                torch.set_num_threads(threads)
        a = d.numpy()
        if self.layout == "HWC":
            a = a.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(a).reshape(N, -1)  # no copy when already in that order

    def run(self, V: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The layer's bits of rows ``V`` into ``out``, oneDNN called only on batches of 1 or of
        exactly ``batch`` rows — the two sizes :func:`plan_layer` probed (oneDNN picks its kernel
        by shape, batch size included): longer inputs go in chunks of ``batch``, a shorter rest
        is padded with zero rows (their bits are dropped)."""
        N, B = V.shape[0], self.batch
        if N == 1 or N == B:
            return threshold_map(self.sums(V), self.theta, out)
        for s in range(0, N, B):
            chunk = V[s:s + B]
            if chunk.shape[0] < B:
                chunk = np.concatenate([chunk, np.zeros((B - chunk.shape[0], V.shape[1]), V.dtype)])
            threshold_map(self.sums(chunk)[:min(B, N - s)], self.theta, out[s:s + B])
        return out


def _float_conv(layer: Any, vmax: int) -> _FloatConv | None:
    """The oneDNN path of an ``integer-conv`` over pixels of magnitude <= ``vmax``, if it is exact."""
    try:
        import torch
    except ImportError:
        return None
    O = layer.out_channels
    Wm = layer.weights.reshape(O, -1).astype(np.int64)
    if vmax >= FLOAT32_EXACT or vmax * int(np.abs(Wm).sum(axis=1).max(initial=0)) >= FLOAT32_EXACT:
        return None
    g = layer.geometry
    top, left, bottom, right = g.pads
    sym = top == bottom and left == right
    theta = np.empty(layer.n_outputs, np.float32)
    theta[g.out_index(O).reshape(-1)] = np.clip(layer.thresholds.reshape(-1), -FLOAT32_EXACT, FLOAT32_EXACT)
    w = torch.from_numpy(np.ascontiguousarray(layer.weights, dtype=np.float32))
    if g.layout == "HWC" and g.shape[0] > 1:
        w = w.contiguous(memory_format=torch.channels_last)
    return _FloatConv(w, g.shape, g.layout, [top, left] if sym else [0, 0],
                      None if sym else (left, right, top, bottom), list(g.stride), theta,
                      hasattr(torch, "mkldnn_convolution") and torch.backends.mkldnn.is_available(),
                      max(2, FRONT_BLOCK_BYTES // (4 * layer.n_outputs)))


def _sliced_tables(layer: Any) -> tuple[str, tuple] | None:
    """The arrays of :func:`conv_sliced` / :func:`pool_sliced` for a bit layer, or None (an
    ``integer-conv``, a kind without a map, or a ``conv`` of more than :data:`SLICE_MAX_FANIN` patch
    entries)."""
    if layer.kind not in ("conv", "maxpool"):
        return None
    g = layer.geometry
    n = g.n_in
    if layer.kind == "conv":
        idx = g.windows(channels=True)  # (P, K)
        K = idx.shape[1]
        if K > SLICE_MAX_FANIN:
            return None
        O = layer.out_channels
        wmask = np.where(layer.weights.reshape(O, -1) > 0, ~np.uint64(0), np.uint64(0)).astype(np.uint64)
        nvalid = (idx < n).sum(axis=1).astype(np.int64)
        lim = (nvalid[:, None] - layer.thresholds[None, :].astype(np.int64)) // 2
        obase, ostride = _out_affine(g, O)
        return "conv_sliced", (np.ascontiguousarray(np.where(idx < n, idx, -1)), np.ascontiguousarray(wmask),
                               np.ascontiguousarray(np.maximum(lim, -1)), obase, ostride, int(K).bit_length())
    if layer.kind == "maxpool":
        idx = g.windows(channels=False)  # (C, P, k)
        order = np.argsort(g.out_index(layer.out_channels).reshape(-1))
        flat = idx.reshape(-1, idx.shape[2])[order]
        is_or = np.broadcast_to((layer.polarity > 0)[:, None], idx.shape[:2]).reshape(-1)[order]
        return "pool_sliced", (np.ascontiguousarray(np.where(flat < n, flat, -1)),
                               np.ascontiguousarray(is_or.astype(np.uint8)))
    return None


# -- plans -------------------------------------------------------------------------------------


_KERNELS = {"conv_bits": conv_bits, "conv_bits32": conv_bits32, "pool_channels": pool_channels, "pool_flat": pool_flat,
            "integer_conv": integer_conv, "integer_conv32": integer_conv32, "conv_sliced": conv_sliced,
            "pool_sliced": pool_sliced, "pool_words": pool_words, "quantize_bits": quantize_bits}


#: The kernels that read rows of 0/1 uint8 bits (C-ordered).
_BIT_KERNELS = frozenset({"conv_bits", "conv_bits32", "pool_words", "pool_channels", "pool_flat"})


def _padded(V: np.ndarray, dtype: type) -> np.ndarray:
    """Rows ``V`` with a zero column appended (what a padded position reads)."""
    out = np.empty((V.shape[0], V.shape[1] + 1), dtype)
    out[:, :-1] = V
    out[:, -1] = 0
    return out


@dataclass(frozen=True, eq=False)
class LayerPlan:
    """One conv-kind layer made ready for its kernel: ``kernel`` names it, ``tables`` its arrays,
    ``n_out`` the layer's width; an ``integer-conv`` may also have the oneDNN path (``float_conv``),
    taken while torch is strict. (``run`` reads no layer property: ``n_outputs`` alone cost 0.6 µs
    a call, the whole wrapper 1.5 µs per layer at batch 1.)"""

    layer: Any
    kernel: str
    tables: tuple
    float_conv: _FloatConv | None = None
    n_out: int = 0

    @property
    def width(self) -> int:
        """Bytes per image of the widest array this layer writes."""
        return self.n_out * (4 if self.float_conv is not None else 1)

    def run(self, V: np.ndarray) -> np.ndarray:
        """Output bits (N, m) uint8 of rows ``V``: 0/1 bits, or checked integer features."""
        k = self.kernel
        if k in _BIT_KERNELS and (V.dtype != np.uint8 or not V.flags.c_contiguous):
            V = np.ascontiguousarray(V, dtype=np.uint8)
        return self.step(V)

    def step(self, V: np.ndarray) -> np.ndarray:
        """:meth:`run` for rows already as the kernel reads them (a previous kernel's output: C-ordered
        uint8 bits; or checked integer features): what :meth:`ConvFront.bits` chains."""
        out = np.empty((V.shape[0], self.n_out), np.uint8)
        if self.float_conv is not None and _torch_strict():
            return self.float_conv.run(V, out)
        k = self.kernel
        if k == "pool_words":
            pool_words(V.view(np.uint64), *self.tables, out.view(np.uint64))
            return out
        if k == "integer_conv32":
            return integer_conv32(_padded(V, np.int32), *self.tables, out)
        if k == "integer_conv":
            return integer_conv(_padded(V, np.int64), *self.tables, out)
        return _KERNELS[k](V, *self.tables, out)


def plan_layer(layer: Any, vmax: int | None = None) -> LayerPlan:
    """The plan of a conv-kind layer; ``vmax`` bounds the magnitude of an ``integer-conv`` layer's
    pixels (required for that kind: the evaluator takes it from the network's input range)."""
    m = layer.n_outputs
    if layer.kind == "quantize":
        return LayerPlan(layer, "quantize_bits", (np.ascontiguousarray(layer.thresholds, dtype=np.int64),), n_out=m)
    if layer.kind == "conv":
        t = _conv_tables(layer)
        if t[4] <= _DWORD_BITS:  # slots of at most 32 bits: the 32-bit kernel
            (qbase, cstride, C, tap_q, Cw, wT, lim, obase, ostride) = t
            dwords = -(-(tap_q.shape[1] * Cw) // _DWORD_BITS)
            w32 = np.ascontiguousarray(wT.T).view(np.uint32).reshape(wT.shape[1], -1)[:, :dwords]  # little-endian halves
            lim32 = np.clip(lim, -1, np.iinfo(np.int32).max).astype(np.int32)
            return LayerPlan(layer, "conv_bits32", (qbase, cstride, C, tap_q, Cw, np.ascontiguousarray(w32.T),
                                                    np.ascontiguousarray(lim32), obase, ostride), n_out=m)
        return LayerPlan(layer, "conv_bits", t, n_out=m)
    if layer.kind == "maxpool":
        return LayerPlan(layer, *_pool_tables(layer), n_out=m)
    if vmax is None:
        raise ValueError("plan_layer: an integer-conv layer needs the bound of its pixels")
    kernel, tables = _integer_tables(layer, int(vmax))
    exact = LayerPlan(layer, kernel, tables, n_out=m)
    fc = _float_conv(layer, int(vmax))
    if fc is None:
        return exact
    rng = np.random.default_rng(_PROBE_SEED)
    n = layer.n_inputs
    probes = np.concatenate([np.full((1, n), -int(vmax)), np.full((1, n), int(vmax)),
                             rng.integers(-int(vmax), int(vmax) + 1, (max(_PROBE_IMAGES, fc.batch), n))])
    # the two batch sizes oneDNN is ever called with (_FloatConv.run): 1, and fc.batch (in chunks)
    for rows in (probes[:1], probes[1:2], probes[2:3], probes[2:2 + fc.batch], probes):
        if not np.array_equal(fc.run(rows, np.empty((len(rows), m), np.uint8)), exact.run(rows)):
            return exact  # not the exact sums: never taken
    return LayerPlan(layer, kernel, tables, fc, m)


@dataclass(frozen=True, eq=False)
class ConvFront:
    """The compiled plans of a network's leading layers (``None`` for a kind without a kernel) and,
    when the network is conv kinds then ``argmax``, the output layer's int8 weights."""

    plans: tuple[LayerPlan | None, ...]
    output: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # packed weight bits, scale, bias
    block: int
    sliced: tuple[tuple[str, tuple], ...] | None = None  # layers slice_from.. on 64 images per word
    slice_from: int = 0

    @staticmethod
    def in_range(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
        """Whether every entry of the integer rows ``X`` lies in its feature's range (:func:`in_bounds`)."""
        return bool(in_bounds(X, lo, hi))

    def classify(self, V: np.ndarray) -> np.ndarray:
        """Classes of checked rows ``V`` (conv kinds, then argmax), block by block."""
        if self.output is None:
            raise ValueError("ConvFront.classify: the network does not end in conv kinds and argmax")
        W, scale, bias = self.output
        out = np.empty(V.shape[0], np.int64)
        if self.sliced is not None and V.shape[0] >= SLICE_MIN_ROWS:
            for s in range(0, V.shape[0], SLICE_BLOCK):
                v = V[s:s + SLICE_BLOCK]
                for p in self.plans[:self.slice_from]:
                    v = p.run(v)  # type: ignore[union-attr]
                argmax_words(self.sliced_bits(v), W, scale, bias, out[s:s + SLICE_BLOCK])
            return out
        for s in range(0, V.shape[0], self.block):
            argmax_words(self.bits(V[s:s + self.block]), W, scale, bias, out[s:s + self.block])
        return out

    def bits(self, V: np.ndarray) -> np.ndarray:
        """The last map's bits (N, m) uint8 of checked rows ``V`` through every plan. (Fusing an
        ``integer-conv``'s thresholds into the ``maxpool`` after it, reading the float32 sums:
        10.8 µs per image on the 48x48x3 net at batch 1, against 2.1 + 4.3 µs for
        :func:`threshold_map` then :func:`pool_words`: rejected.)"""
        V = self.plans[0].run(V)  # type: ignore[union-attr]
        for p in self.plans[1:]:
            V = p.step(V)  # type: ignore[union-attr]
        return V

    def sliced_bits(self, V: np.ndarray) -> np.ndarray:
        """The last map's bits (N, m) uint8 of rows ``V`` of bits (the input of layer ``slice_from``),
        computed on 64 images per word."""
        if self.sliced is None:
            raise ValueError("ConvFront.sliced_bits: this front has a layer without a bit-sliced kernel")
        G = -(-V.shape[0] // 64)
        XT = slice_rows(np.ascontiguousarray(V, dtype=np.uint8), np.empty((V.shape[1], G), np.uint64))
        for (kernel, tables), plan in zip(self.sliced, self.plans[self.slice_from:]):
            XT = _KERNELS[kernel](XT, *tables, np.empty((plan.n_out, G), np.uint64))  # type: ignore[union-attr]
        return unslice_rows(XT, np.empty((V.shape[0], XT.shape[0]), np.uint8))


def build_front(layers: tuple, output: Any = None, vmax: int | None = None) -> ConvFront:
    """Plans of ``layers`` (conv kinds; any other kind gets ``None``); ``output``: the argmax layer
    when every layer is of a conv kind; ``vmax``: the largest pixel magnitude of the inputs."""
    kinds = ("conv", "maxpool", "integer-conv", "quantize")
    plans = tuple(plan_layer(h, vmax) if h.kind in kinds else None for h in layers)
    widest = max([p.width for p in plans if p is not None] + [1])
    out = None
    if output is not None and all(p is not None for p in plans):
        n = output.weights.shape[1]
        bits = np.zeros((output.weights.shape[0], -(-n // _WORD_BITS) * _WORD_BITS), np.uint8)
        bits[:, :n] = output.weights > 0
        out = (np.ascontiguousarray(_words(bits)), output.scale, output.bias)
    sliced = [_sliced_tables(h) for h in layers] if out is not None else [None]
    start = len(sliced)
    while start > 0 and sliced[start - 1] is not None:  # the longest suffix of bit-sliced kernels
        start -= 1
    if start == len(sliced) or (start > 0 and layers[start - 1].kind != "quantize"):
        return ConvFront(plans, out, max(1, FRONT_BLOCK_BYTES // widest))  # (after a quantize front only)
    return ConvFront(plans, out, max(1, FRONT_BLOCK_BYTES // widest), tuple(sliced[start:]), start)


def run_layer(layer: Any, V: np.ndarray) -> np.ndarray:
    """Output bits (N, m) uint8 of a conv-kind layer on rows ``V`` (an ``integer-conv`` layer's pixel
    bound taken from ``V``)."""
    vmax = int(np.abs(V).max(initial=0)) if layer.kind == "integer-conv" else None
    return plan_layer(layer, vmax).run(V)
