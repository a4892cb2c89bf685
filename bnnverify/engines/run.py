"""The one place where questions meet engines: choice, limits, guards and replay.

Every question calls one of these functions with an engine name (or
``auto``) and :class:`~bnnverify.engines.base.Limits`. Each function

1. chooses the engine (:func:`bnnverify.engines.policy.choose`), which
   refuses by name what the engine cannot take;
2. runs it with the guards: an exceeded budget answers ``unknown``, a
   deadline ``timeout`` — never a partial answer (count functions let
   :class:`BudgetExceeded` through, since a count has no ``unknown``); with
   ``auto``, an engine that runs out of budget hands the question to the next
   engine of the policy that takes it, and the reason says so;
3. replays every witness on :mod:`bnnverify.semantics` and checks that
   counts add up to the region's exact size (a failure is an
   :class:`~bnnverify.errors.InternalError`, never an answer).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import HammingBall
>>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([3]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net, x = BNN((h,), o), np.ones(3, np.uint8)
>>> a = find_class(net, HammingBall(x, 1), [1])
>>> a.search.outcome.value, a.choice.name, a.search.claimed
('found', 'enum', 1)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from bnnverify.engines.base import Capability, Limits, Outcome, Primes, Reason, Search
from bnnverify.engines import policy
from bnnverify.engines.policy import Choice, choices, choose
from bnnverify.engines.lowering import lowered
from bnnverify.engines.registry import AUTO, ENGINES
from bnnverify.engines.replay import replay_class, replay_disagreement
from bnnverify.errors import BudgetExceeded, DataError, DeadlineExceeded, InternalError, RegionError

__all__ = [
    "Answer",
    "CountAnswer",
    "RadiusAnswer",
    "check_names",
    "find_class",
    "class_counts",
    "find_disagreement",
    "disagreements",
    "layer_labels",
    "joint_counts",
    "max_radius",
    "ReasonAnswer",
    "PrimesAnswer",
    "sufficient_reason",
    "prime_implicants",
    "shapley",
    "influence",
]


@dataclass(frozen=True, eq=False)
class Answer:
    """A replayed search and the engine that made it."""

    search: Search
    choice: Choice


@dataclass(frozen=True, eq=False)
class CountAnswer:
    """Exact counts (``None`` when undecided: ``search`` then says why) and a replayed witness."""

    counts: Any
    search: Search
    choice: Choice


@dataclass(frozen=True, eq=False)
class RadiusAnswer:
    """The largest radius proved robust, a search whose witness lies at ``proven + 1``, and who answered."""

    proven: int
    search: Search
    choice: Choice


def check_names(limits: Limits) -> None:
    """Reject unknown solver or encoding names whatever engine runs, so a typo never passes silently."""
    if limits.solver is None and limits.encoding is None:
        return
    from bnnverify.encoders.cardinality_cnf import resolve_encoding
    from bnnverify.encoders.solving import resolve_solver

    if limits.solver is not None:
        resolve_solver(limits.solver)
    if limits.encoding is not None:
        resolve_encoding(limits.encoding)


def _attempt(fn: Callable[[], Any]) -> tuple[Any, Search | None]:
    """``(fn(), None)``, or ``(None, why)`` when a budget or deadline ran out: never a partial answer."""
    try:
        return fn(), None
    except BudgetExceeded as e:
        return None, Search(Outcome.UNKNOWN, note=f"budget exceeded: {e}")
    except DeadlineExceeded as e:
        return None, Search(Outcome.TIMEOUT, note=f"time limit reached: {e}")


def _probing(choice: Choice, limits: Limits, fn: Callable[[Limits], Any]) -> tuple[Any, Search | None]:
    """:func:`_attempt` of ``fn(limits)``; for a probe (:attr:`Choice.probe`) under the probe's memory
    cap and time, where running out of the probe's time is a budget (the next engine answers), and
    running out of the question's own time a timeout."""
    if not choice.probe:
        return _attempt(lambda: fn(limits))
    from bnnverify.engines.bdd import as_budget

    budget = as_budget(limits.budget)
    cap = budget.max_memory_bytes
    budget = dataclasses.replace(budget, max_memory_bytes=policy.AUTO_BDD_PROBE_MEMORY if cap is None else
                                 min(int(cap), policy.AUTO_BDD_PROBE_MEMORY))
    left = limits.remaining()
    seconds = policy.AUTO_BDD_PROBE_SECONDS if left is None else min(left, policy.AUTO_BDD_PROBE_SECONDS)
    if seconds <= 0:
        return None, Search(Outcome.TIMEOUT, note="time limit reached before the BDD probe")
    probe = dataclasses.replace(limits, budget=budget, timeout=seconds, started=time.perf_counter())
    value, undecided = _attempt(lambda: fn(probe))
    if undecided is not None and undecided.outcome is Outcome.TIMEOUT and not limits.expired():
        undecided = Search(Outcome.UNKNOWN, note=f"budget exceeded: the probe's {seconds:g} s")
    return value, undecided


