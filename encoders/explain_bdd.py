"""Explanations on the BDD of a class over a region: reasons, prime implicants, essential literals, Shapley values.

Everything here works on a :class:`~bnnverify.encoders.bdd.NetworkBDD`
compiled over a region (whole space, cube or Hamming ball). Its class sets
are BDDs over the region's *free* input bits (the bits the region fixes are
folded away), so a *term* — a partial assignment ``{i: bit}`` of free bits —
is an implicant of "class in T" over the region iff the cofactor of
``B = region members of the other classes`` by the term is FALSE. That one
test is the proof behind every sufficient reason and prime implicant.

* :func:`expand_term` — greedy literal deletion from a term in a given order
  (a sufficient reason of ``x`` is the expansion of the full term of ``x``; a
  prime implicant the expansion of any member): each dropped literal is
  justified by an empty cofactor, each kept literal by a *witness*: a member
  of the region agreeing with the kept term except on that literal, of
  another class. Since the final term is a sub-term of the term tested when a
  literal was kept, every witness is also a witness against the final term
  minus that literal: the term is prime (subset-minimal).
* :func:`min_reason` — a cardinality-minimal sufficient reason. With
  ``u_i = 1`` meaning "bit i is dropped", ``x`` restricted to the kept bits is
  insufficient iff some member of ``B`` differs from ``x`` only on dropped
  bits: ``NotSuff = G(B)`` with ``G(f) = ite(u_v, G(f_0) ∨ G(f_1), G(f_{x_v}))``
  (memoized on nodes, complemented edges followed); the largest number of
  dropped bits over ``¬NotSuff`` (a longest-path pass) gives the smallest
  sufficient set, and the pass itself is the proof that none is smaller.
* :func:`essential_literals` — a literal ``x_i = a`` is in every prime
  implicant of F (the members of the target classes) over a region with care
  set ``R`` iff no implicant avoids it: iff ``F ∧ (x_i ≠ a) = ∅`` and
  ``∀x_i(¬R ∨ F) ∧ ∃x_i R = ∅`` (no implicant leaves bit i out). For a cube
  (``R`` true) the second condition follows from the first.
* :func:`shapley_numerators` — exact SHAP scores of the free bits for
  ``f = [class ∈ T]`` under the uniform (product) distribution on a cube: a
  dynamic programme over the BDD's nodes of integer polynomials ``M_f[k] =
  2^{|V_f|} Σ_{|S|=k} P(f | z_S = x_S)`` (the algorithm of Arenas, Barceló,
  Bertossi and Monet for deterministic decomposable circuits, specialised to
  OBDDs), once per player with that player's variable forced into or out of
  the coalition (only the nodes above that player's level are recomputed):
  m passes of O(|BDD| · m) polynomial steps of length ≤ m for m free bits.
* :func:`flip_changes` — per free bit, the members whose class changes when
  the bit is flipped (cube regions: the flip stays in the region).

Counts are exact Python ints (:mod:`bnnverify.encoders.bdd_count`), never
CUDD's floating-point count.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Sequence

import numpy as np

from .bdd_count import ExactCounter
from .errors import InternalError, RegionError

__all__ = [
    "Expansion",
    "cofactor",
    "term_bdd",
    "expand_term",
    "min_reason",
    "essential_literals",
    "shapley_numerators",
    "flip_changes",
    "node_count",
]


@dataclass(frozen=True, eq=False)
class Expansion:
    """A term expanded to a prime: the kept literals, one witness per kept literal, and the checks made."""

    kept: tuple[int, ...]
    witnesses: dict[int, np.ndarray]
    checks: int


def _name(comp, i: int) -> str:
    return comp.input_names[i]


def cofactor(comp, u, term: dict[int, int]):
    """``u`` with the input bits of ``term`` set to their values."""
    if not term:
        return u
    with comp.guard():
        return comp.bdd.let({_name(comp, i): bool(b) for i, b in term.items()}, u)


def term_bdd(comp, term: dict[int, int]):
    """The term as a BDD (a cube of literals)."""
    with comp.guard():
        return comp.bdd.cube({_name(comp, i): bool(b) for i, b in term.items()})


def expand_term(comp, plan, bad, point: np.ndarray, order: Sequence[int], deadline_check=None) -> Expansion:
    """Drop literals of ``point`` (restricted to the free bits ``order``) while ``bad`` stays empty.

    ``bad`` is the set of region members that must be excluded (other
    classes). ``point`` must itself lie outside ``bad``.
    """
    term = {int(i): int(point[i]) for i in order}
    if cofactor(comp, bad, term) != comp.bdd.false:
        raise InternalError("internal error: the point to explain is itself excluded")
    checks = 1
    witnesses: dict[int, np.ndarray] = {}
    if bad == comp.bdd.false:  # nothing to exclude: the empty term
        return Expansion((), {}, checks)
    for i in order:
        if deadline_check is not None:
            deadline_check()
        trial = {j: b for j, b in term.items() if j != i}
        rest = cofactor(comp, bad, trial)
        checks += 1
        if rest == comp.bdd.false:
            term = trial
            continue
        with comp.guard():
            w = comp.pick_input(rest & term_bdd(comp, trial), plan)
        witnesses[int(i)] = w
    kept = tuple(sorted(term))
    return Expansion(kept, {i: witnesses[i] for i in kept}, checks)


def _children(u):
    """``(low, high)`` of the function ``u`` (complemented edges followed)."""
    lo, hi = u.low, u.high
    if int(u) & 1:
        return ~lo, ~hi
    return lo, hi


def node_count(u) -> int:
    """Number of distinct (regular) nodes reachable from ``u``."""
    seen: set[int] = set()
    stack = [u]
    while stack:
        v = stack.pop()
        k = int(v) & ~1
        if k in seen or v.var is None:
            continue
        seen.add(k)
        stack.extend((v.low, v.high))
    return len(seen)


def _closure(comp, u, x: np.ndarray, index: dict[str, int]):
    """``G(u)``: the sets of dropped bits under which some member of ``u`` differs from ``x`` only there."""
    bdd = comp.bdd
    memo: dict[int, object] = {}
    stack = [(u, False)]
    while stack:
        v, expanded = stack.pop()
        k = int(v)
        if k in memo:
            continue
        if v.var is None:
            memo[k] = v
            continue
        lo, hi = _children(v)
        if not expanded:
            stack.append((v, True))
            stack.extend((c, False) for c in (lo, hi) if int(c) not in memo)
            continue
        g0, g1 = memo[int(lo)], memo[int(hi)]
        keep = g1 if x[index[v.var]] else g0
        with comp.guard():
            memo[k] = bdd.ite(bdd.var(v.var), g0 | g1, keep)
    return memo[int(u)]


def min_reason(comp, plan, bad, x: np.ndarray) -> tuple[tuple[int, ...], int]:
    """A smallest set of free bits whose values in ``x`` exclude ``bad``; and the size of the BDD used.

    Returns ``(kept bits, nodes of the BDD of sufficient sets)``.
    """
    index = {_name(comp, i): i for i in range(comp.n)}
    free = list(plan.free)
    pos = {_name(comp, i): p for p, i in enumerate(free)}
    m = len(free)
    not_suff = _closure(comp, bad, x, index)
    suff = ~not_suff
    if suff == comp.bdd.false:
        raise InternalError("internal error: not even every free bit is a sufficient reason")
    NEG = -1
    best: dict[int, tuple[int, int]] = {}  # node -> (most dropped bits below, choice)

    def position(v) -> int:
        return m if v.var is None else pos[v.var]

    def edge(ch, from_p: int) -> int:
        if ch.var is None:
            return (m - from_p) if not (int(ch) & 1) else NEG
        b = best[int(ch)][0]
        return NEG if b == NEG else b + (position(ch) - from_p)

    stack = [(suff, False)]
    while stack:
        v, expanded = stack.pop()
        if v.var is None or int(v) in best:
            continue
        lo, hi = _children(v)
        if not expanded:
            stack.append((v, True))
            stack.extend((c, False) for c in (lo, hi) if c.var is not None and int(c) not in best)
            continue
        p = position(v)
        a, b = edge(lo, p + 1), edge(hi, p + 1)
        b = NEG if b == NEG else b + 1
        best[int(v)] = (a, 0) if a >= b else (b, 1)
    dropped: set[int] = set()
    v, p = suff, 0
    while v.var is not None:
        q = position(v)
        dropped.update(free[p:q])  # skipped levels: drop them too
        choice = best[int(v)][1]
        lo, hi = _children(v)
        if choice:
            dropped.add(free[q])
        v, p = (hi if choice else lo), q + 1
    dropped.update(free[p:])
    kept = tuple(sorted(i for i in free if i not in dropped))
    term = {i: int(x[i]) for i in kept}
    if cofactor(comp, bad, term) != comp.bdd.false:
        raise InternalError("internal error: the cardinality-minimal reason is not sufficient")
    return kept, node_count(suff)


def essential_literals(comp, plan, good) -> dict[int, int]:
    """Literals ``{i: a}`` shared by every prime implicant of ``good`` (a non-empty subset of the care set)."""
    bdd = comp.bdd
    care = plan.care
    out: dict[int, int] = {}
    with comp.guard():
        outside = ~care | good
        for i in plan.free:
            v = bdd.var(_name(comp, i))
            if good & v == bdd.false:
                a = 0
            elif good & ~v == bdd.false:
                a = 1
            else:
                continue
            if care == bdd.true or (bdd.forall([_name(comp, i)], outside) & bdd.exist([_name(comp, i)], care)) == bdd.false:
                out[int(i)] = a
    return out


def _lift(M: list[int], s: int) -> list[int]:
    """Skip ``s`` variables outside the coalition question: multiply by ``2^s (1 + t)^s``."""
    if s == 0:
        return M
    out = [0] * (len(M) + s)
    for j in range(s + 1):
        c = comb(s, j) << s
        for k, v in enumerate(M):
            if v:
                out[k + j] += c * v
    return out


def shapley_numerators(comp, plan, good, x: np.ndarray) -> tuple[dict[int, "tuple[list[int], list[int]]"], int]:
    """Per free bit i: ``(M_in, M_out)``, the coalition sums scaled by ``2^m``; and ``m``.

    ``M_in[k] = 2^m Σ_{S ⊆ free∖{i}, |S|=k} v(S ∪ {i})`` and ``M_out[k]`` the same
    with ``v(S)``, where ``v(S) = P_z(good(z) | z_S = x_S)`` for ``z`` uniform
    over the free bits (a cube: a product distribution).
    """
    if plan.care != comp.bdd.true:
        raise RegionError("Shapley values on the BDD: the region must be a cube or the whole space "
                          "(the uniform distribution on it is a product distribution)")
    free = list(plan.free)
    m = len(free)
    pos = {_name(comp, i): p for p, i in enumerate(free)}

    def position(v) -> int:
        return m if v.var is None else pos[v.var]

    base: dict[int, list[int]] = {}

    def value(v, memo, special: int | None, mode: int | None) -> list[int]:
        """``M`` of the function ``v`` (complement included) over the positions at and below it."""
        stack = [(v, False)]
        while stack:
            u, expanded = stack.pop()
            ku = int(u) & ~1
            if ku in memo:
                continue
            if u.var is None:
                memo[ku] = [1]
                continue
            p = position(u)
            if special is not None and p > special and ku in base:
                memo[ku] = base[ku]
                continue
            lo, hi = u.low, u.high  # regular node's children
            if not expanded:
                stack.append((u, True))
                stack.extend((c, False) for c in (lo, hi) if (int(c) & ~1) not in memo)
                continue
            L = edge(lo, p + 1, memo, special)
            H = edge(hi, p + 1, memo, special)
            keep = H if x[free[p]] else L
            size = max(len(L), len(H)) + 1
            M = [0] * size
            for k, val in enumerate(L):
                M[k] += val
            for k, val in enumerate(H):
                M[k] += val
            if special is not None and p == special:
                M = [0] * max(len(keep), size - 1)
                for k, val in enumerate(keep):
                    M[k] += 2 * val
                if mode == 0:
                    M = [0] * max(len(L), len(H))
                    for k, val in enumerate(L):
                        M[k] += val
                    for k, val in enumerate(H):
                        M[k] += val
            else:
                for k, val in enumerate(keep):
                    M[k + 1] += 2 * val
            memo[ku] = M
        return edge(v, 0, memo, special)

    def edge(ch, from_p: int, memo, special) -> list[int]:
        p = position(ch)
        M = memo[int(ch) & ~1] if ch.var is not None else [1]
        width = m - p  # variables at and below the child
        has_special = special is not None and special >= p
        if int(ch) & 1:  # complement: C(|V|, k) - M, scaled (V without the special player)
            w = width - 1 if has_special else width
            M = [(comb(w, k) << width) - (M[k] if k < len(M) else 0) for k in range(w + 1)]
        s = p - from_p
        if special is not None and from_p <= special < p:  # the player skipped: factor 2, no shift
            M = [2 * v for v in _lift(M, s - 1)]
        else:
            M = _lift(M, s)
        return M

    value(good, base, None, None)
    out: dict[int, tuple[list[int], list[int]]] = {}
    for p, i in enumerate(free):
        in_memo: dict[int, list[int]] = {}
        out_memo: dict[int, list[int]] = {}
        M_in = value(good, in_memo, p, 1)
        M_out = value(good, out_memo, p, 0)
        out[int(i)] = (M_in, M_out)
    return out, m


def flip_changes(comp, plan, class_sets: Sequence[object]) -> dict[int, int]:
    """Per free bit: exact number of region members whose class changes when the bit is flipped."""
    if plan.care != comp.bdd.true:
        raise RegionError("influence: the region must be a cube or the whole space "
                          "(flipping a bit of a Hamming-ball member can leave the ball)")
    bdd = comp.bdd
    counter = comp.counter()
    out: dict[int, int] = {}
    for i in plan.free:
        name = _name(comp, i)
        with comp.guard():
            changed = bdd.false
            for X in class_sets:
                if X == bdd.false:
                    continue
                flipped = bdd.let({name: ~bdd.var(name)}, X)
                changed = changed | (X & ~flipped)
        out[int(i)] = comp.count_inputs(changed, plan, counter)
    return out
