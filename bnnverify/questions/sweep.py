"""Robustness over a whole data set: serial, on a local process pool, or on Dask.

Every instance is one task carrying the network (a :class:`BNN`, plain numpy
arrays, picklable), the input, its label and the query (:class:`RobustnessQuery`:
region options, method, limits) — never a live BDD manager or solver, which
each task builds for itself in whatever process runs it. Results come back
as JSON-able dicts, one line per instance in a JSON-lines file, appended and
flushed as each finishes (a crash loses nothing already written);
``resume=True`` skips the instances already in the file.

Every line identifies its question completely (``"question"``: the model's
content digest and path, data set, split, region options, engine, count,
solver, encoding, limits, tie rule, tool version): ``resume`` refuses a file
any line of which was written for another question, naming the field that
differs — a sweep of model A is never summarised as model B's. The model's
path and the tool version are recorded but not compared (a moved file or a
newer bnnverify does not change an exact answer).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> h = ThresholdLayer(np.ones((1, 3), dtype=np.int8), np.array([1]))
>>> o = ArgmaxLayer(np.array([[-1], [1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> net = BNN((h,), o)  # class 1 iff at least two bits are 1
>>> q = RobustnessQuery(RegionSpec(hamming=1), method="enum")
>>> line = run_task(net, q, SweepTask(0, np.array([1, 1, 1], np.uint8), 1))
>>> line["index"], line["verdict"], line["predicted_class"]
(0, 'robust', 1)
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import Region

from bnnverify.errors import DataError
from bnnverify.files.inputs import make_region
from bnnverify.engines import run
from bnnverify.files.atomic import check_output_path
from bnnverify.engines.base import Limits
from bnnverify.engines.workers import DASK_CONNECT_TIMEOUT_S, dask_client, start_method
from bnnverify.questions.robustness import check_robustness, choose_method
from bnnverify.questions.verdict import Method, Verdict, parse_method

__all__ = [
    "RegionSpec",
    "RobustnessQuery",
    "SweepTask",
    "SweepSummary",
    "run_task",
    "run_tasks",
    "sweep",
    "read_results",
    "summarize",
    "P95",
]

#: The upper percentile reported for the time per instance.
P95 = 95

#: Batches per local worker: enough to balance uneven questions, few enough that a batch's
#: round trip (one pickled network, one result list) is small next to its questions. Measured on
#: 359 digits images at Hamming 2 (2 cores): per-task submission made --jobs 2 slower than
#: --jobs 1 (7.4 s vs 3.9 s); batched and forked, 2.13 s vs 2.12 s (see bnnverify.engines.workers.start_method).
BATCHES_PER_WORKER = 4

#: The identity fields recorded but not compared on resume (see the module docstring).
RECORDED_ONLY = ("model", "version")

#: The tie rule every robustness answer uses (the argmax layer's, see bnnverify.semantics).
TIE_RULE = "argmax: the smallest index among the maximal scores"


def question_identity(net: BNN, query: "RobustnessQuery", source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a sweep's lines answer: everything that decides an answer, as plain JSON values."""
    from dataclasses import asdict

    import bnnverify
    from bnnverify.files.modelio import model_digest

    source = dict(source or {})
    region = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(query.region).items()}
    return {
        "model": source.get("model"),
        "model_sha256": model_digest(net),
        "dataset": source.get("dataset"),
        "split": source.get("split"),
        "region": region,
        "method": str(query.method),
        "count": bool(query.count),
        "solver": query.solver,
        "encoding": query.encoding,
        "timeout": query.timeout,
        "budget": None if query.budget is None else repr(query.budget),
        "ties": TIE_RULE,
        "version": bnnverify.__version__,
    }


