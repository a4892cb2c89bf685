"""The exact smallest perturbation that changes a class, with its proof.

For a network over integer features and an image ``x``:

* ``linf`` — the smallest ``eps`` (in feature units, e.g. grey levels) such
  that the L∞ ball ``|x' - x| <= eps`` (within the features' ranges, only over
  a mask if given) holds a misclassified image;
* ``l0`` — the smallest number ``k`` of features that, changed (each to any
  value of its range, or within ``eps`` of ``x`` when given), misclassify.

The answer is exact or absent: ``minimum = m`` comes with a witness at
``m`` (replayed on :mod:`bnnverify.semantics` under the tie rule) and a proof
that the ball at the previous candidate — which has the same bits as every
ball below ``m`` — holds none (UNSAT or an exhausted region). Balls are
nested, so robustness is monotone in the radius and a binary search over
the candidates is exact.

Search: galloping from the smallest candidate (1st, 2nd, 4th, 8th, ...:
small balls are cheap and minima are usually small), then bisection
between the last robust and the first non-robust candidate — measured on a
16-pixel integer-threshold model over 0..255, bisection from the middle
asked SAT about eps = 124 first (91 s for a minimum of 1); galloping asks
about the smallest ball first.

Candidates: for ``l0``, ``1..(number of movable features)``; for ``linf``,
over a network whose first layer is ``quantize``, only the distinct ``eps``
at which some quantizer bit can change (``C - x_f`` for a threshold above the
pixel, ``x_f - C + 1`` for one at or below it): between two of them the ball
reaches the same quantizer codes, so the answer can only be one of them;
over an ``integer-threshold`` first layer, every ``eps`` from 1 to the largest
distance to a range end. Each candidate is one robustness question
(:func:`bnnverify.questions.robustness.check_robustness`, any engine); a
timeout or an exhausted budget stops the search with the bounds proved so
far (``verdict`` ``timeout``/``unknown``: ``lower`` robust, ``upper`` not).

Rejected: an incremental SAT search with the radius as assumptions (as the
Hamming ``--max-radius`` search does) — the order encoding of the largest
ball would have to be built first, whose size is what the binary search
avoids; with the cuts of a quantizer the per-question encodings stay small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from bnnverify import semantics
from bnnverify.encoders.pixel_regions import l0_ball, linf_box
from bnnverify.errors import DataError, InternalError, RegionError
from bnnverify.questions.robustness import check_robustness, witness_json
from bnnverify.questions.verdict import Method, Verdict

__all__ = ["NORMS", "Step", "MinPerturbationResult", "min_perturbation", "linf_candidates"]

#: The perturbation norms over integer features.
NORMS = ("linf", "l0")


@dataclass(frozen=True)
class Step:
    """One robustness question of the search."""

    value: int
    verdict: str
    seconds: float


@dataclass(frozen=True, eq=False)
class MinPerturbationResult:
    """The smallest perturbation of ``norm`` that changes the class (``minimum``), or why there is none.

    ``verdict``: ``not_robust`` — ``minimum`` is exact, ``counterexample`` a
    replayed image at that distance, and the ball at ``proof_at`` (the
    largest candidate below it, or 0) is proved robust; ``robust`` — no
    candidate up to ``largest`` changes the class (the whole search space is
    robust; ``minimum`` is None); ``timeout``/``unknown`` — a limit ran out:
    ``lower`` is proved robust and ``upper`` (if any) not robust.
    """

    verdict: Verdict
    norm: str
    predicted_class: int
    minimum: int | None
    proof_at: int | None
    lower: int
    upper: int | None
    largest: int
    counterexample: np.ndarray | None
    counterexample_class: int | None
    candidates: int
    steps: tuple[Step, ...]
    method: str
    ties: semantics.TieRule
    seconds: float
    note: str = ""
    within_eps: int | None = None
    reasons: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "norm": self.norm,
            "predicted_class": self.predicted_class,
            "minimum": self.minimum,
            "proved_robust_at": self.proof_at,
            "lower": self.lower,
            "upper": self.upper,
            "search_up_to": self.largest,
            "candidates": self.candidates,
            "within_eps": self.within_eps,
            "counterexample": witness_json(self.counterexample),
            "counterexample_class": self.counterexample_class,
            "ties": self.ties.value,
            "steps": [{"value": s.value, "verdict": s.verdict, "seconds": s.seconds} for s in self.steps],
            "method": self.method,
            "reasons": list(self.reasons),
            "seconds": self.seconds,
            "note": self.note,
        }


def linf_candidates(net: Any, x: np.ndarray, mask: np.ndarray | None = None) -> list[int]:
    """The ``eps`` at which the L∞ ball around ``x`` can reach a new first-layer code, increasing."""
    lo, hi = net.inputs.lo, net.inputs.hi
    movable = np.ones(len(x), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    first = net.hidden[0]
    if first.kind == "quantize":
        found: set[int] = set()
        for f in np.flatnonzero(movable).tolist():
            xf = int(x[f])
            for c in first.thresholds[f].tolist():
                if xf < c <= int(hi[f]):
                    found.add(c - xf)  # p' = c turns the bit on
                elif int(lo[f]) < c <= xf:
                    found.add(xf - c + 1)  # p' = c - 1 turns it off
        return sorted(found)
    reach = [max(int(x[f]) - int(lo[f]), int(hi[f]) - int(x[f])) for f in np.flatnonzero(movable).tolist()]
    return list(range(1, max(reach, default=0) + 1))


def min_perturbation(
    net: Any,
    x: np.ndarray,
    norm: str = "linf",
    *,
    mask: np.ndarray | None = None,
    eps: int | None = None,
    ties: "semantics.TieRule | str" = semantics.TieRule.ARGMAX,
    method: "Method | str" = Method.AUTO,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
    budget: Any = None,
    progress: Callable[[int], None] | None = None,
) -> MinPerturbationResult:
    """The exact smallest ``norm`` perturbation of ``x`` that ``net`` misclassifies (see the module doc).

    ``mask`` restricts the features that may change; ``eps`` (``l0`` only)
    bounds each changed feature's distance to ``x``. ``timeout`` bounds the
    whole search (each question gets what is left).
    """
    t0 = time.perf_counter()
    if norm not in NORMS:
        raise DataError(f"norm: one of {', '.join(NORMS)}, got {norm!r}")
    if getattr(net, "inputs", None) is None:
        raise RegionError("a minimum L∞/L0 perturbation is over integer features; this model reads bits "
                          "(use robustness --max-radius for Hamming balls)")
    from bnnverify.errors import ModelError

    try:
        xc = np.asarray(net.inputs.check(np.asarray(x), "input"), dtype=np.int64)
    except ModelError as e:
        raise DataError(str(e)) from None
    if xc.ndim != 1:
        raise DataError(f"input: expected one image, got shape {xc.shape}")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != xc.shape:
            raise RegionError(f"mask: expected {xc.shape[0]} booleans, got dtype {mask.dtype} shape {mask.shape}")
    if eps is not None and norm != "l0":
        raise DataError("eps bounds the changed features of an L0 search; an L∞ search finds eps itself")
    rule = semantics.TieRule(ties)
    lo, hi = net.inputs.lo, net.inputs.hi
    if norm == "linf":
        cands = linf_candidates(net, xc, mask)

        def region(v: int):
            return linf_box(xc, v, lo, hi, mask)
    else:
        box = linf_box(xc, eps if eps is not None else int((hi - lo).max(initial=0)), lo, hi, mask)
        cands = list(range(1, int((box.hi > box.lo).sum()) + 1))

        def region(v: int):
            return l0_ball(xc, v, lo, hi, eps=eps, mask=mask)

    pred = semantics.classify(net, xc)
    steps: list[Step] = []
    reasons: list[str] = []
    engines: list[str] = []
    best: tuple[int, np.ndarray, int] | None = None  # (index, witness, class) of the smallest failing candidate
    lo_i, hi_i = -1, len(cands)  # cands[lo_i] proved robust (-1: none asked), cands[hi_i] not robust
    note = ""
    verdict_undecided = None
    # x itself may be misclassified under the tie rule (a tie with the reference class)
    if semantics.misclassified(semantics.forward(net, xc).scores, pred, rule):
        return MinPerturbationResult(Verdict.NOT_ROBUST, norm, pred, 0, None, 0, 0, cands[-1] if cands else 0, xc,
                                     None, len(cands), (), "semantics", rule, time.perf_counter() - t0,
                                     f"x itself is misclassified under the {rule.value} tie rule", eps)
    def ask(i: int) -> Verdict:
        nonlocal best
        v = cands[i]
        left = None if timeout is None else timeout - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            return Verdict.TIMEOUT
        r = check_robustness(net, xc, region(v), method=method, solver=solver, encoding=encoding, timeout=left,
                             budget=budget, progress=progress, ties=rule)
        steps.append(Step(v, r.verdict.value, r.seconds))
        engines.append(str(r.method))
        if r.reason:
            reasons.append(f"{norm} {v}: {r.reason}")
        if r.verdict is Verdict.NOT_ROBUST:
            best = (i, r.counterexample, r.counterexample_class)
        elif r.verdict.undecided:
            notes.append(r.note or f"undecided at {norm} {v}")
        return r.verdict

    notes: list[str] = []
    # galloping from below (candidates 0, 1, 3, 7, ...: small balls are cheap, and minima are
    # usually small), then bisection between the last robust and the first non-robust candidate
    probe = 0
    while probe < len(cands) and verdict_undecided is None:
        got = ask(probe)
        if got is Verdict.ROBUST:
            lo_i = probe
            probe = min(len(cands) - 1, 2 * probe + 1) if probe < len(cands) - 1 else len(cands)
        elif got is Verdict.NOT_ROBUST:
            hi_i = probe
            break
        else:
            verdict_undecided = got
    while verdict_undecided is None and hi_i - lo_i > 1 and hi_i < len(cands):
        mid = (lo_i + hi_i) // 2
        got = ask(mid)
        if got is Verdict.ROBUST:
            lo_i = mid
        elif got is Verdict.NOT_ROBUST:
            hi_i = mid
        else:
            verdict_undecided = got
    if verdict_undecided is not None:
        note = notes[-1] if notes else f"time limit {timeout} s reached"
    method_used = ",".join(sorted(set(engines))) or "none"
    lower = cands[lo_i] if lo_i >= 0 else 0
    largest = cands[-1] if cands else 0
    if verdict_undecided is not None:
        upper = cands[hi_i] if hi_i < len(cands) and best is not None else None
        return MinPerturbationResult(verdict_undecided, norm, pred, None, None, lower, upper, largest, None, None,
                                     len(cands), tuple(steps), method_used, rule, time.perf_counter() - t0, note,
                                     eps, tuple(reasons))
    if best is None:
        return MinPerturbationResult(Verdict.ROBUST, norm, pred, None, lower, largest, None, largest, None, None,
                                     len(cands), tuple(steps), method_used, rule, time.perf_counter() - t0,
                                     "no candidate changes the class: robust over the whole search space", eps,
                                     tuple(reasons))
    i, w, wc = best
    m = cands[i]
    dist = int(np.abs(w - xc).max(initial=0)) if norm == "linf" else int((w != xc).sum())
    if dist != m:  # below m the proof at `lower` (same codes as every ball below m) forbids it
        raise InternalError(f"the witness lies at {norm} distance {dist}, not at the minimum {m}")
    proof_at = lower
    if m - 1 > lower:  # between candidates the balls reach the same codes; prove m - 1 itself too
        left = None if timeout is None else timeout - (time.perf_counter() - t0)
        r = check_robustness(net, xc, region(m - 1), method=method, solver=solver, encoding=encoding,
                             timeout=left, budget=budget, progress=progress, ties=rule)
        steps.append(Step(m - 1, r.verdict.value, r.seconds))
        if r.verdict is Verdict.NOT_ROBUST:
            raise InternalError(f"{norm} {m - 1} is not robust, below the proved minimum {m}")
        if r.verdict is Verdict.ROBUST:
            proof_at = m - 1
    return MinPerturbationResult(Verdict.NOT_ROBUST, norm, pred, m, proof_at, proof_at, m, largest, w, wc,
                                 len(cands), tuple(steps), method_used, rule, time.perf_counter() - t0,
                                 "", eps, tuple(reasons))
