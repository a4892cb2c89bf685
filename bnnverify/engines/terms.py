"""Terms over a region's free bits, and the region of members that agree with ``x`` on a set of bits.

A sufficient-reason check "is every member of ``region`` that agrees with
``x`` on ``S`` of class ``c``?" is a plain find-class question over
``region ∩ {x' : x'_S = x_S}``, and that set is itself a region of the same
kind: the whole space or a cube becomes a cube with ``S`` fixed too, a
Hamming ball centred at ``x`` a ball whose mutable bits lose ``S``. Every
engine (and the brute-force checks of the tests) can therefore decide it.

>>> import numpy as np
>>> from bnnverify.encoders.regions import HammingBall, Whole
>>> x = np.array([1, 0, 1], np.uint8)
>>> agree_region(Whole(3), x, [0, 2]).describe()
{'kind': 'cube', 'free': [1], 'size': 2}
>>> agree_region(HammingBall(x, 2), x, [1]).describe()
{'kind': 'hamming', 'radius': 2, 'size': 4, 'mutable': [0, 2]}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from bnnverify.encoders.regions import Cube, HammingBall, Whole
from bnnverify.errors import RegionError

__all__ = ["free_bits", "agree_region", "check_centred", "term_region", "EXPLAIN_REGION_KINDS"]

#: Region kinds explanations take: members agreeing with x on S form a region of the same kind.
EXPLAIN_REGION_KINDS = frozenset({"whole", "cube", "hamming"})


def free_bits(region) -> tuple[int, ...]:
    """The bits a region leaves free (the candidates of a reason, the players of a Shapley game)."""
    if isinstance(region, Whole):
        return tuple(range(region.n))
    if isinstance(region, Cube):
        return tuple(int(i) for i in region.free)
    if isinstance(region, HammingBall):
        return tuple(int(i) for i in region.mutable_indices) if region.effective_radius > 0 else ()
    raise RegionError(f"region: explanations take the whole space, cubes and Hamming balls, "
                      f"not {getattr(region, 'kind', type(region).__name__)!r} regions")


def check_centred(region, x: np.ndarray) -> None:
    """Raise :class:`RegionError` unless ``x`` is a member (and, for a Hamming ball, its centre)."""
    free_bits(region)
    if not bool(region.contains(np.asarray(x, np.uint8)[None, :])[0]):
        raise RegionError("region: does not contain the input x being explained")
    if isinstance(region, HammingBall) and not np.array_equal(region.center, x):
        raise RegionError("region: a Hamming ball must be centred at the input x being explained")


def agree_region(region, x: np.ndarray, keep: Sequence[int]):
    """``region ∩ {x' : x'_i = x_i for i in keep}`` (``x`` a member; a ball centred at ``x``)."""
    x = np.asarray(x, dtype=np.uint8)
    keep = [int(i) for i in keep]
    if isinstance(region, (Whole, Cube)):
        mask = np.zeros(region.n, bool) if isinstance(region, Whole) else np.array(region.fixed_mask, bool)
        mask[keep] = True
        return Cube(x, mask)
    if isinstance(region, HammingBall):
        mut = np.ones(region.n, bool) if region.mutable is None else np.array(region.mutable, bool)
        mut[keep] = False
        return HammingBall(region.center, region.radius, mut)
    free_bits(region)  # raises
    raise AssertionError("unreachable")  # pragma: no cover


def term_region(region, term: dict[int, int]):
    """A cube or the whole space with the bits of ``term`` fixed (a prime implicant's members)."""
    if not isinstance(region, (Whole, Cube)):
        raise RegionError("term_region: only cubes and the whole space")
    values = np.zeros(region.n, np.uint8) if isinstance(region, Whole) else np.array(region.values, np.uint8)
    mask = np.zeros(region.n, bool) if isinstance(region, Whole) else np.array(region.fixed_mask, bool)
    for i, b in term.items():
        values[i], mask[i] = b, True
    return Cube(values, mask)