def _guarded(fn: Callable[[], Search]) -> Search:
    search, undecided = _attempt(fn)
    return undecided or search


def _over_budget(s: Search | None) -> bool:
    return s is not None and s.outcome is Outcome.UNKNOWN and s.note.startswith("budget exceeded")


def _as_attempt(search: Search) -> tuple[Search, Search | None]:
    """A search as an attempt of :func:`_in_turn`: undecided for lack of budget, or final."""
    return search, (search if _over_budget(search) else None)


def _in_turn(options: Sequence[Choice], attempt: Callable[[Choice], tuple[Any, Search | None]]
             ) -> tuple[Any, Search | None, Choice]:
    """Try the engines in order until one answers: an engine that runs out of budget hands the
    question to the next (``auto`` offers several; an engine asked for is the only one). The
    reason of the answer names the engines that gave up."""
    gave_up: list[str] = []
    for i, choice in enumerate(options):
        value, undecided = attempt(choice)
        if not _over_budget(undecided) or i == len(options) - 1:
            if gave_up:
                choice = Choice(choice.engine, f"{choice.reason}; after {'; '.join(gave_up)}")
            return value, undecided, choice
        gave_up.append(f"{choice.name} gave up ({undecided.note})")
    raise InternalError("no engine was tried")  # pragma: no cover - options is never empty


def _raising_in_turn(options: Sequence[Choice], compute: Callable[[Choice], Any]) -> tuple[Any, Choice]:
    """:func:`_in_turn` for counts that raise :class:`BudgetExceeded` (the last engine's goes up)."""
    def attempt(choice: Choice):
        try:
            return compute(choice), None
        except BudgetExceeded as e:
            if choice is options[-1]:
                raise
            return None, Search(Outcome.UNKNOWN, note=f"budget exceeded: {e}")

    value, _, choice = _in_turn(options, attempt)
    return value, choice


def _check_classes(net: Any, classes: Sequence[int]) -> list[int]:
    out = sorted({int(c) for c in classes})
    bad = [c for c in out if not 0 <= c < net.n_classes]
    if bad:
        raise DataError(f"classes: {bad[0]} is not a class of the network (0..{net.n_classes - 1})")
    return out


def _check_region(nets: Sequence[Any], region: Any) -> None:
    for net in nets:
        if region.n != net.n_inputs:
            raise RegionError(f"region: ranges over {region.n} bits, the model expects {net.n_inputs}")


def _begin(limits: Limits | None, nets: Sequence[Any], region: Any) -> Limits:
    """The limits of a question (defaults if none), after checking names and the region's width."""
    limits = limits or Limits()
    check_names(limits)
    _check_region(nets, region)
    return limits


def _via(choice: Choice, low: Any) -> Choice:
    """The engine's choice, saying that it answered over the order encoding."""
    return Choice(choice.engine, f"{choice.reason}; over the order encoding of the integer "
                                 f"features ('{low.mode}' mode: {low.n_bits} bits)".lstrip("; "))


