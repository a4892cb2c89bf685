"""Questions over integer features (pixels), answered by the bit engines through the order encoding.

A network that declares integer features is asked about an
:class:`~bnnverify.encoders.pixel_regions.IntBox` (box, L∞ ball) or an
:class:`~bnnverify.encoders.pixel_regions.L0Ball`. :func:`lowered` rewrites
the networks and the region over the order bits
(:mod:`bnnverify.encoders.order`): mode ``pixels`` (every value a cut) for
counts, which are then counts of images; mode ``cuts`` (only the quantizer
thresholds) for yes/no questions of ``quantize`` networks and for counts in
bit space. The runner (:mod:`bnnverify.engines.run`) asks the engines about
the lowered form and decodes every witness to an image of the region, which
it replays on the *original* network (:mod:`bnnverify.engines.replay`). An
engine that cannot take the lowered form (e.g. ``ball``: Hamming balls only;
``linear`` layers) refuses by name, like any other.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bnnverify.encoders.order import Lowering, lower, mode_for
from bnnverify.encoders.pixel_regions import PIXEL_REGION_KINDS
from bnnverify.errors import RegionError

__all__ = ["lowered", "weighted_counts", "SPACES"]

#: Where counts live: ``pixels`` (images) or ``bits`` (distinct quantizer codes; quantize networks only).
SPACES = ("pixels", "bits")


def lowered(nets: Sequence[Any], region: Any, *, counting: bool, space: str = "pixels") -> Lowering | None:
    """The order encoding of ``nets`` over ``region``, or None when both are over bits.

    Mixing the two — a bit region for a network over integers, or the other
    way round — is a :class:`RegionError` naming what was expected.
    """
    kind = getattr(region, "kind", None)
    integer = [n.inputs is not None for n in nets]
    if kind not in PIXEL_REGION_KINDS:
        if any(integer):
            raise RegionError(
                f"the model reads integer features (pixels), so the region must be a box, an L∞ ball or an "
                f"L0 ball of features, not a {kind!r} region of bits"
            )
        return None
    if not all(integer):
        raise RegionError(f"a {kind!r} region ranges over integer features, but the model reads bits")
    if space not in SPACES:
        raise RegionError(f"space: one of {', '.join(SPACES)}, got {space!r}")
    if space == "bits":
        if not all(n.hidden[0].kind == "quantize" for n in nets):
            raise RegionError("counts in bit space need a quantize first layer (it has no bits of its own otherwise)")
        return lower(nets, region, "cuts")
    return lower(nets, region, mode_for(nets, counting_pixels=counting))


def weighted_counts(net: Any, region: Any, witness_of: Sequence[int], limit: int,
                    deadline_check: Any = None) -> tuple[tuple[int, ...], Any] | None:
    """Images per class of a ``quantize`` network over a box, from its distinct quantizer codes.

    The network sees a pixel only through its quantizer bits, so every image
    with the same code gets the same class, and the images of a code number
    ``prod_f (length of feature f's interval for its level)``. Enumerating the
    codes of the ``cuts`` encoding (at most ``limit``) and summing these exact
    weights gives the pixel-space counts without one variable per grey level
    — measured on a digits17 quantizer model at L∞ 1 (2^20 codes, 1.2·10^25
    images): the BDD over the ``pixels`` encoding took 453 s. Returns
    ``(counts, witness image or None)``, or None when the question is not of
    this form (not a box, not all ``quantize``, too many codes).
    """
    from bnnverify.encoders.pixel_regions import IntBox
    from bnnverify.evaluation.evaluator import Evaluator

    if not isinstance(region, IntBox) or net.inputs is None or net.hidden[0].kind != "quantize":
        return None
    low = lower(net, region, "cuts")
    if low.region.size > limit:
        return None
    F, L = len(low.cuts), low.levels
    lo, hi = region.lo, region.hi
    # interval lengths per feature and level: level l covers [t_{l-1}, t_l - 1] (t_0 = lo, t_{w+1} = hi + 1)
    lengths = []
    for f, t in enumerate(low.cuts):
        edges = [int(lo[f])] + [int(v) for v in t.tolist()] + [int(hi[f]) + 1]
        lengths.append(np.diff(np.array(edges, dtype=np.int64)))
    free = [f for f in range(F) if len(low.cuts[f])]
    constant = 1
    for f in range(F):
        if not len(low.cuts[f]):
            constant *= int(lengths[f][0])
    # group the free features so that each group's product of lengths fits in int64
    groups: list[list[int]] = [[]]
    bound = 1
    for f in free:
        m = int(lengths[f].max())
        if bound * m >= 1 << 62:
            groups.append([])
            bound = 1
        groups[-1].append(f)
        bound *= m
    ev = Evaluator(low.nets[0])
    totals = [0] * net.n_classes
    want = set(int(c) for c in witness_of)
    witness = None
    for B in low.region.members():
        if deadline_check is not None:
            deadline_check()
        cls = ev.classify(B)
        lv = B.reshape(len(B), F, L).sum(axis=2)
        parts = []
        for g in groups:
            p = np.ones(len(B), dtype=np.int64)
            for f in g:
                p *= lengths[f][lv[:, f]]
            parts.append(p)
        rows = np.stack([cls] + parts, axis=1)
        uniq, n = np.unique(rows, axis=0, return_counts=True)
        for row, k in zip(uniq.tolist(), n.tolist()):
            w = k
            for v in row[1:]:
                w *= v
            totals[row[0]] += w
        if witness is None and want:
            hit = np.flatnonzero(np.isin(cls, list(want)))
            if hit.size:
                witness = low.decode(B[hit[0]])
    return tuple(t * constant for t in totals), witness
