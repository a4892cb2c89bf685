"""Networks over integer pixels: robustness sweeps, exact minimum L∞ with proof, the largest box counted.

Two digits17 models (scikit-learn's digits at their 17 grey levels, 8x8)
are trained here with ``bnnverify train`` (hidden 32, 12 epochs, seed 0): one
with a learned per-pixel quantizer (``--input-layer quantize``), one with a
±1 first layer over the raw pixels (``--input-layer integer``). Measured,
each question in a child process with a wall-clock limit (``--limit``):

1. robustness at L∞ eps = 1 and 2 on the first ``--images`` test images,
   engines side by side (auto, sat, bdd; enum when the ball is small):
   verdicts and seconds;
2. the exact minimum L∞ (``robustness --min-linf``, auto) per image: the
   minimum, the number of questions and the seconds per proven minimum;
3. the largest L∞ ball counted exactly (``--count``, auto) within the limit:
   eps = 1, 2, 3, ... until a question does not finish.

Usage::

    python benchmarks/bench_pixels.py [--images N] [--limit S] [--out benchmarks/results/pixels.md]
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

#: The digits17 models: hidden widths, epochs, seed.
HIDDEN, EPOCHS, SEED = "32", 12, 0
FIRST_LAYERS = ("quantize", "integer")
EPSILONS = (1, 2)
ENGINES = ("auto", "sat", "bdd", "enum")


def bnnverify(*args: object, limit: float) -> tuple[int, dict | None, float]:
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "bnnverify", "--quiet", *map(str, args)], capture_output=True,
                           text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return -1, None, time.perf_counter() - t0
    dt = time.perf_counter() - t0
    try:
        return p.returncode, json.loads(p.stdout), dt
    except json.JSONDecodeError:
        return p.returncode, {"error": p.stderr.strip()[-200:]}, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--out", default="benchmarks/results/pixels.md")
    ap.add_argument("--count-only", action="store_true", help="only section 3 (the largest box counted)")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_pixels_"))
    lines = ["# Networks over integer pixels (digits17)", "",
             f"Command: `python benchmarks/bench_pixels.py --images {a.images} --limit {a.limit:g}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, load before: {os.getloadavg()[0]:.2f}; "
             f"Python {platform.python_version()}", ""]
    models = {}
    for first in FIRST_LAYERS:
        path = work / f"{first}.npz"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bnnverify", "--quiet", "train", "--dataset", "digits17",
                        "--input-layer", first, "--hidden", HIDDEN, "--epochs", str(EPOCHS), "--seed", str(SEED),
                        "--out", str(path)], check=True, capture_output=True)
        code, ev, _ = bnnverify("eval", path, "--dataset", "digits17", "--json", limit=600)
        acc = ev.get("accuracy") if ev else None
        models[first] = path
        lines.append(f"* `{first}` model: 64 pixels -> {first} first layer -> {HIDDEN} -> 10, trained in {time.perf_counter() - t0:.1f} s, "
                     f"test accuracy {acc}")
    if a.count_only:
        lines.append(f"\n(section 3 only: `--count-only`)")
    lines += [] if a.count_only else ["", f"## 1. Robustness at L∞ eps (first {a.images} test images; seconds, limit {a.limit:g} s)", "",
              "| first layer | eps | engine | robust | not robust | undecided | mean s | max s |",
              "|---|---:|---|---:|---:|---:|---:|---:|"]
    for first, path in ({} if a.count_only else models).items():
        for eps in EPSILONS:
            for engine in ENGINES:
                tally = {"robust": 0, "not_robust": 0, "undecided": 0}
                times = []
                for i in range(a.images):
                    code, j, dt = bnnverify("robustness", path, "--dataset", "digits17", "--index", i, "--linf", eps,
                                            "--method", engine, "--timeout", a.limit, "--json", limit=a.limit + 30)
                    v = (j or {}).get("verdict", "undecided")
                    tally[v if v in tally else "undecided"] += 1
                    times.append(dt)
                lines.append(f"| {first} | {eps} | {engine} | {tally['robust']} | {tally['not_robust']} | "
                             f"{tally['undecided']} | {sum(times) / len(times):.2f} | {max(times):.2f} |")
    lines += [] if a.count_only else ["", "## 2. Exact minimum L∞ (`--min-linf`, auto)", "",
              "| first layer | image | minimum eps | proved robust at | questions | candidates | seconds |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for first, path in ({} if a.count_only else models).items():
        per = []
        for i in range(a.images):
            code, j, dt = bnnverify("robustness", path, "--dataset", "digits17", "--index", i, "--min-linf",
                                    "--timeout", a.limit, "--json", limit=a.limit + 30)
            j = j or {}
            if j.get("minimum") is not None:
                per.append(dt)
            lines.append(f"| {first} | {i} | {j.get('minimum', 'timeout')} | {j.get('proved_robust_at')} | "
                         f"{len(j.get('steps', []))} | {j.get('candidates')} | {dt:.2f} |")
        if per:
            lines.append(f"| {first} | mean per proven minimum | | | | | {sum(per) / len(per):.2f} |")
    lines += ["", f"## 3. The largest L∞ ball counted exactly within {a.limit:g} s (image 0, auto, --count)", "",
              "| first layer | eps | images in the ball | adversarial | engine | seconds |", "|---|---:|---:|---:|---|---:|"]
    for first, path in models.items():
        eps = 1
        while True:
            code, j, dt = bnnverify("robustness", path, "--dataset", "digits17", "--index", 0, "--linf", eps,
                                    "--count", "--timeout", a.limit, "--json", limit=a.limit)
            if code not in (0, 1) or not j or j.get("adversarial_count") is None:
                lines.append(f"| {first} | {eps} | (not within the limit) | | | {dt:.1f} |")
                break
            lines.append(f"| {first} | {eps} | {j['region']['size']} | {j['adversarial_count']} | {j['method']} | "
                         f"{dt:.2f} |")
            eps += 1
    lines += ["", f"Load after: {os.getloadavg()[0]:.2f}. Seconds are wall clock of the whole CLI run "
              "(process start ~1 s included)."]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
