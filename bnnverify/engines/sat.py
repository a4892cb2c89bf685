"""SAT questions about BNNs, answered with replayed witnesses.

Every function here encodes with :mod:`bnnverify.encoders.cnf`, solves with a PySAT
solver under a real wall-clock limit (:mod:`bnnverify.encoders.solving`), and decodes
any model it returns; the decoded input is replayed on the semantics module
(:mod:`bnnverify.engines.replay`: membership in the region, class, hidden
codes) before it is returned. A mismatch is a bug and raises
:class:`~bnnverify.errors.ReplayMismatch`; nothing is claimed without proof
(``UNSAT`` is a proof; ``TIMEOUT``/``UNKNOWN`` decide nothing).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import HammingBall
>>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([3]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net = BNN((h,), o)
>>> r = sat_find_class(net, HammingBall(np.array([1, 1, 1], np.uint8), 1), [1])
>>> r.status.value, r.witness_class
('sat', 1)
>>> sat_max_radius(net, np.array([0, 0, 0], np.uint8)).radius
2
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from bnnverify.encoders.cardinality_cnf import DEFAULT_ENCODING, ENCODINGS, resolve_encoding
from bnnverify.encoders.cnf import CnfFormula, class_formula, disagreement_formula, encode
from bnnverify.encoders.layers import BNN, ArgmaxLayer
from bnnverify.encoders.regions import HammingBall, Region
from bnnverify.encoders.solving import (
    DEFAULT_SOLVER,
    NATIVE_CARD_SOLVERS,
    SOLVERS,
    SatStatus,
    SolverSession,
    resolve_solver,
)

from bnnverify.engines.base import Capability, EngineBase, Outcome, Reason, Search
from bnnverify.errors import DeadlineExceeded, EngineError, InternalError, ModelError, RegionError, ReplayMismatch, SolverError
from bnnverify import semantics
from bnnverify.engines.replay import replay_class, replay_codes
from bnnverify.engines.sampling import SAMPLE_MEMBERS, find_by_sampling

__all__ = [
    "SatStatus",
    "SatResult",
    "RadiusResult",
    "SOLVERS",
    "ENCODINGS",
    "DEFAULT_SOLVER",
    "DEFAULT_ENCODING",
    "DEFAULT_RADIUS_SOLVER",
    "resolve_solver",
    "resolve_encoding",
    "sat_find_class",
    "sat_find_each_class",
    "sat_find_disagreement",
    "sat_max_radius",
    "count_projected",
    "replay_class_witness",
    "export_dimacs",
    "pad_classes",
    "SatEngine",
    "ENGINE",
]


@dataclass(frozen=True)
class SatResult:
    """One SAT question's answer.

    ``witness`` (uint8 bits) and ``witness_class`` are set only for ``SAT`` and
    have been replayed; ``seconds`` is the total wall-clock time (encoding and
    solving; ``encode_seconds`` of it was spent encoding).
    """

    status: SatStatus
    witness: np.ndarray | None
    witness_class: int | tuple[int, int] | None
    seconds: float
    solver: str
    encoding: str
    n_vars: int
    n_clauses: int
    encode_seconds: float = 0.0


@dataclass(frozen=True)
class RadiusResult:
    """The largest Hamming radius proven robust around a centre.

    ``SAT``: ``radius`` is exact and ``counterexample`` (replayed, at distance
    ``radius + 1``) has class ``counterexample_class``; ``UNSAT``: robust up to
    the largest radius searched (``radius``); ``TIMEOUT``: ``radius`` is only a
    lower bound (the largest radius proven before the time ran out).
    """

    status: SatStatus
    radius: int | None
    counterexample: np.ndarray | None
    seconds: float
    counterexample_class: int | None = None


def _choose(solver: str | None, encoding: str | None) -> tuple[str, str]:
    enc = resolve_encoding(encoding)
    if solver is None and enc == "native":
        solver = "minicard"
    name = resolve_solver(solver)
    if enc == "native" and name not in NATIVE_CARD_SOLVERS:
        raise SolverError(
            f"encoding 'native' needs a solver with native cardinality constraints "
            f"({', '.join(sorted(NATIVE_CARD_SOLVERS))}), got {name!r}"
        )
    return name, enc


def _remaining(timeout: float | None, start: float) -> float | None:
    return None if timeout is None else timeout - (time.perf_counter() - start)


def _deadline(timeout: float | None, start: float) -> float | None:
    """The ``time.perf_counter()`` value at which encoding must stop (None: no limit)."""
    return None if timeout is None else start + timeout


def replay_class_witness(
    net: BNN, region: Region, x: np.ndarray, classes: Iterable[int], formula: CnfFormula | None = None,
    model: np.ndarray | None = None, net_index: int = 0,
) -> int:
    """Replay a claimed witness: in the region, class in ``classes``, codes as decoded.

    Returns the replayed class, or raises :class:`ReplayMismatch`.
    """
    x, cls = replay_class(net, region, x, classes, "SAT")
    if formula is not None and model is not None:
        replay_codes(net, x, formula.decode_codes(model, net_index), "SAT")
    return cls


def _default_bits(region: Region) -> np.ndarray | None:
    c = getattr(region, "center", None)
    if c is None:
        c = getattr(region, "values", None)
    return None if c is None else np.asarray(c, dtype=np.uint8)


def sat_find_class(
    net: BNN,
    region: Region,
    classes: Iterable[int],
    *,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
    ball_aware: bool = True,
    staged: bool = True,
) -> SatResult:
    """Is there a member of ``region`` whose class is in ``classes``?

    Robustness of a centre: ``classes`` = every class but the predicted one
    (``UNSAT`` proves robustness). With ``staged`` (Hamming balls, ball-aware),
    balls of radius :data:`FIRST_BALL_STAGE`, twice that, ... are tried first
    (small formulas: a witness there is a witness in the ball); only the full
    radius can answer ``UNSAT``. ``timeout`` bounds everything (encoding too);
    ``n_vars``/``n_clauses`` describe the last formula built.
    """
    start = time.perf_counter()
    name, enc = _choose(solver, encoding)
    classes = sorted({int(c) for c in classes})
    stages: list[Region] = [region]
    if staged and ball_aware and isinstance(region, HammingBall):
        r = FIRST_BALL_STAGE
        smaller = []
        while r < region.radius:
            smaller.append(HammingBall(region.center, r, region.mutable))
            r *= 2
        stages = smaller + stages
    t_enc = 0.0
    for i, stage in enumerate(stages):
        last = i == len(stages) - 1
        t0 = time.perf_counter()
        try:
            f = class_formula(net, stage, classes, encoding=enc, ball_aware=ball_aware,
                              deadline=_deadline(timeout, start))
        except DeadlineExceeded:
            t_enc += time.perf_counter() - t0
            return SatResult(SatStatus.TIMEOUT, None, None, time.perf_counter() - start, name, enc, 0, 0, t_enc)
        t_enc += time.perf_counter() - t0
        rem = _remaining(timeout, start)
        if rem is not None and rem <= 0:
            return SatResult(SatStatus.TIMEOUT, None, None, time.perf_counter() - start, name, enc, f.n_vars, f.n_clauses, t_enc)
        with SolverSession(name, f.clauses, f.atmosts) as s:
            out = s.solve((), rem)
        if out.status is SatStatus.SAT:
            witness = f.decode_inputs(out.model, _default_bits(stage))
            cls = replay_class_witness(net, region, witness, classes, f, out.model)
            return SatResult(out.status, witness, cls, time.perf_counter() - start, name, enc, f.n_vars, f.n_clauses, t_enc)
        if out.status is not SatStatus.UNSAT or last:
            # a smaller ball's UNSAT proves nothing about the whole region: go on
            return SatResult(out.status, None, None, time.perf_counter() - start, name, enc, f.n_vars, f.n_clauses, t_enc)
    raise InternalError("unreachable: the last stage returns")  # pragma: no cover


def sat_find_each_class(
    net: BNN,
    region: Region,
    targets: Iterable[int],
    *,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
) -> dict[int, SatResult]:
    """For each target class, a member of ``region`` with that class — one formula,
    one incremental solver, the target chosen by assumption. ``timeout`` is per target.
    """
    start = time.perf_counter()
    name, enc = _choose(solver, encoding)
    results: dict[int, SatResult] = {}
    try:
        f = encode(net, region, encoding=enc, deadline=_deadline(timeout, start))
    except DeadlineExceeded:
        t_enc = time.perf_counter() - start
        for c in targets:
            results[int(c)] = SatResult(SatStatus.TIMEOUT, None, None, t_enc, name, enc, 0, 0, t_enc)
        return results
    t_enc = time.perf_counter() - start
    lits = f.networks[0].class_lits
    with SolverSession(name, f.clauses, f.atmosts) as s:
        for c in targets:
            c = int(c)
            if not 0 <= c < net.n_classes:
                raise ModelError(f"class {c} is outside 0..{net.n_classes - 1}")
            t0 = time.perf_counter()
            lit = lits[c]
            if lit == -f.true_lit:
                results[c] = SatResult(SatStatus.UNSAT, None, None, time.perf_counter() - t0, name, enc, f.n_vars, f.n_clauses, t_enc)
                continue
            out = s.solve([] if lit == f.true_lit else [lit], timeout)
            w = k = None
            if out.status is SatStatus.SAT:
                w = f.decode_inputs(out.model, _default_bits(region))
                k = replay_class_witness(net, region, w, [c], f, out.model)
            results[c] = SatResult(out.status, w, k, out.seconds, name, enc, f.n_vars, f.n_clauses, t_enc)
    return results


def sat_find_disagreement(
    net_a: BNN,
    net_b: BNN,
    region: Region,
    *,
    solver: str | None = None,
    encoding: str | None = None,
    timeout: float | None = None,
) -> SatResult:
    """A member of ``region`` where the two networks' classes differ (a miter).

    ``witness_class`` is ``(class_a, class_b)``; ``UNSAT`` proves the networks
    agree on every member of the region.
    """
    start = time.perf_counter()
    name, enc = _choose(solver, encoding)
    if net_a.n_inputs != net_b.n_inputs:
        raise ModelError(f"networks have {net_a.n_inputs} and {net_b.n_inputs} inputs")
    orig_a, orig_b = net_a, net_b
    c = max(net_a.n_classes, net_b.n_classes)
    net_a, net_b = pad_classes(net_a, c), pad_classes(net_b, c)
    try:
        f = disagreement_formula(net_a, net_b, region, encoding=enc, deadline=_deadline(timeout, start))
    except DeadlineExceeded:
        t_enc = time.perf_counter() - start
        return SatResult(SatStatus.TIMEOUT, None, None, t_enc, name, enc, 0, 0, t_enc)
    t_enc = time.perf_counter() - start
    rem = _remaining(timeout, start)
    if rem is not None and rem <= 0:
        return SatResult(SatStatus.TIMEOUT, None, None, time.perf_counter() - start, name, enc, f.n_vars, f.n_clauses, t_enc)
    with SolverSession(name, f.clauses, f.atmosts) as s:
        out = s.solve((), rem)
    witness = pair = None
    if out.status is SatStatus.SAT:
        witness = f.decode_inputs(out.model, _default_bits(region))
        ca = replay_class_witness(orig_a, region, witness, range(orig_a.n_classes), f, out.model, 0)
        cb = replay_class_witness(orig_b, region, witness, range(orig_b.n_classes), f, out.model, 1)
        if ca == cb:
            raise ReplayMismatch(f"miter witness replays to the same class {ca} on both networks")
        pair = (ca, cb)
    return SatResult(out.status, witness, pair, time.perf_counter() - start, name, enc, f.n_vars, f.n_clauses, t_enc)


def pad_classes(net: BNN, n_classes: int) -> BNN:
    """``net`` with extra classes (up to ``n_classes``) that never win, so two networks
    with different numbers of classes can share one miter.

    Each extra class is a copy of class 0 (its weights, scale and bias) at a
    higher index: its score always equals class 0's, and a tie goes to the
    smaller index, so it never wins — exactly, with no reasoning about
    floating-point bounds. The function computed is unchanged.

    >>> import numpy as np
    >>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
    >>> h = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([0]))
    >>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    >>> pad_classes(BNN((h,), o), 3).n_classes
    3
    """
    out = net.output
    extra = n_classes - out.n_classes
    if extra <= 0:
        return net
    copy = np.zeros(extra, dtype=np.int64)
    weights = np.concatenate([out.weights, out.weights[copy]])
    scale = np.concatenate([out.scale, out.scale[copy]])
    bias = np.concatenate([out.bias, out.bias[copy]])
    return BNN(net.hidden, ArgmaxLayer(weights, scale, bias, name=out.name), net.thermometer_levels)


#: First radius of the staged Hamming-ball search of :func:`sat_find_class`.
FIRST_BALL_STAGE = 2

#: First radius bound of the staged search when ``max_radius`` is not given
#: (doubled while every radius up to it is robust).
FIRST_RADIUS_STAGE = 4


#: The solver of :func:`sat_max_radius` when none is asked for. Measured
#: (``benchmarks/results/sat_scale_radius.md``, the 30 instances of 784-100-10, 60 s each): the same
#: proved radius as glucose4 (the default elsewhere) on all 30, one exact counterexample each that the
#: other missed (ID1645 here, ID1322 there), and the counterexamples sooner: median 2.3 s vs 5.1 s, 4 vs 6
#: over 10 s (load ~7 vs ~10 during the two runs, which explains part of it; instance_6: 1.4 s vs 12 s).
#: CaDiCaL ignores interrupts, so inside a daemonic process (no worker process can be started there) the
#: search keeps :data:`DEFAULT_SOLVER`.
DEFAULT_RADIUS_SOLVER = "cadical195"


def sat_max_radius(
    net: BNN,
    center: np.ndarray,
    *,
    mutable: np.ndarray | None = None,
    max_radius: int | None = None,
    solver: str | None = None,
    timeout: float | None = None,
    encoding: str | None = None,
    ball_links: bool = True,
) -> RadiusResult:
    """The largest Hamming radius around ``center`` where the class cannot change.

    Radii 1, 2, ... are decided on one ball-aware formula built for the
    largest radius of the stage, each radius selected by assuming its
    "at most r flips" literal, in one incremental solver. Without
    ``max_radius`` the stage bound starts at :data:`FIRST_RADIUS_STAGE` and
    doubles (a new formula) up to the number of mutable bits. ``timeout``
    bounds the whole search. ``ball_links``: see :func:`bnnverify.encoders.cnf.encode`.
    """
    start = time.perf_counter()
    if solver is None and resolve_encoding(encoding) != "native" and not mp.current_process().daemon:
        solver = DEFAULT_RADIUS_SOLVER
    name, enc = _choose(solver, encoding)
    center = np.asarray(center, dtype=np.uint8)
    probe = HammingBall(center, 0, mutable)  # validates centre and mask
    m = len(probe.mutable_indices)
    limit = m if max_radius is None else int(max_radius)
    if limit < 0 or limit > center.shape[0]:
        raise RegionError(f"max_radius: must be between 0 and {center.shape[0]}, got {max_radius}")
    limit = min(limit, m)
    pred = semantics.classify(net, center)
    others = [c for c in range(net.n_classes) if c != pred]
    proven = 0
    stage = limit if max_radius is not None else min(limit, FIRST_RADIUS_STAGE)
    while proven < limit:
        region = HammingBall(center, stage, mutable)
        try:
            f = encode(net, region, encoding=enc, ball_aware=True, deadline=_deadline(timeout, start),
                       ball_links=ball_links)
        except DeadlineExceeded:
            return RadiusResult(SatStatus.TIMEOUT, proven, None, time.perf_counter() - start)
        f.add_clause([f.networks[0].class_lits[c] for c in others])
        with SolverSession(name, f.clauses, f.atmosts) as s:
            for r in range(proven + 1, stage + 1):
                rem = _remaining(timeout, start)
                if rem is not None and rem <= 0:
                    return RadiusResult(SatStatus.TIMEOUT, proven, None, time.perf_counter() - start)
                out = s.solve([f.radius_lits[r]] if f.radius_lits else [], rem)
                if out.status is SatStatus.UNSAT:
                    proven = r
                    continue
                if out.status is SatStatus.SAT:
                    ball = HammingBall(center, r, mutable)
                    x = f.decode_inputs(out.model, center)
                    cls = replay_class_witness(net, ball, x, others, f, out.model)
                    dist = int((x != center).sum())
                    if dist != r:
                        raise ReplayMismatch(f"radius {r - 1} was proven robust, yet a counterexample at distance {dist}")
                    return RadiusResult(SatStatus.SAT, proven, x, time.perf_counter() - start, cls)
                return RadiusResult(out.status, proven, None, time.perf_counter() - start)
        stage = min(limit, 2 * stage)
    return RadiusResult(SatStatus.UNSAT, proven, None, time.perf_counter() - start)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level writes to stdout (Ganak prints progress lines)."""
    sys.stdout.flush()
    try:
        fd = os.dup(1)
    except OSError:  # pragma: no cover - no stdout
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(fd, 1)
        os.close(fd)


