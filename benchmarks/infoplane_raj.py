"""Raj, Nayak & Kalyani (2020) retested at a larger size: the 12-10-7-5-4-3-2 BNN on var_u.

The exact-IB protocol of :func:`bnnverify.training.study.plane_task` (Adam, lr
1e-4, batch 256, the 80/20 stratified split, exact I(X;T_l) = H(T_l) and
I(T_l;Y) every 5 epochs over all 4096 inputs, a run below 55 % training
accuracy at the check epoch restarted with the next seed and counted), for
every binarizer and several seeds, in parallel processes.

Usage:
    python benchmarks/infoplane_raj.py [--epochs 2000] [--check 1000] [--seeds 0,1,2] [--jobs 2]
                                       [--arch 10,7,5,4,3] [--runs DIR] [--out benchmarks/results]

``--arch`` sets the hidden widths (default Raj et al.'s 10,7,5,4,3; the protocol's
"wider networks if the deep narrow one cannot fit", e.g. ``--arch 32,16,8``).

Each finished run is written to ``--runs`` (default ``/tmp/bnnv-raj-runs``) as
its own JSON file, and runs already there are not trained again (so a run
cut short by the time limit of a shared machine resumes). The tasks are
ordered seed by seed, so whatever has finished covers every binarizer for
the first seeds. ``--tables-only`` writes the tables and plots from what is
in ``--runs``.

Writes ``infoplane_raj_<epochs>.md`` (the command, versions, ``uptime`` before
and after, one row per run with its statistics, the verdict per binarizer
with the spread over seeds), ``infoplane_raj_<epochs>.json`` (every run and
every point) and the plots ``infoplane_raj_<epochs>_plane_10-7-5-4-3.png`` /
``..._dynamics_10-7-5-4-3.png`` (seed 0 of each binarizer); with another ``--arch`` the names gain ``_<arch>``
(``infoplane_raj_8000_32-16-8.md``) and its runs are kept apart in ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bnnverify.files.atomic import atomic_write  # noqa: E402
from bnnverify.training.study import FULL, format_plane_runs, plane_task  # noqa: E402

#: Raj et al.'s hidden widths (the 12-10-7-5-4-3-2 network).
ARCH = (10, 7, 5, 4, 3)
#: The protocol's number of epochs (the exact-IB literature's 8000).
PROTOCOL_EPOCHS = 8000
BINARIZERS = ("ste", "approx_sign", "xnor", "lns", "rbonn")


def _arch_tag(arch: tuple[int, ...]) -> str:
    return "-".join(str(w) for w in arch)


def _name_suffix(arch: tuple[int, ...]) -> str:
    """What another architecture adds to the names of runs and results ("" for Raj et al.'s)."""
    return "" if arch == ARCH else f"_{_arch_tag(arch)}"


def _run_file(runs: Path, binarizer: str, seed: int, arch: tuple[int, ...] = ARCH) -> Path:
    return runs / f"{binarizer}{_name_suffix(arch)}_seed{seed}.json"


def _one(args):
    binarizer, seed, cfg, runs, arch = args
    r = plane_task((binarizer, arch, seed, cfg))
    with atomic_write(_run_file(Path(runs), binarizer, seed, arch), "w") as fh:
        json.dump(r, fh)
    return binarizer, seed, r["seconds"], r["stats"]["best_train_acc"], r["restarts"]


def main() -> None:
    from training_methods import _uptime, _versions, plot_planes

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--check", type=int, default=1000, help="Epoch of the 55 %% restart rule.")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--arch", default=_arch_tag(ARCH), help="Hidden widths, comma-separated.")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", default="/tmp/bnnv-raj-runs")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--tables-only", action="store_true")
    args = ap.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    arch = tuple(int(w) for w in args.arch.replace("-", ",").split(","))
    tag = _name_suffix(arch)
    cfg = replace(FULL, plane_seeds=seeds, plane_archs=(arch,), plane_epochs=args.epochs, plane_every=5,
                  plane_check_epoch=args.check, jobs=args.jobs)
    runs, out = Path(args.runs), Path(args.out)
    runs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    state = runs / f"uptime{tag}.json"
    info = json.loads(state.read_text()) if state.exists() else {"before": _uptime(), "t0": time.time()}
    if not state.exists():
        state.write_text(json.dumps(info))
    todo = [(b, s, cfg, str(runs), arch) for s in seeds for b in BINARIZERS
            if not _run_file(runs, b, s, arch).exists()]
    if todo and not args.tables_only:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as ex:
            for b, s, sec, acc, rs in ex.map(_one, todo):
                print(f"[{time.perf_counter() - t0:7.1f} s] {b} seed {s}: {sec:.0f} s, best train acc {acc:.3f}, "
                      f"{rs} restarts", flush=True)
    planes = [json.loads(_run_file(runs, b, s, arch).read_text()) for s in seeds for b in BINARIZERS
              if _run_file(runs, b, s, arch).exists()]
    for p in planes:
        if p["points"][-1]["epoch"] != args.epochs:
            raise SystemExit(f"{p['binarizer']} seed {p['seed']}: a run of {p['points'][-1]['epoch']} epochs in "
                             f"{runs}, not {args.epochs}")
    name = f"raj_{args.epochs}{tag}"
    result = {"config": {"arch": list(arch), "epochs": args.epochs, "check_epoch": args.check, "seeds": list(seeds),
                         "lr": cfg.plane_lr, "batch": cfg.plane_batch, "every": cfg.plane_every},
              "planes": planes}
    with atomic_write(out / f"infoplane_{name}.json", "w") as fh:
        json.dump(result, fh)
    plots = plot_planes({"planes": planes}, out, name) if planes else []
    for p in plots:  # training_methods' names: training_methods_<name>_...; ours: infoplane_<name>_...
        p.replace(out / p.name.replace(f"training_methods_{name}", f"infoplane_{name}"))
    missing = [(b, s) for s in seeds for b in BINARIZERS if not _run_file(runs, b, s, arch).exists()]
    command = (f"nice python benchmarks/infoplane_raj.py --epochs {args.epochs} --check {args.check} "
               f"--seeds {args.seeds} --jobs {args.jobs}" + (f" --arch {args.arch}" if tag else ""))
    shortfall = "" if args.epochs >= PROTOCOL_EPOCHS else f" (the protocol's {PROTOCOL_EPOCHS} did not fit the time available)"
    lines = [f"# Raj, Nayak & Kalyani (2020) retested: 12-{_arch_tag(arch)}-2 on var_u, {args.epochs} epochs", "",
             f"Command: `{command}` (bnnverify/training/study.py `plane_task`, `plane_statistics`, "
             "`summarize_plane`).", "",
             f"Versions: {_versions()}.", "",
             f"`uptime` before: {info['before']}", "", f"`uptime` after: {_uptime()}", "",
             f"Wall time from the first start to these tables: {time.time() - info['t0']:.0f} s "
             f"(2 cores shared with other developers' jobs; per-run seconds below).", "",
             "Protocol: Adam, lr 1e-4, batch 256, the 80/20 stratified split of var_u (3276 training inputs), "
             f"{args.epochs} epochs{shortfall}, exact H(T_l) = I(X;T_l) "
             "and I(T_l;Y) every 5 epochs over all 4096 inputs (uniform; Y the data set's label), a run below 55 % "
             f"training accuracy at epoch {args.check} restarted with seed + 1000 and counted; `lns` trains its "
             "plain baseline for the first half and fine-tunes for the second (Han et al.'s protocol).", "",
             "Statistics per run: *plateau* = the first snapshot within 0.01 of the run's best training accuracy; "
             "*peak* = the epoch of each layer's largest H(T); *up-while-down* = the fraction of 5-epoch intervals "
             "in which I(T;Y) rises while H(T) falls; *corr* = Pearson correlation of the per-interval changes "
             "ΔH(T) and ΔI(T;Y). Verdict of a run (its deepest hidden layer): *simultaneous* when H(T) peaks no "
             "later than the plateau and at least 25 % of the intervals compress while I(T;Y) rises; *two-phase* "
             "when H(T) falls after peaking but not so; *no compression* when its final H(T) is within 0.05 bits "
             "of its peak.", ""]
    if missing:
        lines += [f"Not run (time): {', '.join(f'{b} seed {s}' for b, s in missing)}.", ""]
    lines += [format_plane_runs(planes), ""]
    lines += [f"Plots: {', '.join(p.name.replace(f'training_methods_{name}', f'infoplane_{name}') for p in plots)}.", ""]
    with atomic_write(out / f"infoplane_{name}.md", "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
