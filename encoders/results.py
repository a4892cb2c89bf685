"""Exact count results shared by every engine (BDD, enumeration, CNF counting).

Counts are Python ints (exact however large). Each result checks on
construction that its counts add up to the region size, so an engine that
loses or double-counts inputs fails loudly instead of answering wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .errors import InternalError

__all__ = ["ClassCounts", "Disagreement", "JointCounts"]


def _check_total(what: str, total: int, region_size: int) -> None:
    if total != region_size:
        raise InternalError(f"{what} add up to {total}, but the region has {region_size} members"
        )


@dataclass(frozen=True)
class ClassCounts:
    """Exact number of region members per class (``counts[c]``)."""

    region_size: int
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "region_size", int(self.region_size))
        object.__setattr__(self, "counts", tuple(int(c) for c in self.counts))
        _check_total("class counts", sum(self.counts), self.region_size)

    def others(self, c: int) -> int:
        """Members whose class is not ``c`` (e.g. the adversarial inputs for predicted class c)."""
        return self.region_size - self.counts[c]


@dataclass(frozen=True, eq=False)
class Disagreement:
    """Where two networks' classes differ over a region.

    ``confusion[(a, b)]`` is the exact number of members classified ``a`` by
    the first network and ``b`` by the second (non-zero entries only);
    ``witness`` is a member where they differ (uint8 bits), or None when
    they agree everywhere.
    """

    region_size: int
    confusion: Mapping[tuple[int, int], int]
    witness: np.ndarray | None = None

    def __post_init__(self) -> None:
        conf = {(int(a), int(b)): int(v) for (a, b), v in self.confusion.items() if int(v) != 0}
        object.__setattr__(self, "confusion", conf)
        object.__setattr__(self, "region_size", int(self.region_size))
        _check_total("confusion counts", sum(conf.values()), self.region_size)
        if (self.witness is None) != (self.count == 0):
            raise InternalError("a witness must be given iff the networks disagree")

    @property
    def count(self) -> int:
        """Members where the two classes differ."""
        return sum(v for (a, b), v in self.confusion.items() if a != b)


@dataclass(frozen=True)
class JointCounts:
    """Exact joint counts of hidden codes (and optionally classes/labels) over a region.

    Each key is a tuple: the code of each layer in ``layers`` (1-based hidden
    layer numbers; a code is a Python int with bit j = neuron j), then the
    network's class if ``with_class``, then the label network's class if
    ``with_label``. Only reachable combinations appear.
    """

    region_size: int
    layers: tuple[int, ...]
    with_class: bool
    with_label: bool
    counts: Mapping[tuple[int, ...], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "region_size", int(self.region_size))
        object.__setattr__(self, "layers", tuple(int(l) for l in self.layers))
        object.__setattr__(self, "counts", {tuple(int(x) for x in k): int(v) for k, v in self.counts.items()})
        width = len(self.layers) + int(self.with_class) + int(self.with_label)
        for k in self.counts:
            if len(k) != width:
                raise InternalError(f"joint count key {k} should have {width} entries")
        _check_total("joint counts", sum(self.counts.values()), self.region_size)

    def marginal(self, positions: tuple[int, ...]) -> dict[tuple[int, ...], int]:
        """Counts summed over every key position not in ``positions``."""
        out: dict[tuple[int, ...], int] = {}
        for k, v in self.counts.items():
            kk = tuple(k[p] for p in positions)
            out[kk] = out.get(kk, 0) + v
        return out
