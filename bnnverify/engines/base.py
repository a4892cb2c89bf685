"""The engine interface: what every engine declares and answers.

As ``dd._abc`` types CUDD and autoref behind one Protocol, :class:`Engine`
types every way bnnverify answers a question — enumeration, BDD, SAT, the
Hamming-ball programme, projected model counting. An engine declares

* ``capabilities`` — the questions it answers (:class:`Capability`);
* ``layer_kinds`` and ``region_kinds`` — what it can take; and
* :meth:`Engine.supports` — whether it takes *this* network and region for
  *this* question, with a reason naming what it refuses.

Questions (:mod:`bnnverify.questions`, :mod:`bnnverify.information`) are
written against this interface only, through :mod:`bnnverify.engines.run`,
which chooses the engine (:mod:`bnnverify.engines.policy`), applies the
budget and time limits, and replays every witness on the semantics. An
engine joins by registering (:data:`bnnverify.engines.registry.ENGINES`) and
passing the conformance suite (``tests/conformance.py``).

Answers are exact or absent: a :class:`Search` either found a member (a
witness, replayed by the caller), proved there is none, or says why it could
not tell (``timeout``/``unknown`` with a note). Counts are exact Python ints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

from bnnverify.errors import DeadlineExceeded, EngineError, UsageError

__all__ = [
    "Capability",
    "Outcome",
    "Search",
    "Support",
    "Limits",
    "LayerLabels",
    "Engine",
    "EngineBase",
    "Reason",
    "Primes",
    "ShapleyScores",
    "Influence",
]


class Capability(str, Enum):
    """A question an engine can answer."""

    #: a member of the region whose class is in a given set, or a proof that none exists
    FIND_CLASS = "find-class"
    #: exact number of members per class (and a member of any class it counted)
    CLASS_COUNTS = "class-counts"
    #: a member on which two networks disagree, or a proof that they agree
    FIND_DISAGREEMENT = "find-disagreement"
    #: exact confusion counts of two networks (and a member where they differ)
    DISAGREEMENTS = "disagreements"
    #: per hidden layer, exact counts of (code, label) pairs (the information measures)
    LAYER_LABELS = "layer-labels"
    #: exact joint counts of the codes of chosen layers (and the class): the code graph
    JOINT_COUNTS = "joint-counts"
    #: the largest Hamming radius around a centre at which the class cannot change
    RADIUS = "radius"
    #: a subset-minimal set S of bits such that every member agreeing with x on S has x's class
    #: (one proof per dropped bit, one replayed witness per kept bit)
    SUFFICIENT_REASON = "sufficient-reason"
    #: a cardinality-minimal such set, with the proof that none is smaller
    MIN_SUFFICIENT_REASON = "min-sufficient-reason"
    #: prime implicants (each checked prime) of "class in T" over a region, and the essential literals
    PRIME_IMPLICANTS = "prime-implicants"
    #: exact Shapley values (rationals) of the bits for "class(x') = c", uniform distribution on a cube
    SHAPLEY = "shapley"
    #: per bit, the exact number of members whose class changes when the bit is flipped
    INFLUENCE = "influence"

    @property
    def counts(self) -> bool:
        """Whether the answer is a count (not a yes/no with a witness)."""
        return self in (Capability.CLASS_COUNTS, Capability.DISAGREEMENTS,
                        Capability.LAYER_LABELS, Capability.JOINT_COUNTS,
                        Capability.SHAPLEY, Capability.INFLUENCE)


class Outcome(str, Enum):
    """What a search established."""

    FOUND = "found"  #: a witness exists (the caller replays it)
    NONE = "none"  #: proved: no member has the property
    TIMEOUT = "timeout"  #: the time limit ran out: nothing is claimed
    UNKNOWN = "unknown"  #: a budget ran out or the engine gave no answer: nothing is claimed


@dataclass(frozen=True, eq=False)
class Search:
    """One engine's answer to "is there a member with the property?"."""

    outcome: Outcome
    witness: np.ndarray | None = None
    note: str = ""
    #: the witness's class (or (class_a, class_b) for a disagreement), as the engine claims it
    claimed: Any = None

    def __post_init__(self) -> None:
        if (self.outcome is Outcome.FOUND) != (self.witness is not None):
            raise UsageError(f"a search that is {self.outcome.value} must carry a witness iff it found one")


