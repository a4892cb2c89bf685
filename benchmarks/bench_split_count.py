"""``count --jobs N``: one large count split into disjoint cubes, on 1 and 2 processes.

Issue 14 asks for the speed-up of a single large count on this 2-core machine. The
question: per-class counts of mnist_bnn_4_blk_784_50_50_50_50_10 around instance_3_784
with the first ``--free-bits`` indices of BNNQuanalyst's fixed-set-file-28-up free (a cube
of 2^k members), by enumeration and by the BDD, with ``--jobs 1`` (no split) and
``--jobs 2``. Every run must give the same counts; wall seconds of the whole process.

    python benchmarks/bench_split_count.py [--free-bits 24] [--out benchmarks/results/split_count.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANCHORS = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "bnnquanalyst"
MODEL = "mnist_bnn_4_blk_784_50_50_50_50_10"


def _run(cmd: list[str]) -> tuple[float, dict]:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return wall, json.loads(p.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--free-bits", type=int, default=24)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "split_count.md")
    args = ap.parse_args()
    rows = []
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = tmp / "m.npz"
        subprocess.run([sys.executable, "-m", "bnnverify", "import", "bnnquanalyst", str(ANCHORS / "models" / MODEL),
                        "--out", str(model)], check=True, capture_output=True)
        free = (ANCHORS / "inputs" / "fixed-set-file-28-up.txt").read_text().split()[: args.free_bits]
        (tmp / "free.txt").write_text(" ".join(free) + "\n")
        base = [sys.executable, "-m", "bnnverify", "count", str(model), "--input",
                str(ANCHORS / "inputs" / "instance_3_784.txt"), "--free", str(tmp / "free.txt"), "--json"]
        for method in ("enum", "bdd"):
            for jobs in (1, 2):
                la = os.getloadavg()[0]
                wall, got = _run(base + ["--method", method, "--jobs", str(jobs)])
                rows.append((method, jobs, wall, got["class_counts"], got["reason"], la))
                print(f"{method} --jobs {jobs}: {wall:.2f} s ({got['reason']})", flush=True)
    load1 = os.getloadavg()
    same = len({json.dumps(r[3], sort_keys=True) for r in rows}) == 1
    lines = [
        "# One count split over processes: `count --jobs N` (issue 14)",
        "",
        f"Produced by `python benchmarks/bench_split_count.py --free-bits {args.free_bits}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}; "
        f"{os.cpu_count()} cores. Load average {' '.join(f'{v:.2f}' for v in load0)} at start, "
        f"{' '.join(f'{v:.2f}' for v in load1)} at end.",
        "",
        f"{MODEL} around instance_3_784, the first {args.free_bits} indices of fixed-set-file-28-up free: "
        f"{1 << args.free_bits:,} members. Wall seconds of the whole process. Same counts in every run: "
        f"{'yes' if same else 'NO'}.",
        "",
        "| engine | --jobs | seconds | 1-min load at start | reason |",
        "|---|---:|---:|---:|---|",
    ]
    for method, jobs, wall, _, reason, la in rows:
        lines.append(f"| {method} | {jobs} | {wall:.2f} | {la:.2f} | {reason} |")
    lines.append("")
    tmpf = args.out.with_suffix(".tmp")
    tmpf.write_text("\n".join(lines))
    tmpf.replace(args.out)
    print(f"wrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
