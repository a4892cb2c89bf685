"""Equivalence: do two networks classify every member of a region alike?

``sat`` builds a miter (:func:`bnnverify.engines.sat.sat_find_disagreement`):
``equivalent`` is an UNSAT proof. ``bdd`` and ``enum`` compute the exact
confusion counts (class of A × class of B) and a witness. ``auto`` enumerates
small regions, hands larger ones to the BDD when counts are asked for and to
SAT otherwise (the same thresholds as robustness, see
:func:`bnnverify.questions.robustness.choose_method`).

A witness is replayed on both networks here (member of the region, classes
differ) before it is reported; an exhausted budget or time limit gives
``unknown``/``timeout``, never a guess.

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

from bnnverify.errors import BudgetExceeded, DataError, ModelError, RegionError, ReplayMismatch
from bnnverify.evaluation.evaluator import Evaluator
from bnnverify.engines.replay import bits_to_str, replay_disagreement
from bnnverify.questions.robustness import choose_method, enum_guard, validate_engine_names
from bnnverify.questions.verdict import Method, Verdict, parse_method

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
    method: Method
    seconds: float
    note: str = ""

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
            "method": self.method.value,
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
) -> EquivalenceResult:
    """Do ``net_a`` and ``net_b`` agree on every member of ``region`` (default: all inputs)?

    ``count=True`` adds the exact number of members where they differ and
    the confusion counts. Networks with different numbers of inputs raise
    :class:`ModelError`.
    """
    t0 = time.perf_counter()
    if net_a.n_inputs != net_b.n_inputs:
        raise ModelError(
            f"the models have different numbers of inputs: {net_a.n_inputs} (first) "
            f"and {net_b.n_inputs} (second)"
        )
    m_req = parse_method(method)
    validate_engine_names(solver, encoding)
    if region is None:
        region = Whole(net_a.n_inputs)
    if region.n != net_a.n_inputs:
        raise RegionError(f"region: ranges over {region.n} bits, the models expect {net_a.n_inputs}")
    m = choose_method(m_req, region.size, count)
    ea, eb = Evaluator(net_a), Evaluator(net_b)
    desc = region.describe()

    def done(verdict, w=None, a=None, b=None, n=None, conf=None, note="") -> EquivalenceResult:
        return EquivalenceResult(verdict, desc, w, a, b, n, conf, m, time.perf_counter() - t0, note)

    if not count and net_a.hidden == net_b.hidden and net_a.output == net_b.output:
        # the same layers compute the same function: a proof without an engine
        # (a SAT miter of two identical copies can be very hard for the solver)
        return done(Verdict.EQUIVALENT, note="the two models have identical layers")
    try:
        if m is Method.SAT:
            from bnnverify.engines.sat import sat_find_disagreement

            res = sat_find_disagreement(
                net_a, net_b, region, solver=solver, encoding=encoding, timeout=timeout
            )
            status = res.status.name
            if status == "UNSAT":
                return done(Verdict.EQUIVALENT)
            if status == "SAT":
                return done(Verdict.NOT_EQUIVALENT, *replay_disagreement(ea, eb, region, res.witness, "sat"))
            if status == "TIMEOUT":
                return done(Verdict.TIMEOUT, note=f"SAT solver {res.solver} ran out of time after {res.seconds:.1f} s")
            return done(Verdict.UNKNOWN, note=f"SAT solver {res.solver} gave no answer")
        if m is Method.ENUM:
            from bnnverify.engines.enumeration import enum_disagreements

            enum_guard(region)
            dis = enum_disagreements(net_a, net_b, region)
        elif m is Method.BDD:
            from bnnverify.engines.bdd import bdd_disagreements

            dis = bdd_disagreements(net_a, net_b, region, budget=budget)
        else:  # pragma: no cover
            raise DataError(f"method {m.value}: not an engine")
    except BudgetExceeded as e:
        return done(Verdict.UNKNOWN, note=f"budget exceeded: {e}")
    if dis.region_size != region.size:
        raise ReplayMismatch(f"{m.value} counted {dis.region_size} members, the region has {region.size}")
    conf = dict(dis.confusion)
    if dis.witness is None:
        return done(Verdict.EQUIVALENT, n=0, conf=conf)
    w, a, b = replay_disagreement(ea, eb, region, dis.witness, m.value)
    if conf.get((a, b), 0) < 1:
        raise ReplayMismatch(f"{m.value} witness has classes ({a}, {b}), which it counted 0 times")
    return done(Verdict.NOT_EQUIVALENT, w, a, b, dis.count, conf)
