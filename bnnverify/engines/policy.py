"""The one policy: which engine ``auto`` picks, and why — every measured threshold in one place.

For each question the policy has an order of preference that depends on the
region's exact size (and, for information, on its kind); it takes the first
engine in that order that :meth:`supports <bnnverify.engines.base.Engine.supports>`
the network and region, then any other registered engine that does (so an
engine registered at run time answers where it is the only one able to).
An explicit engine is checked the same way and refused by name when it
cannot answer.

The thresholds come from ``benchmarks/results/questions.md`` and
``benchmarks/results/information.md``:

* yes/no questions: the bit-packed evaluator classifies ~10^6 members per
  second on the BNNQuanalyst networks and stops at the first counterexample,
  so a full pass over 2^20 members costs about a second; SAT needs 0.1–0.3 s
  on Hamming balls but 4–20 s and more on robust fixed-set cubes;
* counts: the BDD's cost depends on the network and the region's shape, not
  its member count: 0.3–4 s on balls of 10^2–10^5 members (enumeration:
  milliseconds), over 60 s on a radius-4 ball of 4·10^6 members
  (enumeration: 1.2 s), 12 s on a 2^24-member cube (enumeration: 22 s);
* Hamming balls, counts and information (``benchmarks/results/scale.md``):
  the compiled Hamming-ball kernel walks multisets of flipped-bit types at
  ~10^8 per second where enumeration evaluates ~10^6–10^7 members per second
  and the BDD of a ball's first layer grows like (distinct columns)^radius —
  since its relation is kept in parts of 5 neurons (``encoders/bdd.py``) the
  BDD counts some large balls fast (784-100-10 radius 3: kernel 1.2 s as a
  process, BDD 0.31 s in the engine, 89 s with 8 GiB before; radius 4: kernel
  45–86 s, BDD 0.92 s) but not others (the Fashion-MNIST 784-100-10 at
  radius 4: BDD over 1 GiB after 21 s, kernel 71 s; 100-50-20-10 radius 4:
  BDD 45 s, kernel 0.65 s), and its cost is not predicted here, so beyond
  :data:`AUTO_BALL_MIN` members ``auto`` still takes the kernel
  first, estimating its work exactly (:func:`ball_estimate`: the neurons
  that can change, the bit types, the type multisets) and saying so; on a
  ball whose work is beyond the kernel's bound it gives up at once
  (``BudgetExceeded``) and the runner hands the count to the next engine;
  without numba the numpy programme comes after the BDD as before
  (radius-3 ball of 100-50-20-10: programme 2.1 s, BDD 30 s);
* other information questions: enumeration up to the enumeration engine's
  limit, else the BDD.

>>> from bnnverify.encoders.regions import Whole
>>> prefer(Capability.FIND_CLASS, Whole(10)), prefer(Capability.FIND_CLASS, Whole(40))
(('enum', 'sat', 'bdd'), ('sat', 'bdd', 'enum'))
>>> prefer(Capability.CLASS_COUNTS, Whole(40))
('bdd', 'enum', 'ganak', 'ball')
>>> import numpy as np
>>> prefer(Capability.CLASS_COUNTS, HammingBall(np.zeros(100, np.uint8), 5))[0]  # 7.9·10^7 members
'ball'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from bnnverify.encoders.regions import HammingBall
from bnnverify.engines.base import Capability, Engine
from bnnverify.engines.registry import AUTO, ENGINES, EngineRegistry
from bnnverify.errors import EngineError

__all__ = [
    "AUTO_ENUM_MAX_DECIDE",
    "AUTO_SAMPLE_MEMBERS",
    "AUTO_ENUM_MAX_COUNT",
    "ENUM_LIMIT",
    "AUTO_ENUM_MAX_REASON",
    "AUTO_BALL_MIN",
    "AUTO_BALL_MIN_INFO",
    "AUTO_BALL_BDD_WORK",
    "AUTO_BDD_PROBE_MEMORY",
    "AUTO_BDD_PROBE_SECONDS",
    "Choice",
    "ball_estimate",
    "prefer",
    "Choices",
    "choices",
    "choose",
]

#: ``auto`` answers a yes/no question over at most this many members by
#: enumeration, and hands larger regions to SAT (see the module docstring).
AUTO_ENUM_MAX_DECIDE: int = 1 << 20

#: Before proving, ``auto`` looks for a witness of "some member's class is in T" over a pixel
#: box larger than :data:`AUTO_ENUM_MAX_DECIDE` among this many members (half the box's corners,
#: half uniform; :data:`bnnverify.engines.sampling.SAMPLE_SEED`), evaluated on the evaluator and
#: replayed like any witness.
#: Measured on the 48x48x3 benchmark network (two random images, L∞ 1, 3, 5): 1,000 members
#: (~2.5 s at load 6) found a counterexample in 5 of 6 questions (corners: 1-117 of 500), where SAT
#: needs 4 million clauses and more than 300 s; a robust box costs the 2.5 s and then the proof.
AUTO_SAMPLE_MEMBERS: int = 1000

#: ``auto`` counts regions of at most this many members by enumeration and
#: larger ones with the BDD (see the module docstring).
AUTO_ENUM_MAX_COUNT: int = 1 << 22

#: ``auto`` counts Hamming balls of more members than this with the compiled Hamming-ball
#: kernel first (when numba is installed), smaller ones by enumeration, which sees its witness
#: and needs neither numba's import nor its kernels (~1 s together, once per process). Measured
#: (``benchmarks/results/scale.md``, whole CLI runs): 784-100-10 radius 2 (3.1·10^5 members)
#: enumeration 0.44 s, kernel 1.64 s; 100-50-20-10 radius 4 (4.1·10^6 ≈ 2^22) enumeration
#: 0.86 s, kernel 1.23 s; radius 5 (7.9·10^7) kernel 4.8 s, enumeration ~20 times the radius-4 time.
AUTO_BALL_MIN: int = AUTO_ENUM_MAX_COUNT

#: The same for information (per-layer code counts): enumeration pays for the distinct codes of
#: every layer, so the kernel wins earlier. Measured (same table, ``info``): 100-50-20-10 radius 3
#: (1.7·10^5 members) enumeration 0.89 s, kernel ~1.4 s; 784-100-10 radius 2 (3.1·10^5)
#: enumeration 1.83 s, kernel ~1.1 s; 100-50-20-10 radius 4 (4.1·10^6) enumeration 7.56 s,
#: kernel ~1.6 s.
AUTO_BALL_MIN_INFO: int = 1 << 18

#: The most members enumeration takes at all (an explicit ``enum`` on a larger
#: region answers ``unknown``), and the information measures' enumeration bound.
ENUM_LIMIT: int = 10**7


#: ``auto`` finds a sufficient reason by enumeration when (members × free
#: bits) is at most this: deletion makes one exhaustive pass per free bit, so
#: that product bounds the evaluations. Measured
#: (``benchmarks/results/explain.md``): below 2^22 evaluations enumeration
#: answered in 0.1–0.3 s where SAT took 0.2–2.7 s and the BDD 0.4–1 s;
#: 784 × 307721 = 2.4·10^8 (a non-robust radius-2 ball) took 15 s, SAT 13 s.
AUTO_ENUM_MAX_REASON: int = 1 << 22


#: ``auto`` counts a Hamming ball with the BDD first, as a *probe*, when the ball kernel would walk
#: more type multisets than this (it walks ~10^8 per second, so some 20 s): since the BDD keeps a ball's
#: first relation in parts it counts some such balls in about a second. Measured (CLI, the BNNQuanalyst
#: models, radius 4 around instance_0_784): MNIST 784-100-10 — kernel 15.1·10^9 multisets, 45–86 s;
#: BDD 0.67 s under a 128 MiB cap; Fashion-MNIST 784-100-10 — kernel 15.5·10^9, 71 s; the BDD exceeds
#: 128 MiB after 4.3 s (256 MiB: 11 s, 1 GiB: 21 s), so the probe costs the kernel's slow cases ~5 %.
AUTO_BALL_BDD_WORK: int = 2 * 10**9
#: The probe's CUDD memory cap (bytes; never above the question's own budget).
AUTO_BDD_PROBE_MEMORY: int = 128 << 20
#: The probe's time (seconds; never past the question's own deadline): running out of either hands
#: the count on to the kernel, as any budget does.
AUTO_BDD_PROBE_SECONDS: float = 10.0


@dataclass(frozen=True)
class Choice:
    """The engine that answers a question, and why (the result records both). ``probe``: a first try
    under :data:`AUTO_BDD_PROBE_MEMORY` and :data:`AUTO_BDD_PROBE_SECONDS`; running out of either
    hands the question on to the next engine."""

    engine: Engine
    reason: str
    probe: bool = False

    @property
    def name(self) -> str:
        return self.engine.name


def prefer(capability: Capability, region: Any, *, label_net: bool = False) -> tuple[str, ...]:
    """The built-in engines in ``auto``'s order of preference for ``capability`` over ``region``."""
    size = region.size
    if capability in (Capability.FIND_CLASS, Capability.FIND_DISAGREEMENT):
        return ("enum", "sat", "bdd") if size <= AUTO_ENUM_MAX_DECIDE else ("sat", "bdd", "enum")
    ball_min = AUTO_BALL_MIN_INFO if capability is Capability.LAYER_LABELS else AUTO_BALL_MIN
    kernel_ball = isinstance(region, HammingBall) and size > ball_min and _have_kernel()
    if capability is Capability.CLASS_COUNTS:
        if kernel_ball:
            return ("ball", "bdd", "enum", "ganak")
        if size <= AUTO_ENUM_MAX_COUNT:
            return ("enum", "bdd", "ball", "ganak")
        # a ball beyond enumeration: the BDD first (faster where it fits), then the flip-type programme
        return ("bdd", "ball", "enum", "ganak") if isinstance(region, HammingBall) else ("bdd", "enum", "ganak", "ball")
    if capability is Capability.DISAGREEMENTS:
        return ("enum", "bdd") if size <= AUTO_ENUM_MAX_COUNT else ("bdd", "enum")
    if capability is Capability.LAYER_LABELS:
        if kernel_ball and not label_net:
            return ("ball", "enum", "bdd") if size <= ENUM_LIMIT else ("ball", "bdd", "enum")
        if size <= ENUM_LIMIT:
            return ("enum", "bdd", "ball")
        if isinstance(region, HammingBall) and not label_net:
            return ("ball", "bdd", "enum")
        return ("bdd", "enum", "ball")
    if capability is Capability.JOINT_COUNTS:
        return ("enum", "bdd") if size <= ENUM_LIMIT else ("bdd", "enum")
    if capability is Capability.RADIUS:
        return ("enum", "sat", "bdd")
    if capability is Capability.SUFFICIENT_REASON:
        return ("enum", "sat", "bdd") if _reason_work(region) <= AUTO_ENUM_MAX_REASON else ("sat", "bdd", "enum")
    if capability in (Capability.MIN_SUFFICIENT_REASON, Capability.PRIME_IMPLICANTS, Capability.SHAPLEY,
                      Capability.INFLUENCE):
        return ("bdd",)
    raise EngineError(f"no policy for {capability!r}")  # pragma: no cover - every capability is listed


