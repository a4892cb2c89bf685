"""Every ``target_robustness`` query of BNNQuanalyst's query files, answered with the defaults.

Issue 14 asks that every ``target_robustness`` query in
``../shared/anchors/bnnquanalyst/queries/`` be answered exactly with the defaults and
none slower than BNNQuanalyst on this machine. This benchmark collects those queries
(each distinct query once, in file order), runs each as its own
``bnnverify run-queries`` process on a one-line query file (so start-up and model
loading are in every figure, as they are in the C++ tool's), takes the best of
``--repeat`` runs (wall and CPU seconds of the child), and cross-checks every count
with a second engine (``bnnverify count --method bdd`` over the same region): the
per-class counts must be equal and sum to the region's size.

BNNQuanalyst's times come from the issue's table (CPU seconds measured on this
machine by the issue's author, best of its engine settings); queries whose time the
issue does not give are listed without a ratio — this session's tools could not
build the C++ tool (no repository fetch), so no new figure of it is invented.

    python benchmarks/bench_target_robustness.py [--repeat 3] [--out benchmarks/results/target_robustness.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ANCHORS = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "bnnquanalyst"

#: BNNQuanalyst's CPU seconds from issue 14's table, keyed by (model, instance, region).
#: The ranges are the issue's (best of ``-IP 1 -DC 1 -e cudd``, ``-DC 0`` and Sylvan).
BNNQUANALYST_SECONDS: dict[tuple[str, str, str], tuple[float, float]] = {
    ("mnist_bnn_2_blk_16_25_20_10", "instance_0_16", "hamming 16"): (1.2, 2.0),
    ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100", "hamming 3"): (1.9, 2.2),
    ("mnist_bnn_1_blk_784_100_10", "instance_0_784", "hamming 2"): (14.2, 14.6),
    ("mnist_bnn_4_blk_784_50_50_50_50_10", "instance_0_784", "set fixed-set-file-20-up"): (8.4, 10.8),
}


@dataclass(frozen=True)
class Row:
    model: str
    instance: str
    region: str
    targets: str
    members: int
    counts: dict[int, int]
    methods: str
    wall: float
    cpu: float
    check: str


def _queries() -> list[tuple[str, object]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bnnverify.importers.bnnquanalyst import QueryKind, parse_queries

    seen: set[tuple] = set()
    out = []
    for f in sorted((ANCHORS / "queries").iterdir()):
        for q in parse_queries(f):
            if q.kind is not QueryKind.TARGET_ROBUSTNESS:
                continue
            key = (q.model, q.instance, q.region, q.hamming, q.fixed_set, q.targets)
            if key in seen:
                continue
            seen.add(key)
            out.append((f.name, q))
    return out


def _region_text(q) -> str:
    return f"hamming {q.hamming}" if q.hamming is not None else f"set {q.fixed_set}"


def _line(q) -> str:
    where = f"hamming,{q.hamming}" if q.hamming is not None else f"set,{q.fixed_set}"
    return f"target_robustness: <{q.model},{q.instance},{where},{q.targets}>;\n"


def _timed(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, wall, cpu


def _cross_check(q, counts: dict[int, int], members: int, tmp: Path) -> str:
    """``yes`` if ``count --method bdd`` gives the same count for every target class and its
    per-class counts sum to the region's size."""
    model = tmp / f"{q.model}.npz"
    if not model.exists():
        subprocess.run([sys.executable, "-m", "bnnverify", "import", "bnnquanalyst",
                        str(ANCHORS / "models" / q.model), "--out", str(model)], check=True, capture_output=True)
    cmd = [sys.executable, "-m", "bnnverify", "count", str(model), "--input",
           str(ANCHORS / "inputs" / f"{q.instance}.txt"), "--method", "bdd", "--json"]
    cmd += (["--hamming", str(q.hamming)] if q.hamming is not None
            else ["--free", str(ANCHORS / "inputs" / f"{q.fixed_set}.txt")])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return f"bdd exit {p.returncode}"
    got = json.loads(p.stdout)["class_counts"]
    per_class = [int(got[str(c)]) for c in range(len(got))]
    ok = all(per_class[c] == n for c, n in counts.items()) and sum(per_class) == members
    return "yes" if ok else f"NO (bdd {per_class})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "target_robustness.md")
    args = ap.parse_args()
    load0 = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for i, (fname, q) in enumerate(_queries()):
            qf = tmp / f"q{i}"
            qf.write_text(_line(q))
            best = None
            for _ in range(args.repeat):
                p, wall, cpu = _timed([sys.executable, "-m", "bnnverify", "run-queries", str(qf), "--model",
                                       str(ANCHORS / "models"), "--root", str(ANCHORS), "--json"])
                if p.returncode != 0:
                    raise SystemExit(f"{fname}: {_line(q).strip()}: exit {p.returncode}: {p.stderr.strip()}")
                if best is None or wall < best[1]:
                    best = (p, wall, cpu)
            p, wall, cpu = best
            res = json.loads(p.stdout.splitlines()[-1])
            counts = {int(r["target"]): int(r["count"]) for r in res["results"]}
            members = int(res["results"][0]["region_size"])
            methods = ",".join(sorted({r["method"] for r in res["results"]}))
            check = _cross_check(q, counts, members, tmp)
            rows.append(Row(q.model, q.instance, _region_text(q), q.targets, members, counts, methods, wall, cpu, check))
            print(f"{q.model} {q.instance} {_region_text(q)} {q.targets}: {wall:.2f} s wall {cpu:.2f} s cpu ({methods}) check {check}",
                  flush=True)
    load1 = os.getloadavg()
    _write(args.out, rows, load0, load1, args.repeat)
    return 0


