"""Robustness: is every input of a region classified like the input ``x``?

Three engines answer, each exactly:

* ``enum`` — enumerate the region with the bit-packed evaluator
  (:mod:`bnnverify.engines.enumeration`); on small regions the fastest of all;
* ``sat`` — a CNF query per question (:mod:`bnnverify.engines.sat`): ``robust`` is an
  UNSAT proof, ``not_robust`` a model; it decides, it does not count;
* ``bdd`` — compile the region's classes into BDDs (:mod:`bnnverify.engines.bdd`):
  exact counts per class, or an empty-BDD proof.

``auto`` chooses by the region's exact size and the question (see
:func:`choose_method` and the constants below, justified by
``benchmarks/bench_questions.py``) and the result records which it used.

Soundness: ``robust`` only with a proof; ``not_robust`` only with a
counterexample that this module replays on the reference evaluator (member
of the region, class different from x's); when a time limit or a BDD budget
runs out the verdict is ``timeout``/``unknown`` with a note saying why —
never a guess and never an estimated count.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import HammingBall
>>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([3]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net = BNN((h,), o)  # class 0 iff all three bits are 1
>>> x = np.array([1, 1, 1], dtype=np.uint8)
>>> r = check_robustness(net, x, HammingBall(x, 1), method="enum", count=True)
>>> r.verdict.value, r.predicted_class, r.adversarial_count, r.class_counts
('not_robust', 0, 3, (1, 3))
>>> check_robustness(net, x, HammingBall(x, 0), method="enum").verdict
<Verdict.ROBUST: 'robust'>
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from bnnverify.encoders.regions import HammingBall, Region

from bnnverify.errors import BudgetExceeded, DataError, RegionError, ReplayMismatch
from bnnverify.evaluation.evaluator import Evaluator, check_bits
from bnnverify.engines.replay import bits_to_str, replay_class
from bnnverify.questions.verdict import Method, Verdict, parse_method

__all__ = [
    "AUTO_ENUM_MAX_DECIDE",
    "AUTO_ENUM_MAX_COUNT",
    "RobustnessResult",
    "MaxRadiusResult",
    "check_robustness",
    "max_robust_radius",
    "choose_method",
    "bits_to_str",
    "validate_engine_names",
    "enum_guard",
]

#: ``auto`` answers a yes/no question over at most this many members by
#: enumeration, and hands larger regions to SAT. The bit-packed evaluator
#: classifies ~10^6 members per second on the BNNQuanalyst networks (no set-up,
#: and it stops at the first counterexample), so a full pass over 2^20 members
#: costs about a second; SAT needs 0.1–0.3 s on Hamming balls but 4–20 s and
#: more on robust fixed-set cubes. ``benchmarks/results/questions.md``.
AUTO_ENUM_MAX_DECIDE: int = 1 << 20

#: ``auto`` counts regions of at most this many members by enumeration and
#: larger ones with the BDD. The BDD's cost depends on the network and the
#: region's shape, not its member count: 0.3–4 s on balls of 10^2–10^5 members
#: (enumeration: milliseconds), over 60 s on a radius-4 ball of 4·10^6 members
#: (enumeration: 1.2 s), 12 s on a 2^24-member cube (enumeration: 22 s).
#: ``benchmarks/results/questions.md``.
AUTO_ENUM_MAX_COUNT: int = 1 << 22

#: First ball radius the BDD max-radius search compiles (doubled while robust).
BDD_FIRST_RADIUS_STAGE: int = 4

#: Members classified per batch when this module streams a region itself.
STREAM_BATCH: int = 1 << 14


def choose_method(method: Method | str, size: int, count: bool) -> Method:
    """The engine for a question over a region of ``size`` members.

    ``auto``: for counts, enumerate when ``size <= AUTO_ENUM_MAX_COUNT``,
    else the BDD; for a yes/no answer, enumerate when
    ``size <= AUTO_ENUM_MAX_DECIDE``, else SAT. An explicit ``sat``
    with ``count`` is refused (SAT decides, it does not count).

    >>> choose_method("auto", 1000, False), choose_method("auto", 2**40, False)
    (<Method.ENUM: 'enum'>, <Method.SAT: 'sat'>)
    >>> choose_method(Method.AUTO, 2**40, True), choose_method(Method.AUTO, 2**18, True)
    (<Method.BDD: 'bdd'>, <Method.ENUM: 'enum'>)
    """
    m = parse_method(method)
    if m is Method.AUTO:
        if count:
            return Method.ENUM if size <= AUTO_ENUM_MAX_COUNT else Method.BDD
        return Method.ENUM if size <= AUTO_ENUM_MAX_DECIDE else Method.SAT
    if m is Method.SAT and count:
        raise DataError(
            "--count with --method sat: SAT decides but does not count; "
            "use --method bdd, enum or auto for exact counts"
        )
    return m


def enum_guard(region: Region) -> None:
    """Raise :class:`BudgetExceeded` when ``region`` is too large to enumerate.

    The limit is :data:`bnnverify.engines.enumeration.DEFAULT_ENUM_LIMIT`; an explicit
    ``--method enum`` on a larger region answers ``unknown`` instead of running
    for ever.
    """
    from bnnverify.engines.enumeration import DEFAULT_ENUM_LIMIT

    if region.size > DEFAULT_ENUM_LIMIT:
        raise BudgetExceeded(
            f"the region has {region.size} members, more than the enumeration limit "
            f"of {DEFAULT_ENUM_LIMIT}"
        )


def validate_engine_names(solver: str | None, encoding: str | None) -> None:
    """Raise :class:`SolverError` naming the valid choices for an unknown solver/encoding.

    Checked whatever engine ``auto`` picks, so a typo never passes silently.
    """
    if solver is None and encoding is None:
        return
    from bnnverify.engines import sat

    if solver is not None:
        sat.resolve_solver(solver)
    if encoding is not None:
        sat.resolve_encoding(encoding)


@dataclass(frozen=True, eq=False)
class RobustnessResult:
    """The answer to one robustness question.

    ``region`` is the region's ``describe()`` dict (``size`` an exact int);
    ``counterexample`` a replayed member of the region (uint8 bits) whose
    class ``counterexample_class`` differs from ``predicted_class``;
    ``adversarial_count`` and ``class_counts`` (members per class) are exact
    and present only when counts were asked for; ``method`` is the engine
    that answered; ``note`` says why a question stayed undecided.
    """

    verdict: Verdict
    predicted_class: int
    region: Mapping[str, Any]
    counterexample: np.ndarray | None
    counterexample_class: int | None
    adversarial_count: int | None
    class_counts: tuple[int, ...] | None
    method: Method
    seconds: float
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object the CLI prints (plain Python types; ints exact)."""
        return {
            "verdict": self.verdict.value,
            "predicted_class": self.predicted_class,
            "region": dict(self.region),
            "counterexample": bits_to_str(self.counterexample),
            "counterexample_class": self.counterexample_class,
            "adversarial_count": self.adversarial_count,
            "class_counts": None
            if self.class_counts is None
            else {str(c): int(v) for c, v in enumerate(self.class_counts)},
            "method": self.method.value,
            "seconds": self.seconds,
        }