def _decoded(low: Any, s: Search, replay: Callable[[np.ndarray], tuple]) -> Search:
    """A search over the order encoding with its witness decoded to an image and replayed by ``replay``
    (on the original networks and region): ``replay(image) -> (image, *claimed classes)``."""
    if s.outcome is not Outcome.FOUND:
        return s
    w, *claimed = replay(low.decode(s.witness))
    return Search(Outcome.FOUND, w, s.note, claimed[0] if len(claimed) == 1 else tuple(claimed))


def _sampled_witness(net: Any, region: Any, classes: Sequence[int], method: str | None,
                     limits: Limits | None) -> Answer | None:
    """``auto`` over a large pixel box: a replayed witness among :data:`policy.AUTO_SAMPLE_MEMBERS`
    members (:func:`bnnverify.engines.sampling.sample_members`: corners and uniform), or None (then the
    question goes to the engines as usual)."""
    from bnnverify.encoders.pixel_regions import IntBox
    from bnnverify.engines.sampling import SAMPLE_SEED, find_by_sampling

    if ENGINES.resolve(None if method is None else str(method)) != AUTO or not isinstance(region, IntBox):
        return None
    if region.size <= policy.AUTO_ENUM_MAX_DECIDE or (limits is not None and limits.expired()):
        return None
    want = _check_classes(net, classes)
    if not want:
        return None
    x = find_by_sampling(net, region, want, policy.AUTO_SAMPLE_MEMBERS)
    if x is None:
        return None
    w, c = replay_class(net, region, x, want, "enum")
    note = (f"found among {policy.AUTO_SAMPLE_MEMBERS} sampled members of the box (corners and uniform, "
            f"seed {SAMPLE_SEED})")
    return Answer(Search(Outcome.FOUND, w, note, c),
                  Choice(ENGINES.get("enum"), f"auto: the box has {policy.size_text(region.size)} members; {note}, "
                                              "before any proof was needed"))


def find_class(net: Any, region: Any, classes: Sequence[int], *, method: str | None = AUTO,
               limits: Limits | None = None) -> Answer:
    """Is there a member of ``region`` whose class is in ``classes``? (witness replayed)."""
    low = lowered([net], region, counting=False)
    if low is not None:
        sampled = _sampled_witness(net, region, classes, method, limits)
        if sampled is not None:
            return sampled
        a = find_class(low.nets[0], low.region, classes, method=method, limits=limits)
        s = _decoded(low, a.search, lambda p: replay_class(net, region, p, classes, a.choice.name))
        return Answer(s, _via(a.choice, low))
    limits = _begin(limits, [net], region)
    classes = _check_classes(net, classes)
    options = choices(Capability.FIND_CLASS, net, region, method)
    if not classes:
        return Answer(Search(Outcome.NONE, note="no class to look for"), options[0])
    s, _, choice = _in_turn(options, lambda ch: _as_attempt(
        _guarded(lambda: ch.engine.find_class(net, region, classes, limits))))
    if s.outcome is Outcome.FOUND:
        w, c = replay_class(net, region, s.witness, classes, choice.name)
        s = Search(Outcome.FOUND, w, s.note, c)
    return Answer(s, choice)


