"""Robustness: is every input of a region classified like the input ``x``?

Written against the engine interface (:mod:`bnnverify.engines`): any
registered engine that answers the question may be named with ``method``
— built-in, ``enum`` (enumerate with the bit-packed evaluator; on small
regions the fastest of all), ``sat`` (a CNF query: ``robust`` is an UNSAT
proof; it decides, it does not count), ``bdd`` (compile the classes into
BDDs: exact counts or an empty-BDD proof), ``ganak`` (projected model
counting) — and ``auto`` lets the one policy choose
(:mod:`bnnverify.engines.policy`); the result records the engine and why.

Soundness: ``robust`` only with a proof; ``not_robust`` only with a
counterexample replayed on :mod:`bnnverify.semantics` (member of the
region, class different from x's); when a time limit or a BDD budget runs
out the verdict is ``timeout``/``unknown`` with a note saying why — never a
guess and never an estimated count.

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
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from bnnverify import semantics
from bnnverify.encoders.regions import Region
from bnnverify.engines import run
from bnnverify.engines.base import Capability, Limits, Outcome, lacks
from bnnverify.engines.policy import AUTO_ENUM_MAX_COUNT, AUTO_ENUM_MAX_DECIDE
from bnnverify.engines.registry import AUTO, ENGINES
from bnnverify.engines.replay import bits_to_str
from bnnverify.errors import DataError, EngineError, InternalError, RegionError, check_network, check_region
from bnnverify.evaluation.evaluator import check_bits
from bnnverify.questions.verdict import Method, Verdict, engine_label, parse_method

__all__ = [
    "AUTO_ENUM_MAX_DECIDE",
    "AUTO_ENUM_MAX_COUNT",
    "RobustnessResult",
    "MaxRadiusResult",
    "check_robustness",
    "max_robust_radius",
    "choose_method",
    "bits_to_str",
]



def choose_method(method: "Method | str", size: int, count: bool) -> "Method | str":
    """The engine ``auto`` picks for a robustness question over ``size`` members (by size alone).

    For counts: enumeration up to :data:`AUTO_ENUM_MAX_COUNT` members, else the
    BDD; for a yes/no answer: enumeration up to :data:`AUTO_ENUM_MAX_DECIDE`,
    else SAT (:func:`bnnverify.engines.policy.prefer`). An explicit engine that
    does not answer the question is refused by name.

    >>> choose_method("auto", 1000, False), choose_method("auto", 2**40, False)
    (<Method.ENUM: 'enum'>, <Method.SAT: 'sat'>)
    >>> choose_method(Method.AUTO, 2**40, True), choose_method(Method.AUTO, 2**18, True)
    (<Method.BDD: 'bdd'>, <Method.ENUM: 'enum'>)
    """
    from bnnverify.engines.policy import prefer

    capability = Capability.CLASS_COUNTS if count else Capability.FIND_CLASS
    name = ENGINES.resolve(None if method is None else str(method))
    if name == AUTO:
        return engine_label(prefer(capability, _Sized(size))[0])
    missing = lacks(ENGINES.get(name), capability)
    if missing:
        raise EngineError(missing)
    return engine_label(name)


@dataclass(frozen=True)
class _Sized:
    """A stand-in region of a given size (the policy reads only the size and the kind)."""

    size: int
    kind: str = "cube"


@dataclass(frozen=True, eq=False)
class RobustnessResult:
    """The answer to one robustness question.

    ``region`` is the region's ``describe()`` dict (``size`` an exact int);
    ``counterexample`` a replayed member of the region (uint8 bits) whose
    class ``counterexample_class`` differs from ``predicted_class``;
    ``adversarial_count`` and ``class_counts`` (members per class) are exact
    and present only when counts were asked for — for a network over integer
    features they count images (pixel space), and ``bit_counts`` (a quantize
    first layer only) the distinct quantizer codes per class (bit space);
    ``ties`` is the tie rule a member was judged by
    (:class:`bnnverify.semantics.TieRule`: under ``adversarial`` the reference
    class loses every tie, under ``strict`` it wins every tie, and the class
    counts break ties that way); ``method`` is the engine
    that answered (a :class:`Method` for built-ins) and ``reason`` why it was
    chosen; ``note`` says why a question stayed undecided.
    """

    verdict: Verdict
    predicted_class: int
    region: Mapping[str, Any]
    counterexample: np.ndarray | None
    counterexample_class: int | None
    adversarial_count: int | None
    class_counts: tuple[int, ...] | None
    method: "Method | str"
    seconds: float
    note: str = ""
    reason: str = ""
    ties: semantics.TieRule = semantics.TieRule.ARGMAX
    bit_counts: tuple[int, ...] | None = None

    @property
    def space(self) -> str:
        """What the counts count: ``pixels`` (images of a region over integer features) or ``bits``."""
        from bnnverify.encoders.pixel_regions import PIXEL_REGION_KINDS

        return "pixels" if self.region.get("kind") in PIXEL_REGION_KINDS else "bits"

    def to_json(self) -> dict[str, Any]:
        """The JSON object the CLI prints (plain Python types; ints exact)."""
        out = {
            "verdict": self.verdict.value,
            "predicted_class": self.predicted_class,
            "region": dict(self.region),
            "counterexample": witness_json(self.counterexample),
            "counterexample_class": self.counterexample_class,
            "adversarial_count": self.adversarial_count,
            "class_counts": None
            if self.class_counts is None
            else {str(c): int(v) for c, v in enumerate(self.class_counts)},
            "ties": self.ties.value,
            "method": str(self.method),
            "reason": self.reason,
            "seconds": self.seconds,
        }
        if self.bit_counts is not None:
            out["bit_space"] = {
                "adversarial_count": int(sum(self.bit_counts) - self.bit_counts[self.predicted_class]),
                "class_counts": {str(c): int(v) for c, v in enumerate(self.bit_counts)},
            }
        return out


def witness_json(w: np.ndarray | None) -> Any:
    """A witness in JSON: bits as a string of 0s and 1s, integer features as a list of ints."""
    if w is None:
        return None
    if w.dtype == np.uint8:
        return bits_to_str(w)
    return [int(v) for v in np.asarray(w).reshape(-1).tolist()]


def with_class_order(net: Any, order: list[int]) -> Any:
    """``net`` with its output classes listed in ``order`` (new class i = old class ``order[i]``;
    classes left out of ``order`` are dropped).

    The argmax rule breaks ties towards the smaller index, so moving the
    reference class last makes it lose every tie (the ``adversarial`` rule)
    and moving it first makes it win every tie (``strict``) — exactly, for
    every engine, with no change to any score.
    """
    from bnnverify.encoders.layers import ArgmaxLayer, BNN

    out = net.output
    o = ArgmaxLayer(out.weights[order], out.scale[order], out.bias[order], name=out.name)
    return BNN(net.hidden, o, thermometer_levels=net.thermometer_levels, metadata=net.metadata, inputs=net.inputs)


def tie_order(n_classes: int, reference: int, ties: "semantics.TieRule | str") -> list[int] | None:
    """The class order that makes the argmax rule decide ``ties`` against ``reference`` (None: keep)."""
    rule = semantics.TieRule(ties)
    if rule is semantics.TieRule.ARGMAX:
        return None
    others = [c for c in range(n_classes) if c != reference]
    return others + [reference] if rule is semantics.TieRule.ADVERSARIAL else [reference] + others


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
    method: "Method | str"
    seconds: float
    note: str = ""
    reason: str = ""

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
            "method": str(self.method),
            "reason": self.reason,
            "seconds": self.seconds,
        }


def _prepare(net: Any, x: np.ndarray, region: Region | None = None, *, with_region: bool = True) -> tuple[np.ndarray, int]:
    check_network(net)
    if with_region:
        check_region(region)
    if getattr(net, "inputs", None) is not None:
        from bnnverify.errors import ModelError

        try:
            xb = np.atleast_2d(net.inputs.check(np.asarray(x), "input"))
        except ModelError as e:
            raise DataError(str(e)) from None
    else:
        xb = check_bits(np.asarray(x), net.n_inputs, "input")
    if xb.shape[0] != 1:
        raise DataError(f"input: expected one input, got {xb.shape[0]} rows")
    xb = xb[0]
    if region is not None:
        if region.n != net.n_inputs:
            raise RegionError(f"region: ranges over {region.n} bits, the model expects {net.n_inputs}")
        if not bool(region.contains(xb)[0]):
            raise RegionError("region: does not contain the input x (robustness is about x's neighbourhood)")
    return xb, semantics.classify(net, xb)


_VERDICT = {Outcome.NONE: Verdict.ROBUST, Outcome.FOUND: Verdict.NOT_ROBUST,
            Outcome.TIMEOUT: Verdict.TIMEOUT, Outcome.UNKNOWN: Verdict.UNKNOWN}


def check_robustness(
    net: Any,
    x: np.ndarray,
    region: Region,
    *,
    method: "Method | str" = Method.AUTO,
    count: bool = False,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
    budget: Any = None,
    progress: Any = None,
    ties: "semantics.TieRule | str" = semantics.TieRule.ARGMAX,
) -> RobustnessResult:
    """Is every member of ``region`` classified like ``x``?

    ``method`` names an engine of :data:`bnnverify.engines.ENGINES` or
    ``auto``. ``count=True`` adds the exact number of adversarial members and
    the members per class. ``timeout`` (seconds) bounds the engines that can
    be interrupted (SAT); ``budget`` (an ``encoders.bdd.BDDBudget``) bounds
    the BDD. Raises project errors for bad input (wrong length, non-binary
    bits, a region not containing x, unknown engine/solver/encoding names).
    """
    t0 = time.perf_counter()
    limits = Limits(timeout=timeout, budget=budget, solver=solver, encoding=encoding, started=t0, progress=progress)
    rule = semantics.TieRule(ties)
    xb, pred = _prepare(net, x, region)
    desc = region.describe()
    # the tie rule as a class order: the reference class loses (adversarial) or wins (strict) every tie
    order = tie_order(net.n_classes, pred, rule)
    asked_net = net if order is None else with_class_order(net, order)
    ref = pred if order is None else order.index(pred)
    back = (lambda c: c) if order is None else (lambda c: order[c])
    others = [c for c in range(net.n_classes) if c != ref]

    def done(verdict: Verdict, choice, w=None, wc=None, adv=None, cc=None, note="", bits=None) -> RobustnessResult:
        if w is not None and not semantics.misclassified(semantics.forward(net, w).scores, pred, rule):
            raise InternalError(f"{choice.name} witness is not misclassified under the {rule.value} tie rule")
        if cc is not None and order is not None:
            cc = tuple(cc[order.index(c)] for c in range(len(cc)))
        if bits is not None and order is not None:
            bits = tuple(bits[order.index(c)] for c in range(len(bits)))
        return RobustnessResult(verdict, pred, desc, w, None if wc is None else back(wc), adv, cc,
                                engine_label(choice.name), time.perf_counter() - t0, note, choice.reason, rule, bits)

    if count:
        ans = run.class_counts(asked_net, region, others, method=method, limits=limits)
        if ans.counts is None:
            return done(_VERDICT[ans.search.outcome], ans.choice, note=ans.search.note)
        counts = ans.counts
        bit_counts = None
        if getattr(net, "inputs", None) is not None and net.hidden[0].kind == "quantize":
            b = run.class_counts(asked_net, region, (), method=method, limits=limits, space="bits")
            bit_counts = b.counts
        if rule is semantics.TieRule.ARGMAX and counts[ref] < 1:
            raise InternalError(f"{ans.choice.name} counts no member of class {pred}, yet x is one")
        adv = region.size - counts[ref]
        if adv == 0:
            return done(Verdict.ROBUST, ans.choice, adv=0, cc=counts, bits=bit_counts)
        return done(Verdict.NOT_ROBUST, ans.choice, ans.search.witness, ans.search.claimed, adv, counts,
                    bits=bit_counts)

    ans = run.find_class(asked_net, region, others, method=method, limits=limits)
    s = ans.search
    return done(_VERDICT[s.outcome], ans.choice, s.witness, s.claimed, note=s.note)


def max_robust_radius(
    net: Any,
    x: np.ndarray,
    *,
    mutable: np.ndarray | None = None,
    max_radius: int | None = None,
    method: "Method | str" = Method.AUTO,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
    budget: Any = None,
    progress: Any = None,
) -> MaxRadiusResult:
    """The largest Hamming radius (flips limited to ``mutable``) at which ``x`` is robust.

    ``enum`` streams the ball by increasing distance; ``sat`` asks the
    incremental SAT search of :func:`bnnverify.engines.sat.sat_max_radius`; ``bdd``
    counts shells over balls of doubling radius; ``auto`` enumerates the
    first ``AUTO_ENUM_MAX_DECIDE`` members, then goes on with SAT
    (:func:`bnnverify.engines.run.max_radius`).

    >>> import numpy as np
    >>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
    >>> h = ThresholdLayer(np.ones((1, 4), dtype=np.int8), np.array([0]))
    >>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    >>> r = max_robust_radius(BNN((h,), o), np.ones(4, np.uint8), method="enum")
    >>> r.radius, r.verdict.value, int(r.counterexample.sum())  # 3 flips: dot -2 < 0
    (2, 'not_robust', 1)
    """
    t0 = time.perf_counter()
    limits = Limits(timeout=timeout, budget=budget, solver=solver, encoding=encoding, started=t0, progress=progress)
    run.check_names(limits)
    m_req = parse_method(method)
    xb, pred = _prepare(net, x, with_region=False)
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
    if net.n_classes < 2 or cap == 0:
        return MaxRadiusResult(Verdict.ROBUST, pred, cap, cap, None, None,
                               Method.ENUM if m_req == AUTO else m_req, time.perf_counter() - t0, "",
                               "nothing to search: one class or no mutable bit")
    ans = run.max_radius(net, xb, mask, cap, max_radius is not None, method=m_req, limits=limits)
    s = ans.search
    verdict = _VERDICT[s.outcome]
    radius = cap if s.outcome is Outcome.NONE else ans.proven
    return MaxRadiusResult(verdict, pred, radius, cap, s.witness, s.claimed, engine_label(ans.choice.name),
                           time.perf_counter() - t0, s.note, ans.choice.reason)
