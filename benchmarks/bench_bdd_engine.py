"""The BDD engine itself against BNNQuanalyst (issue 14's 2x floor): class counts with ``--method bdd``.

Issue 14 asks the BDD engine to be at least 2x faster than BNNQuanalyst with
Sylvan on the whole 2^16 space of mnist_bnn_2_blk_16_25_20_10 and on the
radius-3 Hamming ball around instance_0_100 of mnist_bnn_2_blk_100_50_20_10
(BNNQuanalyst: 1.2-2.0 s and 1.9-2.2 s, CPU seconds of the C++ process, from
the issue's table; the C++ tool is not built on this machine, so no new figure
of it is invented). Both questions are measured two ways:

* *engine*: in one process, ``BDDCompiler(n).compile(net, region,
  classes=M).class_counts()`` for ``M`` = ``images`` (every layer's image, the
  engine before issue 14's last change) and ``auto`` (class sets composed back
  to the first layer, see ``encoders/bdd.py``), best of ``--repeat``; the
  counts of the two must be equal;
* *CLI*: ``bnnverify count MODEL ... --method bdd`` as a child process (start-up,
  imports and model loading included, as in the C++ tool's figure), best of
  ``--repeat`` wall and CPU (user + system) seconds.

    python benchmarks/bench_bdd_engine.py [--repeat 5] [--out benchmarks/results/bdd_engine.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bnnverify.encoders.bdd import BDDCompiler  # noqa: E402
from bnnverify.encoders.regions import HammingBall, Whole  # noqa: E402
from bnnverify.files.atomic import atomic_write  # noqa: E402
from bnnverify.importers.bnnquanalyst import import_bnnquanalyst  # noqa: E402
from training_methods import _versions  # noqa: E402

ANCHORS = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "bnnquanalyst"

#: (model, instance or None for the whole space, radius, BNNQuanalyst's CPU seconds from issue 14).
QUESTIONS = (
    ("mnist_bnn_2_blk_16_25_20_10", None, None, (1.2, 2.0)),
    ("mnist_bnn_2_blk_100_50_20_10", "instance_0_100", 3, (1.9, 2.2)),
)


def _center(instance: str) -> np.ndarray:
    return np.array((ANCHORS / "inputs" / f"{instance}.txt").read_text().split(), dtype=np.uint8)


def _engine(net, region, method: str, repeat: int) -> tuple[float, tuple[int, ...]]:
    best, counts = float("inf"), ()
    for _ in range(repeat):
        t = time.perf_counter()
        counts = BDDCompiler(net.n_inputs).compile(net, region, classes=method).class_counts()
        best = min(best, time.perf_counter() - t)
    return best, counts


def _cli(model: Path, instance: str | None, radius: int | None, repeat: int) -> tuple[float, float]:
    args = ["bnnverify", "count", str(model), "--method", "bdd"]
    if instance is None:
        args += ["--region", "whole"]
    else:
        args += ["--hamming", str(radius), "--input", str(ANCHORS / "inputs" / f"{instance}.txt")]
    wall = cpu = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        w = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        c = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        wall, cpu = min(wall, w), min(cpu, c)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "bdd_engine.md"))
    ap.add_argument("--models", default="/tmp/bnnv-bdd-engine-models", help="Where the imported .npz files go.")
    args = ap.parse_args()
    from bnnverify.files.modelio import save_model

    load0 = os.getloadavg()
    mdir = Path(args.models)
    mdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, instance, radius, (q_lo, q_hi) in QUESTIONS:
        net = import_bnnquanalyst(ANCHORS / "models" / name)
        path = mdir / f"{name}.npz"
        save_model(net, path)
        region = Whole(net.n_inputs) if instance is None else HammingBall(_center(instance), radius)
        t_img, c_img = _engine(net, region, "images", args.repeat)
        t_auto, c_auto = _engine(net, region, "auto", args.repeat)
        if c_img != c_auto or sum(c_auto) != region.size:
            raise SystemExit(f"{name}: the two class methods disagree ({c_img} vs {c_auto}) or miss members")
        wall, cpu = _cli(path, instance, radius, args.repeat)
        what = "whole 2^16" if instance is None else f"Hamming <= {radius} around {instance}"
        rows.append((name, what, region.size, q_lo, q_hi, t_img, t_auto, wall, cpu))
    load1 = os.getloadavg()
    lines = ["# The BDD engine against BNNQuanalyst (issue 14)", "",
             f"Command: `python benchmarks/bench_bdd_engine.py --repeat {args.repeat}`; {_versions()}. "
             f"Load average (1/5/15 min) {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start, "
             f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at the end (2 cores).", "",
             "BNNQuanalyst: CPU seconds from issue 14's table (best of its CUDD and Sylvan settings). bnnverify: "
             f"best of {args.repeat}; *engine* = compile + exact class counts in one process "
             "(`classes=\"images\"`: every layer's image; `auto`: class sets composed back to the first layer); "
             "*CLI* = `bnnverify count ... --method bdd` as a child process (start-up and loading included).", "",
             "| model | region | members | BNNQuanalyst (Sylvan) s | engine, images s | engine, auto s | "
             "ratio (BNNQuanalyst low / auto) | CLI wall s | CLI CPU s | ratio (low / CLI CPU) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, what, size, lo, hi, ti, ta, w, c in rows:
        lines.append(f"| {name} | {what} | {size:,} | {lo:.1f}–{hi:.1f} | {ti:.3f} | {ta:.3f} | "
                     f"{lo / ta:.2f}–{hi / ta:.2f} | {w:.2f} | {c:.2f} | {lo / c:.2f}–{hi / c:.2f} |")
    with atomic_write(Path(args.out), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