def class_counts(net: Any, region: Any, witness_of: Sequence[int] = (), *, method: str | None = AUTO,
                 limits: Limits | None = None, space: str = "pixels") -> CountAnswer:
    """Exact members per class over ``region`` and, if a class of ``witness_of`` was counted, a replayed member.

    Over integer features, ``space`` says what is counted: ``pixels`` (images of the region) or
    ``bits`` (distinct codes of a quantize first layer); the witness is an image either way.
    """
    if space == "pixels" and getattr(net, "inputs", None) is not None:
        weighted = _weighted(net, region, witness_of, method, limits)
        if weighted is not None:
            return weighted
    low = lowered([net], region, counting=True, space=space)
    if low is not None:
        a = class_counts(low.nets[0], low.region, witness_of, method=method, limits=limits)
        s = _decoded(low, a.search, lambda p: replay_class(net, region, p, witness_of, a.choice.name))
        if a.counts is not None and low.mode == "pixels" and sum(a.counts) != region.size:
            raise InternalError(f"{a.choice.name} counted {sum(a.counts)} images, the region has {region.size}")
        return CountAnswer(a.counts, s, _via(a.choice, low))
    limits = _begin(limits, [net], region)
    witness_of = _check_classes(net, witness_of)
    answer, undecided, choice = _in_turn(
        choices(Capability.CLASS_COUNTS, net, region, method),
        lambda ch: _probing(ch, limits, lambda lim: ch.engine.class_counts(net, region, witness_of, lim)))
    if undecided:
        return CountAnswer(None, undecided, choice)
    cc, w = answer
    return counted_answer(net, region, cc.counts, w, witness_of, choice, choice.name)


def counted_answer(net: Any, region: Any, counts: Sequence[int], witness: Any, witness_of: Sequence[int],
                   choice: Choice, who: str) -> CountAnswer:
    """Exact per-class ``counts`` of ``region`` and ``witness`` (a member of a class of ``witness_of``
    or None) as a :class:`CountAnswer`, after the checks every count passes: the counts add up to the
    region's size, a class asked for that was counted has a witness, the witness replays on the
    semantics and its class was counted. ``who`` names the counter in the internal errors."""
    counts = tuple(int(v) for v in counts) + (0,) * (net.n_classes - len(counts))
    if sum(counts) != region.size:
        raise InternalError(f"{who} counted {sum(counts)} members, the region has {region.size}")
    counted = sum(counts[c] for c in witness_of)
    if counted and witness is None:
        raise InternalError(f"{who} counts {counted} members of classes {list(witness_of)} but finds none")
    if witness is None:
        return CountAnswer(counts, Search(Outcome.NONE), choice)
    w, c = replay_class(net, region, witness, witness_of, who)
    if counts[c] < 1:
        raise InternalError(f"{who} witness has class {c}, which it counted 0 times")
    return CountAnswer(counts, Search(Outcome.FOUND, w, claimed=c), choice)


def _weighted(net: Any, region: Any, witness_of: Sequence[int], method: str | None,
              limits: Limits | None) -> CountAnswer | None:
    """Pixel counts of a quantize network over a box by its weighted distinct codes (enumeration), or None."""
    from bnnverify.engines.lowering import weighted_counts

    name = ENGINES.resolve(None if method is None else str(method))
    if name not in (AUTO, "enum"):
        return None
    lim = limits or Limits()
    cap = policy.AUTO_ENUM_MAX_COUNT if name == AUTO else (lim.enum_limit or policy.ENUM_LIMIT)
    classes = _check_classes(net, witness_of)

    def check() -> None:
        if lim.expired():
            raise DeadlineExceeded(f"time limit {lim.timeout} s reached")

    choice = Choice(ENGINES.get("enum"), ("auto: " if name == AUTO else "") +
                    "enumeration of the distinct quantizer codes of the box, each weighted by its number of images")
    try:
        got = weighted_counts(net, region, classes, cap, check)
    except DeadlineExceeded as e:
        return CountAnswer(None, Search(Outcome.TIMEOUT, note=str(e)), choice)
    if got is None:
        return None
    counts, w = got
    return counted_answer(net, region, counts, w, classes, choice, "weighted codes")


