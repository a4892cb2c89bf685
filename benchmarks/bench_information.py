"""Exact information measures: speed of enumeration and BDD counting, side by side.

Usage (from the repository root):

    python benchmarks/bench_information.py [--limit 60] [--snapshots DIR]

writes ``benchmarks/results/information.md``. Cases:

1. every input of ``mnist_bnn_2_blk_16_25_20_10`` (2^16 inputs);
2. the Hamming ball of radius 3 around ``instance_0_100`` for
   ``mnist_bnn_2_blk_100_50_20_10`` (166,751 inputs);
3. Hamming balls of radius 1..6 around ``instance_0_784`` for the 784-input
   models, each run in a child process with a wall-clock limit (default 60 s);
   a method stopped at one radius is not tried at larger ones;
4. the full information plane of a 12-10-7-5-4-3-2 training run on ib12
   (every snapshot, all 4096 inputs), trained here unless ``--snapshots`` is given.

Every figure is wall-clock on a shared machine; the load average is recorded
with each table. The BNNQuanalyst models are read from ../shared/anchors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from math import comb
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = Path(os.environ.get("BNNVERIFY_ANCHORS", ROOT.parent / "shared" / "anchors" / "bnnquanalyst"))
RESULTS = ROOT / "benchmarks" / "results" / "information.md"
#: Wall-clock limit of one child run (seconds).
DEFAULT_LIMIT = 60.0
#: Enumeration is attempted only up to this many members (beyond, its time is extrapolated from the rate).
ENUM_MAX = 10**7


READING = """\
* Whole 2^16 space and the radius-3 ball of 166,751 inputs: enumeration through the bit-packed
  evaluator is well under the 10 s target (bounded by the evaluator's throughput and one
  `np.unique` per layer); `--method auto` picks it. The BDD path gives the same exact counts but
  pays for compiling the network (bounded by the BDD engine: node growth of the layer relations and
  the per-code path walk in Python).
* 784-input Hamming balls: enumeration stops being practical beyond radius 2 (3·10^5 members,
  seconds; radius 3 is 8·10^7). The `ball` programme never enumerates members: its cost is
  bounded by the number of distinct (undecided first-layer dot products, flips used) states,
  which grows with the number of first-layer neurons within reach of the radius (k) and the
  number of distinct flipped-bit types. For the 784-50-50-50-50-10 model it reaches radius 4
  (1.57·10^10 inputs) in well under a minute; for the 784-100-10 model (k = 14 undecided neurons
  at radius 3, 738 distinct bit types) it stops at radius 2 within 60 s, as does the BDD path.
* The information plane: all snapshots through the evaluator over the 4096 inputs (one trace per
  snapshot gives every layer), bounded by loading the snapshot files and the evaluator.