@dataclass(frozen=True)
class Support:
    """Whether an engine takes a question; ``reason`` names what it refuses."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class Limits:
    """The limits and options of one question, the same for every engine.

    ``timeout`` (seconds, wall clock, from the question's start) bounds every
    engine that can be interrupted; ``budget`` bounds the BDD (a
    :class:`bnnverify.encoders.bdd.BDDBudget`, an int = live nodes, or None =
    the default); ``enum_limit`` bounds enumeration (members); ``solver`` and
    ``encoding`` choose the SAT back end. ``progress`` (a callable taking a
    number of steps done) is told as work proceeds — members enumerated, BDD
    operations — so a front end can show that a long question is moving.
    """

    timeout: float | None = None
    budget: Any = None
    enum_limit: int | None = None
    solver: str | None = None
    encoding: str | None = None
    started: float = field(default_factory=time.perf_counter, compare=False)
    progress: Callable[[int], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.timeout is not None:
            t = float(self.timeout)
            if not t > 0 or t != t or t == float("inf"):
                raise UsageError(f"timeout: must be a positive finite number of seconds, got {self.timeout!r}")

    @property
    def deadline(self) -> float | None:
        """The ``time.perf_counter()`` value at which the question must stop."""
        return None if self.timeout is None else self.started + float(self.timeout)

    def remaining(self) -> float | None:
        """Seconds left (may be <= 0), or None without a limit."""
        d = self.deadline
        return None if d is None else d - time.perf_counter()

    def expired(self) -> bool:
        r = self.remaining()
        return r is not None and r <= 0

    @property
    def paced(self) -> bool:
        """Whether :meth:`step` does anything (a deadline or a progress callback)."""
        return self.timeout is not None or self.progress is not None

    def step(self, n: int = 1, what: str = "the engine") -> None:
        """``n`` steps done: tell ``progress``; :class:`DeadlineExceeded` once the time is up."""
        if self.progress is not None:
            self.progress(n)
        if self.expired():
            raise DeadlineExceeded(f"{what} reached its time limit")


@dataclass(frozen=True)
class LayerLabels:
    """Per hidden layer (1-based position l-1), exact counts of (code, label) over a region.

    ``label`` is the network's class (``labels="model"``), a label network's
    class, or a constant; ``total`` is the region's size.
    """

    pairs: tuple[dict[tuple[int, int], int], ...]
    total: int


@dataclass(frozen=True, eq=False)
class Reason:
    """A sufficient reason as an engine found it (the runner replays every witness).

    ``outcome`` is ``FOUND`` when ``kept`` is a proved sufficient reason
    (subset-minimal: ``witnesses[i]`` is a member of the region agreeing with
    x on ``kept`` minus ``i``, of another class; cardinality-minimal for the
    min capability), else ``TIMEOUT``/``UNKNOWN`` with ``kept`` None.
    ``checks`` counts the solver calls or empty-BDD tests made (each dropped
    bit has one UNSAT/empty check); ``proof`` says what proves minimality.
    """

    outcome: Outcome
    kept: tuple[int, ...] | None
    witnesses: dict[int, np.ndarray] = field(default_factory=dict)
    checks: int = 0
    proof: str = ""
    note: str = ""
    bdd_nodes: int | None = None


@dataclass(frozen=True, eq=False)
class Primes:
    """Prime implicants of "class in targets" over a region (terms over its free bits).

    ``terms[k]`` maps bit -> value; ``witnesses[k][i]`` is a member of the
    region agreeing with ``terms[k]`` except on bit ``i``, of another class
    (so every literal is needed); ``covers`` says whether the terms cover every
    member of the target classes; ``essential`` the literals in every prime
    implicant (None when no member has a target class); ``target_count`` the
    exact number of members of the target classes.
    """

    terms: tuple[dict[int, int], ...]
    witnesses: tuple[dict[int, np.ndarray], ...]
    covers: bool
    essential: dict[int, int] | None
    target_count: int
    bdd_nodes: int


@dataclass(frozen=True, eq=False)
class ShapleyScores:
    """Exact Shapley values (``Fraction``) of the players (free bits) for ``f = [class in targets]``.

    ``expected`` is ``E[f]`` under the uniform distribution on the region,
    ``at_x`` is ``f(x)``; ``sum(values) == at_x - expected``.
    """

    values: dict[int, Any]
    expected: Any
    at_x: int
    players: tuple[int, ...]
    bdd_nodes: int
    method: str = ""


@dataclass(frozen=True)
class Influence:
    """Per free bit, the exact number of members whose class changes when it is flipped; ``total`` members."""

    changes: dict[int, int]
    total: int


@runtime_checkable
class Engine(Protocol):
    """What every engine provides. Methods of capabilities it lacks are never called.

    * ``find_class``: a member of ``region`` whose class is in ``classes``.
    * ``class_counts``: the exact :class:`ClassCounts` over ``region`` and, if
      some class in ``witness_of`` was counted, a member of such a class.
    * ``find_disagreement`` / ``disagreements``: the same for two networks
      (``net`` is then the pair); ``disagreements`` returns a
      :class:`Disagreement` with exact confusion counts.
    * ``layer_labels``: :class:`LayerLabels` for ``labels`` ``"model"`` or a
      label network, or the constant ``const_label``.
    * ``joint_counts``: a :class:`JointCounts` of hidden ``layers`` (1-based).
    * ``max_radius``: ``(proven, search)`` — the largest radius proved robust
      and a search whose witness (if found) lies at distance ``proven + 1``;
      ``user_cap`` says whether ``cap`` was the user's (else: all mutable bits).
    """

    name: str
    aliases: tuple[str, ...]
    summary: str
    capabilities: frozenset[Capability]
    layer_kinds: frozenset[str]
    region_kinds: frozenset[str]

    def supports(self, net: Any, region: Any, capability: Capability) -> Support: ...

    def find_class(self, net: Any, region: Any, classes: Sequence[int], limits: Limits) -> Search: ...

    def class_counts(self, net: Any, region: Any, witness_of: Sequence[int],
                     limits: Limits) -> tuple[Any, np.ndarray | None]: ...

    def find_disagreement(self, net_a: Any, net_b: Any, region: Any, limits: Limits) -> Search: ...

    def disagreements(self, net_a: Any, net_b: Any, region: Any, limits: Limits) -> Any: ...

    def layer_labels(self, net: Any, region: Any, labels: Any, const_label: int | None,
                     limits: Limits) -> LayerLabels: ...

    def joint_counts(self, net: Any, region: Any, layers: Sequence[int], with_class: bool,
                     limits: Limits) -> Any: ...

    def max_radius(self, net: Any, center: np.ndarray, mutable: np.ndarray | None, cap: int,
                   user_cap: bool, limits: Limits) -> tuple[int, Search]: ...

    def sufficient_reason(self, net: Any, region: Any, x: np.ndarray, target: int, order: Sequence[int],
                          limits: Limits) -> Reason: ...

    def min_sufficient_reason(self, net: Any, region: Any, x: np.ndarray, target: int,
                              limits: Limits) -> Reason: ...

    def prime_implicants(self, net: Any, region: Any, targets: Sequence[int], max_terms: int,
                         limits: Limits, start: np.ndarray | None = None) -> Primes: ...

    def shapley(self, net: Any, region: Any, x: np.ndarray, targets: Sequence[int],
                limits: Limits) -> ShapleyScores: ...

    def influence(self, net: Any, region: Any, limits: Limits) -> Influence: ...


def lacks(engine: Any, capability: Capability) -> str | None:
    """Why ``engine`` does not answer ``capability`` at all (None if it declares it): its own
    ``why_not`` where it gives one, else the questions it does answer."""
    if capability in engine.capabilities:
        return None
    why = getattr(engine, "why_not", {}).get(capability)
    have = ", ".join(c.value for c in Capability if c in engine.capabilities)
    return (f"engine {engine.name!r} does not answer {capability.value} questions"
            + (f": {why}" if why else f" (it answers: {have})"))


class EngineBase:
    """A base for engines: :meth:`supports` from the declared kinds; undeclared questions refused by name.

    Subclasses set the class attributes and implement the methods of their
    capabilities; :meth:`check` adds engine-specific refusals.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    layer_kinds: ClassVar[frozenset[str]] = frozenset({"threshold", "argmax"})
    region_kinds: ClassVar[frozenset[str]] = frozenset({"whole", "cube", "hamming", "linf"})
    #: why the engine lacks a capability, where a user would want to know (and what to use instead)
    why_not: ClassVar[dict[Capability, str]] = {}

    def supports(self, net: Any, region: Any, capability: Capability) -> Support:
        missing = lacks(self, capability)
        if missing:
            return Support(False, missing)
        nets = net if isinstance(net, tuple) else (net,)
        for one in nets:
            for layer in one.layers:
                if layer.kind not in self.layer_kinds:
                    return Support(False, f"engine {self.name!r} does not take {layer.kind!r} layers ({layer.name})")
        kind = getattr(region, "kind", None)
        if region is not None and kind not in self.region_kinds:
            return Support(False, f"engine {self.name!r} does not take {kind!r} regions")
        return self.check(nets, region, capability)

    def check(self, nets: tuple[Any, ...], region: Any, capability: Capability) -> Support:
        """Engine-specific refusals (override); the default takes everything declared."""
        return Support(True)

    def _refuse(self, capability: Capability) -> EngineError:
        return EngineError(f"engine {self.name!r} does not answer {capability.value} questions")

    def find_class(self, net, region, classes, limits):  # pragma: no cover - refused by supports
        raise self._refuse(Capability.FIND_CLASS)

    def class_counts(self, net, region, witness_of, limits):  # pragma: no cover
        raise self._refuse(Capability.CLASS_COUNTS)

    def find_disagreement(self, net_a, net_b, region, limits):  # pragma: no cover
        raise self._refuse(Capability.FIND_DISAGREEMENT)

    def disagreements(self, net_a, net_b, region, limits):  # pragma: no cover
        raise self._refuse(Capability.DISAGREEMENTS)

    def layer_labels(self, net, region, labels, const_label, limits):  # pragma: no cover
        raise self._refuse(Capability.LAYER_LABELS)

    def joint_counts(self, net, region, layers, with_class, limits):  # pragma: no cover
        raise self._refuse(Capability.JOINT_COUNTS)

    def max_radius(self, net, center, mutable, cap, user_cap, limits):  # pragma: no cover
        raise self._refuse(Capability.RADIUS)

    def sufficient_reason(self, net, region, x, target, order, limits):  # pragma: no cover
        raise self._refuse(Capability.SUFFICIENT_REASON)

    def min_sufficient_reason(self, net, region, x, target, limits):  # pragma: no cover
        raise self._refuse(Capability.MIN_SUFFICIENT_REASON)

    def prime_implicants(self, net, region, targets, max_terms, limits, start=None):  # pragma: no cover
        raise self._refuse(Capability.PRIME_IMPLICANTS)

    def shapley(self, net, region, x, targets, limits):  # pragma: no cover
        raise self._refuse(Capability.SHAPLEY)

    def influence(self, net, region, limits):  # pragma: no cover
        raise self._refuse(Capability.INFLUENCE)

    def __repr__(self) -> str:
        return f"<engine {self.name}>"
