"""BDDs of linear threshold tests over bits: ``sum_i c_i * x_i >= b`` with integer ``c_i``.

The function of the variables below level ``i``, as a function of the sum
``s`` of the levels above, is monotone in ``s``: a step function with a few
breakpoints. It is built bottom-up as a sorted list of breakpoints
``(s_min, node)`` — ``g_i(s) = ite(x_i, g_{i+1}(s + c_i), g_{i+1}(s))`` has
its breakpoints among ``{t, t - c_i}`` for the breakpoints ``t`` of
``g_{i+1}``, restricted to the sums the levels above can reach — so each
level costs one ``ite`` per distinct sub-function, with no recursion (a
lowered 784-pixel box has thousands of levels). For ±1 coefficients this is
the classic cardinality BDD; 0 coefficients are skipped.

``tick`` is called once per level (budget and deadline checks).

Rejected: memoising ``(level, sum)`` top-down — as many entries as reachable
sums per level, most of which share a node, and a recursion as deep as the
number of variables.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Callable, Sequence

__all__ = ["linear_bdd"]


def linear_bdd(bdd, terms: Sequence[tuple[str, int]], bound: int, tick: Callable[[], None] | None = None):
    """``sum c * x >= bound`` over ``terms`` = [(variable, c)], the variables listed top level first.

    >>> from dd import autoref
    >>> b = autoref.BDD(); b.declare("a", "b", "c")
    >>> u = linear_bdd(b, [("a", 2), ("b", -1), ("c", 1)], 2)
    >>> sorted(tuple(sorted(k for k, v in m.items() if v)) for m in b.pick_iter(u, care_vars=["a", "b", "c"]))
    [('a',), ('a', 'b', 'c'), ('a', 'c')]
    """
    terms = [(v, int(c)) for v, c in terms if int(c) != 0]
    n = len(terms)
    bound = int(bound)
    # reachable sums of the levels above level i: [lo[i], hi[i]]
    lo = [0] * (n + 1)
    hi = [0] * (n + 1)
    for i, (_, c) in enumerate(terms):
        lo[i + 1] = lo[i] + min(c, 0)
        hi[i + 1] = hi[i] + max(c, 0)
    # g_n(s) = [s >= bound]: breakpoints as parallel lists (starts, nodes), starts[0] = -inf
    NEG = float("-inf")
    starts: list[float] = [NEG]
    nodes = [bdd.false]
    if bound <= hi[n]:
        if bound <= lo[n]:
            nodes = [bdd.true]
        else:
            starts, nodes = [NEG, bound], [bdd.false, bdd.true]
    for i in range(n - 1, -1, -1):
        if tick is not None:
            tick()
        var, c = terms[i]
        a, z = lo[i], hi[i]
        cand = {a}
        for t in starts[1:]:
            for s in (t, t - c):
                if a < s <= z:
                    cand.add(int(s))
        x = bdd.var(var)
        new_starts: list[float] = []
        new_nodes: list = []
        for s in sorted(cand):
            high = nodes[bisect_right(starts, s + c) - 1]
            low = nodes[bisect_right(starts, s) - 1]
            u = low if high == low else bdd.ite(x, high, low)
            if new_nodes and new_nodes[-1] == u:
                continue
            new_starts.append(s)
            new_nodes.append(u)
        new_starts[0] = NEG
        starts, nodes = new_starts, new_nodes
    return nodes[bisect_right(starts, 0) - 1]
