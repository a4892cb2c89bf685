"""Exact counts over regions with the BDD engine, every witness replayed.

Domain wrappers over :mod:`bnnverify.encoders.bdd`: per-class counts, a member of a
set of classes, disagreements between two networks, joint counts of hidden
codes (and classes) — the numbers behind adversarial counts, equivalence
counts and the information measures. Counts are exact Python ints. Every
witness is replayed on the semantics module (:mod:`bnnverify.engines.replay`); a mismatch
raises :class:`~bnnverify.errors.ReplayMismatch` (a bug, never hidden).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import HammingBall
>>> h = ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([1]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net = BNN((h,), o)
>>> bdd_class_counts(net, HammingBall(np.array([1, 1, 0], dtype=np.uint8), 1))
ClassCounts(region_size=4, counts=(2, 2))
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from bnnverify.encoders.bdd import BDDBudget, BDDCompiler, NetworkBDD
from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import HammingBall, Region
from bnnverify.encoders.results import ClassCounts, Disagreement, JointCounts

from bnnverify import semantics
from bnnverify.engines.base import (Capability, EngineBase, Influence, Limits, Outcome, Primes, Reason, Search,
                                    ShapleyScores)
from bnnverify.errors import BudgetExceeded, DataError, DeadlineExceeded, InternalError, RegionError
from bnnverify.information.codecounts import PairCounts
from bnnverify.engines.replay import replay_class, replay_disagreement

__all__ = [
    "BDDEngine",
    "ENGINE",
    "as_budget",
    "bdd_layer_labels",
    "BDDBudget",
    "compile_network",
    "bdd_class_counts",
    "bdd_find_class",
    "bdd_disagreements",
    "bdd_joint_counts",
    "bdd_code_counts",
    "bdd_class_counts_by_radius",
    "CountReport",
    "count_report",
    "CodeSummary",
    "bdd_code_summary",
]


def _detached(fn: Callable) -> Callable:
    """Re-raise :class:`BudgetExceeded` and :class:`DeadlineExceeded` without their traceback.

    The traceback's frames hold BDD nodes; an exception kept alive in a
    reference cycle (e.g. by an exit inside an ``except`` block) would let the
    garbage collector free the CUDD manager before its nodes.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        kind = message = None
        try:
            return fn(*args, **kwargs)
        except (BudgetExceeded, DeadlineExceeded) as e:
            kind, message = type(e), str(e)
        raise kind(message)

    return wrapper


def _check_sizes(net: BNN, region: Region, what: str = "network") -> None:
    if region.n != net.n_inputs:
        raise RegionError(f"region has {region.n} input bits, but the {what} has {net.n_inputs} inputs")


def compile_network(net: BNN, region: Region, *, budget: BDDBudget | None = None) -> NetworkBDD:
    """``net`` compiled over ``region`` in a fresh BDD manager."""
    _check_sizes(net, region)
    return BDDCompiler(net.n_inputs, budget=budget).compile(net, region)


@_detached
def bdd_class_counts(net: BNN, region: Region, *, budget: BDDBudget | None = None) -> ClassCounts:
    """Exact number of members of ``region`` per class of ``net``."""
    nb = compile_network(net, region, budget=budget)
    return ClassCounts(region.size, nb.class_counts())


@_detached
def bdd_find_class(
    net: BNN, region: Region, classes: Sequence[int], *, budget: BDDBudget | None = None
) -> np.ndarray | None:
    """A member of ``region`` whose class is in ``classes`` (uint8 bits), None iff none exists."""
    cls = [int(c) for c in classes]
    bad = [c for c in cls if not 0 <= c < net.n_classes]
    if bad:
        raise DataError(f"classes: {bad[0]} is not a class of the network (0..{net.n_classes - 1})")
    if not cls:
        return None
    nb = compile_network(net, region, budget=budget)
    x = nb.witness(cls)
    if x is not None:
        replay_class(net, region, x, cls, "BDD")
    return x


