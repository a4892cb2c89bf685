"""Explanations with proofs: why does the network give ``x`` its class?

Written against the engine interface (:mod:`bnnverify.engines.run`), like
every question. Each answer is proved or absent:

* **Sufficient reason** (abductive explanation): a set S of input bits such
  that every member of the region agreeing with x on S gets x's class.
  *Subset-minimal* by deletion (``sat``: one incremental solver, the bits of S
  assumed; ``bdd``: cofactors of the other classes' BDD; ``enum``: one pass
  per bit): every dropped bit is proved by an UNSAT/empty check, every kept
  bit by a replayed witness (a member agreeing with x on the rest of S, of
  another class). *Cardinality-minimal* on the BDD of every sufficient set
  (the proof that none is smaller is that BDD's longest path).
* **Contrastive reason**: a smallest set of bits whose change changes the
  class — the minimum-radius counterexample of
  :func:`~bnnverify.questions.robustness.max_robust_radius`.
* **Prime implicants** of "class in T" over a region (BNNQuanalyst's
  ``PI_explain``) and **essential features** (``EF_explain``: literals every
  prime implicant shares), from the BDD; each literal of each term has a
  replayed witness, and one random completion per term is replayed.
* **Exact Shapley values** (``Fraction``) of the bits for
  ``f(x') = [class(x') in T]`` under the uniform distribution on the region.
  On a cube or the whole space the uniform distribution is a *product*
  distribution, and the BDD's polynomial algorithm is exact. On a Hamming
  ball it is not a product distribution: the values are then computed exactly
  from the definition, one exact count per coalition (2^m coalitions), for at
  most :data:`SHAPLEY_COALITION_MAX_PLAYERS` mutable bits — larger balls are
  refused by name. L-infinity boxes are refused (members agreeing with x on S
  are no box).
* **Expected robustness** (the exact fraction of members classified like x)
  and per-bit **influence** (the exact fraction of members whose class
  changes when the bit is flipped; cubes and the whole space).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import Whole
>>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([3]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net = BNN((h,), o)  # class 0 iff all three bits are 1
>>> r = sufficient_reason(net, np.array([0, 1, 1], np.uint8), Whole(3), method="bdd")
>>> r.kept, r.predicted_class  # x0 = 0 alone forces class 1
((0,), 1)
>>> s = shapley_values(net, np.array([1, 1, 1], np.uint8), Whole(3))
>>> [str(v) for v in s.values.values()], str(s.expected)
(['7/24', '7/24', '7/24'], '1/8')
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from fractions import Fraction
from math import factorial
from typing import Any, Mapping, Sequence

import numpy as np

from bnnverify import semantics
from bnnverify.engines import run
from bnnverify.engines.base import Limits, Outcome
from bnnverify.engines.registry import AUTO
from bnnverify.engines.replay import bits_to_str
from bnnverify.engines.terms import agree_region, check_centred, free_bits
from bnnverify.errors import DataError, RegionError
from bnnverify.evaluation.evaluator import check_bits
from bnnverify.questions.verdict import engine_label

__all__ = [
    "SHAPLEY_COALITION_MAX_PLAYERS",
    "Asked",
    "SufficientReasonResult",
    "ContrastiveResult",
    "PrimeImplicantsResult",
    "ShapleyResult",
    "sufficient_reason",
    "contrastive_reason",
    "prime_implicants",
    "essential_features",
    "shapley_values",
    "fraction_str",
]

#: Hamming balls: Shapley values from the definition need one exact count per
#: coalition, 2^m of them; 2^10 counts over balls of at most 2^10 members take
#: about a second by enumeration on this machine, so larger balls are refused.
SHAPLEY_COALITION_MAX_PLAYERS: int = 10


def fraction_str(q: Fraction) -> str:
    """An exact rational as ``"p/q"`` (``"p"`` when integral)."""
    q = Fraction(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


@dataclass(frozen=True)
class Asked:
    """What was asked: the model, the region, the centre, the engine requested and the limits."""

    model: str | None
    region: Mapping[str, Any]
    centre: str | None
    method: str
    timeout: float | None = None
    budget: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "region": dict(self.region), "centre": self.centre,
                "method_asked": self.method, "timeout": self.timeout,
                "budget": None if self.budget is None else str(self.budget)}


def _input(net: Any, x: Any) -> np.ndarray:
    xb = check_bits(np.asarray(x), net.n_inputs, "input")
    if xb.shape[0] != 1:
        raise DataError(f"input: expected one bit vector, got {xb.shape[0]} rows")
    return xb[0].copy()


@dataclass(frozen=True, eq=False)
class SufficientReasonResult:
    """A proved sufficient reason (``status`` ``proved``) or why there is none (``timeout``/``unknown``).

    ``kept`` are the bit indices of S; ``minimality`` is ``subset`` or
    ``cardinality``; ``witnesses[i]`` is the replayed member that shows bit i
    cannot be dropped; ``checks`` the number of UNSAT/empty checks made.
    """

    status: str
    predicted_class: int
    kept: tuple[int, ...] | None
    minimality: str
    n_free: int
    checks: int
    proof: str
    witnesses: Mapping[int, np.ndarray]
    method: Any
    reason: str
    seconds: float
    asked: Asked
    note: str = ""
    bdd_nodes: int | None = None

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "sufficient", "status": self.status, "predicted_class": self.predicted_class,
                "minimality": self.minimality, "kept": None if self.kept is None else list(self.kept),
                "size": None if self.kept is None else len(self.kept), "free_bits": self.n_free,
                "checks": self.checks, "proof": self.proof, "bdd_nodes": self.bdd_nodes,
                "witnesses": {str(i): bits_to_str(w) for i, w in self.witnesses.items()},
                "method": str(self.method), "reason": self.reason, "seconds": self.seconds,
                "note": self.note, "asked": self.asked.to_json()}


def sufficient_reason(net: Any, x: Any, region: Any = None, *, cardinality: bool = False,
                      order: Sequence[int] | None = None, method: str = AUTO, timeout: float | None = None,
                      budget: Any = None, solver: str | None = None, encoding: str | None = None,
                      model_name: str | None = None) -> SufficientReasonResult:
    """A sufficient reason for ``x``'s class over ``region`` (default: the whole space).

    ``cardinality=True`` asks for a smallest one (BDD engines only);
    ``order`` is the order in which deletion tries the bits (default: index
    order). A Hamming ball must be centred at ``x``.
    """
    from bnnverify.encoders.regions import Whole

    t0 = time.perf_counter()
    xb = _input(net, x)
    region = Whole(net.n_inputs) if region is None else region
    limits = Limits(timeout=timeout, budget=budget, solver=solver, encoding=encoding, started=t0)
    asked = Asked(model_name, region.describe(), bits_to_str(xb), str(method), timeout, budget)
    ans = run.sufficient_reason(net, region, xb, order=order, cardinality=cardinality, method=method,
                                limits=limits)
    r = ans.reason
    status = "proved" if r.outcome is Outcome.FOUND else r.outcome.value
    return SufficientReasonResult(status, ans.target, r.kept, "cardinality" if cardinality else "subset",
                                  len(free_bits(region)), r.checks, r.proof, dict(r.witnesses),
                                  engine_label(ans.choice.name), ans.choice.reason, time.perf_counter() - t0,
                                  asked, r.note, r.bdd_nodes)


@dataclass(frozen=True, eq=False)
class ContrastiveResult:
    """A smallest set of bits (within ``mutable``) whose change changes the class.

    ``status`` is ``proved`` (``changed`` is a smallest such set: its size is
    the maximum robust radius + 1, proved), ``none`` (no change of at most
    ``cap`` bits changes the class, proved) or ``timeout``/``unknown``.
    """

    status: str
    predicted_class: int
    changed: tuple[int, ...] | None
    counterexample: np.ndarray | None
    counterexample_class: int | None
    radius_proved: int
    cap: int
    method: Any
    reason: str
    seconds: float
    asked: Asked
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": "contrastive", "status": self.status, "predicted_class": self.predicted_class,
                "changed": None if self.changed is None else list(self.changed),
                "size": None if self.changed is None else len(self.changed),
                "counterexample": bits_to_str(self.counterexample),
                "counterexample_class": self.counterexample_class, "robust_radius_proved": self.radius_proved,
                "cap": self.cap, "method": str(self.method), "reason": self.reason, "seconds": self.seconds,
                "note": self.note, "asked": self.asked.to_json()}


def contrastive_reason(net: Any, x: Any, *, mutable: np.ndarray | None = None, max_radius: int | None = None,
                       method: str = AUTO, timeout: float | None = None, solver: str | None = None,
                       encoding: str | None = None, model_name: str | None = None) -> ContrastiveResult:
    """A smallest set of bits whose flip changes ``x``'s class (the minimum-radius counterexample)."""
    from bnnverify.questions.robustness import max_robust_radius

    t0 = time.perf_counter()
    xb = _input(net, x)
    res = max_robust_radius(net, xb, mutable=mutable, max_radius=max_radius, method=method, solver=solver,
                            encoding=encoding, timeout=timeout)
    from bnnverify.encoders.regions import HammingBall

    mask = None
    if mutable is not None:
        m = np.asarray(mutable)
        mask = m.astype(bool) if m.dtype == bool else np.isin(np.arange(net.n_inputs), m.reshape(-1))
    desc = HammingBall(xb, res.max_radius, mask).describe()
    asked = Asked(model_name, desc, bits_to_str(xb), str(method), timeout)
    if res.counterexample is not None:
        changed = tuple(int(i) for i in np.flatnonzero(res.counterexample != xb))
        status = "proved"
    else:
        changed = None
        status = "none" if res.exact else res.verdict.value
    return ContrastiveResult(status, res.predicted_class, changed, res.counterexample, res.counterexample_class,
                             res.radius, res.max_radius, res.method, res.reason, time.perf_counter() - t0,
                             asked, res.note)


