"""Exact counting at the scale users ask for (issue 14): the issue's table, side by side.

Usage (from the repository root):

    python benchmarks/bench_scale.py [--quick] [--limit 150]

writes ``benchmarks/results/scale.md`` (``--quick``: the cases whose defaults
take seconds only, to ``benchmarks/results/scale_quick.md``). For every question of the issue's table (BNNQuanalyst's
own models and instances, read from ../shared/anchors/bnnquanalyst) it runs,
each as its own process with a wall-clock limit:

* the defaults: ``bnnverify count``, ``bnnverify robustness --count`` and
  ``bnnverify info`` (``auto``: the policy picks the engine and says why);
* every counting engine asked for by name: ``count --method ball`` (the
  compiled kernel), ``enum`` and ``bdd`` (default 1 GiB budget);
* the ball engine's numpy programme (``ball_layer1(kernel=False)``), the
  fallback without numba.

Times are wall-clock seconds of the whole process (start-up and import
included, ~0.5 s) on a 2-core machine shared with other developers; the
load average is recorded with every row. All runs that finish must give the
same per-class counts (the table says so). BNNQuanalyst's times are the
issue's (best of its back ends, measured on this machine; there is no
BNNQuanalyst binary here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = Path(os.environ.get("BNNVERIFY_ANCHORS", ROOT.parent / "shared" / "anchors" / "bnnquanalyst"))
RESULTS = ROOT / "benchmarks" / "results" / "scale.md"
#: ``--quick`` writes here, so the full table stays.
RESULTS_QUICK = ROOT / "benchmarks" / "results" / "scale_quick.md"
#: Default wall-clock limit of one run (seconds): the issue's radius-4 floor is 120 s.
DEFAULT_LIMIT = 150.0
#: Limit for the engines the issue already measured as far slower (BDD, numpy programme) on the large cases.
SLOW_LIMIT = 60.0

#: (label, model, region args, members, BNNQuanalyst's time from the issue, the issue's target, quick?)
CASES = [
    ("16-25-20-10, whole space", "mnist_bnn_2_blk_16_25_20_10",
     ["--region", "whole"], "instance_0_16.txt", 65536, "1.2–2.0 s", "—", True),
    ("100-50-20-10, Hamming ≤ 3, instance_0_100", "mnist_bnn_2_blk_100_50_20_10",
     ["--hamming", "3"], "instance_0_100.txt", 166751, "1.9–2.2 s", "—", True),
    ("784-100-10, Hamming ≤ 2, instance_0_784", "mnist_bnn_1_blk_784_100_10",
     ["--hamming", "2"], "instance_0_784.txt", 307721, "14.2–14.6 s", "—", True),
    ("784-50×4-10, 20 free pixels", "mnist_bnn_4_blk_784_50_50_50_50_10",
     ["--free", "fixed-set-file-20-up.txt"], "instance_0_784.txt", 1 << 20, "8.4–10.8 s", "—", True),
    ("784-100-10, Hamming ≤ 3, instance_0_784", "mnist_bnn_1_blk_784_100_10",
     ["--hamming", "3"], "instance_0_784.txt", 80315705, "185–188 s", "≤ 10 s", True),
    ("100-50-20-10, Hamming ≤ 4, instance_0_100", "mnist_bnn_2_blk_100_50_20_10",
     ["--hamming", "4"], "instance_0_100.txt", 4087976, "76 s", "≤ 2 s", True),
    ("100-50-20-10, Hamming ≤ 5, instance_0_100", "mnist_bnn_2_blk_100_50_20_10",
     ["--hamming", "5"], "instance_0_100.txt", 79375496, "> 300 s", "≤ 30 s", True),
    ("784-100-10, Hamming ≤ 4, instance_0_784", "mnist_bnn_1_blk_784_100_10",
     ["--hamming", "4"], "instance_0_784.txt", 15701874581, "> 300 s", "≤ 120 s", False),
]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bnnverify", "--quiet", *args]


def _region_args(models: Path, case) -> tuple[Path, list[str], list[str]]:
    """The model file, the region's options for count/info and those for robustness (which needs the
    centre even for the whole space)."""
    _, model, region, instance, *_ = case
    args = list(region)
    if args[0] == "--free":
        args[1] = str(ANCHORS / "inputs" / args[1])
    centre = ["--input", str(ANCHORS / "inputs" / instance)]
    return models / f"{model}.npz", (args if args[0] == "--region" else args + centre), args + centre


def _timed(cmd: list[str], limit: float) -> dict:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": f"stopped at {limit:.0f} s", "load": load}
    wall = time.perf_counter() - t0
    try:
        d = json.loads(p.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"status": f"exit {p.returncode}: {last.replace('bnnverify: ', '')[:70]}", "load": load, "wall": wall}
    return {"status": "ok", "wall": wall, "load": load, "json": d, "exit": p.returncode}


def _child_programme(model: str, region: list[str]) -> None:
    """The ball engine's numpy programme (no numba) on one ball, timed in this process."""
    import numpy as np

    from bnnverify.encoders.layers import BNN
    from bnnverify.encoders.regions import HammingBall
    from bnnverify.engines.ball import MAX_BALL_STATES, ball_layer1
    from bnnverify.evaluation.evaluator import Evaluator
    from bnnverify.files.modelio import load_model
    from bnnverify.importers.bnnquanalyst import read_instance

    net = load_model(model)
    x = np.asarray(read_instance(region[region.index("--input") + 1]), np.uint8)
    ball = HammingBall(x, int(region[region.index("--hamming") + 1]))
    t0 = time.perf_counter()
    codes, counts = ball_layer1(net, ball, MAX_BALL_STATES, kernel=False)
    classes = Evaluator(BNN(net.hidden[1:], net.output)).classify(codes)
    per = [int(counts[classes == c].sum()) for c in range(net.n_classes)]
    print(json.dumps({"class_counts": {str(c): v for c, v in enumerate(per)}, "seconds": time.perf_counter() - t0}))