@dataclass(frozen=True, eq=False)
class MaxRadiusResult:
    """The largest Hamming radius at which ``x`` is robust.

    ``verdict`` is ``not_robust`` when a counterexample at distance
    ``radius + 1`` was found (replayed; ``radius`` is then exact),
    ``robust`` when no counterexample exists up to ``max_radius`` (``radius ==
    max_radius``), ``timeout``/``unknown`` when a limit ran out — ``radius``
    is then only the largest radius proved robust so far (a lower bound).
    """

    verdict: Verdict
    predicted_class: int
    radius: int
    max_radius: int
    counterexample: np.ndarray | None
    counterexample_class: int | None
    method: Method
    seconds: float
    note: str = ""

    @property
    def exact(self) -> bool:
        """Whether ``radius`` is the exact answer (not just a lower bound)."""
        return not self.verdict.undecided

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "predicted_class": self.predicted_class,
            "max_robust_radius": self.radius,
            "exact": self.exact,
            "radius_cap": self.max_radius,
            "counterexample": bits_to_str(self.counterexample),
            "counterexample_class": self.counterexample_class,
            "method": self.method.value,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class _Search:
    """What one engine said about 'is there a member of another class?'."""

    verdict: Verdict  # ROBUST (proof), NOT_ROBUST (witness), TIMEOUT, UNKNOWN
    witness: np.ndarray | None = field(default=None, compare=False)
    note: str = ""