def _literals(term: Mapping[int, int]) -> list[str]:
    return [f"x{i}={b}" for i, b in sorted(term.items())]


@dataclass(frozen=True, eq=False)
class PrimeImplicantsResult:
    """Prime implicants of "class in ``targets``" over a region and the essential literals.

    ``terms[k]`` maps bit -> value (a term over the region's free bits); every
    literal was shown necessary by a replayed witness and each term's
    ``completions[k]`` (a random member agreeing with it) replayed to a
    target class; ``covers`` says whether the terms cover every member of the
    target classes (else ``max_terms`` stopped the search); ``essential`` is
    None when no member has a target class.
    """

    targets: tuple[int, ...]
    terms: tuple[Mapping[int, int], ...]
    completions: tuple[np.ndarray, ...]
    covers: bool
    essential: Mapping[int, int] | None
    target_count: int
    region_size: int
    bdd_nodes: int
    method: Any
    reason: str
    seconds: float
    asked: Asked
    #: ``prime`` (prime implicants asked) or ``essential`` (essential features asked)
    question: str = "prime"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.question, "targets": list(self.targets),
                "terms": [_literals(t) for t in self.terms], "sizes": [len(t) for t in self.terms],
                "completions": [bits_to_str(z) for z in self.completions], "covers": self.covers,
                "essential": None if self.essential is None else _literals(self.essential),
                "target_count": self.target_count, "region_size": self.region_size,
                "bdd_nodes": self.bdd_nodes, "method": str(self.method), "reason": self.reason,
                "seconds": self.seconds, "asked": self.asked.to_json()}