@_detached
def bdd_disagreements(
    net_a: BNN, net_b: BNN, region: Region, *, budget: BDDBudget | None = None
) -> Disagreement:
    """Confusion counts (class of A × class of B) over ``region`` and a replayed witness."""
    _check_sizes(net_a, region, "first network")
    _check_sizes(net_b, region, "second network")
    comp = BDDCompiler(net_a.n_inputs, budget=budget)
    A = comp.compile(net_a, region, prefix="a")
    B = comp.compile(net_b, region, prefix="b")
    XA = [A.inputs_of([a]) for a in range(net_a.n_classes)]
    XB = [B.inputs_of([b]) for b in range(net_b.n_classes)]
    counter = comp.counter()
    confusion: dict[tuple[int, int], int] = {}
    differ = comp.bdd.false
    with comp.guard():
        for a, xa in enumerate(XA):
            if xa == comp.bdd.false:
                continue
            for b, xb in enumerate(XB):
                both = xa & xb
                n = comp.count_inputs(both, A.plan, counter)
                if n:
                    confusion[(a, b)] = n
                    if a != b:
                        differ = differ | both
    witness = comp.pick_input(differ, A.plan)
    if witness is not None:
        replay_disagreement(net_a, net_b, region, witness, "BDD")
    return Disagreement(region.size, confusion, witness)


@_detached
def bdd_joint_counts(
    net: BNN,
    region: Region,
    layers: Sequence[int],
    *,
    with_class: bool = False,
    label_net: BNN | None = None,
    budget: BDDBudget | None = None,
) -> JointCounts:
    """Exact joint counts over ``region`` of the codes of hidden ``layers`` (1-based).

    Keys: the code of each requested layer (a Python int, bit j = neuron j,
    as :func:`bnnverify.evaluation.evaluator.code_key`), then the class if
    ``with_class``, then ``label_net``'s class if given. Only reachable
    keys appear.
    """
    _check_sizes(net, region)
    L = len(net.hidden)
    if not list(layers):
        raise DataError("layers: give at least one hidden layer")
    for l in layers:
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= L:
            raise DataError(f"layers: {l!r} is not a hidden layer of {net!r} (1..{L})")
    layers = [int(l) for l in layers]
    comp = BDDCompiler(net.n_inputs, budget=budget)
    partition = None
    if label_net is not None:
        _check_sizes(label_net, region, "label network")
        lab = comp.compile(label_net, region, prefix="u")
        partition = [lab.inputs_of([c]) for c in range(label_net.n_classes)]
    nb = comp.compile(net, region, prefix="t")
    counts: dict[tuple[int, ...], int] = {}
    for key, v in nb.iter_joint_counts(layers, with_class=with_class, partition=partition):
        counts[key] = counts.get(key, 0) + v
    return JointCounts(region.size, tuple(layers), bool(with_class), label_net is not None, counts)


def bdd_code_counts(
    net: BNN, region: Region, layer: int, *, budget: BDDBudget | None = None
) -> Iterator[tuple[int, int]]:
    """``(code, count)`` for every reachable code of hidden ``layer`` (1-based).

    Arguments are checked and the network compiled at the call; the pairs are
    then produced lazily (each code once, counts exact).
    """
    _check_sizes(net, region)
    L = len(net.hidden)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= L:
        raise DataError(f"layer: {layer!r} is not a hidden layer of {net!r} (1..{L})")
    nb = _detached(compile_network)(net, region, budget=budget)
    return ((key[0], v) for key, v in nb.iter_joint_counts([int(layer)]))


@dataclass(frozen=True)
class CodeSummary:
    """Hidden layer ``layer`` (1-based) over a region: reachable codes and the exact total."""

    layer: int
    codes: int
    total: int


@_detached
def bdd_code_summary(net: BNN, region: Region, layer: int, *, budget: BDDBudget | None = None) -> CodeSummary:
    """Number of reachable codes of hidden ``layer`` (counted on its image, not enumerated)
    and the total number of inputs (= ``region.size``, checked against the per-code counts'
    sum by :func:`bdd_code_counts` users)."""
    _check_sizes(net, region)
    L = len(net.hidden)
    if not 1 <= int(layer) <= L:
        raise DataError(f"layer: {layer!r} is not a hidden layer of {net!r} (1..{L})")
    nb = compile_network(net, region, budget=budget)
    return CodeSummary(int(layer), nb.reachable_codes(int(layer)), region.size)


