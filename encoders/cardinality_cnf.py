"""Cardinality constraints as CNF: reified thresholds and exact unary counters.

A neuron is an *equivalence* ``y <-> sum(lits) >= t``; PySAT's ``CardEnc``
constraints are hard, so each direction is encoded as a hard constraint whose
every clause is weakened by the code literal (``y -> sum >= t`` is
``atleast(lits, t)`` with ``-y`` added to each clause, ``-y -> sum <= t-1``
is ``atmost(lits, t-1)`` with ``y`` added). ``native`` keeps both directions
as Minicard/Gluecard at-most constraints (the code literal is repeated
through fresh copies so that it can relax the bound). ``unary`` is this
module's own exact totalizer, capped at the bound: its output ``o_t`` *is*
``sum >= t`` in both directions, so the neuron is ``y <-> o_t``.

>>> from pysat.formula import IDPool
>>> sink = ClauseSink(IDPool(start_from=4))
>>> outs = unary_counter(sink, [1, 2, 3], 3)
>>> len(outs)
3
>>> resolve_encoding("seq")
'seqcounter'
"""

from __future__ import annotations

from typing import Sequence

from pysat.card import CardEnc, EncType
from pysat.formula import IDPool

from .registry import NameRegistry
from .errors import UsageError

__all__ = [
    "ENCODINGS",
    "DEFAULT_ENCODING",
    "resolve_encoding",
    "ClauseSink",
    "unary_counter",
    "reified_atleast",
]

#: Offered neuron encodings: name -> aliases. PySAT ``CardEnc`` encodings,
#: ``native`` (Minicard/Gluecard at-most constraints) and ``unary`` (exact
#: capped totalizer of this module).
ENCODINGS: dict[str, tuple[str, ...]] = {
    "unary": ("utotalizer", "exact-totalizer"),
    "seqcounter": ("seq", "sequential", "sequential-counter"),
    "sortnetwrk": ("sortnet", "sorting-network", "sortnetwork"),
    "cardnetwrk": ("cardnet", "cardinality-network", "cardnetwork"),
    "totalizer": ("tot",),
    "mtotalizer": ("mtot", "modulo-totalizer"),
    "kmtotalizer": ("kmtot", "kmodulo-totalizer"),
    "native": ("minicard", "atmost"),
}

#: The default neuron encoding, chosen by measurement (benchmarks/results/cnf.md).
DEFAULT_ENCODING = "unary"

_PYSAT_TYPES = {
    "seqcounter": EncType.seqcounter,
    "sortnetwrk": EncType.sortnetwrk,
    "cardnetwrk": EncType.cardnetwrk,
    "totalizer": EncType.totalizer,
    "mtotalizer": EncType.mtotalizer,
    "kmtotalizer": EncType.kmtotalizer,
}

_REGISTRY = NameRegistry("cardinality encoding", ENCODINGS, DEFAULT_ENCODING)


def resolve_encoding(name: str | None) -> str:
    """The canonical encoding name for ``name`` (``None`` -> :data:`DEFAULT_ENCODING`)."""
    return _REGISTRY.resolve(name)


class ClauseSink:
    """Collects clauses and native at-most constraints over one ``IDPool``.

    It owns a variable that is always true (``true_lit``); constant literals
    (``true_lit``/``-true_lit``) are simplified away as clauses are added.
    """

    def __init__(self, pool: IDPool) -> None:
        self.pool = pool
        self.clauses: list[list[int]] = []
        self.atmosts: list[tuple[list[int], int]] = []
        self.true_lit = pool.id(("const", "true"))
        self.clauses.append([self.true_lit])

    def new_var(self) -> int:
        return self.pool.id()

    def add(self, clause: Sequence[int]) -> None:
        """Add a clause; a clause with a true literal is dropped, false ones removed."""
        t = self.true_lit
        out = []
        for lit in clause:
            if lit == t:
                return
            if lit != -t:
                out.append(int(lit))
        if not out:
            out = [-t]  # the empty clause: the formula is unsatisfiable
        self.clauses.append(out)

    def equiv(self, a: int, b: int) -> None:
        """``a <-> b``."""
        self.add([-a, b])
        self.add([a, -b])