def _search(
    m: Method,
    net: Any,
    region: Region,
    classes: list[int],
    *,
    solver: str | None,
    encoding: str | None,
    timeout: float | None,
    budget: Any,
) -> _Search:
    """Is there a member of ``region`` whose class is in ``classes``?"""
    if not classes:
        return _Search(Verdict.ROBUST)
    try:
        if m is Method.ENUM:
            from bnnverify.engines.enumeration import enum_find_class

            enum_guard(region)
            w = enum_find_class(net, region, classes)
        elif m is Method.BDD:
            from bnnverify.engines.bdd import bdd_find_class

            w = bdd_find_class(net, region, classes, budget=budget)
        elif m is Method.SAT:
            from bnnverify.engines.sat import sat_find_class

            res = sat_find_class(net, region, classes, solver=solver, encoding=encoding, timeout=timeout)
            return _from_sat(res)
        else:  # pragma: no cover - choose_method never returns AUTO
            raise DataError(f"method {m.value}: not an engine")
    except BudgetExceeded as e:
        return _Search(Verdict.UNKNOWN, note=f"budget exceeded: {e}")
    if w is None:
        return _Search(Verdict.ROBUST)
    return _Search(Verdict.NOT_ROBUST, np.asarray(w, dtype=np.uint8))


def _from_sat(res: Any) -> _Search:
    status = res.status.name
    if status == "UNSAT":
        return _Search(Verdict.ROBUST)
    if status == "SAT":
        return _Search(Verdict.NOT_ROBUST, np.asarray(res.witness, dtype=np.uint8))
    if status == "TIMEOUT":
        return _Search(Verdict.TIMEOUT, note=f"SAT solver {res.solver} ran out of time after {res.seconds:.1f} s")
    return _Search(Verdict.UNKNOWN, note=f"SAT solver {res.solver} gave no answer")


def _counts_and_witness(m: Method, net: Any, region: Region, pred: int, budget: Any) -> tuple[Any, Any]:
    """Exact class counts over ``region`` and, if some member is not of class ``pred``, one such member.

    The BDD engine compiles once for both; enumeration streams twice (the
    second pass stops at the first adversarial member).
    """
    if m is Method.ENUM:
        from bnnverify.engines.enumeration import enum_class_counts, enum_find_class

        enum_guard(region)
        cc = enum_class_counts(net, region)
        others = [c for c, v in enumerate(cc.counts) if c != pred and v > 0]
        return cc, (enum_find_class(net, region, others) if others else None)
    from bnnverify.encoders.results import ClassCounts

    from bnnverify.engines.bdd import compile_network

    nb = compile_network(net, region, budget=budget)
    cc = ClassCounts(region.size, nb.class_counts())
    others = [c for c, v in enumerate(cc.counts) if c != pred and v > 0]
    return cc, (nb.witness(others) if others else None)


def _prepare(net: Any, x: np.ndarray, region: Region | None = None) -> tuple[Evaluator, np.ndarray, int]:
    xb = check_bits(np.asarray(x), net.n_inputs, "input")
    if xb.shape[0] != 1:
        raise DataError(f"input: expected one bit vector, got {xb.shape[0]} rows")
    xb = xb[0]
    if region is not None:
        if region.n != net.n_inputs:
            raise RegionError(f"region: ranges over {region.n} bits, the model expects {net.n_inputs}")
        if not bool(region.contains(xb)[0]):
            raise RegionError("region: does not contain the input x (robustness is about x's neighbourhood)")
    ev = Evaluator(net)
    return ev, xb, ev.classify_one(xb)