"""


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def one(spec: dict) -> dict:
    """Run one case in this process and return its figures (called in a child)."""
    import numpy as np  # noqa: F401

    from bnnverify.importers.bnnquanalyst import import_bnnquanalyst
    from bnnverify.information.measures import info_over_region
    from bnnverify.files.inputs import read_bits
    from bnnverify.encoders.regions import HammingBall, Whole

    net = import_bnnquanalyst(ANCHORS / "models" / spec["model"])
    if spec["region"] == "whole":
        region = Whole(net.n_inputs)
    else:
        region = HammingBall(read_bits(str(ANCHORS / "inputs" / spec["input"]), net.n_inputs), spec["radius"])
    t0 = time.perf_counter()
    rep = info_over_region(net, region, labels="model", method=spec["method"])
    return {
        "seconds": time.perf_counter() - t0,
        "size": rep.region_size,
        "H_Y": rep.H_Y,
        "layers": [(li.codes, li.H_T, li.I_TY) for li in rep.layers],
    }


def run_child(spec: dict, limit: float) -> dict:
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True, text=True,
                           timeout=limit, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"timeout": True, "seconds": time.perf_counter() - t0}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}",
                "seconds": time.perf_counter() - t0}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_layers(r: dict) -> str:
    if "layers" not in r:
        return ""
    return "; ".join(f"L{i + 1}: {c} codes, H(T)={h:.4f}, I(T;Y)={it:.4f}" for i, (c, h, it) in enumerate(r["layers"]))


def fmt_time(r: dict, limit: float) -> str:
    if r.get("timeout"):
        return f"> {limit:.0f} s (stopped)"
    if "error" in r:
        return f"failed: {r['error']}"
    return f"{r['seconds']:.2f} s"


def infoplane_case(snap_dir: Path | None) -> tuple[str, list[str]]:
    from bnnverify.data.datasets import load_dataset
    from bnnverify.information.infoplane import compute_infoplane, load_snapshots
    from bnnverify.training.train import train_bnn
    from bnnverify.encoders.regions import Whole

    lines = []
    tmp = None
    if snap_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-infoplane-")
        snap_dir = Path(tmp.name)
        t0 = time.perf_counter()
        train_bnn("ib12", [10, 7, 5, 4, 3], epochs=300, seed=0, ste="ste", snapshots=snap_dir)
        lines.append(f"training (300 epochs, snapshots of epochs 0..300): {time.perf_counter() - t0:.1f} s ({load()})")
    t0 = time.perf_counter()
    snaps = load_snapshots(snap_dir)
    t_load = time.perf_counter() - t0
    ds = load_dataset("ib12", "all")
    t0 = time.perf_counter()
    plane = compute_infoplane(snaps, dataset=ds)
    t_ds = time.perf_counter() - t0
    t0 = time.perf_counter()
    plane2 = compute_infoplane(snaps, region=Whole(12), labels="final")
    t_rg = time.perf_counter() - t0
    lines.append(f"{len(snaps)} snapshots loaded in {t_load:.2f} s")
    lines.append(f"info plane over the ib12 data set (all 4096 inputs, Y = label), {len(plane.points)} points: "
                 f"{t_ds:.2f} s ({load()})")
    lines.append(f"info plane over the whole 2^12 region (Y = final snapshot's class), {len(plane2.points)} points: "
                 f"{t_rg:.2f} s ({load()})")
    if tmp is not None:
        tmp.cleanup()
    return f"{t_load + t_ds:.2f}", lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=float, default=DEFAULT_LIMIT, help="wall-clock limit per child run (s)")
    ap.add_argument("--snapshots", type=Path, default=None, help="an existing ib12 snapshot directory")
    ap.add_argument("--radii", default="1,2,3,4,5,6", help="radii of the 784-input cases")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    cmd = "python benchmarks/bench_information.py " + " ".join(a for a in sys.argv[1:])
    out = ["# Exact information measures: speed", "",
           f"Produced by `{cmd.strip()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
           f"{os.cpu_count()} cores shared with other jobs — the load average is given with every table. "
           "Y = the model's own prediction; each run is one child process (import + counting; the "
           "time is that of `info_over_region` only, or the wall-clock limit when stopped). "
           "Enumeration = every member through the bit-packed evaluator (vectorised counting); "
           "ball = the exact Hamming-ball programme (first-layer code counts by a dynamic programme over "
           "flipped-bit types, then the distinct codes through the evaluator; no member is enumerated); "
           "BDD = one `dd.cudd` compilation of the network over the region, then exact per-code "
           "counts per layer (Python ints). All methods that finish agree exactly (tests check this "
           "on random networks).", ""]
    cases = [
        ("whole 2^16", {"model": "mnist_bnn_2_blk_16_25_20_10", "region": "whole"}),
        ("Hamming r=3 around instance_0_100",
         {"model": "mnist_bnn_2_blk_100_50_20_10", "region": "hamming", "input": "instance_0_100.txt", "radius": 3}),
    ]
    out += ["## Required cases", "", f"({load()} at start)", "",
            "| model | region | members | method | time | per layer |", "|---|---|---|---|---|---|"]
    for name, spec in cases:
        for method in ("enum", "bdd") if spec["region"] == "whole" else ("enum", "ball", "bdd"):
            r = run_child({**spec, "method": method}, args.limit)
            size = r.get("size", 1 << 16 if spec["region"] == "whole" else sum(comb(100, i) for i in range(4)))
            out.append(f"| {spec['model']} | {name} | {size} | {method} | {fmt_time(r, args.limit)} | {fmt_layers(r)} |")
            print(out[-1], flush=True)
    out += ["", f"({load()} at end)", "", "## 784-input models: Hamming balls around instance_0_784", "",
            f"Each run stopped after {args.limit:.0f} s. Enumeration is run only up to {ENUM_MAX:.0e} members.", "",
            "| model | radius | members | method | time | per layer |", "|---|---|---|---|---|---|"]
    for model in ("mnist_bnn_1_blk_784_100_10", "mnist_bnn_4_blk_784_50_50_50_50_10"):
        stopped: set[str] = set()
        for radius in [int(r) for r in args.radii.split(",")]:
            size = sum(comb(784, i) for i in range(radius + 1))
            for method in ("enum", "ball", "bdd"):
                if method == "enum" and size > ENUM_MAX:
                    out.append(f"| {model} | {radius} | {size} | enum | not run (> {ENUM_MAX:.0e} members) | |")
                    continue
                if method in stopped:
                    out.append(f"| {model} | {radius} | {size} | {method} | not run (stopped at a smaller radius) | |")
                    continue
                spec = {"model": model, "region": "hamming", "input": "instance_0_784.txt", "radius": radius,
                        "method": method}
                r = run_child(spec, args.limit)
                if "layers" not in r:
                    stopped.add(method)
                out.append(f"| {model} | {radius} | {size} | {method} | {fmt_time(r, args.limit)} | {fmt_layers(r)} |")
                print(out[-1], flush=True)
    out += ["", f"({load()} at end)", "", "## Information plane of a 12-10-7-5-4-3-2 run on ib12", ""]
    _, lines = infoplane_case(args.snapshots)
    out += [f"- {l}" for l in lines]
    print("\n".join(lines), flush=True)
    out += ["", "## Reading", "", READING, ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
