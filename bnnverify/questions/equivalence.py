"""Equivalence: do two networks classify every member of a region alike?

Written against the engine interface: ``sat`` builds a miter
(:func:`bnnverify.engines.sat.sat_find_disagreement`; ``equivalent`` is an
UNSAT proof, networks with different numbers of classes included); engines
that count disagreements (``enum``, ``bdd``) give the exact confusion counts
(class of A × class of B) and a witness whenever they answer. ``auto``
enumerates small regions, hands larger ones to the BDD when counts are asked
for and to SAT otherwise (:mod:`bnnverify.engines.policy`).

A witness is replayed on both networks (:mod:`bnnverify.engines.run`,
on the semantics) before it is reported; an exhausted budget or time limit
gives ``unknown``/``timeout``, never a guess.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> o = lambda: ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> a = BNN((ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([0])),), o())
>>> b = BNN((ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([1])),), o())
>>> r = check_equivalence(a, b, method="enum", count=True)  # they differ where the dot is 0
>>> r.verdict.value, r.disagreement_count, r.confusion
('not_equivalent', 2, {(0, 0): 1, (0, 1): 2, (1, 1): 1})
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from bnnverify.encoders.regions import Region, Whole

from bnnverify.engines import run
from bnnverify.engines.base import Capability, Limits, Outcome
from bnnverify.engines.policy import choose
from bnnverify.engines.replay import bits_to_str
from bnnverify.errors import ModelError, RegionError, check_network, check_region
from bnnverify.questions.verdict import Method, Verdict, engine_label

__all__ = ["EquivalenceResult", "check_equivalence"]


@dataclass(frozen=True, eq=False)
class EquivalenceResult:
    """The answer to one equivalence question.

    ``witness`` is a replayed member of the region where network A says
    ``class_a`` and network B ``class_b`` (``class_a != class_b``);
    ``disagreement_count`` (members where they differ) and ``confusion``
    (``(a, b) -> members``, non-zero entries) are exact and present when the
    engine counted (``enum``, ``bdd``); ``note`` says why a question stayed
    undecided.
    """

    verdict: Verdict
    region: Mapping[str, Any]
    witness: np.ndarray | None
    class_a: int | None
    class_b: int | None
    disagreement_count: int | None
    confusion: Mapping[tuple[int, int], int] | None
    method: "Method | str"
    seconds: float
    note: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object the CLI prints; ``confusion`` nests class of A -> class of B -> count."""
        conf = None
        if self.confusion is not None:
            conf = {}
            for (a, b), v in sorted(self.confusion.items()):
                conf.setdefault(str(a), {})[str(b)] = int(v)
        return {
            "verdict": self.verdict.value,
            "region": dict(self.region),
            "witness": bits_to_str(self.witness),
            "class_a": self.class_a,
            "class_b": self.class_b,
            "disagreement_count": self.disagreement_count,
            "confusion": conf,
            "method": str(self.method),
            "reason": self.reason,
            "seconds": self.seconds,
        }


def check_equivalence(
    net_a: Any,
    net_b: Any,
    region: Region | None = None,
    *,
    method: Method | str = Method.AUTO,
    count: bool = False,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
    budget: Any = None,
    progress: Any = None,
) -> EquivalenceResult:
    """Do ``net_a`` and ``net_b`` agree on every member of ``region`` (default: all inputs)?

    ``count=True`` adds the exact number of members where they differ and
    the confusion counts. Networks with different numbers of inputs raise
    :class:`ModelError`.
    """
    t0 = time.perf_counter()
    check_network(net_a, "net_a")
    check_network(net_b, "net_b")
    if region is not None:
        check_region(region)
    if net_a.n_inputs != net_b.n_inputs:
        raise ModelError(
            f"the models have different numbers of inputs: {net_a.n_inputs} (first) "
            f"and {net_b.n_inputs} (second)"
        )
    limits = Limits(timeout=timeout, budget=budget, solver=solver, encoding=encoding, started=t0, progress=progress)
    run.check_names(limits)
    if region is None:
        region = Whole(net_a.n_inputs)
    if region.n != net_a.n_inputs:
        raise RegionError(f"region: ranges over {region.n} bits, the models expect {net_a.n_inputs}")
    desc = region.describe()
    pair = (net_a, net_b)
    # counts whenever the engine computes them anyway (enum, bdd), as asked with count=True
    choice = choose(Capability.DISAGREEMENTS if count else Capability.FIND_DISAGREEMENT, pair, region, method)
    counting = count or Capability.DISAGREEMENTS in choice.engine.capabilities

    def done(verdict, w=None, a=None, b=None, n=None, conf=None, note="") -> EquivalenceResult:
        return EquivalenceResult(verdict, desc, w, a, b, n, conf, engine_label(choice.name),
                                 time.perf_counter() - t0, note, choice.reason)

    if not count and net_a.hidden == net_b.hidden and net_a.output == net_b.output:
        # the same layers compute the same function: a proof without an engine
        # (a SAT miter of two identical copies can be very hard for the solver)
        return done(Verdict.EQUIVALENT, note="the two models have identical layers")
    if not counting:
        ans = run.find_disagreement(net_a, net_b, region, method=choice.name, limits=limits)
        s = ans.search
        if s.outcome is Outcome.FOUND:
            return done(Verdict.NOT_EQUIVALENT, s.witness, *s.claimed)
        return done(_VERDICT[s.outcome], note=s.note)
    ans = run.disagreements(net_a, net_b, region, method=choice.name, limits=limits)
    s = ans.search
    if ans.counts is None:
        return done(_VERDICT[s.outcome], note=s.note)
    dis = ans.counts
    conf = dict(dis.confusion)
    if s.outcome is Outcome.NONE:
        return done(Verdict.EQUIVALENT, n=0, conf=conf)
    return done(Verdict.NOT_EQUIVALENT, s.witness, *s.claimed, dis.count, conf)


_VERDICT = {Outcome.NONE: Verdict.EQUIVALENT, Outcome.FOUND: Verdict.NOT_EQUIVALENT,
            Outcome.TIMEOUT: Verdict.TIMEOUT, Outcome.UNKNOWN: Verdict.UNKNOWN}