@_detached
def bdd_class_counts_by_radius(
    net: BNN,
    center: np.ndarray,
    max_radius: int,
    *,
    mutable: np.ndarray | None = None,
    budget: BDDBudget | None = None,
) -> list[ClassCounts]:
    """Per-class counts on each Hamming shell ``d_H(x, center) == r``, r = 0..max_radius.

    One compilation over the ball of ``max_radius``; each shell is the ball
    of radius r minus the ball of radius r−1, intersected with the class sets.
    """
    ball = HammingBall(np.asarray(center, dtype=np.uint8), int(max_radius), mutable)
    _check_sizes(net, ball)
    comp = BDDCompiler(net.n_inputs, budget=budget)
    nb = comp.compile(net, ball)
    plan = nb.plan
    builder = plan.ball
    sets = [nb.inputs_of([c]) for c in range(net.n_classes)]
    counter = comp.counter()
    out: list[ClassCounts] = []
    inner = comp.bdd.false
    for r in range(ball.effective_radius + 1):
        with comp.guard():
            within = builder.rest(0, r)  # at most r flips
            shell = within & ~inner
            counts = [comp.count_inputs(s & shell, plan, counter) for s in sets]
        size = HammingBall(ball.center, r, mutable).size - (HammingBall(ball.center, r - 1, mutable).size if r else 0)
        out.append(ClassCounts(size, counts))
        inner = within
    return out


@dataclass(frozen=True)
class CountReport:
    """What ``bnnverify count`` reports: exact per-class counts (and reachable codes)."""

    counts: ClassCounts
    seconds: float
    layer: int | None = None
    codes: int | None = None

    def as_dict(self) -> dict:
        d = {
            "region_size": self.counts.region_size,
            "class_counts": {str(c): n for c, n in enumerate(self.counts.counts)},
            "seconds": self.seconds,
        }
        if self.codes is not None:
            d["codes"] = self.codes
        return d


@_detached
def count_report(
    net: BNN, region: Region, *, per_code: int | None = None, budget: BDDBudget | None = None
) -> CountReport:
    """Exact per-class counts over ``region``; with ``per_code=L`` also the number of
    reachable codes of hidden layer L (1-based)."""
    L = len(net.hidden)
    if per_code is not None and not 1 <= per_code <= L:
        raise DataError(f"layer {per_code} is not a hidden layer of the model (1..{L})", param="per_code")
    t0 = time.perf_counter()
    nb = compile_network(net, region, budget=budget)
    counts = ClassCounts(region.size, nb.class_counts())
    codes = nb.reachable_codes(per_code) if per_code is not None else None
    return CountReport(counts, time.perf_counter() - t0, per_code, codes)


def as_budget(budget: Any, deadline: float | None = None, tick: Any = None) -> BDDBudget:
    """A :class:`BDDBudget` from a budget, an int (max live nodes) or None (the default: 1 GiB),
    with ``deadline`` (a ``perf_counter()`` time) and ``tick`` (progress) if given."""
    if budget is None:
        out = BDDBudget()
    elif isinstance(budget, BDDBudget):
        out = budget
    else:
        out = BDDBudget(max_nodes=int(budget))
    if deadline is not None:
        out = dataclasses.replace(out, deadline=deadline)
    return out if tick is None else dataclasses.replace(out, tick=tick)