def prime_implicants(net: Any, region: Any, targets: Sequence[int] | None = None, *, x: Any = None,
                     max_terms: int = 10, seed: int = 0, method: str = AUTO, timeout: float | None = None,
                     budget: Any = None, model_name: str | None = None) -> PrimeImplicantsResult:
    """Up to ``max_terms`` prime implicants of "class in ``targets``" over ``region`` (default targets: x's class).

    With ``x`` of a target class, the first term is expanded from ``x`` (a sufficient reason of x).
    """
    t0 = time.perf_counter()
    xb = None if x is None else _input(net, x)
    if targets is None:
        if xb is None:
            raise DataError("targets: give the target classes or the input whose class they are", param="targets")
        targets = [semantics.classify(net, xb)]
    limits = Limits(timeout=timeout, budget=budget, started=t0)
    asked = Asked(model_name, region.describe(), bits_to_str(xb), str(method), timeout, budget)
    ans = run.prime_implicants(net, region, list(targets), max_terms=max_terms, seed=seed, start=xb,
                               method=method, limits=limits)
    p = ans.primes
    return PrimeImplicantsResult(tuple(sorted({int(c) for c in targets})), p.terms, ans.completions, p.covers,
                                 p.essential, p.target_count, region.size, p.bdd_nodes,
                                 engine_label(ans.choice.name), ans.choice.reason, time.perf_counter() - t0, asked)