def _write(out: Path, rows: list[Row], load0, load1, repeat: int) -> None:
    import numpy
    import dd
    try:
        import numba
        nb = numba.__version__
    except ImportError:  # pragma: no cover
        nb = "absent"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).parent).stdout.strip()
    lines = [
        "# BNNQuanalyst's `target_robustness` queries, answered with the defaults (issue 14)",
        "",
        f"Produced by `python benchmarks/bench_target_robustness.py --repeat {repeat}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, numpy "
        f"{numpy.__version__}, dd {getattr(dd, '__version__', '?')}, numba {nb}; bnnverify at {rev}; "
        f"{os.cpu_count()} cores. Load average {' '.join(f'{v:.2f}' for v in load0)} at start, "
        f"{' '.join(f'{v:.2f}' for v in load1)} at end.",
        "",
        "Each distinct query of `../shared/anchors/bnnquanalyst/queries/*` runs as its own "
        "`bnnverify run-queries` process (start-up, model import from the CSV folder and every target class "
        "included); best of the repeats, wall and CPU seconds of the child. `check`: the counts equal "
        "`bnnverify count --method bdd` over the same region and sum to its size. BNNQuanalyst's CPU "
        "seconds are the issue's (measured by its author on this machine); `ratio` = our CPU seconds / "
        "the fastest BNNQuanalyst figure.",
        "",
        "| model | instance | region | targets | members | counts of the target classes | engine | wall s | CPU s | BNNQuanalyst CPU s | ratio | check |",
        "|---|---|---|---|---:|---|---|---:|---:|---:|---:|---|",
    ]
    ratios = []
    for r in rows:
        ref = BNNQUANALYST_SECONDS.get((r.model, r.instance, r.region))
        ratio = ""
        if ref is not None:
            ratios.append((r.cpu / ref[0], r))
            ratio = f"{r.cpu / ref[0]:.2f}"
        counts = ", ".join(f"{c}: {n}" for c, n in sorted(r.counts.items()))
        refs = f"{ref[0]}–{ref[1]}" if ref else "not measured"
        lines.append(f"| {r.model} | {r.instance} | {r.region} | {r.targets} | {r.members:,} | {counts} | {r.methods} | "
                     f"{r.wall:.2f} | {r.cpu:.2f} | {refs} | {ratio} | {r.check} |")
    lines.append("")
    if ratios:
        worst, wr = max(ratios, key=lambda t: t[0])
        lines.append(f"Slowest ratio: {worst:.2f} ({wr.model}, {wr.instance}, {wr.region}); "
                     f"slowest query overall: {max(r.wall for r in rows):.2f} s wall.")
    lines.append("")
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