def _merge(sink: ClauseSink, a: list[int], b: list[int], cap: int) -> list[int]:
    """Totalizer node: exact unary sum of two exact unary inputs, capped at ``cap``."""
    size = min(len(a) + len(b), cap)
    r = [sink.new_var() for _ in range(size)]
    add = sink.clauses.append
    la, lb = len(a), len(b)
    for i in range(la + 1):
        for j in range(lb + 1):
            s = i + j
            if 1 <= s <= size:  # a >= i and b >= j -> r >= i + j
                cl = [r[s - 1]]
                if i:
                    cl.append(-a[i - 1])
                if j:
                    cl.append(-b[j - 1])
                add(cl)
            if s + 1 <= size:  # a <= i and b <= j -> r <= i + j
                cl = [-r[s]]
                if i < la:
                    cl.append(a[i])
                if j < lb:
                    cl.append(b[j])
                add(cl)
    return r


def unary_counter(sink: ClauseSink, lits: Sequence[int], cap: int) -> list[int]:
    """Outputs ``o`` with ``o[j-1] <-> sum(lits) >= j`` for ``j = 1..min(cap, len(lits))``.

    An exact totalizer (both directions at every node) capped at ``cap``:
    a node keeps only its first ``cap`` outputs.
    """
    lits = [int(l) for l in lits]
    if cap <= 0 or not lits:
        return []
    if len(lits) == 1:
        return lits[:1]
    mid = len(lits) // 2
    return _merge(sink, unary_counter(sink, lits[:mid], cap), unary_counter(sink, lits[mid:], cap), cap)


def reified_atleast(sink: ClauseSink, y: int, lits: Sequence[int], t: int, encoding: str) -> None:
    """``y <-> sum(lits) >= t`` for ``1 <= t <= len(lits)`` with the named encoding."""
    lits = [int(l) for l in lits]
    n = len(lits)
    if not 1 <= t <= n:
        raise UsageError(f"reified_atleast: bound {t} outside 1..{n} (fold constants first)")
    if encoding == "unary":
        if t <= n - t + 1:
            outs = unary_counter(sink, lits, t)
            sink.equiv(y, outs[t - 1])
        else:  # count the negations: sum(-lits) >= n - t + 1 <-> -y
            outs = unary_counter(sink, [-l for l in lits], n - t + 1)
            sink.equiv(-y, outs[n - t])
        return
    if encoding == "native":
        # y -> sum(-lits) <= n - t   as   sum(-lits) + t*[y] <= n
        ys = [sink.new_var() for _ in range(t)]
        for c in ys:
            sink.equiv(c, y)
        sink.atmosts.append(([-l for l in lits] + ys, n))
        # -y -> sum(lits) <= t - 1  as   sum(lits) + (n-t+1)*[-y] <= n
        zs = [sink.new_var() for _ in range(n - t + 1)]
        for c in zs:
            sink.equiv(c, -y)
        sink.atmosts.append((lits + zs, n))
        return
    etype = _PYSAT_TYPES[encoding]
    pool = sink.pool
    add = sink.clauses.append
    for cl in CardEnc.atleast(lits=lits, bound=t, vpool=pool, encoding=etype).clauses:
        add(cl + [-y])
    for cl in CardEnc.atmost(lits=lits, bound=t - 1, vpool=pool, encoding=etype).clauses:
        add(cl + [y])


def atmost(sink: ClauseSink, lits: Sequence[int], k: int, encoding: str) -> None:
    """The hard constraint ``sum(lits) <= k`` with the named encoding."""
    lits = [int(l) for l in lits]
    if k >= len(lits):
        return
    if k < 0:
        sink.add([])
        return
    if encoding == "native":
        sink.atmosts.append((lits, k))
    elif encoding == "unary":
        outs = unary_counter(sink, lits, k + 1)
        sink.add([-outs[k]])
    else:
        for cl in CardEnc.atmost(lits=lits, bound=k, vpool=sink.pool, encoding=_PYSAT_TYPES[encoding]).clauses:
            sink.clauses.append(cl)
