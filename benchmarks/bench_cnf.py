"""CNF engine benchmark: local robustness queries on 784-input BNNs.

Question: is there an input within Hamming radius k of instance x whose class
differs from x's? (``bnnverify.engines.sat.sat_find_class`` with every class but the
predicted one; every counterexample is replayed by the evaluator.)

Sections (each prints a markdown table; ``--out`` writes them all to a file):

* ``solvers``   ball-aware encoding (default neuron encoding) × solver × k
* ``encodings`` generic whole-network encodings × k (first layer not ball-aware)
* ``floors``    radius 1..3 on every shipped 784-pixel instance of
                mnist_bnn_1_blk_784_100_10 (each must be < 2 s), plus encoding times
* ``large``     radius 5, 10, 20 on the 784-input models and a random
                784-512-512-10: fraction decided within the per-query limit, median time

Usage::

    python benchmarks/bench_cnf.py --limit 10 --out benchmarks/results/cnf.md
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bnnverify.importers.bnnquanalyst import import_bnnquanalyst, read_instance  # noqa: E402
from bnnverify.evaluation.evaluator import Evaluator  # noqa: E402
from bnnverify.engines.sat import sat_find_class  # noqa: E402
from bnnverify.encoders.cardinality_cnf import DEFAULT_ENCODING, ENCODINGS  # noqa: E402
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer  # noqa: E402
from bnnverify.encoders.regions import HammingBall  # noqa: E402

ANCHORS = Path(os.environ.get("BNNVERIFY_ANCHORS", ROOT.parent / "shared" / "anchors" / "bnnquanalyst"))
MODELS_784 = ["mnist_bnn_1_blk_784_100_10", "fashionmnist_bnn_1_blk_784_100_10", "mnist_bnn_4_blk_784_50_50_50_50_10"]
RADII = [1, 2, 5, 10, 20]
#: The issue's floor for radius <= 3 queries (seconds).
FLOOR_S = 2.0
RANDOM_SEED = 2024
RANDOM_WIDTHS = (784, 512, 512, 10)
#: A generic encoding is not run at larger k once encoding took longer than this (s)
#: or produced more clauses than this (Python clause lists: ~150 bytes per clause).
ENCODE_GIVE_UP = 10.0
CLAUSES_GIVE_UP = 1_500_000


def random_net(widths=RANDOM_WIDTHS, seed=RANDOM_SEED) -> BNN:
    """Random ±1 weights, threshold 0 (n even: no ties at 0 broken oddly), unit scales."""
    rng = np.random.default_rng(seed)
    hidden = tuple(
        ThresholdLayer(rng.choice(np.array([-1, 1], np.int8), size=(widths[i + 1], widths[i])),
                       np.zeros(widths[i + 1], np.int64), name=f"layer{i}")
        for i in range(len(widths) - 2)
    )
    out = ArgmaxLayer(rng.choice(np.array([-1, 1], np.int8), size=(widths[-1], widths[-2])),
                      np.ones(widths[-1]), np.zeros(widths[-1]))
    return BNN(hidden, out)


def instances() -> list[tuple[str, np.ndarray]]:
    files = sorted(glob.glob(str(ANCHORS / "inputs" / "instance_*_784.txt")))
    return [(Path(f).stem, read_instance(f, 784)) for f in files]


def query(net, ev, x, k, **kw):
    pred = ev.classify_one(x)
    return sat_find_class(net, HammingBall(x, k), [c for c in range(net.n_classes) if c != pred], **kw)


def fmt(v: float) -> str:
    return f"{v:.3f}"


def section_solvers(nets, insts, limit, solvers, n_inst):
    net = nets["mnist_bnn_1_blk_784_100_10"]
    ev = Evaluator(net)
    rows = ["| solver | k | sat | unsat | timeout | median s | max s | median encode s | max vars | max clauses |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for solver in solvers:
        for k in RADII:
            res = [query(net, ev, x, k, solver=solver, timeout=limit) for _, x in insts[:n_inst]]
            rows.append(_row([solver, k], res))
            print(rows[-1], flush=True)
    return "### Ball-aware encoding × solver (mnist_bnn_1_blk_784_100_10)\n\n" + "\n".join(rows)


def _row(head, res) -> str:
    st = [r.status.value for r in res]
    t = [r.seconds for r in res]
    return "| " + " | ".join(str(h) for h in head) + " | " + " | ".join([
        str(st.count("sat")), str(st.count("unsat")), str(st.count("timeout") + st.count("unknown")),
        fmt(statistics.median(t)), fmt(max(t)), fmt(statistics.median(r.encode_seconds for r in res)),
        str(max(r.n_vars for r in res)), str(max(r.n_clauses for r in res))]) + " |"


def section_encodings(nets, insts, limit, solver, n_inst):
    net = nets["mnist_bnn_1_blk_784_100_10"]
    ev = Evaluator(net)
    rows = ["| first layer | encoding | solver | k | sat | unsat | timeout | median s | max s | median encode s | max vars | max clauses |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    configs = [("ball-aware", DEFAULT_ENCODING, solver, True)]
    configs += [("generic", e, "minicard" if e == "native" else solver, False) for e in ENCODINGS]
    for label, enc, s, ba in configs:
        for k in RADII:
            res = [query(net, ev, x, k, solver=s, encoding=enc, ball_aware=ba, timeout=limit) for _, x in insts[:n_inst]]
            rows.append(_row([label, enc, s, k], res))
            print(rows[-1], flush=True)
            if max(r.encode_seconds for r in res) > ENCODE_GIVE_UP or max(r.n_clauses for r in res) > CLAUSES_GIVE_UP:
                rows.append(f"| {label} | {enc} | {s} | >{k} | not run: at k={k} encoding took > "
                            f"{ENCODE_GIVE_UP:.0f} s or > {CLAUSES_GIVE_UP} clauses | | | | | | | |")
                break
    out = "### Generic encodings vs the ball-aware first layer (mnist_bnn_1_blk_784_100_10)\n\n" + "\n".join(rows)
    deep = nets["mnist_bnn_4_blk_784_50_50_50_50_10"]
    ev = Evaluator(deep)
    rows = ["| encoding (layers 2-4) | solver | k | sat | unsat | timeout | median s | max s | median encode s | max vars | max clauses |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for enc in ENCODINGS:
        s = "minicard" if enc == "native" else solver
        for k in (2, 5, 10):
            res = [query(deep, ev, x, k, solver=s, encoding=enc, timeout=limit) for _, x in insts[:n_inst]]
            rows.append(_row([enc, s, k], res))
            print(rows[-1], flush=True)
    return out + ("\n\n### Neuron encodings of the deeper layers, ball-aware first layer "
                  "(mnist_bnn_4_blk_784_50_50_50_50_10)\n\n" + "\n".join(rows))


def section_floors(nets, insts, solver):
    net = nets["mnist_bnn_1_blk_784_100_10"]
    ev = Evaluator(net)
    rows = ["| k | instances | sat (replayed) | unsat | undecided | median s | max s | max encode s | over 2 s (s, verdict) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for k in (1, 2, 3):
        res = [query(net, ev, x, k, solver=solver) for _, x in insts]
        st = [r.status.value for r in res]
        slow = sorted(((r.seconds, name, r.status.value) for (name, _), r in zip(insts, res) if r.seconds > FLOOR_S),
                      reverse=True)
        rows.append(f"| {k} | {len(res)} | {st.count('sat')} | {st.count('unsat')} | "
                    f"{len(res) - st.count('sat') - st.count('unsat')} | {fmt(statistics.median(r.seconds for r in res))} | "
                    f"{fmt(max(r.seconds for r in res))} | {fmt(max(r.encode_seconds for r in res))} | "
                    + (", ".join(f"{n.replace('instance_', '')} {t:.1f} {v}" for t, n, v in slow) or "none") + " |")
        print(rows[-1], flush=True)
    return ("### Floors: radius 1–3 around every shipped 784-pixel instance (mnist_bnn_1_blk_784_100_10, "
            f"solver {solver}, no time limit)\n\n" + "\n".join(rows))


def section_large(nets, insts, limit, solver, n_inst):
    rows = ["| model | k | instances | decided | sat | unsat | timeout | median s | max encode s |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, net in nets.items():
        ev = Evaluator(net)
        for k in (5, 10, 20):
            res = [query(net, ev, x, k, solver=solver, timeout=limit) for _, x in insts[:n_inst]]
            st = [r.status.value for r in res]
            dec = st.count("sat") + st.count("unsat")
            rows.append(f"| {name} | {k} | {len(res)} | {dec}/{len(res)} | {st.count('sat')} | {st.count('unsat')} | "
                        f"{len(res) - dec} | {fmt(statistics.median(r.seconds for r in res))} | "
                        f"{fmt(max(r.encode_seconds for r in res))} |")
            print(rows[-1], flush=True)
    return (f"### Large radii (solver {solver}, per-query limit {limit:g} s, first {n_inst} instances)\n\n"
            + "\n".join(rows))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=float, default=60.0, help="per-query wall-clock limit (s)")
    ap.add_argument("--sections", default="floors,solvers,encodings,large")
    ap.add_argument("--solvers", default="cadical195,glucose4,minicard,maplechrono,lingeling,kissat404")
    ap.add_argument("--solver", default="glucose4", help="solver of the encodings/floors/large sections")
    ap.add_argument("--instances", type=int, default=3, help="instances per cell (solvers/encodings)")
    ap.add_argument("--large-instances", type=int, default=10)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    nets = {m: import_bnnquanalyst(ANCHORS / "models" / m) for m in MODELS_784}
    insts = instances()
    parts = []
    load0 = os.getloadavg()
    t0 = time.time()
    for sec in a.sections.split(","):
        if sec == "floors":
            parts.append(section_floors(nets, insts, a.solver))
        elif sec == "solvers":
            parts.append(section_solvers(nets, insts, a.limit, a.solvers.split(","), a.instances))
        elif sec == "encodings":
            parts.append(section_encodings(nets, insts, a.limit, a.solver, a.instances))
        elif sec == "large":
            big = dict(nets)
            big["random_784_512_512_10"] = random_net()
            parts.append(section_large(big, insts, a.limit, a.solver, a.large_instances))
    load1 = os.getloadavg()
    head = (f"Command: `python benchmarks/bench_cnf.py {' '.join(sys.argv[1:])}`  \n"
            f"Load average (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
            f"at end {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f} on {os.cpu_count()} cores; "
            f"wall time {time.time() - t0:.0f} s.\n")
    text = head + "\n" + "\n\n".join(parts) + "\n"
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