def check_robustness(
    net: Any,
    x: np.ndarray,
    region: Region,
    *,
    method: Method | str = Method.AUTO,
    count: bool = False,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
    budget: Any = None,
) -> RobustnessResult:
    """Is every member of ``region`` classified like ``x``?

    ``count=True`` adds the exact number of adversarial members and the
    members per class (enumeration or BDD). ``timeout`` (seconds) bounds
    the SAT solver; ``budget`` (an ``bnnverify.encoders.bdd.BDDBudget``) bounds the BDD.
    Raises project errors for bad input (wrong length, non-binary bits, a
    region not containing x, unknown solver/encoding names).
    """
    t0 = time.perf_counter()
    m_req = parse_method(method)
    validate_engine_names(solver, encoding)
    ev, xb, pred = _prepare(net, x, region)
    m = choose_method(m_req, region.size, count)
    others = [c for c in range(net.n_classes) if c != pred]
    kw = dict(solver=solver, encoding=encoding, timeout=timeout, budget=budget)
    desc = region.describe()

    def done(verdict: Verdict, w=None, wc=None, adv=None, cc=None, note="") -> RobustnessResult:
        return RobustnessResult(
            verdict, pred, desc, w, wc, adv, cc, m, time.perf_counter() - t0, note
        )

    if count:
        try:
            cc, w = _counts_and_witness(m, net, region, pred, budget)
        except BudgetExceeded as e:
            return done(Verdict.UNKNOWN, note=f"budget exceeded: {e}")
        if cc.region_size != region.size:
            raise ReplayMismatch(
                f"{m.value} counted {cc.region_size} members, the region has {region.size}"
            )
        counts = tuple(int(v) for v in cc.counts) + (0,) * (net.n_classes - len(cc.counts))
        if counts[pred] < 1:
            raise ReplayMismatch(f"{m.value} counts no member of class {pred}, yet x is one")
        adv = region.size - counts[pred]
        if adv == 0:
            return done(Verdict.ROBUST, adv=0, cc=counts)
        if w is None:
            raise ReplayMismatch(f"{m.value} counts {adv} adversarial members but finds none")
        w = np.asarray(w, dtype=np.uint8)
        _, wc = replay_class(ev, region, w, others, m.value)
        if counts[wc] < 1:
            raise ReplayMismatch(f"{m.value} witness has class {wc}, which it counted 0 times")
        return done(Verdict.NOT_ROBUST, w, wc, adv, counts)

    found = _search(m, net, region, others, **kw)
    if found.verdict is Verdict.NOT_ROBUST:
        _, wc = replay_class(ev, region, found.witness, others, m.value)
        return done(Verdict.NOT_ROBUST, found.witness, wc)
    return done(found.verdict, note=found.note)


def _enum_shells(
    ev: Evaluator, xb: np.ndarray, pred: int, cap: int, mutable: np.ndarray | None, limit: int,
    deadline: float | None,
) -> tuple[int, np.ndarray | None, bool]:
    """Stream the ball of radius ``cap`` by increasing distance.

    Returns (largest radius fully checked, first counterexample or None,
    whether the search finished). Stops once ``limit`` members were checked
    or the deadline passed, so the caller can go on with another engine.
    """
    ball = HammingBall(xb, cap, mutable)
    checked = 0
    proven = 0
    for batch in ball.members(batch_size=STREAM_BATCH):
        cls = ev.classify(batch)
        bad = np.flatnonzero(cls != pred)
        dist = (batch != xb[None, :]).sum(axis=1)
        if bad.size:
            w = batch[bad[0]].copy()
            return int(dist[bad[0]]) - 1, w, True
        checked += len(batch)
        last = int(dist[-1])
        proven = last if checked == ball.size else last - 1
        if checked >= limit or (deadline is not None and time.perf_counter() > deadline):
            return max(proven, 0), None, checked == ball.size
    return cap, None, True