def _have_kernel() -> bool:
    from bnnverify.evaluation.flips import HAVE_NUMBA

    return HAVE_NUMBA


def ball_estimate(net: Any, region: Any) -> str:
    """What the Hamming-ball kernel will do on ``region``: the neurons that can change, the bit types
    and the exact number of type multisets it walks (its work), for ``auto``'s reason."""
    from bnnverify.engines.ball import kernel_plan

    plan = kernel_plan(net, region) if isinstance(region, HammingBall) and not isinstance(net, tuple) else None
    if plan is None:
        return "the numpy programme over flipped-bit types"
    return (f"only {plan.k} first-layer neurons can change within radius {plan.radius}, "
            f"{len(plan.cols)} bit types: {plan.work()} type multisets to walk")


def _reason_work(region: Any) -> int:
    """Evaluations a sufficient reason costs by enumeration: members × free bits."""
    from bnnverify.engines.terms import free_bits
    from bnnverify.errors import RegionError

    try:
        return region.size * max(1, len(free_bits(region)))
    except RegionError:
        return region.size


#: Region sizes are written out in full in a reason up to this many decimal digits, as a power of two
#: beyond (Python refuses to print integers of more than 4,300 digits; an L∞ ball of 5 grey levels on
#: 48x48x3 pixels has 5,841).
_SIZE_DIGITS = 60