@_detached
def bdd_layer_labels(net: BNN, region: Region, labels: Any, budget: Any,
               const_label: int | None = None) -> PairCounts:
    """Exact (code, label) counts of every hidden layer from ONE compilation of ``net`` over ``region``.

    The label is the class (``"model"``), the label network's class, or ``const_label``.
    """
    comp = BDDCompiler(net.n_inputs, budget=as_budget(budget))
    partition = None
    if isinstance(labels, BNN) and const_label is None:
        lab = comp.compile(labels, region, prefix="u")
        partition = [lab.inputs_of([c]) for c in range(labels.n_classes)]
    nb = comp.compile(net, region, prefix="t")
    out = []
    for l in range(1, len(net.hidden) + 1):
        pairs: dict[tuple[int, int], int] = {}
        if const_label is not None:
            it = ((k[0], const_label, v) for k, v in nb.iter_joint_counts([l]))
        elif partition is not None:
            it = ((k[0], k[1], v) for k, v in nb.iter_joint_counts([l], partition=partition))
        else:
            it = ((k[0], k[1], v) for k, v in nb.iter_joint_counts([l], with_class=True))
        for t, y, v in it:
            pairs[(t, y)] = pairs.get((t, y), 0) + int(v)
        out.append(pairs)
    return PairCounts(net, out, region.size)


#: First ball radius the BDD max-radius search compiles (doubled while robust).
BDD_FIRST_RADIUS_STAGE: int = 4


class BDDEngine(EngineBase):
    """CUDD BDDs of the network over the region: exact counts, empty-BDD proofs."""

    name = "bdd"
    aliases = ("cudd", "bdd-cudd")
    summary = "compile the classes into BDDs (dd.cudd): exact counts and proofs"
    layer_kinds = frozenset({"threshold", "linear", "conv", "maxpool", "argmax"})
    region_kinds = frozenset({"whole", "cube", "hamming", "linf", "level-l0"})
    capabilities = frozenset(Capability)

    def find_class(self, net: BNN, region: Region, classes, limits: Limits) -> Search:
        w = bdd_find_class(net, region, classes, budget=as_budget(limits.budget, limits.deadline, limits.progress))
        return Search(Outcome.NONE) if w is None else Search(Outcome.FOUND, np.asarray(w, dtype=np.uint8))

    def class_counts(self, net: BNN, region: Region, witness_of, limits: Limits):
        return _counts_and_witness(net, region, list(witness_of), as_budget(limits.budget, limits.deadline, limits.progress))

    def disagreements(self, net_a: BNN, net_b: BNN, region: Region, limits: Limits) -> Disagreement:
        return bdd_disagreements(net_a, net_b, region, budget=as_budget(limits.budget, limits.deadline, limits.progress))

    def find_disagreement(self, net_a: BNN, net_b: BNN, region: Region, limits: Limits) -> Search:
        w = self.disagreements(net_a, net_b, region, limits).witness
        return Search(Outcome.NONE) if w is None else Search(Outcome.FOUND, np.asarray(w, dtype=np.uint8))

    def layer_labels(self, net: BNN, region: Region, labels, const_label, limits: Limits) -> PairCounts:
        return bdd_layer_labels(net, region, labels, as_budget(limits.budget, limits.deadline, limits.progress), const_label=const_label)

    def joint_counts(self, net: BNN, region: Region, layers, with_class: bool, limits: Limits) -> JointCounts:
        return bdd_joint_counts(net, region, layers, with_class=with_class, budget=as_budget(limits.budget, limits.deadline, limits.progress))

    def sufficient_reason(self, net: BNN, region: Region, x, target: int, order, limits: Limits) -> Reason:
        return bdd_sufficient_reason(net, region, x, target, order, limits)

    def min_sufficient_reason(self, net: BNN, region: Region, x, target: int, limits: Limits) -> Reason:
        return bdd_min_sufficient_reason(net, region, x, target, limits)

    def prime_implicants(self, net: BNN, region: Region, targets, max_terms: int, limits: Limits,
                         start=None) -> Primes:
        return bdd_prime_implicants(net, region, targets, max_terms, limits, start)

    def shapley(self, net: BNN, region: Region, x, targets, limits: Limits) -> ShapleyScores:
        return bdd_shapley(net, region, x, targets, limits)

    def influence(self, net: BNN, region: Region, limits: Limits) -> Influence:
        return bdd_influence(net, region, limits)

    def max_radius(self, net: BNN, center: np.ndarray, mutable, cap: int, user_cap: bool, limits: Limits):
        """Shell counts over balls of doubling radius (one compilation per stage)."""
        budget = as_budget(limits.budget, limits.deadline, limits.progress)
        pred = semantics.classify(net, center)
        others = [c for c in range(net.n_classes) if c != pred]
        proven, stage = 0, min(cap, BDD_FIRST_RADIUS_STAGE)
        while proven < cap:
            if limits.expired():
                return proven, Search(Outcome.TIMEOUT, note=f"time limit {limits.timeout} s reached")
            try:
                shells = bdd_class_counts_by_radius(net, center, stage, mutable=mutable, budget=budget)
                bad_r = next((r for r, cc in enumerate(shells) if cc.others(pred) > 0), None)
                if bad_r is not None:
                    w = bdd_find_class(net, HammingBall(center, bad_r, mutable), others, budget=budget)
                    if w is None:
                        raise InternalError(f"BDD counts adversarial inputs at distance {bad_r} but finds none")
                    return bad_r - 1, Search(Outcome.FOUND, np.asarray(w, np.uint8))
            except BudgetExceeded as e:
                return proven, Search(Outcome.UNKNOWN, note=f"budget exceeded: {e}")
            except DeadlineExceeded:
                return proven, Search(Outcome.TIMEOUT, note=f"time limit {limits.timeout} s reached")
            proven, stage = stage, min(cap, 2 * stage)
        return cap, Search(Outcome.NONE)