def max_robust_radius(
    net: Any,
    x: np.ndarray,
    *,
    mutable: np.ndarray | None = None,
    max_radius: int | None = None,
    method: Method | str = Method.AUTO,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
    budget: Any = None,
) -> MaxRadiusResult:
    """The largest Hamming radius (flips limited to ``mutable``) at which ``x`` is robust.

    ``enum`` streams the ball by increasing distance; ``sat`` asks the
    incremental SAT search of :func:`bnnverify.engines.sat.sat_max_radius`; ``bdd``
    counts shells over balls of doubling radius; ``auto`` enumerates the
    first ``AUTO_ENUM_MAX_DECIDE`` members, then goes on with SAT.

    >>> import numpy as np
    >>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
    >>> h = ThresholdLayer(np.ones((1, 4), dtype=np.int8), np.array([0]))
    >>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    >>> r = max_robust_radius(BNN((h,), o), np.ones(4, np.uint8), method="enum")
    >>> r.radius, r.verdict.value, int(r.counterexample.sum())  # 3 flips: dot -2 < 0
    (2, 'not_robust', 1)
    """
    t0 = time.perf_counter()
    m_req = parse_method(method)
    validate_engine_names(solver, encoding)
    ev, xb, pred = _prepare(net, x)
    n = net.n_inputs
    mask = None
    if mutable is not None:
        mask = np.asarray(mutable)
        if mask.dtype != bool:  # indices
            idx = mask.astype(np.int64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise RegionError(f"mutable: index outside 0..{n - 1}")
            mask = np.zeros(n, dtype=bool)
            mask[idx] = True
        elif mask.shape != (n,):
            raise RegionError(f"mutable: mask has shape {mask.shape}, expected ({n},)")
    n_mut = n if mask is None else int(mask.sum())
    if max_radius is not None and not 0 <= int(max_radius) <= n:
        raise RegionError(f"max radius: must be between 0 and n={n}, got {max_radius}")
    cap = n_mut if max_radius is None else min(int(max_radius), n_mut)
    others = [c for c in range(net.n_classes) if c != pred]
    deadline = None if timeout is None else t0 + float(timeout)

    def done(verdict, radius, m, w=None, note="") -> MaxRadiusResult:
        wc = None
        if w is not None:
            ball = HammingBall(xb, radius + 1, mask)
            _, wc = replay_class(ev, ball, w, others, m.value)
            if int((w != xb).sum()) != radius + 1:
                raise ReplayMismatch(f"{m.value} counterexample is not at distance {radius + 1}")
        return MaxRadiusResult(verdict, pred, radius, cap, w, wc, m, time.perf_counter() - t0, note)

    if not others or cap == 0:
        return done(Verdict.ROBUST, cap, Method.ENUM if m_req is Method.AUTO else m_req)

    enum_proven = 0  # radius already proven by enumeration (auto), a floor for SAT's answer
    if m_req in (Method.ENUM, Method.AUTO):
        from bnnverify.engines.enumeration import DEFAULT_ENUM_LIMIT

        limit = DEFAULT_ENUM_LIMIT if m_req is Method.ENUM else AUTO_ENUM_MAX_DECIDE
        proven, w, finished = _enum_shells(ev, xb, pred, cap, mask, limit, deadline)
        if w is not None:
            return done(Verdict.NOT_ROBUST, proven, Method.ENUM, w)
        if finished:
            return done(Verdict.ROBUST, cap, Method.ENUM)
        if m_req is Method.ENUM:
            if deadline is not None and time.perf_counter() > deadline:
                return done(Verdict.TIMEOUT, proven, Method.ENUM, note=f"time limit {timeout} s reached")
            return done(
                Verdict.UNKNOWN, proven, Method.ENUM,
                note=f"budget exceeded: enumeration limit of {limit} members reached",
            )
        # auto: enumeration proved radius `proven`; SAT goes on from scratch (cheap at small radii)
        m_req = Method.SAT
        enum_proven = proven
        timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())

    if m_req is Method.SAT:
        from bnnverify.engines.sat import sat_max_radius

        # Without a user cap, let the SAT search grow its formula in doubling
        # stages: one formula for the whole cap (e.g. radius 784) is far harder.
        rr = sat_max_radius(
            net, xb, mutable=mask, max_radius=None if max_radius is None else cap,
            solver=solver, encoding=encoding, timeout=timeout,
        )
        if rr.counterexample is not None:
            return done(Verdict.NOT_ROBUST, int(rr.radius), Method.SAT, np.asarray(rr.counterexample, np.uint8))
        status = rr.status.name
        if status in ("UNSAT",) or (status not in ("TIMEOUT", "UNKNOWN") and int(rr.radius) >= cap):
            return done(Verdict.ROBUST, cap, Method.SAT)
        v = Verdict.TIMEOUT if status == "TIMEOUT" else Verdict.UNKNOWN
        lower = max(enum_proven, int(rr.radius or 0))
        return done(v, lower, Method.SAT, note=f"SAT search stopped ({status.lower()}); radius is a lower bound")

    # BDD: shell counts over balls of doubling radius (one compilation per stage)
    from bnnverify.engines.bdd import bdd_class_counts_by_radius, bdd_find_class

    proven, stage = 0, min(cap, BDD_FIRST_RADIUS_STAGE)
    while proven < cap:
        if deadline is not None and time.perf_counter() > deadline:
            return done(Verdict.TIMEOUT, proven, Method.BDD, note=f"time limit {timeout} s reached")
        try:
            shells = bdd_class_counts_by_radius(net, xb, stage, mutable=mask, budget=budget)
            bad_r = next((r for r, cc in enumerate(shells) if cc.others(pred) > 0), None)
            if bad_r is not None:
                w = bdd_find_class(net, HammingBall(xb, bad_r, mask), others, budget=budget)
                if w is None:
                    raise ReplayMismatch(f"BDD counts adversarial inputs at distance {bad_r} but finds none")
                return done(Verdict.NOT_ROBUST, bad_r - 1, Method.BDD, np.asarray(w, np.uint8))
        except BudgetExceeded as e:
            return done(Verdict.UNKNOWN, proven, Method.BDD, note=f"budget exceeded: {e}")
        proven, stage = stage, min(cap, 2 * stage)
    return done(Verdict.ROBUST, cap, Method.BDD)
