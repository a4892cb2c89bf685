"""Time to encode a whole 784-100-10 network (no region folding) in every CNF encoding.

    python benchmarks/bench_cnf_encode.py [--out benchmarks/results/cnf_encode.md]

The issue's floor "encoding a 784-100-10 network takes under 1 s": on the
whole input space every neuron is a reified threshold over 784 literals, so
clausal encodings pay O(n·t) or O(n log² n) clauses per neuron, while
``native`` (Minicard/Gluecard at-most constraints) keeps each direction as one
constraint. On Hamming balls the ball-aware first layer is what makes
encoding cheap (see cnf.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from bnnverify.importers.bnnquanalyst import import_bnnquanalyst
from bnnverify.files.atomic import atomic_write
from bnnverify.encoders.cardinality_cnf import ENCODINGS
from bnnverify.encoders.cnf import encode
from bnnverify.encoders.regions import Whole

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = Path(os.environ.get("BNNVERIFY_ANCHORS", ROOT.parent / "shared" / "anchors" / "bnnquanalyst"))
MODEL = "mnist_bnn_1_blk_784_100_10"
FLOOR_SECONDS = 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cnf_encode.md")
    args = ap.parse_args()
    net = import_bnnquanalyst(ANCHORS / "models" / MODEL)
    load = os.getloadavg()[0]
    rows = []
    for enc in sorted(ENCODINGS):
        t0 = time.perf_counter()
        f = encode(net, Whole(net.n_inputs), encoding=enc)
        dt = time.perf_counter() - t0
        rows.append((enc, dt, f.n_vars, f.n_clauses, len(f.atmosts)))
        print(f"{enc:12s} {dt:8.2f} s  vars {f.n_vars:,}  clauses {f.n_clauses:,}  native {len(f.atmosts)}", flush=True)
    lines = [
        f"# Encoding {MODEL} over the whole input space",
        "",
        f"Command: `python benchmarks/bench_cnf_encode.py`; {platform.python_version()}, "
        f"load {load:.2f} at start, 2 cores. Floor: {FLOOR_SECONDS:g} s.",
        "",
        "| encoding | seconds | variables | clauses | native at-most constraints | under floor |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for enc, dt, nv, nc, na in sorted(rows, key=lambda r: r[1]):
        lines.append(f"| {enc} | {dt:.2f} | {nv:,} | {nc:,} | {na} | {'yes' if dt < FLOOR_SECONDS else 'no'} |")
    lines += [
        "",
        "What bounds it: Python clause generation (~1 M clauses/s). Only `native` meets the floor on the",
        "whole space (two at-most constraints per neuron; the remaining clauses are the argmax layer's",
        "unary counters). The clausal encodings grow with fan-in × threshold; on Hamming balls the",
        "ball-aware first layer folds most neurons to constants and encodes the rest over the flips only",
        "(0.1–0.7 s at radius ≤ 10, see cnf.md).",
    ]
    with atomic_write(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
