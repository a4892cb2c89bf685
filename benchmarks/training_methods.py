"""The training-methods study of issue 13 (bnnverify.training.study), tables and plots.

Usage:
    python benchmarks/training_methods.py [--reduced] [--jobs 2] [--out benchmarks/results] [--pixels-only]
                                          [--methods-only] [--seeds 0,1,2]

``--pixels-only`` runs only the 17-level digits part (``digits17``, first
layers ``quantize`` and ``integer``, verified L∞ robustness) and writes
``training_methods_pixels_<name>.md`` / ``.json``.

Writes ``training_methods_<full|reduced>.md`` (the tables, the command, the
machine's load average before and after, versions), ``..._<name>.json`` (every
raw measurement, every information-plane point), and the plots
``training_methods_<name>_plane_<arch>.png`` (I(T;Y) against H(T) per layer,
coloured by epoch, one panel per binarizer, seed 0) and
``training_methods_<name>_dynamics_<arch>.png`` (training accuracy and H(T)
per layer against the epoch).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bnnverify.files.atomic import atomic_write  # noqa: E402
from bnnverify.training.study import (  # noqa: E402
    BDD_EQUIV_MEMORY,
    BDD_EQUIV_TIMEOUT,
    FULL,
    REDUCED,
    format_tables,
    reduced,
    run_study,
)


def _versions() -> str:
    import dd
    import numpy
    import torch

    return (f"Python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}, "
            f"dd {getattr(dd, '__version__', '?')}; {platform.platform()}")


def _uptime() -> str:
    import subprocess

    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(uptime not available)"


def plot_planes(result: dict, out: Path, name: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    planes = result["planes"]
    for arch in sorted({tuple(p["arch"]) for p in planes}, key=len, reverse=True):
        runs = [p for p in planes if tuple(p["arch"]) == arch and p["seed"] == min(q["seed"] for q in planes)]
        tag = "-".join(map(str, arch))
        fig, axes = plt.subplots(1, len(runs), figsize=(3.2 * len(runs), 3.2), squeeze=False, sharey=True)
        fig2, axes2 = plt.subplots(2, len(runs), figsize=(3.2 * len(runs), 5.0), squeeze=False, sharex=True)
        for k, run in enumerate(runs):
            pts = run["points"]
            ep = [p["epoch"] for p in pts]
            ax = axes[0][k]
            for l in range(len(pts[0]["H_T"])):
                ax.plot([p["H_T"][l] for p in pts], [p["I_TY"][l] for p in pts], lw=0.6, color="0.7")
                sc = ax.scatter([p["H_T"][l] for p in pts], [p["I_TY"][l] for p in pts], c=ep, s=5, cmap="viridis")
            ax.set_title(f"{run['binarizer']} (seed {run['seed_used']})", fontsize=9)
            ax.set_xlabel("I(X;T) = H(T) [bits]")
            if k == 0:
                ax.set_ylabel("I(T;Y) [bits]")
            a1, a2 = axes2[0][k], axes2[1][k]
            a1.plot(ep, [p["train_acc"] for p in pts], color="k")
            a1.set_title(run["binarizer"], fontsize=9)
            for l in range(len(pts[0]["H_T"])):
                a2.plot(ep, [p["H_T"][l] for p in pts], lw=0.8, label=f"T{l + 1}")
            a2.set_xlabel("epoch")
            if k == 0:
                a1.set_ylabel("train accuracy")
                a2.set_ylabel("H(T) [bits]")
                a2.legend(fontsize=6)
        fig.colorbar(sc, ax=axes[0].tolist(), label="epoch")
        fig.suptitle(f"var_u, 12-{tag}-2: exact information plane over all 4096 inputs", fontsize=10)
        p1 = out / f"training_methods_{name}_plane_{tag}.png"
        fig.savefig(p1, dpi=110, bbox_inches="tight")
        fig2.suptitle(f"var_u, 12-{tag}-2: fitting (accuracy) and H(T) per layer", fontsize=10)
        p2 = out / f"training_methods_{name}_dynamics_{tag}.png"
        fig2.savefig(p2, dpi=110, bbox_inches="tight")
        plt.close(fig)
        plt.close(fig2)
        written += [p1, p2]
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reduced", action="store_true", help="The few-minute version (2 seeds, few epochs).")
    ap.add_argument("--jobs", type=int, default=2, help="Parallel training processes (default 2).")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--pixels-only", action="store_true", help="Only the 17-level digits part.")
    ap.add_argument("--methods-only", action="store_true",
                    help="Only the methods part (writes training_methods_<name>_methods.md / .json).")
    ap.add_argument("--seeds", default=None, help="Comma-separated seeds instead of the config's.")
    ap.add_argument("--no-vra", action="store_true", help="Skip verified robust accuracy (the slowest measure).")
    ap.add_argument("--pixel-timeout", type=float, default=None, help="Seconds per L∞ question (pixels part).")
    ap.add_argument("--pixel-rows", type=int, default=None, help="Test images of the pixels part.")
    ap.add_argument("--pixel-binarizers", default=None, help="Comma-separated binarizers of the pixels part.")
    ap.add_argument("--input-layers", default=None, help="Comma-separated first layers of the pixels part.")
    args = ap.parse_args()
    cfg = reduced(REDUCED if args.reduced else FULL, jobs=args.jobs)
    if args.seeds:
        cfg = reduced(cfg, seeds=tuple(int(x) for x in args.seeds.split(",")))
    if args.no_vra:
        cfg = reduced(cfg, vra=False)
    pixel_changes = {}
    if args.pixel_timeout is not None:
        pixel_changes["pixel_timeout"] = args.pixel_timeout
    if args.pixel_rows is not None:
        pixel_changes["pixel_rows"] = args.pixel_rows
    if args.pixel_binarizers:
        pixel_changes["pixel_binarizers"] = tuple(args.pixel_binarizers.split(","))
    if args.input_layers:
        pixel_changes["pixel_input_layers"] = tuple(args.input_layers.split(","))
    cfg = reduced(cfg, **pixel_changes)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    parts = ("pixels",) if args.pixels_only else ("methods",) if args.methods_only else ("methods", "planes", "pixels")
    uptime = _uptime()
    result = run_study(cfg, progress=lambda msg: print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", flush=True),
                       parts=parts)
    command = ("python benchmarks/training_methods.py" + (" --reduced" if args.reduced else "")
               + f" --jobs {args.jobs}" + (" --pixels-only" if args.pixels_only else "")
               + (" --methods-only" if args.methods_only else "") + (f" --seeds {args.seeds}" if args.seeds else "")
               + (" --no-vra" if args.no_vra else "")
               + "".join(f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                         if k in ("pixel_timeout", "pixel_rows", "pixel_binarizers", "input_layers") and v))
    if args.pixels_only:
        name = f"pixels_{cfg.name}" + (f"_t{cfg.pixel_timeout:g}" if args.pixel_timeout is not None else "")
        with atomic_write(out / f"training_methods_{name}.json", "w") as fh:
            json.dump(result, fh)
        header = [f"# Training methods on 17-level digits, measured exactly ({cfg.name} study)", "",
                  f"Command: `{command}` (bnnverify/training/study.py, config `{cfg.name.upper()}`, part `pixels`).",
                  "", f"Versions: {_versions()}.", "", f"`uptime` before the run: {uptime}", "",
                  f"Wall time {result['wall_seconds']:.0f} s on {result['cpus']} CPUs (shared with other "
                  f"developers' jobs), load average before {', '.join(f'{x:.2f}' for x in result['load_before'])}, "
                  f"after {', '.join(f'{x:.2f}' for x in result['load_after'])}.", "",
                  "VRA L∞ ε: the fraction of the test images that are correctly classified and *proved* robust "
                  "(no image of the L∞ box of ε grey levels, clipped to 0..16, gets another class; argmax rule, "
                  "ties to the lowest index; engine `auto` through the runner, every attack replayed); in "
                  "brackets the images left undecided by the time limit — counted as not robust, never as robust.",
                  "", ""]
        from bnnverify.training.study import format_pixel_table

        with atomic_write(out / f"training_methods_{name}.md", "w") as fh:
            fh.write("\n".join(header) + format_pixel_table(result["pixels"], result["config"]) + "\n")
        print(format_pixel_table(result["pixels"], result["config"]))
        return
    name = cfg.name + ("_methods" if args.methods_only else "") + ("_novra" if args.no_vra else "")
    with atomic_write(out / f"training_methods_{name}.json", "w") as fh:
        json.dump(result, fh)
    plots = plot_planes(result, out, cfg.name) if result["planes"] else []
    header = [f"# Training methods measured exactly ({cfg.name} study)", "",
              f"Command: `{command}` (bnnverify/training/study.py, config `{cfg.name.upper()}`).", "",
              f"Versions: {_versions()}.", "",
              "Means ± sample standard deviation over seeds. VRA Hk: verified robust accuracy on the test set "
              "at Hamming radius k (correct and proved robust by enumeration). 'vs start' / 'vs u=0' / 'vs code': "
              "how many seeds' pairs of networks are not equivalent, and the mean exact number of inputs where "
              "they disagree (12-bit inputs: all 4096; 64-bit inputs: a SAT verdict over all 2^64 inputs, the "
              "exact count on the data set's 1797 images, and the exact count over all 2^64 inputs by the BDD "
              f"where it finished within {BDD_EQUIV_TIMEOUT:g} s and {BDD_EQUIV_MEMORY >> 20} MiB — else the limit "
              "that stopped it, never an estimate; benchmarks/results/equivalence_whole.md measures where the BDD "
              "grows). Information over balls: the mixture of the Hamming-3 balls around "
              + ("every test image" if cfg.ball_rows is None else f"{cfg.ball_rows} test images")
              + ", counted per code by the compiled Hamming-ball kernel (engine `ball`). "
              + (f"`uptime` before: {uptime}. " if uptime else "")
              + ("Plots: " + ", ".join(p.name for p in plots) + "." if plots else ""), "", ""]
    with atomic_write(out / f"training_methods_{name}.md", "w") as fh:
        fh.write("\n".join(header) + format_tables(result) + "\n")
    print(format_tables(result))


if __name__ == "__main__":
    main()