def count_projected(
    net: BNN,
    region: Region,
    classes: Iterable[int],
    *,
    negate: bool = False,
    encoding: str | None = None,
) -> int:
    """Exact number of members of ``region`` whose class is in ``classes`` (``negate``:
    not in), by projected model counting with Ganak (``pyganak``) on the inputs.

    Raises :class:`EngineError` if ``pyganak`` is not installed (the optional
    extra ``count``): a missing counter is an error, never a silent ``None``.
    """
    try:
        import pyganak
    except ImportError:
        raise EngineError("projected counting needs the pyganak package (pip install 'bnnverify[count]')") from None
    enc = resolve_encoding(encoding)
    if enc == "native":
        enc = DEFAULT_ENCODING
    f = class_formula(net, region, classes, negate=negate, encoding=enc)
    counter = pyganak.Counter()
    counter.new_vars(f.n_vars)
    counter.add_clauses(f.clauses)
    counter.set_sampling_set(list(f.input_vars))
    with _quiet_stdout():
        return int(counter.count())



def export_dimacs(
    net: BNN,
    region: Region,
    target: int,
    out: "str | os.PathLike[str]",
    *,
    negate: bool = False,
    encoding: str | None = None,
    ball_aware: bool = True,
    model_name: str = "",
) -> dict:
    """Write "x in region and class(x) = target" (``negate``: != target) as DIMACS,
    atomically, with ``c ind``/``c p show`` projection lines on the inputs.

    Returns a summary (path, variables, clauses, encoding, region, seconds).
    """
    from bnnverify.files.atomic import atomic_write

    start = time.perf_counter()
    enc = resolve_encoding(encoding)
    if enc == "native":
        raise SolverError("encoding 'native' keeps at-most constraints that DIMACS CNF cannot hold; "
                          "choose a clausal encoding")
    f = class_formula(net, region, [target], negate=negate, encoding=enc, ball_aware=ball_aware)
    desc = region.describe()
    what = f"class(x) {'!=' if negate else '='} {int(target)}"
    comments = [
        "bnnverify export-cnf" + (f": model {model_name}" if model_name else ""),
        f"formula: x in {desc.get('kind')} region ({desc.get('size')} members) and {what}",
        f"inputs are variables 1..{f.n_inputs} (variable i+1 true = input bit i is 1)",
        f"encoding {enc}{', ball-aware first layer' if f.ball_aware else ''}",
    ]
    text = f.to_dimacs(projection=True, comments=comments)
    with atomic_write(out, "w") as fh:
        fh.write(text)
    return {
        "out": str(out),
        "n_vars": f.n_vars,
        "n_clauses": len(f.clauses),
        "n_inputs": f.n_inputs,
        "formula": what,
        "region": desc,
        "encoding": enc,
        "ball_aware": f.ball_aware,
        "seconds": time.perf_counter() - start,
    }


