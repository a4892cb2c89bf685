"""Exact disagreement counts over all 2^64 digits inputs by the BDD: where it is feasible, where it blows up.

For digits networks of the study's kind (64 binarised pixels, hidden widths
(h1, h2), trained as the study trains them: ``ste-base`` for E epochs, then
``lns`` fine-tuned from it for F epochs), this measures

* ``bnnverify equivalence A B --count --method bdd`` over the whole space
  (:func:`bnnverify.check_equivalence`, ``count=True``: the BDD of each
  class of each network related back to the inputs, the exact confusion
  counts by :mod:`bnnverify.encoders.bdd_count` in Python ints, never
  dd.cudd's float count), with a time limit and CUDD's memory cap; and
* where the BDD grows: the compilation of network A alone, stage by stage
  (hidden layer k's reachable codes, the *image* ``I_k``, built through
  layers 1..k; then the class sets related back to the inputs), each stage in
  a fresh manager under the same limits: seconds, live nodes, the image's
  size in nodes, or the stage where the time limit / memory cap was hit.

Every count is exact or reported as ``timeout``/``unknown``; nothing is
estimated. The exact count is cross-checked against the data set (a
disagreement on one of the 1797 images must be among the counted ones: the
count is at least the number of data images where the networks differ).

Usage:
    python benchmarks/equivalence_whole.py [--widths 2:3:4:8:64,32] [--timeout 60]
                                           [--memory-mb 512] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from bnnverify.files.atomic import atomic_write  # noqa: E402

#: The study's digits training (bnnverify/training/study.py FULL): 30 baseline epochs, 15 of fine-tuning.
EPOCHS, FINETUNE, LR, BATCH = 30, 15, 0.01, 128


def _stages(net, timeout: float, memory: int) -> list[dict]:
    """Compile ``net`` over the whole space stage by stage, each stage in a fresh manager."""
    from bnnverify.encoders.bdd import BDDBudget, BDDCompiler
    from bnnverify.encoders.layers import BNN, ArgmaxLayer
    from bnnverify.encoders.regions import Whole
    from bnnverify.errors import BudgetExceeded, DeadlineExceeded

    out = []
    L = len(net.hidden)
    for k in range(1, L + 2):
        t0 = time.perf_counter()
        budget = BDDBudget(max_memory_bytes=memory, deadline=t0 + timeout)
        comp = BDDCompiler(net.n_inputs, budget=budget)
        row = {"stage": f"image of hidden layer {k}" if k <= L else "class sets related back to the inputs"}
        try:
            if k <= L:
                w = net.hidden[k - 1].n_outputs
                dummy = ArgmaxLayer(np.ones((2, w), np.int8), np.ones(2), np.zeros(2))
                nb = comp.compile(BNN(tuple(net.hidden[:k]), dummy), Whole(net.n_inputs))
                img = nb.images[-1]
                row.update(status="done", image_nodes=int(img.dag_size),
                           reachable_codes=int(nb.reachable_codes(k)) if w <= 64 else None)
            else:
                nb = comp.compile(net, Whole(net.n_inputs))
                sets = [nb.inputs_of([c]) for c in range(net.n_classes)]
                counter = comp.counter()
                counts = [comp.count_inputs(s, nb.plan, counter) for s in sets]
                if sum(counts) != 2 ** net.n_inputs:
                    raise SystemExit(f"class counts add up to {sum(counts)}, not 2^{net.n_inputs}")
                row.update(status="done", class_nodes=int(sum(s.dag_size for s in sets)), class_counts=counts)
        except DeadlineExceeded:
            row["status"] = f"timeout ({timeout:g} s)"
        except BudgetExceeded as e:
            row["status"] = f"memory cap ({memory >> 20} MiB)"
            row["note"] = str(e)
        row["seconds"] = time.perf_counter() - t0
        row["live_nodes"] = int(comp.live_nodes)  # after a failed stage: what CUDD kept, not the peak
        out.append(row)
        del comp
        if row["status"] != "done":
            break
    return out


def measure(hidden: tuple[int, ...], seed: int, timeout: float, memory: int) -> dict:
    from bnnverify.data.datasets import load_dataset
    from bnnverify.engines.bdd import BDDBudget
    from bnnverify.evaluation.evaluator import Evaluator
    from bnnverify.questions.equivalence import check_equivalence
    from bnnverify.training.train import train_bnn

    base = train_bnn("digits", hidden, epochs=EPOCHS, seed=seed, lr=LR, batch_size=BATCH)
    lns = train_bnn("digits", hidden, epochs=FINETUNE, seed=seed, lr=LR, batch_size=BATCH, binarizer="lns",
                    start=base.module)
    a, b = base.model, lns.model
    X = load_dataset("digits", "all").X
    on_data = int((Evaluator(a).classify(X) != Evaluator(b).classify(X)).sum())
    row = {"hidden": list(hidden), "seed": seed, "test_acc": [base.test_accuracy, lns.test_accuracy],
           "on_data": on_data, "stages": _stages(a, timeout, memory)}
    t0 = time.perf_counter()
    r = check_equivalence(a, b, count=True, method="bdd", timeout=timeout,
                          budget=BDDBudget(max_memory_bytes=memory))
    row["equivalence"] = {"verdict": r.verdict.value, "count": r.disagreement_count, "note": r.note,
                          "seconds": time.perf_counter() - t0}
    if r.disagreement_count is not None and r.disagreement_count < on_data:
        raise SystemExit(f"{hidden}: {r.disagreement_count} disagreements counted, {on_data} on the data set")
    return row


def _fmt(rows: list[dict], timeout: float, memory: int) -> str:
    lines = ["| hidden | test acc (base / lns) | differ on the 1797 images | `equivalence --count --method bdd` "
             "over 2^64 | seconds | stages of network A alone (seconds; image nodes / reachable codes) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        e = r["equivalence"]
        if e["count"] is not None:
            what = f"{e['verdict']}: **{e['count']}** inputs (exact)"
        else:
            what = f"{e['verdict']} ({e['note'] or 'no count'})"
        st = []
        for s in r["stages"]:
            if s["status"] == "done" and "image_nodes" in s:
                st.append(f"{s['stage']}: {s['seconds']:.1f} s, {s['image_nodes']} nodes / "
                          f"{s['reachable_codes']} codes")
            elif s["status"] == "done":
                st.append(f"{s['stage']}: {s['seconds']:.1f} s, {s['class_nodes']} nodes")
            else:
                st.append(f"{s['stage']}: **{s['status']}** after {s['seconds']:.1f} s")
        lines.append(f"| 64-{'-'.join(map(str, r['hidden']))}-10 | {r['test_acc'][0]:.3f} / {r['test_acc'][1]:.3f} | "
                     f"{r['on_data']} | {what} | {e['seconds']:.1f} | {'; '.join(st)} |")
    return "\n".join(lines)


def main() -> None:
    from training_methods import _uptime, _versions

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", default="2:3:4:8:64,32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--memory-mb", type=int, default=512)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args()
    widths = [tuple(int(w) for w in part.split(",")) for part in args.widths.split(":")]
    memory = args.memory_mb << 20
    before = _uptime()
    rows = []
    for h in widths:
        rows.append(measure(h, args.seed, args.timeout, memory))
        print(_fmt(rows[-1:], args.timeout, memory), flush=True)
    after = _uptime()
    out = Path(args.out)
    with atomic_write(out / "equivalence_whole.json", "w") as fh:
        json.dump({"rows": rows, "timeout": args.timeout, "memory_mb": args.memory_mb}, fh)
    text = ["# Exact disagreement counts over all 2^64 digits inputs (BDD)", "",
            f"Command: `nice python benchmarks/equivalence_whole.py --widths {args.widths} --seed {args.seed} "
            f"--timeout {args.timeout:g} --memory-mb {args.memory_mb}`.", "",
            f"Versions: {_versions()}.", "", f"`uptime` before: {before}", "", f"`uptime` after: {after}", "",
            f"Pairs: `ste-base` ({EPOCHS} epochs, lr {LR}, batch {BATCH}, seed {args.seed}) and `lns` fine-tuned "
            f"from it for {FINETUNE} epochs, as the study trains them. Limits per question and per stage: "
            f"{args.timeout:g} s, CUDD memory cap {args.memory_mb} MiB. A count is exact (Python ints over the BDD, "
            "checked to be at least the number of data images where the two differ) or the limit that stopped it "
            "is given; nothing is estimated. Stages: network A compiled alone in a fresh manager up to each "
            "hidden layer's image (its reachable codes), then with its class sets related back to the inputs.", "",
            _fmt(rows, args.timeout, memory), ""]
    with atomic_write(out / "equivalence_whole.md", "w") as fh:
        fh.write("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
