"""The information plane of BNN training, with exact counts (Raj, Nayak & Kalyani 2020, reproduced).

Usage (from the repository root):

    python benchmarks/infoplane_experiment.py [--epochs 300] [--seeds 0,1,2] [--digits-epochs 40]

1. ib12: the 12-10-7-5-4-3-2 BNN, trained with several seeds and both
   straight-through estimators (``ste``, ``approx_sign``), a snapshot per
   epoch; per snapshot and layer the exact ``(I(X;T), I(T;Y))`` over all 4096
   inputs (uniform), Y = the ib12 label.
2. digits (64 bits, 10 classes): a 64-32-16-10 BNN, a snapshot per epoch;
   the plane (a) over the data set's rows (all 1797, Y = label), where
   H(T) <= log2(1797) = 10.81 bits, and (b) over the mixture of Hamming balls
   of radius 1, 2 and 3 around test images (Y = the image's label).

Writes to ``benchmarks/results/``: ``infoplane_ib12_<ste>.png`` (seed 0),
``infoplane_ib12_epochs.png`` (I(X;T) and I(T;Y) against epoch, every run),
``infoplane_digits_<dist>.png``, ``infoplane_experiment.csv`` (every point of
every run) and ``infoplane_experiment.md`` (the command, the load, accuracy
and a per-layer summary of each run).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results"
IB12_HIDDEN = (10, 7, 5, 4, 3)
DIGITS_HIDDEN = (32, 16)
STES = ("ste", "approx_sign")
#: Test images whose Hamming balls form the digits region (b).
BALL_IMAGES = 10
BALL_RADII = (1, 2, 3)
#: A compression phase: I(X;T) falls by at least this many bits from its peak.
COMPRESSION_BITS = 0.1
#: Span (epochs) over which the sharpest fall of I(X;T) is located.
WINDOW = 10


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def summarize(plane, run: str) -> list[dict]:
    """Per layer: I(X;T) and I(T;Y) at the start, at I(X;T)'s peak and at the end."""
    rows = []
    for layer in plane.layers:
        c = plane.curve(layer)
        ix = np.array([p.I_XT for p in c])
        iy = np.array([p.I_TY for p in c])
        ep = np.array([p.epoch for p in c])
        k = int(np.argmax(ix))
        j = int(np.argmax(iy))
        rows.append({
            "run": run, "layer": layer, "width": c[0].width,
            "IXT_first": ix[0], "IXT_peak": ix[k], "IXT_peak_epoch": int(ep[k]), "IXT_last": ix[-1],
            "ITY_first": iy[0], "ITY_max": iy[j], "ITY_max_epoch": int(ep[j]), "ITY_last": iy[-1],
            # Do fitting (I(T;Y) up) and compression (I(X;T) down) happen in the same epochs?
            "corr_dIXT_dITY": float(np.corrcoef(np.diff(ix), np.diff(iy))[0, 1]) if len(ix) > 2 and np.std(np.diff(ix)) > 0 and np.std(np.diff(iy)) > 0 else float("nan"),
            "compresses": bool(ix[k] - ix[-1] >= COMPRESSION_BITS),
            **_sharpest_drop(ep, ix, iy),
        })
    return rows


def _sharpest_drop(ep: np.ndarray, ix: np.ndarray, iy: np.ndarray) -> dict:
    """The WINDOW-epoch span where I(X;T) falls most, and how I(T;Y) changes over the same span."""
    wnd = min(WINDOW, len(ix) - 1)
    if wnd < 1:
        return {"drop_epoch": 0, "drop_IXT": 0.0, "drop_dITY": 0.0}
    drops = ix[:-wnd] - ix[wnd:]
    i = int(np.argmax(drops))
    return {"drop_epoch": int(ep[i]), "drop_IXT": float(drops[i]), "drop_dITY": float(iy[i + wnd] - iy[i])}


def write_points(writer, plane, run: str, dataset: str, ste: str, seed: int, dist: str) -> None:
    for p in sorted(plane.points, key=lambda p: (p.epoch, p.layer)):
        writer.writerow([run, dataset, dist, ste, seed, p.epoch, p.layer, p.width, p.codes, f"{p.I_XT:.6f}",
                         f"{p.I_TY:.6f}", f"{p.H_T_given_Y:.6f}", f"{p.H_Y:.6f}", p.region_size])