def counted_witness(net: BNN, region: Region, counts: Any, witness_of: Iterable[int], limits: Any) -> np.ndarray | None:
    """A member of a class of ``witness_of`` that ``counts`` (a ClassCounts) says exists, found by
    SAT — for the counting engines that never see a member (ball, ganak). None if none was counted;
    :class:`DeadlineExceeded` if SAT finds none in the time left."""
    wanted = [c for c in witness_of if counts.counts[c] > 0]
    if not wanted:
        return None
    res = sat_find_class(net, region, wanted, solver=limits.solver, encoding=limits.encoding,
                         timeout=limits.remaining())
    if res.witness is None:
        raise DeadlineExceeded("SAT found no witness of a counted class within the time limit")
    return res.witness


def _search_of(res: SatResult, solver: str, seconds: float) -> Search:
    """A :class:`Search` from a solver's status (``UNSAT`` is the only proof)."""
    if res.status is SatStatus.UNSAT:
        return Search(Outcome.NONE)
    if res.status is SatStatus.SAT:
        return Search(Outcome.FOUND, np.asarray(res.witness, dtype=np.uint8))
    if res.status is SatStatus.TIMEOUT:
        return Search(Outcome.TIMEOUT, note=f"SAT solver {solver} ran out of time after {seconds:.1f} s")
    return Search(Outcome.UNKNOWN, note=f"SAT solver {solver} gave no answer")