def size_text(n: int) -> str:
    """An exact size, or "over 2^k" when it is too long to read (or for Python to print)."""
    return str(n) if n < 10 ** _SIZE_DIGITS else f"over 2^{int(n).bit_length() - 1}"


def _why(capability: Capability, region: Any, name: str, net: Any = None) -> str:
    size = size_text(region.size)
    if len(prefer(capability, region)) == 1:
        return f"auto: {name}, the engine for {capability.value} questions"
    if capability is Capability.SUFFICIENT_REASON:
        return (f"auto: {name}, deletion by enumeration would evaluate {_reason_work(region)} members "
                f"(members x free bits; enumeration takes up to {AUTO_ENUM_MAX_REASON})")
    if name == "enum":
        return f"auto: enumeration, the region has {size} members"
    if name == "ball":
        return (f"auto: Hamming-ball kernel, the ball has {size} members but {ball_estimate(net, region)}"
                if net is not None and region.size > min(AUTO_BALL_MIN, AUTO_BALL_MIN_INFO) and _have_kernel() else
                f"auto: Hamming-ball programme, the ball has {size} members (beyond enumeration)")
    limit = AUTO_ENUM_MAX_DECIDE if not capability.counts else AUTO_ENUM_MAX_COUNT
    return f"auto: {name}, the region has {size} members (enumeration takes up to {limit})"