def essential_features(net: Any, region: Any, targets: Sequence[int] | None = None, *, x: Any = None,
                       method: str = AUTO, timeout: float | None = None, budget: Any = None,
                       model_name: str | None = None) -> PrimeImplicantsResult:
    """The literals shared by every prime implicant of "class in ``targets``" (with one prime as a check)."""
    from dataclasses import replace

    r = prime_implicants(net, region, targets, x=x, max_terms=1, method=method, timeout=timeout,
                         budget=budget, model_name=model_name)
    return replace(r, question="essential")


@dataclass(frozen=True, eq=False)
class ShapleyResult:
    """Exact Shapley values of the region's free bits for ``f(x') = [class(x') in targets]`` at ``x``.

    ``values`` are ``Fraction``s summing exactly to ``at_x - expected``;
    ``expected`` is ``E[f]`` under the uniform distribution on the region (for
    ``targets == {class(x)}``: the exact expected robustness);
    ``influence[i]`` (cubes) the exact fraction of members whose class changes
    when bit ``i`` is flipped; ``exactness`` says how the values were computed.
    """

    targets: tuple[int, ...]
    predicted_class: int
    values: Mapping[int, Fraction]
    expected: Fraction
    at_x: int
    influence: Mapping[int, Fraction] | None
    exactness: str
    bdd_nodes: int | None
    method: Any
    reason: str
    seconds: float
    asked: Asked

    def to_json(self) -> dict[str, Any]:
        return {"kind": "shapley", "targets": list(self.targets), "predicted_class": self.predicted_class,
                "values": {str(i): fraction_str(v) for i, v in self.values.items()},
                "values_float": {str(i): float(v) for i, v in self.values.items()},
                "expected": fraction_str(self.expected), "f_at_x": self.at_x,
                "expected_robustness": fraction_str(self.expected)
                if self.targets == (self.predicted_class,) else None,
                "influence": None if self.influence is None
                else {str(i): fraction_str(v) for i, v in self.influence.items()},
                "exactness": self.exactness, "bdd_nodes": self.bdd_nodes, "method": str(self.method),
                "reason": self.reason, "seconds": self.seconds, "asked": self.asked.to_json()}