class SatEngine(EngineBase):
    """CNF + a PySAT solver: decides (UNSAT is a proof, a model a witness); it does not count."""

    name = "sat"
    aliases = ("solver",)
    summary = "CNF (PySAT cardinality encodings) and a SAT solver: decides, does not count"
    layer_kinds = frozenset({"threshold", "linear", "conv", "maxpool", "argmax"})
    region_kinds = frozenset({"whole", "cube", "hamming", "linf", "level-l0"})
    capabilities = frozenset({Capability.FIND_CLASS, Capability.FIND_DISAGREEMENT, Capability.RADIUS,
                              Capability.SUFFICIENT_REASON})
    why_not = {
        **{c: "SAT decides but does not count; use bdd, enum or auto for exact counts (ganak counts projected "
              "models)" for c in Capability if c.counts},
        Capability.MIN_SUFFICIENT_REASON: "it needs the BDD of every sufficient set (use bdd or auto)",
        Capability.PRIME_IMPLICANTS: "prime implicants of a class are read off its BDD (use bdd or auto)",
    }

    def sufficient_reason(self, net: BNN, region: Region, x, target: int, order, limits) -> Reason:
        return sat_sufficient_reason(net, region, x, target, order, solver=limits.solver,
                                     encoding=limits.encoding, remaining=limits.remaining)

    def find_class(self, net: BNN, region: Region, classes, limits) -> Search:
        t0 = time.perf_counter()
        hit = find_by_sampling(net, region, classes)
        if hit is not None:
            return Search(Outcome.FOUND, hit, note=f"found among {SAMPLE_MEMBERS} random members of the region "
                                                  f"before any SAT search ({time.perf_counter() - t0:.2f} s)")
        res = sat_find_class(net, region, classes, solver=limits.solver, encoding=limits.encoding,
                             timeout=limits.remaining())
        return _search_of(res, res.solver, res.seconds)

    def find_disagreement(self, net_a: BNN, net_b: BNN, region: Region, limits) -> Search:
        res = sat_find_disagreement(net_a, net_b, region, solver=limits.solver, encoding=limits.encoding,
                                    timeout=limits.remaining())
        return _search_of(res, res.solver, res.seconds)

    def max_radius(self, net: BNN, center: np.ndarray, mutable, cap: int, user_cap: bool, limits):
        # Without a user cap, the SAT search grows its formula in doubling stages:
        # one formula for the whole cap (e.g. radius 784) is far harder.
        rr = sat_max_radius(net, center, mutable=mutable, max_radius=cap if user_cap else None,
                            solver=limits.solver, encoding=limits.encoding, timeout=limits.remaining())
        proven = int(rr.radius or 0)
        if rr.counterexample is not None:
            return proven, Search(Outcome.FOUND, np.asarray(rr.counterexample, np.uint8))
        if rr.status is SatStatus.UNSAT or (rr.status not in (SatStatus.TIMEOUT, SatStatus.UNKNOWN) and proven >= cap):
            return cap, Search(Outcome.NONE)
        outcome = Outcome.TIMEOUT if rr.status is SatStatus.TIMEOUT else Outcome.UNKNOWN
        return proven, Search(outcome, note=f"SAT search stopped ({rr.status.name.lower()}); radius is a lower bound")