class Choices(Sequence[Choice]):
    """The engines that may answer, in order, found as they are needed.

    The runner tries the first and moves on only when it runs out of budget, so the
    later engines are looked up (their modules imported: CUDD, PySAT, numba) only
    then, or when the sequence is measured (``len``, ``[-1]``). Measured: this keeps
    ``dd.cudd`` and PySAT out of a process that the ball kernel or enumeration
    answers, 0.25 s of the 2.2 s of ``info`` on a radius-4 ball of 100-50-20-10.
    """

    def __init__(self, capability: Capability, net: Any, region: Any, order: list[str],
                 registry: EngineRegistry) -> None:
        self._args = (capability, net, region)
        self._order = order
        self._registry = registry
        self._next = 0
        self._refusals: list[str] = []
        self._found: list[Choice] = []
        if not self._fill(1):
            raise EngineError(f"no engine answers {capability.value} here: " + "; ".join(self._refusals))

    def _fill(self, k: int | None) -> bool:
        """Look up engines until ``k`` are found (all if None); True if there are ``k``."""
        capability, net, region = self._args
        while (k is None or len(self._found) < k) and self._next < len(self._order):
            n = self._order[self._next]
            self._next += 1
            engine = self._registry.get(n)
            s = engine.supports(net, region, capability)
            if s:
                why = (_why(capability, region, n, net) if not self._refusals and not self._found else
                       f"auto: {n}" + (", the only engine that takes it after: " + "; ".join(self._refusals)
                                       if self._refusals else ""))
                self._found.append(Choice(engine, why))
            else:
                self._refusals.append(s.reason)
        return k is not None and len(self._found) >= k

    def __len__(self) -> int:
        self._fill(None)
        return len(self._found)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice) or i < 0:
            self._fill(None)
        else:
            self._fill(i + 1)
        return self._found[i]

    def __iter__(self) -> Iterator[Choice]:
        i = 0
        while self._fill(i + 1):
            yield self._found[i]
            i += 1


def choices(
    capability: Capability,
    net: Any,
    region: Any,
    method: str | None = AUTO,
    *,
    label_net: bool = False,
    registry: EngineRegistry = ENGINES,
) -> Sequence[Choice]:
    """The engines that may answer, in order: the one asked for, or for ``auto`` every
    supporting engine in the order of preference (the runner goes on to the next when one
    runs out of budget), looked up lazily (:class:`Choices`). An engine asked for that does
    not support the question raises :class:`EngineError` with its reason, as does a
    question no engine takes.
    """
    name = registry.resolve(method)
    if name != AUTO:
        engine = registry.get(name)
        s = engine.supports(net, region, capability)
        if not s:
            raise EngineError(s.reason)
        return [Choice(engine, f"asked for {name}")]
    order = [n for n in prefer(capability, region, label_net=label_net) if n in registry.names()]
    order += [n for n in registry.names() if n not in order]
    rest = Choices(capability, net, region, order, registry)
    probe = _bdd_probe(capability, net, region, registry)
    return rest if probe is None else _Probed(probe, rest)


def _bdd_probe(capability: Capability, net: Any, region: Any, registry: EngineRegistry) -> Choice | None:
    """The BDD as a probe before the ball kernel, when the kernel's work is beyond :data:`AUTO_BALL_BDD_WORK`."""
    if (capability is not Capability.CLASS_COUNTS or not isinstance(region, HammingBall) or isinstance(net, tuple)
            or region.size <= AUTO_BALL_MIN or not _have_kernel() or "bdd" not in registry.names()):
        return None
    from bnnverify.engines.ball import kernel_plan

    plan = kernel_plan(net, region)
    if plan is None or plan.work() <= AUTO_BALL_BDD_WORK:
        return None
    engine = registry.get("bdd")
    if not engine.supports(net, region, capability):
        return None
    return Choice(engine, f"auto: bdd first (at most {AUTO_BDD_PROBE_MEMORY >> 20} MiB, {AUTO_BDD_PROBE_SECONDS:g} s), "
                          f"the ball has {size_text(region.size)} members and the Hamming-ball kernel would walk "
                          f"{plan.work()} type multisets ({plan.k} first-layer neurons can change within radius "
                          f"{plan.radius})", probe=True)


class _Probed(Sequence[Choice]):
    """A probe, then the lazily found engines of :class:`Choices`."""

    def __init__(self, probe: Choice, rest: Sequence[Choice]) -> None:
        self._probe, self._rest = probe, rest

    def __len__(self) -> int:
        return 1 + len(self._rest)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self._probe, *self._rest][i]
        if i < 0:
            i += len(self)
        return self._probe if i == 0 else self._rest[i - 1]

    def __iter__(self) -> Iterator[Choice]:
        yield self._probe
        yield from self._rest


def choose(
    capability: Capability,
    net: Any,
    region: Any,
    method: str | None = AUTO,
    *,
    label_net: bool = False,
    registry: EngineRegistry = ENGINES,
) -> Choice:
    """The engine for ``capability`` on ``net`` (a network, or a pair) over ``region`` (the first of
    :func:`choices`)."""
    return choices(capability, net, region, method, label_net=label_net, registry=registry)[0]
