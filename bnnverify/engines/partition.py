"""One large count split into disjoint parts of the region, counted in parallel, summed exactly.

Counts over disjoint regions add, so a region is cut into parts whose union is the
region and which share no member (:func:`parts`), each part is counted by the runner
(:func:`bnnverify.engines.run.class_counts`: the policy picks its engine, the witness is
replayed) in a local process pool or on an existing Dask scheduler, and the per-class
counts are summed as Python ints (:func:`split_class_counts`). The sum is checked against
the region's exact size, and the witness, if any, is replayed once more on the whole
region.

How each region kind is cut (exact, disjoint, every part a region of a kind every
counting engine takes):

* whole space and cube: fix the first ``k`` free bits to each of their ``2^k`` values
  (``2^k`` cubes of equal size);
* other kinds are refused by name.

Rejected for Hamming balls: the exact cut by the first flipped bit (the centre alone,
and for each ``t`` the members whose smallest flipped bit is ``m_t``:
``B(c ⊕ e_{m_t}, r − 1, {m_u : u > t})``) makes one part per mutable bit, since a ball
cannot be cut by one bit evenly (on 784 bits at radius 3 the halves ``B(c, 3, M − i)``
and ``B(c ⊕ e_i, 2, M − i)`` are 260 : 1); 785 radius-2 counts cost more than the
multi-threaded ball kernel's whole radius-3 count (about 2 s). Splitting the kernel's own
work units across processes was rejected too: it is an internal detail no other engine
shares.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from bnnverify.encoders.regions import Cube, Whole
from bnnverify.engines.workers import DASK_CONNECT_TIMEOUT_S, dask_client, start_method
from bnnverify.errors import DataError, InternalError

__all__ = ["PARTS_PER_JOB", "SplitCount", "count_group", "group_parts", "parts", "split_class_counts"]

#: Parts per worker. One: the cubes are of equal size, and a BDD costs about as much over a
#: half cube as over the whole (measured, 2^23-member cube of 784-50x4-10, load 7: ``--method
#: bdd`` 2.66 s whole, 5.75 s as 2 parts on 2 processes; 8 parts of a 2^18 cube: 15.4 s vs 2.8 s).
#: Splitting pays off for counts by enumeration (``--method enum``; each part is also within the
#: enumeration limit on its own): the same 2^23 cube at load 0.3, 5.80 s on 1 process, 2.84 s on 2
#: (``benchmarks/results/split_count.md``).
PARTS_PER_JOB = 1


def _cube_parts(values: np.ndarray, fixed: np.ndarray, wanted: int) -> list[Cube]:
    free = np.flatnonzero(~fixed)
    k = min(len(free), max(0, math.ceil(math.log2(max(1, wanted)))))
    out = []
    for code in range(1 << k):
        v = values.copy()
        m = fixed.copy()
        for j in range(k):
            v[free[j]] = (code >> (k - 1 - j)) & 1
            m[free[j]] = True
        out.append(Cube(v, m))
    return out


def parts(region: Any, wanted: int) -> list[Any]:
    """Disjoint cubes whose union is ``region`` (a whole space or a cube): the smallest power of
    two at least ``wanted``, or all ``2^free`` single members if there are fewer. Other kinds
    are refused by name (see the module docstring)."""
    if wanted < 1:
        raise DataError(f"parts: at least one part, got {wanted}", param="jobs")
    if isinstance(region, Whole):
        return _cube_parts(np.zeros(region.n, np.uint8), np.zeros(region.n, bool), wanted)
    if isinstance(region, Cube):
        return _cube_parts(region.values.copy(), np.asarray(region.fixed_mask).copy(), wanted)
    raise DataError(f"a count is split over whole-space and cube regions only, not {region.kind!r} "
                    f"(a Hamming ball's kernel is multi-threaded already; see bnnverify.engines.partition)",
                    param="jobs")


def group_parts(ps: Sequence[Any], groups: int) -> list[list[Any]]:
    """Consecutive parts grouped into at most ``groups`` lists of about equal total size."""
    sizes = [p.size for p in ps]
    total = sum(sizes)
    target = max(1, -(-total // max(1, groups)))
    out: list[list[Any]] = [[]]
    acc = 0
    for p, s in zip(ps, sizes):
        if out[-1] and acc + s > target and len(out) < groups:
            out.append([])
            acc = 0
        out[-1].append(p)
        acc += s
    return out


@dataclass(frozen=True)
class SplitCount:
    """Per-class counts of one group of parts (what a worker sends back)."""

    counts: tuple[int, ...] | None
    witness: np.ndarray | None
    engines: tuple[str, ...]
    outcome: str  # "counted", "timeout" or "unknown"
    note: str = ""


def count_group(net: Any, group: Sequence[Any], witness_of: Sequence[int], method: str | None,
                budget: Any, deadline_s: float | None) -> SplitCount:
    """Count every part of ``group`` with the runner (in a worker); stops at the first part that
    runs out of time or budget (the whole answer is then undecided, never a partial sum)."""
    from bnnverify.engines import run
    from bnnverify.engines.base import Limits

    t0 = time.perf_counter()
    total: list[int] | None = None
    witness, engines = None, []
    for p in group:
        left = None if deadline_s is None else deadline_s - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            return SplitCount(None, None, tuple(engines), "timeout", "time limit reached between parts")
        ans = run.class_counts(net, p, witness_of, method=method, limits=Limits(timeout=left, budget=budget))
        if ans.counts is None:
            return SplitCount(None, None, tuple(engines), ans.search.outcome.value, ans.search.note)
        engines.append(ans.choice.name)
        total = list(ans.counts) if total is None else [a + b for a, b in zip(total, ans.counts)]
        if witness is None and ans.search.witness is not None:
            witness = ans.search.witness
    return SplitCount(tuple(total or ()), witness, tuple(engines), "counted")


def _run_local(tasks, jobs):
    if jobs <= 1:
        return [count_group(*t) for t in tasks]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context(start_method())) as pool:
        return list(pool.map(count_group, *zip(*tasks)))


def _run_dask(tasks, address, connect_timeout):
    with dask_client(address, connect_timeout) as client:
        net_f = client.scatter(tasks[0][0], broadcast=True)
        futures = [client.submit(count_group, net_f, *t[1:], pure=False) for t in tasks]
        try:
            return client.gather(futures)
        finally:
            client.cancel(futures)


def split_class_counts(net: Any, region: Any, witness_of: Sequence[int] = (), *, method: str | None = "auto",
                       jobs: int = 1, dask: str | None = None, timeout: float | None = None, budget: Any = None,
                       dask_timeout: float = DASK_CONNECT_TIMEOUT_S):
    """Exact per-class counts of ``region`` from disjoint parts counted by ``jobs`` local processes
    (or by the workers of the Dask scheduler at ``dask``); a :class:`~bnnverify.engines.run.CountAnswer`
    whose choice names the parts and the engines. Any part out of time or budget makes the whole
    answer undecided (``counts`` None), never a partial sum."""
    from bnnverify.engines.base import Outcome, Search
    from bnnverify.engines.policy import Choice
    from bnnverify.engines.registry import ENGINES
    from bnnverify.engines.run import CountAnswer, counted_answer

    if jobs < 1:
        raise DataError(f"at least 1 job, got {jobs}", param="jobs")
    workers = jobs if dask is None else max(jobs, 1)
    ps = parts(region, workers * PARTS_PER_JOB)
    if sum(p.size for p in ps) != region.size:
        raise InternalError(f"partition: parts hold {sum(p.size for p in ps)} members, the region {region.size}")
    groups = group_parts(ps, workers * PARTS_PER_JOB)
    tasks = [(net, g, tuple(witness_of), method, budget, timeout) for g in groups]
    results = _run_dask(tasks, dask, dask_timeout) if dask else _run_local(tasks, jobs)
    engines = sorted({e for r in results for e in r.engines})
    where = f"Dask scheduler {dask}" if dask else f"{jobs} process{'es' if jobs > 1 else ''}"
    why = f"split into {len(ps)} disjoint parts in {len(groups)} groups on {where}; engines: {', '.join(engines) or '-'}"
    first = ENGINES.get(engines[0]) if engines else ENGINES.get("enum")
    choice = Choice(first, why)
    bad = next((r for r in results if r.outcome != "counted"), None)
    if bad is not None:
        outcome = Outcome.TIMEOUT if bad.outcome == "timeout" else Outcome.UNKNOWN
        return CountAnswer(None, Search(outcome, note=bad.note), choice)
    counts = [0] * net.n_classes
    for r in results:
        for c, v in enumerate(r.counts):
            counts[c] += int(v)
    w = next((r.witness for r in results if r.witness is not None), None)
    return counted_answer(net, region, counts, w, witness_of, choice, "split count")