def find_disagreement(net_a: Any, net_b: Any, region: Any, *, method: str | None = AUTO,
                      limits: Limits | None = None) -> Answer:
    """Is there a member of ``region`` where the two networks' classes differ? (witness replayed)."""
    low = lowered([net_a, net_b], region, counting=False)
    if low is not None:
        a = find_disagreement(*low.nets, low.region, method=method, limits=limits)
        s = _decoded(low, a.search, lambda p: replay_disagreement(net_a, net_b, region, p, a.choice.name))
        return Answer(s, _via(a.choice, low))
    limits = _begin(limits, [net_a, net_b], region)
    s, _, choice = _in_turn(
        choices(Capability.FIND_DISAGREEMENT, (net_a, net_b), region, method),
        lambda ch: _as_attempt(_guarded(lambda: ch.engine.find_disagreement(net_a, net_b, region, limits))))
    if s.outcome is Outcome.FOUND:
        w, a, b = replay_disagreement(net_a, net_b, region, s.witness, choice.name)
        s = Search(Outcome.FOUND, w, s.note, (a, b))
    return Answer(s, choice)


def disagreements(net_a: Any, net_b: Any, region: Any, *, method: str | None = AUTO,
                  limits: Limits | None = None) -> CountAnswer:
    """Exact confusion counts (a :class:`Disagreement`) and a replayed witness where they differ."""
    low = lowered([net_a, net_b], region, counting=True)
    if low is not None:
        a = disagreements(*low.nets, low.region, method=method, limits=limits)
        s = _decoded(low, a.search, lambda p: replay_disagreement(net_a, net_b, region, p, a.choice.name))
        if s.outcome is Outcome.FOUND:
            a = CountAnswer(dataclasses.replace(a.counts, witness=s.witness), s, a.choice)
        if a.counts is not None and a.counts.region_size != region.size:
            raise InternalError(f"{a.choice.name} counted {a.counts.region_size} images, the region has {region.size}")
        return CountAnswer(a.counts, s, _via(a.choice, low))
    limits = _begin(limits, [net_a, net_b], region)
    dis, undecided, choice = _in_turn(
        choices(Capability.DISAGREEMENTS, (net_a, net_b), region, method),
        lambda ch: _attempt(lambda: ch.engine.disagreements(net_a, net_b, region, limits)))
    if undecided:
        return CountAnswer(None, undecided, choice)
    if dis.region_size != region.size:
        raise InternalError(f"{choice.name} counted {dis.region_size} members, the region has {region.size}")
    if dis.witness is None:
        if dis.count:
            raise InternalError(f"{choice.name} counts {dis.count} disagreements but finds none")
        return CountAnswer(dis, Search(Outcome.NONE), choice)
    w, a, b = replay_disagreement(net_a, net_b, region, dis.witness, choice.name)
    if dict(dis.confusion).get((a, b), 0) < 1:
        raise InternalError(f"{choice.name} witness has classes ({a}, {b}), which it counted 0 times")
    return CountAnswer(dis, Search(Outcome.FOUND, w, claimed=(a, b)), choice)


def layer_labels(net: Any, region: Any, labels: Any, *, const_label: int | None = None,
                 method: str | None = AUTO, limits: Limits | None = None) -> tuple[Any, Choice]:
    """Per hidden layer, exact (code, label) counts over ``region`` (a counter; totals checked).

    ``labels`` is ``"model"`` (the network's class) or a label network;
    ``const_label`` gives every member that label instead. Budgets raise
    :class:`BudgetExceeded` (a count has no partial answer).
    """
    low = lowered([net] + ([labels] if not isinstance(labels, str) and const_label is None else []), region,
                  counting=True)
    if low is not None:
        lab = low.nets[1] if len(low.nets) > 1 else labels
        return layer_labels(low.nets[0], low.region, lab, const_label=const_label, method=method, limits=limits)
    limits = _begin(limits, [net], region)
    label_net = not isinstance(labels, str) and const_label is None
    nets = (net, labels) if label_net else net
    counter, choice = _raising_in_turn(
        choices(Capability.LAYER_LABELS, nets, region, method, label_net=label_net),
        lambda ch: ch.engine.layer_labels(net, region, labels, const_label, limits))
    if counter.total != region.size:
        raise InternalError(f"{choice.name} counted {counter.total} members, the region has {region.size}")
    return counter, choice