def _ball_shapley(net: Any, region: Any, xb: np.ndarray, targets: list[int], method: str,
                  limits: Limits) -> tuple[dict[int, Fraction], Fraction, Any]:
    """Shapley values from the definition over a Hamming ball: one exact count per coalition."""
    players = list(free_bits(region))
    m = len(players)
    if m > SHAPLEY_COALITION_MAX_PLAYERS:
        raise RegionError(
            f"region: the uniform distribution on a Hamming ball is not a product distribution, so the BDD's "
            f"polynomial Shapley algorithm does not apply; exact values from the definition need 2^{m} "
            f"coalition counts, more than 2^{SHAPLEY_COALITION_MAX_PLAYERS} (use a cube, or fewer mutable bits)")
    v: dict[frozenset, Fraction] = {}
    choice = None
    for k in range(m + 1):
        for S in itertools.combinations(players, k):
            sub = agree_region(region, xb, S)
            ans = run.class_counts(net, sub, (), method=method, limits=limits)
            if ans.counts is None:
                from bnnverify.errors import BudgetExceeded

                raise BudgetExceeded(f"coalition {list(S)}: {ans.search.note}")
            choice = ans.choice
            v[frozenset(S)] = Fraction(sum(ans.counts[c] for c in targets), sub.size)
    values = {}
    for i in players:
        rest = [j for j in players if j != i]
        phi = Fraction(0)
        for k in range(m):
            w = Fraction(factorial(k) * factorial(m - k - 1), factorial(m))
            for S in itertools.combinations(rest, k):
                phi += w * (v[frozenset(S) | {i}] - v[frozenset(S)])
        values[i] = phi
    return values, v[frozenset()], choice


def shapley_values(net: Any, x: Any, region: Any = None, targets: Sequence[int] | None = None, *,
                   influence: bool = True, method: str = AUTO, timeout: float | None = None,
                   budget: Any = None, model_name: str | None = None) -> ShapleyResult:
    """Exact Shapley values of every free bit of ``region`` (default: the whole space) at ``x``.

    ``targets`` defaults to x's class. Cubes and the whole space: the BDD's
    polynomial algorithm (exact: the uniform distribution on a cube is a
    product distribution). Hamming balls centred at x: the definition, one
    exact count per coalition, for at most :data:`SHAPLEY_COALITION_MAX_PLAYERS`
    mutable bits. Other regions are refused.
    """
    from bnnverify.encoders.regions import Whole

    t0 = time.perf_counter()
    xb = _input(net, x)
    region = Whole(net.n_inputs) if region is None else region
    if region.n != net.n_inputs:
        raise RegionError(f"region: ranges over {region.n} bits, the model expects {net.n_inputs}")
    check_centred(region, xb)
    pred = semantics.classify(net, xb)
    targets = sorted({int(c) for c in ([pred] if targets is None else targets)})
    limits = Limits(timeout=timeout, budget=budget, started=t0)
    asked = Asked(model_name, region.describe(), bits_to_str(xb), str(method), timeout, budget)
    infl = None
    if region.kind == "hamming":
        values, expected, choice = _ball_shapley(net, region, xb, targets, method, limits)
        at_x = int(pred in targets)
        if sum(values.values()) != at_x - expected:
            from bnnverify.errors import InternalError

            raise InternalError("Shapley values over the ball do not sum to f(x) - E[f]")
        exactness = (f"exact from the definition: one exact count per coalition (2^{len(values)}) over the "
                     "Hamming ball (not a product distribution)")
        nodes = None
        label = engine_label(choice.name) if choice is not None else engine_label("enum")
        why = choice.reason if choice is not None else "no mutable bit"
    else:
        sc, choice = run.shapley(net, region, xb, targets, method=method, limits=limits)
        values, expected, at_x, nodes = dict(sc.values), sc.expected, sc.at_x, sc.bdd_nodes
        exactness = ("exact: the polynomial algorithm on the BDD (uniform distribution on a cube = a product "
                     "distribution)")
        label, why = engine_label(choice.name), choice.reason
        if influence:
            inf, _ = run.influence(net, region, method=method, limits=limits)
            infl = {i: Fraction(c, inf.total) for i, c in inf.changes.items()}
    return ShapleyResult(tuple(targets), pred, values, expected, at_x, infl, exactness, nodes, label, why,
                         time.perf_counter() - t0, asked)