def plot_epochs(planes: dict, path: Path) -> None:
    """I(X;T) and I(T;Y) against epoch, per layer, for every ib12 run (two panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(STES), figsize=(11, 6.5), sharex=True)
    cmap = plt.get_cmap("tab10")
    for col, ste in enumerate(STES):
        for run, plane in planes.items():
            if f"_{ste}_" not in run + "_":
                continue
            for i, layer in enumerate(plane.layers):
                c = plane.curve(layer)
                e = [p.epoch for p in c]
                lbl = f"layer {layer}" if run.endswith("seed0") else None
                axes[0, col].plot(e, [p.I_XT for p in c], color=cmap(i), linewidth=0.6, alpha=0.85, label=lbl)
                axes[1, col].plot(e, [p.I_TY for p in c], color=cmap(i), linewidth=0.6, alpha=0.85)
        axes[0, col].set_title(f"ib12, 12-10-7-5-4-3-2, STE = {ste} (one line per seed and layer)", fontsize=9)
        axes[0, col].set_ylabel("I(X;T) = H(T) [bits]")
        axes[1, col].set_ylabel("I(T;Y) [bits]")
        axes[1, col].set_xlabel("epoch")
        for r in range(2):
            axes[r, col].grid(True, linewidth=0.3, alpha=0.5)
        axes[0, col].legend(fontsize=7, loc="upper right")
    fig.suptitle("Exact I(X;T) and I(T;Y) during training (all 4096 inputs, Y = ib12 label)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=66)
    plt.close(fig)


#: Epochs before / after the compression event compared by :func:`analyze`.
BEFORE, AFTER = (-20, 0), (10, 40)
#: The late-training span compared by :func:`analyze` (epochs from the end).
LATE = 50


def analyze(csv_path: Path) -> list[str]:
    """Around layer 1's sharpest 10-epoch fall of I(X;T): the last hidden layer's I(T;Y) before and after.

    Reads the CSV this script writes, so it can be rerun on the committed file.
    """
    import collections

    runs: dict[str, dict[int, list]] = collections.defaultdict(dict)
    with open(csv_path) as fh:
        for r in csv.DictReader(fh):
            if r["dataset"] == "ib12":
                runs[r["run"]].setdefault(int(r["layer"]), []).append(
                    (int(r["epoch"]), float(r["I_XT"]), float(r["I_TY"])))
    out = ["## Around the compression event (ib12)", "",
           f"`drop` = first epoch of layer 1's sharpest {WINDOW}-epoch fall of I(X;T); I(T;Y) of the last hidden "
           f"layer averaged over epochs drop{BEFORE[0]:+d}..drop{BEFORE[1]:+d} (before), "
           f"drop+{AFTER[0]}..drop+{AFTER[1]} (after) and the last {LATE} epochs (late). "
           f"Regenerate with `python benchmarks/infoplane_experiment.py --analyze`.", "",
           "| run | drop | layer-1 I(X;T) at drop-5 -> drop+15 | last-layer I(T;Y) before / after / late |",
           "|---|---|---|---|"]
    for run, layers in runs.items():
        first = np.array(sorted(layers[min(layers)]))
        last = np.array(sorted(layers[max(layers)]))
        ix = first[:, 1]
        drops = ix[:-WINDOW] - ix[WINDOW:]
        e = int(np.argmax(drops))

        def mean(lo: int, hi: int) -> float:
            return float(last[max(lo, 0):max(hi, 1), 2].mean())

        out.append(f"| {run} | {int(first[e, 0])} | {ix[max(e - 5, 0)]:.2f} -> {ix[min(e + 15, len(ix) - 1)]:.2f} | "
                   f"{mean(e + BEFORE[0], e + BEFORE[1]):.3f} / {mean(e + AFTER[0], e + AFTER[1]):.3f} / "
                   f"{mean(len(last) - LATE, len(last)):.3f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--analyze", action="store_true",
                    help="only (re)write the 'around the compression event' table from the CSV in --out")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--digits-epochs", type=int, default=40)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.analyze:
        md_path = args.out / "infoplane_experiment.md"
        text = md_path.read_text().split("## Around the compression event")[0].rstrip("\n")
        md_path.write_text(text + "\n\n" + "\n".join(analyze(args.out / "infoplane_experiment.csv")) + "\n")
        print(f"wrote {md_path}")
        return
    sys.path.insert(0, str(ROOT))
    from bnnverify.data.datasets import load_dataset
    from bnnverify.information.infoplane import compute_infoplane, load_snapshots, plot_infoplane
    from bnnverify.training.train import train_bnn

    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    md = ["# Information plane of BNN training: exact counts", "",
          f"Produced by `python benchmarks/infoplane_experiment.py --epochs {args.epochs} --seeds {args.seeds} "
          f"--digits-epochs {args.digits_epochs}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
          f"({os.cpu_count()} shared cores; {load()} at start).", ""]
    summary: list[dict] = []
    runs_md = ["| run | train acc | test acc | training s | plane s |", "|---|---|---|---|---|"]
    csv_path = args.out / "infoplane_experiment.csv"
    fh = open(csv_path, "w", newline="")
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(["run", "dataset", "distribution", "ste", "seed", "epoch", "layer", "width", "codes", "I_XT", "I_TY",
                "H_T_given_Y", "H_Y", "size"])
    ib_all = load_dataset("ib12", "all")
    ib_planes = {}
    with tempfile.TemporaryDirectory(prefix="infoplane-exp-") as tmp:
        for ste in STES:
            for seed in seeds:
                run = f"ib12_{ste}_seed{seed}"
                d = Path(tmp) / run
                r = train_bnn("ib12", IB12_HIDDEN, epochs=args.epochs, seed=seed, ste=ste, snapshots=d)
                t0 = time.perf_counter()
                plane = compute_infoplane(load_snapshots(d), dataset=ib_all)
                tp = time.perf_counter() - t0
                ib_planes[run] = plane
                write_points(w, plane, run, "ib12", ste, seed, "all 4096 inputs")
                summary += summarize(plane, run)
                runs_md.append(f"| {run} | {r.train_accuracy:.3f} | {r.test_accuracy:.3f} | {r.seconds:.1f} | {tp:.1f} |")
                print(runs_md[-1], flush=True)
                if seed == seeds[0]:
                    plot_infoplane(plane, args.out / f"infoplane_ib12_{ste}.png",
                                   f"Exact information plane — ib12, 12-10-7-5-4-3-2, STE = {ste}, seed {seed}\n"
                                   "all 4096 inputs (uniform), Y = ib12 label", dpi=80)
        plot_epochs(ib_planes, args.out / "infoplane_ib12_epochs.png")

        # digits
        run = "digits_ste_seed0"
        d = Path(tmp) / run
        r = train_bnn("digits", DIGITS_HIDDEN, epochs=args.digits_epochs, seed=0, ste="ste", snapshots=d)
        snaps = load_snapshots(d)
        runs_md.append(f"| {run} (64-32-16-10) | {r.train_accuracy:.3f} | {r.test_accuracy:.3f} | {r.seconds:.1f} | |")
        print(runs_md[-1], flush=True)
        dig_all = load_dataset("digits", "all")
        t0 = time.perf_counter()
        plane = compute_infoplane(snaps, dataset=dig_all)
        runs_md.append(f"| {run}: plane over the 1797 rows | | | | {time.perf_counter() - t0:.1f} |")
        write_points(w, plane, run, "digits", "ste", 0, "data set (1797 rows)")
        summary += summarize(plane, run + " rows")
        plot_infoplane(plane, args.out / "infoplane_digits_rows.png",
                       "Exact information plane — digits, 64-32-16-10\nempirical distribution of the 1797 images "
                       "(H(T) <= log2 1797 = 10.81), Y = label", dpi=80)
        test = load_dataset("digits", "test")
        test = type(test)(test.name + f"[:{BALL_IMAGES}]", test.X[:BALL_IMAGES], test.y[:BALL_IMAGES],
                          test.n_classes, test.thermometer_levels)
        for radius in BALL_RADII:
            t0 = time.perf_counter()
            plane = compute_infoplane(snaps, dataset=test, radius=radius)
            size = plane.points[0].region_size
            runs_md.append(f"| {run}: plane over balls r={radius} around {BALL_IMAGES} test images "
                           f"({size} inputs) | | | | {time.perf_counter() - t0:.1f} |")
            print(runs_md[-1], flush=True)
            write_points(w, plane, run, "digits", "ste", 0, f"Hamming balls r={radius}")
            summary += summarize(plane, run + f" balls r={radius}")
            plot_infoplane(plane, args.out / f"infoplane_digits_balls_r{radius}.png",
                           f"Exact information plane — digits, 64-32-16-10\nmixture of Hamming balls r={radius} "
                           f"around {BALL_IMAGES} test images ({size} inputs), Y = the image's label", dpi=80)
    fh.close()
    md += ["## Runs", ""] + runs_md + ["", f"({load()} at end)", "", "## Per layer", "",
           "I(X;T) at epoch 0, at its peak (epoch) and at the end; I(T;Y) at epoch 0, its maximum (epoch) and "
           "at the end; `corr` = correlation of the per-epoch changes of I(X;T) and I(T;Y) (negative: one "
           f"rises while the other falls); `compresses` = I(X;T) ends >= {COMPRESSION_BITS} bits below its peak; "
           f"`sharpest drop` = the {WINDOW}-epoch span (starting epoch) where I(X;T) falls most, by how much, "
           "and how I(T;Y) changes over the same span.",
           "", "| run | layer | I(X;T) 0 / peak (ep) / end | I(T;Y) 0 / max (ep) / end | corr | compresses "
           "| sharpest drop: epoch, ΔI(X;T), ΔI(T;Y) |",
           "|---|---|---|---|---|---|---|"]
    for s in summary:
        md.append(f"| {s['run']} | {s['layer']} ({s['width']}) | {s['IXT_first']:.3f} / {s['IXT_peak']:.3f} "
                  f"({s['IXT_peak_epoch']}) / {s['IXT_last']:.3f} | {s['ITY_first']:.3f} / {s['ITY_max']:.3f} "
                  f"({s['ITY_max_epoch']}) / {s['ITY_last']:.3f} | {s['corr_dIXT_dITY']:.2f} | "
                  f"{'yes' if s['compresses'] else 'no'} | {s['drop_epoch']}, {-s['drop_IXT']:+.3f}, "
                  f"{s['drop_dITY']:+.3f} |")
    md += [""] + analyze(csv_path)
    (args.out / "infoplane_experiment.md").write_text("\n".join(md) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