def joint_counts(net: Any, region: Any, layers: Sequence[int], *, with_class: bool = False,
                 method: str | None = AUTO, limits: Limits | None = None) -> tuple[Any, Choice]:
    """Exact joint counts of the codes of hidden ``layers`` (1-based) and the class if asked."""
    limits = _begin(limits, [net], region)
    jc, choice = _raising_in_turn(
        choices(Capability.JOINT_COUNTS, net, region, method),
        lambda ch: ch.engine.joint_counts(net, region, list(layers), with_class, limits))
    if jc.region_size != region.size:
        raise InternalError(f"{choice.name} counted {jc.region_size} members, the region has {region.size}")
    return jc, choice


def max_radius(net: Any, center: np.ndarray, mutable: np.ndarray | None, cap: int, user_cap: bool, *,
               method: str | None = AUTO, limits: Limits | None = None) -> RadiusAnswer:
    """The largest Hamming radius (up to ``cap``) at which ``center``'s class cannot change.

    ``auto`` enumerates the first :data:`~bnnverify.engines.policy.AUTO_ENUM_MAX_DECIDE`
    members by increasing distance, then hands the search to the next engine
    of the policy (SAT), keeping the radius enumeration proved as a floor.
    The witness, if any, is replayed and checked to lie at ``proven + 1``.
    """
    from bnnverify.encoders.regions import HammingBall

    limits = limits or Limits()
    check_names(limits)
    region = HammingBall(center, cap, mutable)
    first = choose(Capability.RADIUS, net, region, method)
    proven, s = first.engine.max_radius(net, center, mutable, cap, user_cap,
                                        _with_enum_limit(limits, policy.AUTO_ENUM_MAX_DECIDE)
                                        if ENGINES.resolve(method) == AUTO else limits)
    choice = first
    if ENGINES.resolve(method) == AUTO and first.name == "enum":
        choice = Choice(first.engine, f"auto: enumeration by increasing distance, up to "
                                      f"{policy.AUTO_ENUM_MAX_DECIDE} members")
    if ENGINES.resolve(method) == AUTO and s.outcome is Outcome.UNKNOWN and not limits.expired():
        # auto: enumeration proved `proven`; the next engine goes on (cheap at small radii)
        order = list(policy.prefer(Capability.RADIUS, region))
        rest = [n for n in order + [n for n in ENGINES.names() if n not in order] if n != first.name]
        for name in rest:
            engine = ENGINES.get(name)
            if engine.supports(net, region, Capability.RADIUS):
                choice = Choice(engine, f"auto: {first.name} proved radius {proven} within its limit, then {name}")
                p2, s = engine.max_radius(net, center, mutable, cap, user_cap, limits)
                proven = max(proven, p2) if s.outcome is not Outcome.FOUND else p2
                break
    if s.outcome is Outcome.FOUND:
        ball = HammingBall(center, proven + 1, mutable)
        others = [c for c in range(net.n_classes)]
        w, c = replay_class(net, ball, s.witness, others, choice.name)
        from bnnverify import semantics

        if c == semantics.classify(net, center):
            raise InternalError(f"{choice.name} radius witness has the centre's class {c}")
        if int((w != center).sum()) != proven + 1:
            raise InternalError(f"{choice.name} counterexample is not at distance {proven + 1}")
        s = Search(Outcome.FOUND, w, s.note, c)
    return RadiusAnswer(proven, s, choice)


def _with_enum_limit(limits: Limits, enum_limit: int) -> Limits:
    from dataclasses import replace

    return replace(limits, enum_limit=enum_limit if limits.enum_limit is None else min(limits.enum_limit, enum_limit))


# --------------------------------------------------------------------------- explanations


@dataclass(frozen=True, eq=False)
class ReasonAnswer:
    """A sufficient reason whose witnesses were replayed, the class it explains, and who answered."""

    reason: Reason
    target: int
    choice: Choice