def sat_sufficient_reason(
    net: BNN,
    region: Region,
    x: np.ndarray,
    target: int,
    order: Sequence[int],
    *,
    solver: str | None = None,
    encoding: str | None = None,
    remaining=lambda: None,
) -> Reason:
    """Deletion with incremental assumptions: one formula "member of another class", one solver.

    The bits of S are assumed equal to x's; dropping bit i is proved by
    ``UNSAT`` under the assumptions ``S \\ {i}``, keeping it by the model found
    (decoded; the runner replays it). A time-out stops with no answer.
    """
    name, enc = _choose(solver, encoding)
    xb = np.asarray(x, dtype=np.uint8)
    others = [c for c in range(net.n_classes) if c != int(target)]
    from bnnverify.engines.terms import free_bits

    keep = list(free_bits(region))
    if not others:
        return Reason(Outcome.FOUND, (), {}, 0, "one class: the empty set is sufficient")
    rem = remaining()
    start = time.perf_counter()
    try:
        f = encode(net, region, encoding=enc, ball_aware=True,
                   deadline=None if rem is None else start + rem)
    except DeadlineExceeded:
        return Reason(Outcome.TIMEOUT, None, note="time limit reached while encoding")
    f.add_clause([f.networks[0].class_lits[c] for c in others])
    lit = {i: (i + 1) if xb[i] else -(i + 1) for i in range(len(xb))}
    witnesses: dict[int, np.ndarray] = {}
    checks = 0
    with SolverSession(name, f.clauses, f.atmosts) as s:
        # a robust region first: then the empty set is the reason, proved by one UNSAT
        out = s.solve([], remaining())
        checks += 1
        if out.status is SatStatus.UNSAT:
            return Reason(Outcome.FOUND, (), {}, checks, f"the region is robust: UNSAT with no assumption ({name})")
        if out.status not in (SatStatus.SAT, SatStatus.UNSAT):
            outcome = Outcome.TIMEOUT if out.status is SatStatus.TIMEOUT else Outcome.UNKNOWN
            return Reason(outcome, None, note=f"SAT solver {name} stopped ({out.status.name.lower()})")
        for i in order:
            trial = [j for j in keep if j != i]
            rem = remaining()
            if rem is not None and rem <= 0:
                return Reason(Outcome.TIMEOUT, None, note="time limit reached")
            out = s.solve([lit[j] for j in trial], rem)
            checks += 1
            if out.status is SatStatus.UNSAT:
                keep = trial
            elif out.status is SatStatus.SAT:
                witnesses[int(i)] = f.decode_inputs(out.model, _default_bits(region))
            else:
                outcome = Outcome.TIMEOUT if out.status is SatStatus.TIMEOUT else Outcome.UNKNOWN
                return Reason(outcome, None, note=f"SAT solver {name} stopped ({out.status.name.lower()})")
    return Reason(Outcome.FOUND, tuple(sorted(keep)), {i: witnesses[i] for i in keep}, checks,
                  f"every dropped bit: UNSAT under assumptions ({name}); every kept bit: a model")


ENGINE = SatEngine()
