"""SAT solvers by name, with wall-clock limits that hold for every solver.

The registry :data:`SOLVERS` maps each offered PySAT solver's canonical name
to its aliases; :func:`resolve_solver` turns any of them into the canonical
name or raises :class:`~bnnverify.encoders.errors.SolverError` listing the valid names.

A time limit must really hold: CaDiCaL 1.9.5 ignores ``interrupt()``, so a
solve with a timeout runs in a worker *process* (``fork``: the clauses are
inherited, not pickled) that is killed at the deadline, and the answer is
:attr:`SatStatus.TIMEOUT`. Without a timeout the solver runs in-process.
Either way a :class:`SolverSession` is incremental: clauses can be added and
many calls made with different assumptions against one formula. Kissat does
not support assumptions or incremental use, so for it every call builds a
fresh solver with the assumptions as unit clauses.

>>> with SolverSession("glucose4", [[1, 2], [-1]]) as s:
...     s.solve().status, s.solve([-2]).status
(<SatStatus.SAT: 'sat'>, <SatStatus.UNSAT: 'unsat'>)
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Sequence

import numpy as np
from pysat.solvers import Solver

from .errors import SolverError
from .registry import NameRegistry

__all__ = [
    "SatStatus",
    "SOLVERS",
    "NATIVE_CARD_SOLVERS",
    "NON_INCREMENTAL_SOLVERS",
    "INTERRUPTIBLE_SOLVERS",
    "DEFAULT_SOLVER",
    "resolve_solver",
    "SolveOutcome",
    "SolverSession",
    "solve_once",
]


class SatStatus(Enum):
    """The outcome of one satisfiability call."""

    SAT = "sat"
    UNSAT = "unsat"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


#: Offered solvers: canonical PySAT name -> accepted aliases (case-insensitive).
SOLVERS: dict[str, tuple[str, ...]] = {
    "cadical195": ("cadical", "cd19", "cd195", "cdl19", "cdl195"),
    "cadical153": ("cd15", "cd153", "cdl15", "cdl153"),
    "cadical300": ("cd30", "cd300", "cdl30", "cdl300"),
    "glucose3": ("g3", "g30", "glucose30"),
    "glucose4": ("glucose", "g4", "g41", "glucose41"),
    "glucose42": ("g42", "g421", "glucose421"),
    "minisat22": ("minisat", "m22", "msat22"),
    "maplechrono": ("mcb", "chrono", "chronobt"),
    "mergesat3": ("mg3", "mgs3", "mergesat", "mergesat30"),
    "lingeling": ("lgl",),
    "minicard": ("mc", "mcard"),
    "gluecard3": ("gc3", "gc30", "gluecard30"),
    "gluecard4": ("gluecard", "gc4", "gc41", "gluecard41"),
    "kissat404": ("kissat", "ks", "ks4", "kissat4"),
}

#: Solvers with native at-most-k constraints (``add_atmost``).
NATIVE_CARD_SOLVERS = frozenset({"minicard", "gluecard3", "gluecard4"})

#: Solvers without assumptions / incremental solving (fresh solver per call).
NON_INCREMENTAL_SOLVERS = frozenset({"kissat404"})

#: Solvers measured to stop on ``interrupt()`` during ``solve_limited`` (a
#: pigeonhole formula, 0.3 s timer: all stopped within 0.05 s of it; CaDiCaL
#: 1.5.3/1.9.5/3.0.0 ran on past 8 s, Lingeling has no limited solve). Used
#: only where a worker process cannot be started (inside a daemonic process).
INTERRUPTIBLE_SOLVERS = frozenset(
    {"glucose3", "glucose4", "glucose42", "minisat22", "minicard", "gluecard3", "gluecard4",
     "maplechrono", "mergesat3"}
)

#: The default solver, chosen by measurement (benchmarks/results/cnf.md).
DEFAULT_SOLVER = "glucose4"

#: Seconds to wait for a killed worker to be reaped.
_REAP_SECONDS = 5.0

_REGISTRY = NameRegistry("SAT solver", SOLVERS, DEFAULT_SOLVER)


def resolve_solver(name: str | None) -> str:
    """The canonical solver name for ``name`` (``None`` -> :data:`DEFAULT_SOLVER`).

    >>> resolve_solver("CaDiCaL")
    'cadical195'
    >>> resolve_solver("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnnverify.encoders.errors.SolverError: unknown SAT solver 'nope'; valid names: cadical195, ...
    """
    return _REGISTRY.resolve(name)


@dataclass(frozen=True)
class SolveOutcome:
    """One call's answer: status, the model (if SAT) and wall-clock seconds."""

    status: SatStatus
    model: np.ndarray | None
    seconds: float


def _build(name: str, clauses: Sequence[Sequence[int]], atmosts: Sequence[tuple[Sequence[int], int]]) -> Solver:
    s = Solver(name=name, bootstrap_with=clauses)
    for lits, k in atmosts:
        s.add_atmost(list(lits), int(k))
    return s


def _run(
    name: str,
    clauses: list,
    atmosts: list,
    extra: list,
    assumptions: list[int],
    solver: Solver | None,
) -> tuple[bool | None, np.ndarray | None, Solver | None]:
    """Solve (incrementally if ``solver`` is given and supports it)."""
    if name in NON_INCREMENTAL_SOLVERS:
        with _build(name, clauses, atmosts) as s:
            for c in extra:
                s.add_clause(c)
            for lit in assumptions:
                s.add_clause([lit])
            res = s.solve()
            model = s.get_model() if res else None
        return res, (np.asarray(model, dtype=np.int64) if model is not None else None), None
    if solver is None:
        solver = _build(name, clauses, atmosts)
        for c in extra:
            solver.add_clause(c)
    res = solver.solve(assumptions=assumptions)
    model = solver.get_model() if res else None
    return res, (np.asarray(model, dtype=np.int64) if model is not None else None), solver


def _worker(conn, name: str, clauses: list, atmosts: list) -> None:  # pragma: no cover - child
    """Child process: hold a solver, answer ('add', clauses) and ('solve', assumptions)."""
    extra: list = []
    solver: Solver | None = None
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "add":
                extra.extend(msg[1])
                if solver is not None:
                    for c in msg[1]:
                        solver.add_clause(c)
            elif msg[0] == "solve":
                res, model, solver = _run(name, clauses, atmosts, extra, msg[1], solver)
                conn.send((res, None if model is None else model.astype(np.int32).tobytes()))
            else:
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        conn.close()


class SolverSession:
    """An incremental solver over one formula; :meth:`solve` takes a timeout.

    ``clauses`` (lists of ints) and ``atmosts`` (``(lits, k)`` pairs, only for
    :data:`NATIVE_CARD_SOLVERS`) form the formula; :meth:`add_clauses` extends it.
    With a timeout, the call runs in a worker process that is killed at the
    deadline (the next call starts a fresh worker from the formula).
    """

    def __init__(
        self,
        solver: str | None,
        clauses: Iterable[Sequence[int]],
        atmosts: Iterable[tuple[Sequence[int], int]] = (),
    ) -> None:
        self.name = resolve_solver(solver)
        self._clauses = clauses if isinstance(clauses, list) else [list(map(int, c)) for c in clauses]
        self._atmosts = [(list(map(int, l)), int(k)) for l, k in atmosts]
        if self._atmosts and self.name not in NATIVE_CARD_SOLVERS:
            raise SolverError(
                f"solver {self.name!r} has no native cardinality constraints; "
                f"use one of {', '.join(sorted(NATIVE_CARD_SOLVERS))} or a clausal encoding"
            )
        self._extra: list[list[int]] = []
        self._solver: Solver | None = None  # in-process solver
        self._proc = None
        self._conn = None

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> "SolverSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the in-process solver and stop the worker process (if any)."""
        if self._solver is not None:
            self._solver.delete()
            self._solver = None
        self._stop_worker()

    def _stop_worker(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(_REAP_SECONDS)
            self._conn.close()
            self._proc = None
            self._conn = None

    def add_clauses(self, clauses: Iterable[Sequence[int]]) -> None:
        """Add clauses for every later call."""
        new = [list(map(int, c)) for c in clauses]
        self._extra.extend(new)
        if self._solver is not None:
            for c in new:
                self._solver.add_clause(c)
        if self._conn is not None:
            self._conn.send(("add", new))

    # -- solving ---------------------------------------------------------------
    def solve(self, assumptions: Sequence[int] = (), timeout: float | None = None) -> SolveOutcome:
        """Decide the formula under ``assumptions`` within ``timeout`` seconds (wall clock)."""
        start = time.perf_counter()
        assumptions = [int(a) for a in assumptions]
        if timeout is None:
            res, model, self._solver = _run(
                self.name, self._clauses, self._atmosts, self._extra, assumptions, self._solver
            )
            return SolveOutcome(_status(res), model, time.perf_counter() - start)
        if timeout <= 0:
            return SolveOutcome(SatStatus.TIMEOUT, None, 0.0)
        if mp.current_process().daemon:  # no children allowed: interrupt in-process
            return self._solve_interrupted(assumptions, timeout, start)
        if self._proc is None:
            ctx = mp.get_context("fork")
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker, args=(child, self.name, self._clauses, self._atmosts), daemon=True
            )
            proc.start()
            child.close()
            self._proc, self._conn = proc, parent
            if self._extra:
                parent.send(("add", self._extra))
        self._conn.send(("solve", assumptions))
        remaining = timeout - (time.perf_counter() - start)
        if remaining <= 0 or not self._conn.poll(remaining):
            self._stop_worker()
            return SolveOutcome(SatStatus.TIMEOUT, None, time.perf_counter() - start)
        try:
            res, raw = self._conn.recv()
        except (EOFError, OSError) as e:
            code = self._proc.exitcode if self._proc is not None else None
            self._stop_worker()
            raise SolverError(f"solver {self.name!r} worker died (exit code {code}): {e}") from e
        model = None if raw is None else np.frombuffer(raw, dtype=np.int32).astype(np.int64)
        return SolveOutcome(_status(res), model, time.perf_counter() - start)


    def _solve_interrupted(self, assumptions: list[int], timeout: float, start: float) -> SolveOutcome:
        if self.name not in INTERRUPTIBLE_SOLVERS:
            raise SolverError(
                f"solver {self.name!r} ignores interrupts and no worker process can be started here "
                f"(a daemonic process); use one of {', '.join(sorted(INTERRUPTIBLE_SOLVERS))}"
            )
        if self._solver is None:
            self._solver = _build(self.name, self._clauses, self._atmosts)
            for c in self._extra:
                self._solver.add_clause(c)
        solver = self._solver
        timer = threading.Timer(max(0.0, timeout - (time.perf_counter() - start)), solver.interrupt)
        timer.start()
        try:
            res = solver.solve_limited(assumptions=assumptions, expect_interrupt=True)
        finally:
            timer.cancel()
            solver.clear_interrupt()
        if res is None:
            return SolveOutcome(SatStatus.TIMEOUT, None, time.perf_counter() - start)
        model = solver.get_model() if res else None
        return SolveOutcome(_status(res), None if model is None else np.asarray(model, dtype=np.int64),
                            time.perf_counter() - start)


def _status(res: bool | None) -> SatStatus:
    if res is True:
        return SatStatus.SAT
    if res is False:
        return SatStatus.UNSAT
    return SatStatus.UNKNOWN


def solve_once(
    solver: str | None,
    clauses: Iterable[Sequence[int]],
    atmosts: Iterable[tuple[Sequence[int], int]] = (),
    assumptions: Sequence[int] = (),
    timeout: float | None = None,
) -> SolveOutcome:
    """One call on a fresh session (see :class:`SolverSession`)."""
    with SolverSession(solver, clauses, atmosts) as s:
        return s.solve(assumptions, timeout)
