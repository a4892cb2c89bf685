"""Exact model counting and path enumeration over ``dd.cudd`` BDDs, in Python ints.

``dd.cudd``'s own ``count`` is CUDD's ``Cudd_CountMinterm``: a C ``double``,
exact only while every intermediate value fits 53 bits (and infinite past
2^1023). Counts here are exact however large: a memoized walk over the BDD's
nodes (``low``, ``high``, ``level``, complemented edges) with Python ints.

Conventions of ``dd.cudd`` this relies on (checked by the tests):

* ``int(u)`` is the node's address with the complement flag in bit 0, so
  ``int(u) & ~1`` identifies the regular node and ``int(u) & 1`` says whether
  the edge is complemented;
* ``u.low`` / ``u.high`` are the children of the *regular* node (a
  complemented edge negates the whole function below it);
* the one constant node is TRUE (``bdd.false`` is its complement) and has
  a level past every variable.

Counting is over the variables at levels ``lo .. hi-1`` (a contiguous band of
the order); the function's support must lie in that band.

>>> import dd.cudd as cudd
>>> b = cudd.BDD(); _ = b.configure(reordering=False); b.declare("a", "b", "c")
>>> exact_count(b.add_expr("a \\\\/ b"), 0, 3)
6
>>> exact_count(b.false, 0, 3), exact_count(b.true, 0, 200) == 2**200
(0, True)
"""

from __future__ import annotations

from typing import Iterator, Sequence
from .errors import UsageError

__all__ = ["exact_count", "ExactCounter", "iter_level_paths"]


class ExactCounter:
    """Exact counts over the levels ``lo .. hi-1``, memoized across calls.

    Reuse one counter for several functions that share nodes (e.g. the
    per-class subsets of one relation): shared sub-BDDs are counted once.
    The memo is keyed by node addresses, so the counter keeps every counted
    function referenced: no counted node can be freed and its address reused
    while the counter lives.
    """

    def __init__(self, lo: int, hi: int) -> None:
        if not 0 <= lo <= hi:
            raise UsageError(f"count band: need 0 <= lo <= hi, got lo={lo}, hi={hi}")
        self.lo = int(lo)
        self.hi = int(hi)
        # regular node id -> models of the regular node over levels [level, hi)
        self._memo: dict[int, int] = {}
        self._alive: list[object] = []

    def _level(self, u) -> int:
        lv = u.level
        if u.var is None:  # the constant node
            return self.hi
        if not self.lo <= lv < self.hi:
            raise UsageError(
                f"count band: the function depends on the variable {u.var!r} at level {lv}, "
                f"outside the counted levels {self.lo}..{self.hi - 1}"
            )
        return lv

    def _regular_count(self, u) -> int:
        """Models over [level(u), hi) of the *regular* node of ``u``."""
        memo = self._memo
        key = int(u) & ~1
        if key in memo:
            return memo[key]
        # iterative post-order walk (BDDs can be deeper than Python's recursion limit)
        stack = [(u, False)]
        while stack:
            v, expanded = stack.pop()
            k = int(v) & ~1
            if k in memo:
                continue
            if v.var is None:
                memo[k] = 1  # regular constant = TRUE, at level hi
                continue
            lo_child, hi_child = v.low, v.high
            if not expanded:
                stack.append((v, True))
                for ch in (lo_child, hi_child):
                    if (int(ch) & ~1) not in memo:
                        stack.append((ch, False))
                continue
            lv = self._level(v)
            memo[k] = self._edge(lo_child, lv + 1) + self._edge(hi_child, lv + 1)
        return memo[key]

    def _edge(self, ch, from_level: int) -> int:
        """Models over [from_level, hi) of the function the edge ``ch`` points to."""
        lv = self._level(ch)
        c = self._memo[int(ch) & ~1]
        if int(ch) & 1:
            c = (1 << (self.hi - lv)) - c
        return c << (lv - from_level)

    def count(self, u) -> int:
        """Exact number of assignments of the levels ``lo .. hi-1`` satisfying ``u``."""
        if u.var is None:
            return (1 << (self.hi - self.lo)) if not (int(u) & 1) else 0
        self._alive.append(u)
        self._regular_count(u)
        return self._edge(u, self.lo)


def exact_count(u, lo: int, hi: int) -> int:
    """Exact models of ``u`` over the variables at levels ``lo .. hi-1`` (a Python int)."""
    return ExactCounter(lo, hi).count(u)


def iter_level_paths(u, levels: Sequence[int]) -> Iterator[tuple[tuple[int, ...], object]]:
    """Every assignment of the variables at ``levels`` under which ``u`` is not FALSE.

    ``levels`` must be increasing and lie above every other variable of
    ``u``'s support. Yields ``(bits, rest)``: ``bits[i]`` is the value of the
    variable at ``levels[i]``; ``rest`` is the cofactor of ``u`` (a function
    of the variables below). A selected level the BDD skips on a path takes
    both values. Only reachable (non-FALSE) assignments are produced, so this
    enumerates e.g. the reachable codes of a layer whose variables sit above
    the inputs.
    """
    levels = list(levels)
    if any(b <= a for a, b in zip(levels, levels[1:])):
        raise UsageError(f"level paths: levels must be increasing, got {levels}")
    m = len(levels)
    stack: list[tuple[object, int, tuple[int, ...]]] = [(u, 0, ())]
    while stack:
        v, p, prefix = stack.pop()
        if v.var is None and (int(v) & 1):
            continue  # FALSE
        if p == m:
            yield prefix, v
            continue
        want = levels[p]
        vl = v.level if v.var is not None else None
        if vl is None or vl > want:  # skipped selected variable: both values
            stack.append((v, p + 1, prefix + (1,)))
            stack.append((v, p + 1, prefix + (0,)))
            continue
        if vl < want:
            raise UsageError(
                f"level paths: variable {v.var!r} at level {vl} is above the selected level {want} "
                "but not selected"
            )
        lo_ch, hi_ch = v.low, v.high
        if int(v) & 1:
            lo_ch, hi_ch = ~lo_ch, ~hi_ch
        stack.append((hi_ch, p + 1, prefix + (1,)))
        stack.append((lo_ch, p + 1, prefix + (0,)))