def _differing_field(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    if not isinstance(old, Mapping):
        return "question"
    for key, value in new.items():
        if key not in RECORDED_ONLY and old.get(key) != value:
            return key
    return None


@dataclass(frozen=True)
class RegionSpec:
    """Region options without the centre: one region per instance (see :func:`make_region`).

    ``mutable``/``free`` are tuples of input indices (a Hamming ball's
    mutable positions; a cube's free positions).
    """

    whole: bool = False
    hamming: int | None = None
    linf: int | None = None
    mutable: tuple[int, ...] | None = None
    free: tuple[int, ...] | None = None

    def around(self, net: BNN, x: np.ndarray) -> Region:
        """The region centred on ``x``."""
        return make_region(
            net,
            whole=self.whole,
            center=None if self.whole else x,
            hamming=self.hamming,
            mutable=None if self.mutable is None else np.array(self.mutable, dtype=np.int64),
            linf=self.linf,
            free=None if self.free is None else np.array(self.free, dtype=np.int64),
        )


@dataclass(frozen=True)
class RobustnessQuery:
    """What to ask of every instance (all fields plain values: picklable)."""

    region: RegionSpec
    method: Method | str = Method.AUTO
    count: bool = False
    solver: str | None = None
    encoding: str | None = None
    timeout: float | None = None
    budget: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", parse_method(self.method))


@dataclass(frozen=True, eq=False)
class SweepTask:
    """One instance: its index in the data set, its input bits and its label."""

    index: int
    x: np.ndarray
    label: int


def run_task(net: BNN, query: RobustnessQuery, task: SweepTask) -> dict[str, Any]:
    """Answer one instance; the JSON line (``index``, ``label``, then the result's keys;
    :func:`sweep` adds ``question``, the identity of what was asked).

    A module-level function, so process pools and Dask workers can import it.
    """
    region = query.region.around(net, task.x)
    res = check_robustness(
        net,
        task.x,
        region,
        method=query.method,
        count=query.count,
        solver=query.solver,
        encoding=query.encoding,
        timeout=query.timeout,
        budget=query.budget,
    )
    line = {"index": int(task.index), "label": int(task.label)}
    line.update(res.to_json())
    if res.note:
        line["note"] = res.note
    return line


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep found over its instances (those in the file, resumed ones included).

    ``verified_robust_accuracy`` = instances both correctly classified and
    proved robust / instances; undecided instances count as not verified.
    """

    n_instances: int
    n_correct: int
    n_verified: int
    verdict_counts: Mapping[str, int]
    seconds_median: float
    seconds_p95: float
    n_resumed: int = 0
    wall_seconds: float = 0.0

    @property
    def verified_robust_accuracy(self) -> float:
        return self.n_verified / self.n_instances if self.n_instances else 0.0

    @property
    def accuracy(self) -> float:
        return self.n_correct / self.n_instances if self.n_instances else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": True,
            "instances": self.n_instances,
            "verified_robust_accuracy": self.verified_robust_accuracy,
            "verified_robust": self.n_verified,
            "accuracy": self.accuracy,
            "correct": self.n_correct,
            "verdicts": dict(self.verdict_counts),
            "seconds_median": self.seconds_median,
            "seconds_p95": self.seconds_p95,
            "resumed": self.n_resumed,
            "wall_seconds": self.wall_seconds,
        }


def _percentile(values: Sequence[float], q: int) -> float:
    """Nearest-rank percentile (0 for no values).

    >>> _percentile([1.0, 2.0, 3.0, 4.0], 50), _percentile([1.0, 2.0, 3.0, 4.0], 95)
    (2.0, 4.0)
    """
    if not values:
        return 0.0
    s = sorted(values)
    k = max(1, math.ceil(q / 100 * len(s)))
    return float(s[k - 1])


def summarize(lines: Iterable[Mapping[str, Any]], *, n_resumed: int = 0, wall_seconds: float = 0.0) -> SweepSummary:
    """The summary of sweep lines (one per instance)."""
    lines = list(lines)
    counts = {v.value: 0 for v in (Verdict.ROBUST, Verdict.NOT_ROBUST, Verdict.TIMEOUT, Verdict.UNKNOWN)}
    correct = verified = 0
    for ln in lines:
        counts[ln["verdict"]] = counts.get(ln["verdict"], 0) + 1
        ok = ln["predicted_class"] == ln["label"]
        correct += ok
        verified += ok and ln["verdict"] == Verdict.ROBUST.value
    secs = [float(ln["seconds"]) for ln in lines]
    return SweepSummary(
        len(lines), correct, verified, counts, _percentile(secs, 50), _percentile(secs, P95),
        n_resumed, wall_seconds,
    )


def read_results(path: "str | os.PathLike[str]", *, repair: bool = False) -> dict[int, dict[str, Any]]:
    """The lines of a sweep's results file, by instance index.

    A last line cut short by a crash (no final newline, not valid JSON) is
    dropped — and cut off the file when ``repair`` is true, so appending
    resumes cleanly. Any other malformed line raises :class:`DataError`
    naming the file and line number.
    """
    p = Path(path)
    if not p.exists():
        return {}
    raw = p.read_bytes()
    out: dict[int, dict[str, Any]] = {}
    pos = 0
    lineno = 0
    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        end = len(raw) if nl < 0 else nl
        chunk = raw[pos:end]
        lineno += 1
        try:
            obj = json.loads(chunk) if chunk.strip() else None
        except ValueError:
            if nl < 0:  # torn last line
                if repair:
                    with open(p, "r+b") as f:
                        f.truncate(pos)
                break
            raise DataError(f"{p}: line {lineno} is not valid JSON") from None
        if obj is not None:
            if not isinstance(obj, dict) or "index" not in obj or "verdict" not in obj:
                raise DataError(f"{p}: line {lineno} is not a sweep result (needs 'index' and 'verdict')")
            out[int(obj["index"])] = obj
        if nl < 0:
            if repair and chunk.strip():
                with open(p, "ab") as f:  # complete line without its newline
                    f.write(b"\n")
            break
        pos = nl + 1
    return out


def _same_query(line: Mapping[str, Any], region: Mapping[str, Any]) -> bool:
    """Whether a stored line answered the same region (every parameter but the size)."""
    strip = lambda d: {k: v for k, v in d.items() if k != "size"}  # noqa: E731
    return strip(line.get("region") or {}) == strip(json.loads(json.dumps(dict(region))))


def run_tasks(net: BNN, query: RobustnessQuery, tasks: Sequence[SweepTask]) -> list[dict[str, Any]]:
    """:func:`run_task` for a batch of instances (one pickled network and one round trip per batch)."""
    return [run_task(net, query, t) for t in tasks]


def _batches(tasks: Sequence[SweepTask], jobs: int) -> list[list[SweepTask]]:
    """About :data:`BATCHES_PER_WORKER` batches per worker, in order."""
    size = max(1, math.ceil(len(tasks) / (jobs * BATCHES_PER_WORKER)))
    return [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]


def _execute_local(net, query, tasks, jobs):
    if jobs <= 1:
        for t in tasks:
            yield run_task(net, query, t)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork where safe (see bnnverify.engines.workers.start_method), else spawn; tasks go in batches, so that small
    # questions are not drowned by one pickled network and one round trip each
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context(start_method())) as pool:
        futures = [pool.submit(run_tasks, net, query, b) for b in _batches(tasks, jobs)]
        try:
            for f in as_completed(futures):
                yield from f.result()
        finally:
            for f in futures:
                f.cancel()


def _execute_dask(net, query, tasks, address, connect_timeout):
    from distributed import as_completed

    with dask_client(address, connect_timeout) as client:
        net_f = client.scatter(net, broadcast=True)
        futures = [client.submit(run_task, net_f, query, t, pure=False) for t in tasks]
        try:
            for f in as_completed(futures):
                yield f.result()
        finally:
            client.cancel(futures)


def sweep(
    net: BNN,
    X: np.ndarray,
    y: np.ndarray,
    query: RobustnessQuery,
    out: "str | os.PathLike[str]",
    *,
    indices: Sequence[int] | None = None,
    jobs: int = 1,
    dask: str | None = None,
    resume: bool = False,
    dask_timeout: float = DASK_CONNECT_TIMEOUT_S,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    source: Mapping[str, Any] | None = None,
) -> SweepSummary:
    """Robustness of every instance ``X[i]`` (label ``y[i]``), lines appended to ``out``.

    ``indices`` selects instances (default: all). ``jobs > 1`` runs a local
    process pool; ``dask`` (``tcp://HOST:PORT``) submits the tasks to an
    existing Dask scheduler (waiting at most ``dask_timeout`` seconds to
    connect). ``resume`` skips instances already in ``out``
    (without it, a non-empty ``out`` is refused). ``on_start`` is called
    with the number of instances already done, ``on_result`` with each new
    line (e.g. to drive a progress bar). ``source`` names the model file,
    data set and split (recorded in every line's ``question``). The summary
    covers every selected instance in the file.
    """
    t0 = time.perf_counter()
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise DataError(f"data set: rows have {X.shape[-1]} bits, the model expects {net.n_inputs}")
    if len(y) != len(X):
        raise DataError(f"data set: {len(X)} inputs but {len(y)} labels")
    if jobs < 1:
        raise DataError(f"must be at least 1, got {jobs}", param="jobs")
    run.check_names(Limits(solver=query.solver, encoding=query.encoding))
    idx = list(range(len(X))) if indices is None else [int(i) for i in indices]
    for i in idx:
        if not 0 <= i < len(X):
            raise DataError(f"index {i}: outside the data set's 0..{len(X) - 1}")
    # build every region up front: a bad option fails now, in this process
    regions = {i: query.region.around(net, X[i]) for i in idx}
    if regions:
        choose_method(query.method, max(r.size for r in regions.values()), query.count)
    outp = check_output_path(out, "results file")
    done = read_results(outp, repair=resume) if outp.exists() else {}
    if done and not resume:
        raise DataError(f"{outp}: already holds results; resume it, or choose another output file", param="out")
    question = question_identity(net, query, source)
    for i, line in done.items():
        field = _differing_field(line.get("question"), question)
        if field is None and i in regions and not _same_query(line, regions[i].describe()):
            field = "region"
        if field is not None:
            old = (line.get("question") or {}).get(field) if field != "question" else None
            raise DataError(
                f"{outp}: the line of instance {i} answers another {field} "
                + (f"({old!r}; this sweep: {question[field]!r})" if field != "question"
                   else "(it has no question identity: written by an older bnnverify)")
                + "; use another output file for a different question"
            )
    todo = [SweepTask(i, np.array(X[i], dtype=np.uint8), int(y[i])) for i in idx if i not in done]
    results = {i: done[i] for i in idx if i in done}
    if on_start is not None:
        on_start(len(results))
    if todo:
        stream = _execute_dask(net, query, todo, dask, dask_timeout) if dask else _execute_local(net, query, todo, jobs)
        with open(outp, "a", encoding="utf-8") as f:
            for line in stream:
                line["question"] = question
                f.write(json.dumps(line) + "\n")
                f.flush()
                results[line["index"]] = line
                if on_result is not None:
                    on_result(line)
    return summarize(
        [results[i] for i in idx], n_resumed=len(idx) - len(todo), wall_seconds=time.perf_counter() - t0
    )