@_detached
def _counts_and_witness(net: BNN, region: Region, witness_of: list[int], budget: BDDBudget):
    """Class counts and a member of a counted class in ``witness_of``: one compilation for both."""
    nb = compile_network(net, region, budget=budget)
    cc = ClassCounts(region.size, nb.class_counts())
    wanted = [c for c in witness_of if cc.counts[c] > 0]
    return cc, (nb.witness(wanted) if wanted else None)


def _deadline_check(limits: Limits) -> Callable[[], None]:
    def check() -> None:
        if limits.expired():
            raise DeadlineExceeded(f"time limit {limits.timeout} s reached")
    return check


def _compiled(net: BNN, region: Region, targets: Sequence[int], limits: Limits):
    """One compilation: (compiler, network BDD, members of ``targets``, members of the other classes)."""
    nb = compile_network(net, region, budget=as_budget(limits.budget, limits.deadline))
    targets = sorted({int(c) for c in targets})
    others = [c for c in range(net.n_classes) if c not in targets]
    good = nb.inputs_of(targets)
    bad = nb.inputs_of(others) if others else nb.compiler.bdd.false
    return nb.compiler, nb, good, bad


@_detached
def bdd_sufficient_reason(net: BNN, region: Region, x, target: int, order, limits: Limits) -> Reason:
    """Deletion over ``order``: each dropped bit proved by an empty cofactor, each kept one by a witness."""
    from bnnverify.encoders.explain_bdd import expand_term, node_count

    comp, nb, good, bad = _compiled(net, region, [target], limits)
    exp = expand_term(comp, nb.plan, bad, np.asarray(x, np.uint8), list(order), _deadline_check(limits))
    return Reason(Outcome.FOUND, exp.kept, exp.witnesses, exp.checks,
                  "every dropped bit: an empty cofactor of the other classes' BDD; every kept bit: a witness",
                  bdd_nodes=node_count(bad))


@_detached
def bdd_min_sufficient_reason(net: BNN, region: Region, x, target: int, limits: Limits) -> Reason:
    """The smallest sufficient set from the BDD of all sufficient sets (longest path over dropped bits)."""
    from bnnverify.encoders.explain_bdd import expand_term, min_reason

    comp, nb, good, bad = _compiled(net, region, [target], limits)
    xb = np.asarray(x, np.uint8)
    kept, nodes = min_reason(comp, nb.plan, bad, xb)
    # the witnesses of subset-minimality (a cardinality-minimal set is subset-minimal too)
    exp = expand_term(comp, nb.plan, bad, xb, [i for i in nb.plan.free if i not in kept] + list(kept),
                      _deadline_check(limits))
    if exp.kept != kept:
        raise InternalError(f"BDD: the cardinality-minimal reason {kept} is not subset-minimal ({exp.kept})")
    return Reason(Outcome.FOUND, kept, exp.witnesses, exp.checks + 1,
                  f"no smaller set is sufficient: largest number of dropped bits over the BDD of every "
                  f"sufficient set ({nodes} nodes)", bdd_nodes=nodes)


