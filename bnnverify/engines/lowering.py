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

from bnnverify.encoders.order import Lowering, lower, mode_for
from bnnverify.encoders.pixel_regions import PIXEL_REGION_KINDS
from bnnverify.errors import RegionError

__all__ = ["lowered", "SPACES"]

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