@dataclass(frozen=True, eq=False)
class PrimesAnswer:
    """Prime implicants whose witnesses and one random completion each were replayed."""

    primes: Primes
    completions: tuple[np.ndarray, ...]
    choice: Choice


def _explained(net: Any, region: Any, x: Any) -> tuple[np.ndarray, int]:
    from bnnverify import semantics
    from bnnverify.engines.terms import check_centred
    from bnnverify.evaluation.evaluator import check_bits

    _check_region([net], region)
    xb = check_bits(np.asarray(x), net.n_inputs, "input")
    if xb.shape[0] != 1:
        raise DataError(f"input: expected one bit vector, got {xb.shape[0]} rows")
    xb = xb[0].copy()
    check_centred(region, xb)
    return xb, semantics.classify(net, xb)


def sufficient_reason(net: Any, region: Any, x: Any, *, order: Sequence[int] | None = None,
                      cardinality: bool = False, method: str | None = AUTO,
                      limits: Limits | None = None) -> ReasonAnswer:
    """A sufficient reason for ``x``'s class over ``region`` (subset- or cardinality-minimal).

    Every member of ``region`` that agrees with ``x`` on the kept bits has
    ``x``'s class (the engine's proof: UNSAT / empty BDD / exhaustive pass per
    dropped bit); each kept bit has a witness, replayed here: a member of
    ``region`` agreeing with ``x`` on the other kept bits, of another class.
    """
    from bnnverify.engines.terms import agree_region, free_bits

    limits = limits or Limits()
    check_names(limits)
    xb, target = _explained(net, region, x)
    free = free_bits(region)
    if order is None:
        order = list(free)
    order = [int(i) for i in order]
    if sorted(order) != sorted(free):
        raise DataError(f"order: must list the region's free bits once each ({len(free)} bits)", param="order")
    cap = Capability.MIN_SUFFICIENT_REASON if cardinality else Capability.SUFFICIENT_REASON
    choice = choose(cap, net, region, method)
    others = [c for c in range(net.n_classes) if c != target]
    if cardinality:
        reason, undecided = _attempt(lambda: choice.engine.min_sufficient_reason(net, region, xb, target, limits))
    else:
        reason, undecided = _attempt(lambda: choice.engine.sufficient_reason(net, region, xb, target, order, limits))
    if undecided:
        return ReasonAnswer(Reason(undecided.outcome, None, note=undecided.note), target, choice)
    if reason.outcome is not Outcome.FOUND:
        return ReasonAnswer(reason, target, choice)
    kept = tuple(int(i) for i in reason.kept)
    if not set(kept) <= set(free):
        raise InternalError(f"{choice.name} reason keeps bits the region does not leave free: {sorted(set(kept) - set(free))}")
    if not others and kept:
        raise InternalError(f"{choice.name} keeps bits although the network has one class")
    for i in kept:
        w = reason.witnesses.get(i)
        if w is None:
            raise InternalError(f"{choice.name} keeps bit {i} without a witness")
        rest = agree_region(region, xb, [j for j in kept if j != i])
        w, _ = replay_class(net, rest, w, others, choice.name)
        if w[i] == xb[i]:
            raise InternalError(f"{choice.name} witness for bit {i} agrees with x on every kept bit, "
                                "so the reason would not be sufficient")
    return ReasonAnswer(reason, target, choice)


