"""The projected-model-counting engine: exact per-class counts by Ganak on the CNF.

For each class c, the CNF "x in region and class(x) = c" is counted by Ganak
(``pyganak``, the optional extra ``count``) projected on the input
variables; a witness of a counted class comes from the SAT engine (Ganak
counts, it does not return models). It is an independent check of the BDD
and enumeration counts more than a fast path: Ganak is slow beyond tiny
formulas (``benchmarks/results/cnf.md``), so ``auto`` prefers it only when no
other engine takes the question. Ganak has no time limit of its own and
cannot be interrupted in-process: under a time limit each count runs in a
forked worker process that is killed at the deadline (``timeout``, never a
partial count).
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from bnnverify.encoders.results import ClassCounts
from bnnverify.engines.base import Capability, EngineBase, Limits, Support
from bnnverify.errors import DeadlineExceeded, EngineError

#: Seconds to wait for a killed worker to be reaped.
REAP_SECONDS = 5.0

__all__ = ["GanakEngine", "ENGINE"]


def _available() -> bool:
    try:
        import pyganak  # noqa: F401
    except ImportError:
        return False
    return True


class GanakEngine(EngineBase):
    """Per-class counts by projected model counting (Ganak); witnesses by SAT."""

    name = "ganak"
    aliases = ("projected", "sharpsat")
    summary = "projected model counting of the CNF with Ganak (pyganak): exact counts"
    capabilities = frozenset({Capability.CLASS_COUNTS})

    def check(self, nets: tuple[Any, ...], region: Any, capability: Capability) -> Support:
        if not _available():
            return Support(False, "engine 'ganak' needs the pyganak package (pip install 'bnnverify[count]')")
        return Support(True)

    def class_counts(self, net: Any, region: Any, witness_of, limits: Limits):
        from bnnverify.engines.sat import counted_witness

        cc = ClassCounts(region.size, [_count(net, region, c, limits) for c in range(net.n_classes)])
        return cc, counted_witness(net, region, cc, witness_of, limits)


def _count(net: Any, region: Any, c: int, limits: Limits) -> int:
    """Members of class ``c`` by Ganak; in a killable worker process under a time limit."""
    from bnnverify.engines.sat import count_projected

    if limits.deadline is None:
        n = count_projected(net, region, [c], encoding=limits.encoding)
    else:
        n = _in_worker(count_projected, (net, region, [c]), {"encoding": limits.encoding}, limits)
    return int(n)


def _worker(conn, fn, args, kwargs) -> None:  # pragma: no cover - runs in the child
    try:
        conn.send(("ok", fn(*args, **kwargs)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def _in_worker(fn, args, kwargs, limits: Limits):
    if mp.current_process().daemon:
        raise EngineError("engine 'ganak' cannot keep a time limit inside a daemonic worker process "
                          "(a process pool or a Dask worker): count without a time limit there")
    remaining = limits.remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExceeded("Ganak: no time left")
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(child, fn, args, kwargs), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(remaining):
            raise DeadlineExceeded("Ganak reached the time limit")
        status, value = parent.recv()
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(REAP_SECONDS)
        parent.close()
    if status != "ok":
        raise EngineError(f"engine 'ganak' failed: {value}")
    return value


ENGINE = GanakEngine()