@_detached
def bdd_prime_implicants(net: BNN, region: Region, targets, max_terms: int, limits: Limits,
                         start: np.ndarray | None = None) -> Primes:
    """Up to ``max_terms`` prime implicants covering new members each time, and the essential literals.

    The first term is expanded from ``start`` when it is a member of a target
    class (so it is a sufficient reason of ``start``), the others from members
    no earlier term covers.
    """
    from bnnverify.encoders.explain_bdd import essential_literals, expand_term, node_count, term_bdd

    comp, nb, good, bad = _compiled(net, region, targets, limits)
    bdd = comp.bdd
    check = _deadline_check(limits)
    covered = bdd.false
    terms, witnesses = [], []
    covers = good == bdd.false
    while not covers and len(terms) < max_terms:
        check()
        with comp.guard():
            rest = good & ~covered
        if rest == bdd.false:
            covers = True
            break
        m = comp.pick_input(rest, nb.plan)
        if not terms and start is not None and bool(region.contains(np.asarray(start, np.uint8)[None, :])[0]) \
                and semantics.classify(net, np.asarray(start, np.uint8)) in set(int(c) for c in targets):
            m = np.asarray(start, np.uint8)
        exp = expand_term(comp, nb.plan, bad, m, list(nb.plan.free), check)
        term = {i: int(m[i]) for i in exp.kept}
        terms.append(term)
        witnesses.append(exp.witnesses)
        with comp.guard():
            covered = covered | term_bdd(comp, term)
            covers = (good & ~covered) == bdd.false
    essential = essential_literals(comp, nb.plan, good) if good != bdd.false else None
    return Primes(tuple(terms), tuple(witnesses), covers, essential,
                  comp.count_inputs(good, nb.plan), node_count(good))


@_detached
def bdd_shapley(net: BNN, region: Region, x, targets, limits: Limits) -> ShapleyScores:
    """Exact SHAP scores on the BDD of "class in targets" (a cube: uniform = product distribution)."""
    from fractions import Fraction
    from math import factorial

    from bnnverify.encoders.explain_bdd import node_count, shapley_numerators

    if region.kind not in ("whole", "cube"):
        raise RegionError(f"region: the BDD's Shapley values need a cube or the whole space (a product "
                          f"distribution), not a {region.kind!r} region")
    comp, nb, good, bad = _compiled(net, region, targets, limits)
    xb = np.asarray(x, np.uint8)
    nums, m = shapley_numerators(comp, nb.plan, good, xb)
    scale = 1 << m
    values = {}
    for i, (M_in, M_out) in nums.items():
        total = Fraction(0)
        for k in range(m):
            d = (M_in[k] if k < len(M_in) else 0) - (M_out[k] if k < len(M_out) else 0)
            if d:
                total += Fraction(factorial(k) * factorial(m - k - 1) * d, factorial(m) * scale)
        values[i] = total
    expected = Fraction(comp.count_inputs(good, nb.plan), region.size)
    at_x = int(semantics.classify(net, xb) in {int(c) for c in targets})
    return ShapleyScores(values, expected, at_x, tuple(int(i) for i in nb.plan.free), node_count(good),
                         "bdd: polynomial dynamic programme over the BDD (uniform distribution on a cube)")


@_detached
def bdd_influence(net: BNN, region: Region, limits: Limits) -> Influence:
    from bnnverify.encoders.explain_bdd import flip_changes

    if region.kind not in ("whole", "cube"):
        raise RegionError(f"region: influence needs a cube or the whole space (flipping a bit of a "
                          f"{region.kind!r} member can leave the region)")
    nb = compile_network(net, region, budget=as_budget(limits.budget, limits.deadline))
    sets = [nb.inputs_of([c]) for c in range(net.n_classes)]
    return Influence(flip_changes(nb.compiler, nb.plan, sets), region.size)


ENGINE = BDDEngine()
