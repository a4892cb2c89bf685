"""Counter-based BDD constructions: thresholds, symmetric functions, Hamming balls.

A BNN neuron is a threshold on the number of agreeing literals: with ``a``
the number of inputs ``i`` with ``x_i == (W_i == +1)``, the dot product is
``2a - n``, so ``W . s(x) >= theta`` iff ``a >= ceil((n + theta) / 2)``.
Such a function has a BDD whose nodes are (position, count so far); states
whose outcome no longer depends on the remaining literals collapse to a
constant, so "at least k of n" has O(k·(n−k+1)) nodes and is constant when
k <= 0 or k > n.

The builders here work bottom-up with ``ite`` on a top variable over variables given
in level order (top first), so every node is created once, in O(1), without
``apply``: a forward pass collects the reachable undecided states, a
backward pass creates their nodes.

* :func:`counter_bdd` — any function of the counts of true literals in up to
  two groups (a table over (count in group A, count in group B)); the
  argmax layer's pairwise comparisons use two groups (positions where two
  weight rows agree / differ).
* :func:`ball_bdd` / :func:`ball_threshold_bdd` — a Hamming ball over some
  variables, and a threshold neuron conjoined with it in one pass (state
  (flips used, agreements so far)), which keeps the product at
  O(n·r²) nodes instead of conjoining a large neuron BDD with the ball.

>>> import dd.cudd as cudd
>>> b = cudd.BDD(); _ = b.configure(reordering=False); b.declare("x", "y", "z")
>>> lits = [("x", True), ("y", True), ("z", False)]
>>> u = counter_bdd(b, lits, [0, 0, 0], [[False], [False], [True], [True]])  # at least 2
>>> u == b.add_expr("(x /\\\\ y) \\\\/ (x /\\\\ ~z) \\\\/ (y /\\\\ ~z)")
True
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from .errors import UsageError

__all__ = ["node", "agreement_threshold", "counter_bdd", "ball_bdd", "ball_threshold_bdd"]


def agreement_threshold(n: int, theta: int) -> int:
    """Least number of agreeing literals (of ``n``) with ``2a - n >= theta``.

    >>> agreement_threshold(4, 0), agreement_threshold(4, 1), agreement_threshold(3, -10)
    (2, 3, -3)
    """
    return -((-(n + int(theta))) // 2)


def node(bdd, var: str, low, high):
    """``IF var THEN high ELSE low`` for ``var`` above both children.

    Uses ``ite`` rather than ``find_or_add``: ``dd.cudd``'s ``find_or_add``
    passes a complemented ``high`` straight to ``cuddUniqueInter``, which
    breaks CUDD's canonical form; ``ite`` normalises complement edges and
    ``low == high``, in O(1) when ``var`` lies above both children.
    """
    return bdd.ite(bdd.var(var), high, low)


def _rect_constant(prefix: np.ndarray, a0: int, a1: int, b0: int, b1: int) -> int | None:
    """1/0 if the 0/1 table is constant on rows a0..a1, cols b0..b1 (inclusive), else None."""
    s = prefix[a1 + 1, b1 + 1] - prefix[a0, b1 + 1] - prefix[a1 + 1, b0] + prefix[a0, b0]
    area = (a1 - a0 + 1) * (b1 - b0 + 1)
    if s == 0:
        return 0
    if s == area:
        return 1
    return None


def counter_bdd(bdd, literals: Sequence[tuple[str, bool]], groups: Sequence[int], table) -> object:
    """The function ``table[#true literals in group 0][#true literals in group 1]``.

    ``literals`` are ``(variable, polarity)`` in level order (top first): the
    literal is true when the variable equals ``polarity``. ``groups[i]`` (0 or
    1) is literal i's group. ``table`` has shape ``(n0 + 1, n1 + 1)`` (0/1).
    """
    tab = np.asarray(table, dtype=np.int64)
    n = len(literals)
    g = [int(x) for x in groups]
    n0, n1 = g.count(0), g.count(1)
    if tab.shape != (n0 + 1, n1 + 1):
        raise UsageError(f"counter table: shape {tab.shape}, expected {(n0 + 1, n1 + 1)}")
    prefix = np.zeros((n0 + 2, n1 + 2), dtype=np.int64)
    prefix[1:, 1:] = tab.cumsum(0).cumsum(1)
    rem0 = [0] * (n + 1)
    rem1 = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        rem0[i] = rem0[i + 1] + (g[i] == 0)
        rem1[i] = rem1[i + 1] + (g[i] == 1)

    def const(i: int, a: int, b: int) -> int | None:
        return _rect_constant(prefix, a, a + rem0[i], b, b + rem1[i])

    true, false = bdd.true, bdd.false
    c0 = const(0, 0, 0)
    if c0 is not None:
        return true if c0 else false
    # forward: undecided states per position
    levels: list[set[tuple[int, int]]] = [set() for _ in range(n + 1)]
    levels[0].add((0, 0))
    for i in range(n):
        nxt = levels[i + 1]
        d0, d1 = (1, 0) if g[i] == 0 else (0, 1)
        for a, b in levels[i]:
            for st in ((a, b), (a + d0, b + d1)):
                if const(i + 1, *st) is None:
                    nxt.add(st)
    # backward: build nodes
    below: dict[tuple[int, int], object] = {}
    for i in range(n - 1, -1, -1):
        var, pol = literals[i]
        d0, d1 = (1, 0) if g[i] == 0 else (0, 1)
        here: dict[tuple[int, int], object] = {}

        def child(st: tuple[int, int]) -> object:
            c = const(i + 1, *st)
            if c is None:
                return below[st]
            return true if c else false

        for a, b in levels[i]:
            lit_true = child((a + d0, b + d1))
            lit_false = child((a, b))
            hi, lo = (lit_true, lit_false) if pol else (lit_false, lit_true)
            here[(a, b)] = node(bdd, var, lo, hi)
        below = here
    return below[(0, 0)]


class BallBuilder:
    """Hamming balls over ``variables`` (level order) around ``center``, shared per radius.

    ``rest(i, budget)`` is the set of assignments of variables ``i..`` that
    differ from the centre in at most ``budget`` positions.
    """

    def __init__(self, bdd, variables: Sequence[str], center: Sequence[int], radius: int) -> None:
        self.bdd = bdd
        self.vars = list(variables)
        self.center = [int(c) for c in center]
        self.radius = int(radius)
        n = len(self.vars)
        self._rest: list[list[object]] = [[bdd.true] * (self.radius + 1) for _ in range(n + 1)]
        for i in range(n - 1, -1, -1):
            row = self._rest[i]
            nxt = self._rest[i + 1]
            for budget in range(self.radius + 1):
                same = nxt[budget]
                flip = nxt[budget - 1] if budget > 0 else bdd.false
                if self.center[i]:
                    row[budget] = node(bdd, self.vars[i], flip, same)
                else:
                    row[budget] = node(bdd, self.vars[i], same, flip)

    def rest(self, i: int, budget: int) -> object:
        return self._rest[i][budget]

    @property
    def ball(self) -> object:
        return self._rest[0][self.radius]


def ball_bdd(bdd, variables: Sequence[str], center: Sequence[int], radius: int) -> object:
    """Assignments of ``variables`` (level order) within Hamming distance ``radius`` of ``center``."""
    return BallBuilder(bdd, variables, center, radius).ball


def ball_threshold_bdd(builder: BallBuilder, agree_value: Sequence[int], k: int) -> object:
    """Members of the ball with at least ``k`` positions ``i`` where ``x_i == agree_value[i]``.

    One pass over states (position, flips used, agreements so far); a state
    whose every completion inside the ball is decided becomes the ball's
    remainder (all pass) or FALSE (none pass).
    """
    bdd = builder.bdd
    vars_, center, r = builder.vars, builder.center, builder.radius
    n = len(vars_)
    agree_c = [int(center[i] == int(agree_value[i])) for i in range(n)]
    rem_agree = [0] * (n + 1)  # centre agreements among positions i..
    for i in range(n - 1, -1, -1):
        rem_agree[i] = rem_agree[i + 1] + agree_c[i]
    rem_n = [n - i for i in range(n + 1)]

    def status(i: int, f: int, a: int) -> int | None:
        """1: every ball completion passes; 0: none does; None: undecided."""
        left = r - f
        base = a + rem_agree[i]
        lo = base - min(left, rem_agree[i])
        hi = base + min(left, rem_n[i] - rem_agree[i])
        if lo >= k:
            return 1
        if hi < k:
            return 0
        return None

    def leaf(i: int, f: int, s: int) -> object:
        return builder.rest(i, r - f) if s else bdd.false

    s0 = status(0, 0, 0)
    if s0 is not None:
        return leaf(0, 0, s0)
    levels: list[set[tuple[int, int]]] = [set() for _ in range(n + 1)]
    levels[0].add((0, 0))
    for i in range(n):
        nxt = levels[i + 1]
        for f, a in levels[i]:
            succ = [(f, a + agree_c[i])]
            if f < r:
                succ.append((f + 1, a + 1 - agree_c[i]))
            for st in succ:
                if status(i + 1, *st) is None:
                    nxt.add(st)
    below: dict[tuple[int, int], object] = {}
    for i in range(n - 1, -1, -1):
        here: dict[tuple[int, int], object] = {}
        for f, a in levels[i]:
            def child(st: tuple[int, int]) -> object:
                s = status(i + 1, *st)
                return below[st] if s is None else leaf(i + 1, st[0], s)

            same = child((f, a + agree_c[i]))
            flip = child((f + 1, a + 1 - agree_c[i])) if f < r else bdd.false
            if center[i]:
                here[(f, a)] = node(bdd, vars_[i], flip, same)
            else:
                here[(f, a)] = node(bdd, vars_[i], same, flip)
        below = here
    return below[(0, 0)]