def _completion(region: Any, term: dict[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random member of ``region`` agreeing with ``term`` (free bits outside it drawn at random)."""
    from bnnverify.encoders.regions import HammingBall
    from bnnverify.engines.terms import free_bits

    rest = [i for i in free_bits(region) if i not in term]
    if isinstance(region, HammingBall):
        z = np.array(region.center, np.uint8)
        for i, b in term.items():
            z[i] = b
        budget = region.radius - int((z != region.center).sum())
        for i in rng.permutation(rest):
            if budget <= 0:
                break
            if rng.integers(2):
                z[i] ^= 1
                budget -= 1
        return z
    z = np.array(getattr(region, "values", np.zeros(region.n, np.uint8)), np.uint8)
    for i, b in term.items():
        z[i] = b
    if rest:
        z[rest] = rng.integers(0, 2, len(rest)).astype(np.uint8)
    return z


def prime_implicants(net: Any, region: Any, targets: Sequence[int], *, max_terms: int = 10, seed: int = 0,
                     start: Any = None, method: str | None = AUTO, limits: Limits | None = None) -> PrimesAnswer:
    """Up to ``max_terms`` prime implicants of "class in targets" over ``region``, each replayed.

    For every term: every literal's witness (a member agreeing with the term
    except on that literal, of another class) and one random completion of
    the term (a member agreeing with it, of a target class) are replayed on
    the semantics; the essential literals must lie in every term found.
    ``start`` (a member of a target class) is expanded first.
    """
    from bnnverify.engines.terms import free_bits

    limits = _begin(limits, [net], region)
    free = set(free_bits(region))
    targets = _check_classes(net, targets)
    if not targets:
        raise DataError("targets: give at least one class", param="targets")
    if isinstance(max_terms, bool) or int(max_terms) < 1:
        raise DataError(f"max terms: must be a positive integer, got {max_terms!r}", param="max_terms")
    choice = choose(Capability.PRIME_IMPLICANTS, net, region, method)
    primes = choice.engine.prime_implicants(net, region, targets, int(max_terms), limits,
                                            None if start is None else np.asarray(start, np.uint8))
    others = [c for c in range(net.n_classes) if c not in targets]
    rng = np.random.default_rng(seed)
    completions = []
    for term, wits in zip(primes.terms, primes.witnesses):
        if not set(term) <= free:
            raise InternalError(f"{choice.name} term fixes bits the region does not leave free")
        for i, b in term.items():
            w = wits.get(i)
            if w is None:
                raise InternalError(f"{choice.name} keeps literal x{i} without a witness")
            w, _ = replay_class(net, region, w, others, choice.name)
            if any(int(w[j]) != v for j, v in term.items() if j != i) or int(w[i]) == b:
                raise InternalError(f"{choice.name} witness for literal x{i} does not agree with the rest of the term")
        z = _completion(region, term, rng)
        z, _ = replay_class(net, region, z, targets, choice.name)
        completions.append(z)
        if primes.essential and any(term.get(i) != a for i, a in primes.essential.items()):
            raise InternalError(f"{choice.name} essential literals {primes.essential} are not all in the term {term}")
    return PrimesAnswer(primes, tuple(completions), choice)


def shapley(net: Any, region: Any, x: Any, targets: Sequence[int], *, method: str | None = AUTO,
            limits: Limits | None = None) -> tuple[Any, Choice]:
    """Exact Shapley values for "class in targets" at ``x``; checked to sum to ``f(x) - E[f]``."""
    limits = limits or Limits()
    xb, _ = _explained(net, region, x)
    targets = _check_classes(net, targets)
    choice = choose(Capability.SHAPLEY, net, region, method)
    sc = choice.engine.shapley(net, region, xb, targets, limits)
    if sum(sc.values.values()) != sc.at_x - sc.expected:
        raise InternalError(f"{choice.name} Shapley values sum to {sum(sc.values.values())}, "
                            f"not f(x) - E[f] = {sc.at_x - sc.expected}")
    return sc, choice


def influence(net: Any, region: Any, *, method: str | None = AUTO,
              limits: Limits | None = None) -> tuple[Any, Choice]:
    """Per free bit, the exact number of members whose class changes when the bit is flipped."""
    limits = _begin(limits, [net], region)
    choice = choose(Capability.INFLUENCE, net, region, method)
    inf = choice.engine.influence(net, region, limits)
    if inf.total != region.size or any(not 0 <= v <= region.size for v in inf.changes.values()):
        raise InternalError(f"{choice.name} influence counts do not fit the region's {region.size} members")
    return inf, choice