def _counts(r: dict) -> dict | None:
    if r.get("status") != "ok":
        return None
    return r["json"].get("class_counts")


def _cell(r: dict) -> str:
    if r.get("status") != "ok":
        return r["status"]
    d = r["json"]
    extra = f" ({d['method']})" if "method" in d and isinstance(d["method"], str) else ""
    return f"{r['wall']:.2f} s{extra}"


def _versions() -> str:
    import dd
    import numpy

    try:
        import numba

        nb = numba.__version__
    except ImportError:  # pragma: no cover
        nb = "not installed"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    return (f"Python {platform.python_version()}, numpy {numpy.__version__}, numba {nb}, dd {dd.__version__}; "
            f"bnnverify at {rev.strip() or '?'}; {os.cpu_count()} cores")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the cases whose defaults take seconds")
    ap.add_argument("--limit", type=float, default=DEFAULT_LIMIT, help="wall-clock limit of one run (s)")
    ap.add_argument("--models", type=Path, default=ROOT / "out" / "bnnquanalyst",
                    help="folder for the imported models (.npz)")
    ap.add_argument("--child-programme", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_programme:
        _child_programme(a.child_programme[0], a.child_programme[1:])
        return
    a.models.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        out = a.models / f"{case[1]}.npz"
        if not out.exists():
            subprocess.run(_cli("import", "bnnquanalyst", str(ANCHORS / "models" / case[1]), "--out", str(out)),
                           check=True, capture_output=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = os.getloadavg()
    rows = []
    for case in CASES:
        if a.quick and not case[7]:
            continue
        label, _, region, _, members, bnnq, target, _ = case
        model, args, rargs = _region_args(a.models, case)
        big = members > 10**7
        runs = {
            "count": _timed(_cli("count", str(model), *args, "--json"), a.limit),
            "robustness --count": _timed(_cli("robustness", str(model), *rargs, "--count", "--json"), a.limit),
            "info": _timed(_cli("info", str(model), *args, "--json"), a.limit),
        }
        if region[0] == "--hamming":
            runs["ball"] = _timed(_cli("count", str(model), *args, "--method", "ball", "--json"), a.limit)
            runs["numpy programme"] = _timed([sys.executable, __file__, "--child-programme", str(model), *args],
                                             SLOW_LIMIT)
        runs["enum"] = (_timed(_cli("count", str(model), *args, "--method", "enum", "--json"), SLOW_LIMIT)
                        if not big else {"status": "not run (beyond 10^7 members)", "load": os.getloadavg()[0]})
        runs["bdd"] = _timed(_cli("count", str(model), *args, "--method", "bdd", "--json"),
                             SLOW_LIMIT if members > 10**6 else a.limit)
        finished = [c for c in map(_counts, runs.values()) if c is not None]
        agree = all(c == finished[0] for c in finished) if finished else False
        reason = runs["count"]["json"].get("reason", "") if runs["count"].get("status") == "ok" else ""
        rows.append((label, members, bnnq, target, runs, agree, len(finished), reason))
        print(label, {k: _cell(v) for k, v in runs.items()}, "agree" if agree else "DISAGREE", flush=True)
    load1 = os.getloadavg()
    cols = ["count", "robustness --count", "info", "ball", "numpy programme", "enum", "bdd"]
    lines = [
        "# Exact counting at scale (issue 14)",
        "",
        f"Produced by `python benchmarks/bench_scale.py{' --quick' if a.quick else ''}` on {started}; "
        f"{_versions()}. Load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start, "
        f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at end (2 cores shared with two other developers: "
        "the 1-minute load at the start of every run is in the second table).",
        "",
        "Wall-clock seconds of the whole process (start-up and import included). `count`, "
        "`robustness --count` and `info` run with the defaults (`auto`); `ball`, `enum`, `bdd` are "
        "`count --method NAME`; the numpy programme is the ball engine's fallback without numba. "
        "BNNQuanalyst's times and the targets are the issue's. Every run that finished gave the same "
        "per-class counts (column `agree`).",
        "",
        "| question | members | BNNQuanalyst | target | " + " | ".join(cols) + " | agree |",
        "|---|---:|---:|---:|" + "---|" * len(cols) + "---|",
    ]
    for label, members, bnnq, target, runs, agree, n_fin, _ in rows:
        cells = [_cell(runs[c]) if c in runs else "—" for c in cols]
        lines.append(f"| {label} | {members:,} | {bnnq} | {target} | " + " | ".join(cells)
                     + f" | {'yes' if agree else 'NO'} ({n_fin} runs) |")
    lines += ["", "What `auto` said (the `reason` of `count`), and the 1-minute load at the start of each run:", ""]
    for label, _, _, _, runs, _, _, reason in rows:
        loads = ", ".join(f"{k} {v['load']:.1f}" for k, v in runs.items())
        lines.append(f"* {label}: {reason or '—'} (load: {loads})")
    out = RESULTS_QUICK if a.quick else RESULTS
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
