"""The projected-model-counting engine: exact per-class counts by Ganak on the CNF.

For each class c, the CNF "x in region and class(x) = c" is counted by Ganak
(``pyganak``, the optional extra ``count``) projected on the input
variables; a witness of a counted class comes from the SAT engine (Ganak
counts, it does not return models). It is an independent check of the BDD
and enumeration counts more than a fast path: Ganak is slow beyond tiny
formulas (``benchmarks/results/cnf.md``), and it has no time limit of its
own, so ``auto`` prefers it only when no other engine takes the question.
"""

from __future__ import annotations

from typing import Any

from bnnverify.encoders.results import ClassCounts
from bnnverify.engines.base import Capability, EngineBase, Limits, Support
from bnnverify.errors import EngineError

__all__ = ["GanakEngine", "ENGINE"]


def _available() -> bool:
    try:
        import pyganak  # noqa: F401
    except ImportError:
        return False
    return True


class GanakEngine(EngineBase):
    """Per-class counts by projected model counting (Ganak); witnesses by SAT."""

    name = "ganak"
    aliases = ("projected", "sharpsat")
    summary = "projected model counting of the CNF with Ganak (pyganak): exact counts"
    capabilities = frozenset({Capability.CLASS_COUNTS})

    def check(self, nets: tuple[Any, ...], region: Any, capability: Capability) -> Support:
        if not _available():
            return Support(False, "engine 'ganak' needs the pyganak package (pip install 'bnnverify[count]')")
        return Support(True)

    def class_counts(self, net: Any, region: Any, witness_of, limits: Limits):
        from bnnverify.engines.sat import count_projected, sat_find_class

        counts = []
        for c in range(net.n_classes):
            n = count_projected(net, region, [c], encoding=limits.encoding)
            if n is None:  # pragma: no cover - check() refused already
                raise EngineError("engine 'ganak' needs the pyganak package")
            counts.append(int(n))
        cc = ClassCounts(region.size, counts)
        wanted = [c for c in witness_of if cc.counts[c] > 0]
        if not wanted:
            return cc, None
        res = sat_find_class(net, region, wanted, solver=limits.solver, encoding=limits.encoding)
        return cc, res.witness


ENGINE = GanakEngine()
