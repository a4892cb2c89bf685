"""The training-methods study of issue 13: every binarizer measured exactly.

Two parts, each a list of independent tasks run in parallel processes
(:func:`run_study`):

**Methods** (:func:`methods_task`, one task per data set and seed). For one
seed, on one data set, the same initialisation trains

* ``ste``, ``approx_sign``, ``xnor`` and ``rbonn`` (paper rule), ``rbonn-u0``
  (the ablation: ``u = 0``, never trained) and ``rbonn-code`` (the public
  code's correction) from scratch for ``epochs + finetune`` epochs;
* ``ste-base`` for ``epochs`` epochs, then from it ``ste-ft`` (plain
  fine-tuning, ``finetune`` more epochs) and ``lns`` (Han et al.'s
  fine-tuning, the same epochs).

Every model is measured exactly: train/test accuracy (the evaluator);
verified robust accuracy at Hamming 1..3 on the test set (correct and
:func:`~bnnverify.questions.robustness.max_robust_radius` by enumeration
``>= k``; every counterexample replayed); per hidden layer H(T) = I(X;T) and
I(T;Y) over the data set (all rows) and over the mixture of Hamming-3 balls
around every test image (``ball_rows=None``; or that many spread evenly over the test split),
Y = the centre's label, counted exactly per code by the compiled Hamming-ball kernel
(:func:`bnnverify.information.measures.info_over_balls`, ``method="ball"``: no member
enumerated; the per-ball counts merged as arrays); the number of codes each layer reaches (over the
data set, the balls, and for 12-bit inputs the whole input space); the
binary weights that differ from sign(latent); for ``ste-ft``/``lns`` the
binary weights flipped against ``ste-base`` and the exact disagreement with
it; for ``rbonn`` the exact disagreement with ``rbonn-u0`` and ``rbonn-code``.
Disagreements: on 12 bits the exact count over all 4096 inputs
(:func:`bnnverify.check_equivalence`, enumeration); on digits the exact count
over the data set's 1797 images, a SAT verdict over all 2^64 inputs, and the
exact count over all 2^64 inputs by the BDD when it finishes within
:data:`BDD_EQUIV_TIMEOUT` and :data:`BDD_EQUIV_MEMORY` (else ``count`` is None and
``count_status`` names the limit: never an estimate).

**17-level digits** (:func:`pixels_task`, one task per binarizer, first
layer and seed): ``digits17`` (the 1797 digits at their native grey levels
0..16, 64 integer features) trained with ``input_layer="quantize"`` (a
learned per-pixel quantizer) and ``"integer"`` (±1 weights over the
pixels) for each binarizer (``lns``: a plain baseline for ``epochs``, then
``finetune`` epochs of fine-tuning; the others ``epochs + finetune``);
train/test accuracy, the export's smallest margins, and verified robust
accuracy at L∞ ε = 1 and 2 grey levels on ``pixel_rows`` test images spread
evenly over the test split: an image counts as robust at ε only when it is
correctly classified and :func:`bnnverify.engines.run.find_class` over
``linf_box(x, eps, lo, hi)`` with the other classes proves that none is
reached (the network's argmax rule, ties to the lowest index); a found
image is replayed by the runner; a timeout or unknown is counted as
*undecided*, never as robust. Robust at 2 implies robust at 1 and an
attack at 1 is one at 2, so ε = 2 is asked first and ε = 1 only when it
is not proved.

**Information plane** (:func:`plane_task`, one task per binarizer,
architecture and seed): Raj, Nayak & Kalyani (2020)'s claim that BNNs fit
and compress simultaneously, retested on ``var_u`` under the exact-IB
protocol (Adam, lr 1e-4, batch 256, the 80/20 split), with exact
I(X;T_l) = H(T_l) and I(T_l;Y) every ``every`` epochs over all 4096 inputs.
A run below :data:`RESTART_ACCURACY` training accuracy at ``check_epoch`` is
restarted with the next seed and counted. Statistics per run and layer
(:func:`plane_statistics`): the epoch where H(T) peaks vs the epoch where
training accuracy plateaus (first reaches its best minus
:data:`PLATEAU_TOL`), the fraction of intervals where I(T;Y) rises while
H(T) falls, and the correlation of their changes.

:data:`FULL` is the committed study; :data:`REDUCED` the same in a few
minutes (``bnnverify demo --study``, and a test runs a smaller one still).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from bnnverify.errors import InternalError

__all__ = [
    "StudyConfig",
    "FULL",
    "REDUCED",
    "TINY",
    "methods_task",
    "plane_task",
    "plane_statistics",
    "run_study",
    "summarize_methods",
    "summarize_plane",
    "RESTART_ACCURACY",
    "pixels_task",
    "pixel_robustness",
    "format_pixel_table",
    "PIXEL_EPS",
    "PLATEAU_TOL",
    "format_plane_runs",
]

#: A run below this training accuracy at the check epoch is restarted (the exact-IB protocol's 55 %).
RESTART_ACCURACY = 0.55
#: Training accuracy "plateaus" at the first snapshot within this of the run's best.
PLATEAU_TOL = 0.01
#: Hamming radii of the verified robust accuracy.
RADII = (1, 2, 3)
#: Radius of the balls of the ball information measures.
INFO_RADIUS = 3
#: SAT time limit (s) of the whole-space equivalence question on 64-bit inputs.
SAT_EQUIV_TIMEOUT = 60.0
#: Time limit (s) of the exact whole-space disagreement count (BDD) on 64-bit inputs. Measured
#: (benchmarks/results/equivalence_whole.md, load ~8): over all 2^64 inputs the BDD compiles a
#: first layer of 3 neurons in 0.4 s (class sets 5.7 s), of 4 in 7.6 s (class sets beyond 60 s),
#: of 5 not in 60 s; the study's 64-neuron first layers are far beyond any limit, so this only
#: bounds what the attempt costs per pair.
BDD_EQUIV_TIMEOUT = 30.0
#: CUDD memory cap of that count. One CUDD operation is not interrupted at the deadline (it
#: overshoots: 105 s to reach a 1.5 GiB cap on a 64-32-10 pair); the cap stops it sooner.
BDD_EQUIV_MEMORY = 256 << 20
#: Engine of the information over Hamming-3 balls: the compiled Hamming-ball kernel
#: (bnnverify/evaluation/flips.py) through the information path. Measured on one 64-32-10
#: digits net over all 360 test balls (15.7 M members, load ~6): 37 s, enumeration 50 s.
BALL_INFO_METHOD = "ball"
#: L∞ radii (grey levels) of the verified robust accuracy on 17-level digits.
PIXEL_EPS = (1, 2)
#: Default time limit (s) of one L∞ robustness question on 17-level digits (our choice: the
#: measured questions take well under a second; a timeout is reported as undecided).
PIXEL_TIMEOUT = 20.0
#: Restarts allowed per information-plane run before it is recorded as failed to fit.
MAX_RESTARTS = 3
#: Seed offset of a restarted run (restart r uses seed + r * RESTART_SEED_STEP).
RESTART_SEED_STEP = 1000


@dataclass(frozen=True)
class StudyConfig:
    """What one study trains (see the module docstring)."""

    name: str
    seeds: tuple[int, ...]
    #: data set -> (hidden widths, epochs, fine-tuning epochs, learning rate, batch size)
    methods_runs: dict = field(default_factory=dict)
    #: test images whose Hamming-3 balls make the ball distribution (None: all)
    ball_rows: int | None = None
    #: measure verified robust accuracy (False: only the other measures, e.g. to re-measure the
    #: information and equivalence columns of seeds whose robustness is already in a table)
    vra: bool = True
    plane_seeds: tuple[int, ...] = (0,)
    plane_archs: tuple[tuple[int, ...], ...] = ((10, 7, 5, 4, 3),)
    plane_binarizers: tuple[str, ...] = ("ste", "approx_sign", "xnor", "lns", "rbonn")
    plane_epochs: int = 100
    plane_every: int = 5
    plane_check_epoch: int = 1000
    plane_lr: float = 1e-4
    plane_batch: int = 256
    jobs: int = 2
    #: 17-level digits: (hidden widths, epochs, fine-tuning epochs, lr, batch size); None: not run
    pixel_run: tuple | None = None
    pixel_binarizers: tuple[str, ...] = ("ste", "approx_sign", "xnor", "lns", "rbonn")
    pixel_input_layers: tuple[str, ...] = ("quantize", "integer")
    pixel_seeds: tuple[int, ...] = (0,)
    #: test images whose L∞ robustness is decided (None: all 360)
    pixel_rows: int | None = None
    #: seconds per robustness question (then: undecided)
    pixel_timeout: float = PIXEL_TIMEOUT


FULL = StudyConfig(
    "full", seeds=(0, 1, 2, 3, 4),
    methods_runs={"digits": ((64, 32), 30, 15, 0.01, 128), "var_u": ((32, 16), 60, 30, 0.01, 128)},
    ball_rows=None,
    # 1000 epochs (not the protocol's 8000) and the check at epoch 500: what
    # fits the 60-minute budget of the whole study on 2 cores.
    plane_seeds=(0, 1, 2), plane_archs=((10, 7, 5, 4, 3), (32, 16, 8)),
    plane_epochs=1000, plane_every=5, plane_check_epoch=500,
)
REDUCED = StudyConfig(
    "reduced", seeds=(0, 1),
    methods_runs={"digits": ((64, 32), 8, 4, 0.01, 128), "var_u": ((32, 16), 16, 8, 0.01, 128)},
    ball_rows=20,
    plane_seeds=(0,), plane_archs=((10, 7, 5, 4, 3), (32, 16, 8)),
    plane_epochs=150, plane_every=5, plane_check_epoch=75,
    # 20 images and 5 s per question: what a shared 2-core machine allows (the integer first
    # layer's SAT questions often take longer; those are reported as undecided).
    pixel_run=((64, 32), 8, 4, 0.01, 128), pixel_rows=20, pixel_timeout=5.0,
)
#: For tests: seconds, not minutes.
TINY = StudyConfig(
    "tiny", seeds=(0,), methods_runs={"var_u": ((8, 4), 2, 1, 0.01, 256)}, ball_rows=5,
    plane_seeds=(0,), plane_archs=((6, 4),), plane_binarizers=("ste", "lns", "rbonn"),
    plane_epochs=10, plane_every=5, plane_check_epoch=5, plane_lr=0.01, jobs=1,
)


# --- measuring one model -------------------------------------------------------------


def ball_indices(n: int, k: int) -> list[int]:
    """``k`` test images spread evenly over the ``n`` of the test split (the split is in index order)."""
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, k)}) if k < n else list(range(n))


def _layers(rep) -> list[dict[str, Any]]:
    return [{"H_T": li.H_T, "I_TY": li.I_TY, "codes": li.codes} for li in rep.layers]


def measure_model(net, name: str, ball_rows: int | None, vra: bool = True) -> dict[str, Any]:
    """Accuracies, verified robust accuracy at Hamming 1..3 (unless ``vra=False``: None), information
    and codes of one model."""
    from bnnverify.data.datasets import load_dataset
    from bnnverify.encoders.regions import Whole
    from bnnverify.evaluation.evaluator import Evaluator
    from bnnverify.information.measures import info_over_balls, info_over_dataset, info_over_region
    from bnnverify.questions.robustness import max_robust_radius
    from bnnverify.questions.verdict import Verdict
    from bnnverify.training.train import evaluate_model

    tr, te, every = load_dataset(name, "train"), load_dataset(name, "test"), load_dataset(name, "all")
    out: dict[str, Any] = {"train_acc": evaluate_model(net, tr).accuracy, "test_acc": evaluate_model(net, te).accuracy}
    pred = Evaluator(net).classify(te.X)
    robust = {k: 0 for k in RADII}
    undecided = 0
    for x, y, p in zip(te.X, te.y, pred):
        if p != y or not vra:
            continue
        r = max_robust_radius(net, x, max_radius=max(RADII), method="enum")
        if r.verdict not in (Verdict.ROBUST, Verdict.NOT_ROBUST):
            undecided += 1
        for k in RADII:
            robust[k] += int(r.radius >= k)
    for k in RADII:
        out[f"vra{k}"] = robust[k] / len(te) if vra else None
    out["vra_undecided"] = undecided if vra else None
    out["info_data"] = _layers(info_over_dataset(net, every, labels="dataset"))
    idx = ball_indices(len(te), len(te) if ball_rows is None else min(ball_rows, len(te)))
    t0 = time.perf_counter()
    rep = info_over_balls(net, te, INFO_RADIUS, labels="dataset", indices=idx, method=BALL_INFO_METHOD)
    out["info_balls"] = _layers(rep)
    out["ball_rows"] = len(idx)
    out["ball_members"] = int(rep.region_size)
    out["ball_seconds"] = time.perf_counter() - t0
    out["ball_method"] = str(rep.method)
    if net.n_inputs <= 16:
        out["codes_whole"] = [li.codes for li in info_over_region(net, Whole(net.n_inputs), method="enum").layers]
    else:
        out["codes_whole"] = None
    return out


def disagreement(a, b, name: str, *, count_timeout: float | None = None) -> dict[str, Any]:
    """Exact disagreement of two models over the whole input space, and on the data set.

    12 bits: the exact count over all 4096 inputs by enumeration. 64 bits: a SAT
    verdict over all 2^64 inputs, then the exact count by the BDD
    (:func:`~bnnverify.questions.equivalence.check_equivalence` with ``count=True``,
    ``method="bdd"``: Python-int counts over the BDD of each pair of classes)
    within ``count_timeout`` seconds (default :data:`BDD_EQUIV_TIMEOUT`) and
    :data:`BDD_EQUIV_MEMORY`; beyond them ``count`` is None and ``count_status``
    says which limit stopped it (``benchmarks/results/equivalence_whole.md``
    measures where the BDD grows). The data-set count is always exact.
    """
    from bnnverify.data.datasets import load_dataset
    from bnnverify.encoders.bdd import BDDBudget
    from bnnverify.evaluation.evaluator import Evaluator
    from bnnverify.questions.equivalence import check_equivalence

    X = load_dataset(name, "all").X
    on_data = int((Evaluator(a).classify(X) != Evaluator(b).classify(X)).sum())
    if a.n_inputs <= 16:
        r = check_equivalence(a, b, count=True, method="enum")
        return {"verdict": r.verdict.value, "count": r.disagreement_count, "count_status": "exact",
                "space": 2 ** a.n_inputs, "on_data": on_data}
    r = check_equivalence(a, b, method="sat", timeout=SAT_EQUIV_TIMEOUT)
    limit = BDD_EQUIV_TIMEOUT if count_timeout is None else count_timeout
    c = check_equivalence(a, b, method="bdd", count=True, timeout=limit,
                          budget=BDDBudget(max_memory_bytes=BDD_EQUIV_MEMORY))
    if c.disagreement_count is not None:
        if c.verdict.value != r.verdict.value and r.verdict.value in ("equivalent", "not_equivalent"):
            raise InternalError(f"SAT says {r.verdict.value}, the BDD count {c.disagreement_count}")
        status = "exact"
    else:
        status = c.verdict.value + (f": {c.note}" if c.note else "")
    return {"verdict": r.verdict.value if r.verdict.value != "timeout" else c.verdict.value,
            "count": c.disagreement_count, "count_status": status, "count_seconds": c.seconds,
            "space": 2 ** a.n_inputs, "on_data": on_data}


def _flips(m1, m2) -> int:
    from bnnverify.training.binarizers import binary_rows

    return int(sum((a != b).sum() for a, b in zip(binary_rows(m1), binary_rows(m2))))


def methods_task(args: tuple[str, int, StudyConfig]) -> list[dict[str, Any]]:
    """Train and measure every method for one (data set, seed); one row per method."""
    from bnnverify.training.binarizers import BinarizerOptions
    from bnnverify.training.train import train_bnn

    name, seed, cfg = args
    hidden, E, F, lr, bs = cfg.methods_runs[name]
    kw = dict(seed=seed, lr=lr, batch_size=bs)
    t0 = time.perf_counter()
    runs: dict[str, Any] = {}
    for b in ("ste", "approx_sign", "xnor", "rbonn"):
        runs[b] = train_bnn(name, hidden, epochs=E + F, binarizer=b, **kw)
    runs["rbonn-u0"] = train_bnn(name, hidden, epochs=E + F, binarizer="rbonn",
                                 options=BinarizerOptions(rbonn_u_init=0.0, rbonn_u_lr_factor=0.0), **kw)
    runs["rbonn-code"] = train_bnn(name, hidden, epochs=E + F, binarizer="rbonn",
                                   options=BinarizerOptions(rbonn_variant="code"), **kw)
    base = train_bnn(name, hidden, epochs=E, binarizer="ste", **kw)
    runs["ste-base"] = base
    runs["ste-ft"] = train_bnn(name, hidden, epochs=F, binarizer="ste", start=base.module, **kw)
    runs["lns"] = train_bnn(name, hidden, epochs=F, binarizer="lns", start=base.module, **kw)
    rows = []
    for method, r in runs.items():
        row = {"dataset": name, "seed": seed, "method": method, "hidden": list(hidden),
               "epochs": len(r.losses) + (E if method in ("ste-ft", "lns") else 0),
               "differ_from_sign": r.sign_disagreements, "train_seconds": r.seconds,
               **measure_model(r.model, name, cfg.ball_rows, cfg.vra)}
        if method in ("ste-ft", "lns"):
            row["flips_vs_start"] = _flips(r.module, base.module)
            row["vs_start"] = disagreement(r.model, base.model, name)
        if method == "rbonn":
            row["vs_u0"] = disagreement(r.model, runs["rbonn-u0"].model, name)
            row["vs_code"] = disagreement(r.model, runs["rbonn-code"].model, name)
            row["flips_vs_u0"] = _flips(r.module, runs["rbonn-u0"].module)
        if method.startswith("rbonn"):
            row["selected"] = int(sum(float(lin.mask.sum()) for lin in r.module.linears()))
        rows.append(row)
    for row in rows:
        row["task_seconds"] = time.perf_counter() - t0
    return rows


# --- 17-level digits ------------------------------------------------------------------


def pixel_robustness(net, X: np.ndarray, y: np.ndarray, eps_values: Sequence[int] = PIXEL_EPS,
                     timeout: float = PIXEL_TIMEOUT) -> dict[str, Any]:
    """Verified L∞ robustness of ``net`` (integer inputs) on rows ``X``: per ε, robust / attacked / undecided.

    Largest ε first: a proof there covers every smaller ε, an attack at a smaller ε is one at every
    larger. Misclassified rows count as attacked at every ε (ε = 0 already).
    """
    from bnnverify.encoders.pixel_regions import linf_box
    from bnnverify.engines.base import Limits, Outcome
    from bnnverify.engines.run import find_class
    from bnnverify.evaluation.evaluator import Evaluator

    eps_values = sorted(int(e) for e in eps_values)
    pred = Evaluator(net).classify(X)
    lo, hi = net.inputs.lo, net.inputs.hi
    status = {e: {"robust": 0, "attacked": 0, "undecided": 0} for e in eps_values}
    seconds, engines = [], {}
    for x, label, p in zip(X, y, pred):
        if p != label:
            for e in eps_values:
                status[e]["attacked"] += 1
            continue
        others = [c for c in range(net.n_classes) if c != int(label)]
        known: dict[int, str] = {}
        for e in sorted(eps_values, reverse=True):
            if e in known:
                continue
            t0 = time.perf_counter()
            a = find_class(net, linf_box(x, e, lo, hi), others, limits=Limits(timeout=timeout))
            seconds.append(time.perf_counter() - t0)
            engines[a.choice.name] = engines.get(a.choice.name, 0) + 1
            o = a.search.outcome
            if o is Outcome.NONE:
                for e2 in eps_values:
                    if e2 <= e:
                        known[e2] = "robust"
            elif o is Outcome.FOUND:
                for e2 in eps_values:
                    if e2 >= e:
                        known.setdefault(e2, "attacked")
                known[e] = "attacked"
            else:
                known[e] = "undecided"
        for e in eps_values:
            status[e][known[e]] += 1
    return {"n": int(len(X)), "status": {str(e): v for e, v in status.items()},
            "questions": len(seconds), "seconds_total": float(sum(seconds)),
            "seconds_max": float(max(seconds)) if seconds else 0.0, "engines": engines}


def pixels_task(args: tuple[str, str, int, StudyConfig]) -> dict[str, Any]:
    """Train one (binarizer, first layer, seed) on digits17 and measure it (see the module docstring)."""
    from bnnverify.data.datasets import load_dataset
    from bnnverify.training.train import train_bnn

    binarizer, input_layer, seed, cfg = args
    hidden, E, F, lr, bs = cfg.pixel_run
    kw = dict(seed=seed, lr=lr, batch_size=bs, binarizer=binarizer, input_layer=input_layer)
    if binarizer == "lns":
        r = train_bnn("digits17", hidden, epochs=E, finetune_epochs=F, **kw)
    else:
        r = train_bnn("digits17", hidden, epochs=E + F, **kw)
    te = load_dataset("digits17", "test")
    idx = ball_indices(len(te), len(te) if cfg.pixel_rows is None else min(cfg.pixel_rows, len(te)))
    t0 = time.perf_counter()
    rob = pixel_robustness(r.model, te.X[idx], te.y[idx], PIXEL_EPS, cfg.pixel_timeout)
    return {"binarizer": binarizer, "input_layer": input_layer, "seed": seed, "hidden": list(hidden),
            "first_layer": r.model.hidden[0].kind, "train_acc": r.train_accuracy, "test_acc": r.test_accuracy,
            "min_margin": r.min_margin, "first_layer_margin": r.front_margin, "train_seconds": r.seconds,
            "differ_from_sign": r.sign_disagreements, "robustness": rob,
            "robustness_seconds": time.perf_counter() - t0}


def format_pixel_table(rows: Sequence[dict[str, Any]], cfg: dict[str, Any]) -> str:
    """Markdown: per (first layer, binarizer), means over seeds; VRA with the undecided count beside it."""
    hidden, E, F, lr, bs = cfg["pixel_run"]
    n = rows[0]["robustness"]["n"] if rows else 0
    lines = [f"### digits17 (17 grey levels, 64 integer features): hidden {tuple(hidden)}, {E}+{F} epochs "
             f"(lr {lr}, batch {bs}); L∞ robustness on {n} test images, {cfg['pixel_timeout']:g} s per question", "",
             "| first layer | binarizer | seeds | train acc | test acc | smallest margin (first layer / all) | "
             + " | ".join(f"VRA L∞ {e} (undecided)" for e in PIXEL_EPS) + " | questions | s per question (max) |",
             "|---|---|---|---|---|---|" + "---|" * len(PIXEL_EPS) + "---|---|"]
    for il in dict.fromkeys(r["input_layer"] for r in rows):
        for b in dict.fromkeys(r["binarizer"] for r in rows):
            rs = [r for r in rows if r["input_layer"] == il and r["binarizer"] == b]
            if not rs:
                continue
            vra = []
            for e in PIXEL_EPS:
                ok = _mean_sd([r["robustness"]["status"][str(e)]["robust"] / r["robustness"]["n"] for r in rs])
                und = sum(r["robustness"]["status"][str(e)]["undecided"] for r in rs)
                vra.append(f"{_pm(ok)} ({und})")
            q = sum(r["robustness"]["questions"] for r in rs)
            tot = sum(r["robustness"]["seconds_total"] for r in rs)
            mx = max(r["robustness"]["seconds_max"] for r in rs)
            lines.append(" | ".join([
                f"| {il} ({rs[0]['first_layer']})", b, str(len(rs)), _pm(_mean_sd([r["train_acc"] for r in rs])),
                _pm(_mean_sd([r["test_acc"] for r in rs])),
                f"{min(r['first_layer_margin'] for r in rs):.2g} / {min(r['min_margin'] for r in rs):.2g}",
                *vra, str(q), f"{tot / max(q, 1):.3f} ({mx:.2f})"]) + " |")
    lines.append("")
    return "\n".join(lines)


# --- the information plane -------------------------------------------------------------


def _plane_run(binarizer: str, arch: tuple[int, ...], seed: int, cfg: StudyConfig, snap_dir: str):
    from bnnverify.data.datasets import load_dataset
    from bnnverify.files.modelio import load_model
    from bnnverify.information.measures import info_over_dataset
    from bnnverify.training.train import evaluate_model, snapshot_path, train_bnn

    every = range(0, cfg.plane_epochs + 1, cfg.plane_every)
    kw = dict(seed=seed, lr=cfg.plane_lr, batch_size=cfg.plane_batch, snapshots=snap_dir, snapshot_epochs=every)
    if binarizer == "lns":  # the paper's protocol: half baseline, half fine-tuning
        half = cfg.plane_epochs // 2
        res = train_bnn("var_u", arch, epochs=half, finetune_epochs=cfg.plane_epochs - half, binarizer="lns", **kw)
    else:
        res = train_bnn("var_u", arch, epochs=cfg.plane_epochs, binarizer=binarizer, **kw)
    tr, whole = load_dataset("var_u", "train"), load_dataset("var_u", "all")
    points = []
    for e in every:
        net = load_model(snapshot_path(snap_dir, e))
        rep = info_over_dataset(net, whole, labels="dataset")  # all 4096 inputs, uniform
        points.append({"epoch": e, "train_acc": evaluate_model(net, tr).accuracy,
                       "H_T": [li.H_T for li in rep.layers], "I_TY": [li.I_TY for li in rep.layers]})
    return res, points


def plane_task(args: tuple[str, tuple[int, ...], int, StudyConfig]) -> dict[str, Any]:
    """One information-plane run (restarted while it does not reach 55 % by the check epoch)."""
    binarizer, arch, seed, cfg = args
    t0 = time.perf_counter()
    restarts = 0
    while True:
        s = seed + restarts * RESTART_SEED_STEP
        with tempfile.TemporaryDirectory(prefix="bnnv-plane-") as d:
            res, points = _plane_run(binarizer, arch, s, cfg, d)
        at_check = [p["train_acc"] for p in points if p["epoch"] <= cfg.plane_check_epoch][-1]
        if at_check >= RESTART_ACCURACY or restarts >= MAX_RESTARTS:
            break
        restarts += 1
    return {"binarizer": binarizer, "arch": list(arch), "seed": seed, "seed_used": s, "restarts": restarts,
            "fit": at_check >= RESTART_ACCURACY, "test_acc": res.test_accuracy, "points": points,
            "stats": plane_statistics(points), "seconds": time.perf_counter() - t0}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def plane_statistics(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per layer: H(T) peak epoch, the plateau epoch, the fraction of "I(T;Y) up, H(T) down", the correlation.

    >>> pts = [{"epoch": e, "train_acc": a, "H_T": [h], "I_TY": [i]}
    ...        for e, a, h, i in [(0, .5, 1., .0), (5, .8, 2., .3), (10, .9, 1.5, .4), (15, .9, 1.2, .5)]]
    >>> s = plane_statistics(pts)
    >>> s["plateau_epoch"], s["best_train_acc"], s["layers"][0]["peak_epoch"], s["layers"][0]["up_while_down"]
    (10, 0.9, 5, 0.6666666666666666)
    """
    epochs = np.array([p["epoch"] for p in points])
    acc = np.array([p["train_acc"] for p in points])
    best = float(acc.max())
    plateau = int(epochs[np.flatnonzero(acc >= best - PLATEAU_TOL)[0]])
    layers = []
    for l in range(len(points[0]["H_T"])):
        h = np.array([p["H_T"][l] for p in points])
        i = np.array([p["I_TY"][l] for p in points])
        dh, di = np.diff(h), np.diff(i)
        layers.append({
            "layer": l + 1,
            "peak_epoch": int(epochs[int(np.argmax(h))]),
            "peak_H_T": float(h.max()),
            "final_H_T": float(h[-1]),
            "final_I_TY": float(i[-1]),
            "up_while_down": float(np.mean((di > 0) & (dh < 0))) if len(dh) else math.nan,
            "corr": _pearson(dh, di),
        })
    return {"best_train_acc": best, "plateau_epoch": plateau, "layers": layers}


# --- running, summarising ---------------------------------------------------------------


def _map(fn: Callable, tasks: list, jobs: int, progress: Callable[[str], None] | None) -> list:
    out = []
    if jobs <= 1:
        for t in tasks:
            out.append(fn(t))
            if progress:
                progress(f"{fn.__name__}: {len(out)}/{len(tasks)}")
        return out
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
        for r in ex.map(fn, tasks):
            out.append(r)
            if progress:
                progress(f"{fn.__name__}: {len(out)}/{len(tasks)}")
    return out


def run_study(cfg: StudyConfig, progress: Callable[[str], None] | None = None,
              parts: Sequence[str] = ("methods", "planes", "pixels")) -> dict[str, Any]:
    """Run the ``parts`` of ``cfg`` (methods, planes, pixels); the raw results, wall time and load average."""
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    mtasks = [(name, s, cfg) for name in cfg.methods_runs for s in cfg.seeds] if "methods" in parts else []
    # the longest tasks first, so that two processes finish together
    mtasks.sort(key=lambda t: -cfg.methods_runs[t[0]][1] * (64 if t[0] == "digits" else 1))
    ptasks = [(b, tuple(a), s, cfg) for a in cfg.plane_archs for b in cfg.plane_binarizers
              for s in cfg.plane_seeds] if "planes" in parts else []
    xtasks = [(b, il, s, cfg) for il in cfg.pixel_input_layers for b in cfg.pixel_binarizers
              for s in cfg.pixel_seeds] if ("pixels" in parts and cfg.pixel_run is not None) else []
    methods = [row for rows in _map(methods_task, mtasks, cfg.jobs, progress) for row in rows]
    planes = _map(plane_task, ptasks, cfg.jobs, progress)
    pixels = _map(pixels_task, xtasks, cfg.jobs, progress)
    return {"config": _config_json(cfg), "methods": methods, "planes": planes, "pixels": pixels,
            "wall_seconds": time.perf_counter() - t0, "load_before": list(load_before),
            "load_after": list(os.getloadavg()), "cpus": os.cpu_count()}


def _config_json(cfg: StudyConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["methods_runs"] = {k: list(v) for k, v in cfg.methods_runs.items()}
    if cfg.pixel_run is not None:
        d["pixel_run"] = [list(cfg.pixel_run[0]), *cfg.pixel_run[1:]]
    return d


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    v = np.array([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))], float)
    if not len(v):
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def summarize_methods(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (data set, method): mean and sd over seeds of every measure."""
    keys = sorted({(r["dataset"], r["method"]) for r in rows}, key=lambda k: (k[0], _METHOD_ORDER.index(k[1])))
    out = []
    for ds, m in keys:
        rs = [r for r in rows if r["dataset"] == ds and r["method"] == m]
        s: dict[str, Any] = {"dataset": ds, "method": m, "n": len(rs)}
        for k in ("train_acc", "test_acc", "vra1", "vra2", "vra3", "differ_from_sign"):
            s[k] = _mean_sd([r[k] for r in rs])
        s["gap"] = _mean_sd([r["train_acc"] - r["test_acc"] for r in rs])
        L = len(rs[0]["info_data"])
        for where in ("info_data", "info_balls"):
            s[where] = [{q: _mean_sd([r[where][l][q] for r in rs]) for q in ("H_T", "I_TY", "codes")} for l in range(L)]
        if rs[0]["codes_whole"] is not None:
            s["codes_whole"] = [_mean_sd([r["codes_whole"][l] for r in rs]) for l in range(L)]
        for k in ("flips_vs_start", "flips_vs_u0", "selected"):
            if k in rs[0]:
                s[k] = _mean_sd([r[k] for r in rs])
        for k in ("vs_start", "vs_u0", "vs_code"):
            if k in rs[0]:
                exact = [r[k]["count"] for r in rs if r[k].get("count") is not None]
                s[k] = {"not_equivalent": sum(r[k]["verdict"] == "not_equivalent" for r in rs),
                        "equivalent": sum(r[k]["verdict"] == "equivalent" for r in rs),
                        "count": _mean_sd(exact) if exact else None, "counted": len(exact),
                        "space": rs[0][k]["space"],
                        "uncounted": sorted({r[k].get("count_status", "not asked") for r in rs
                                             if r[k].get("count") is None}),
                        "on_data": _mean_sd([r[k]["on_data"] for r in rs])}
        out.append(s)
    return out


_METHOD_ORDER = ["ste", "approx_sign", "xnor", "ste-base", "ste-ft", "lns", "rbonn", "rbonn-u0", "rbonn-code"]


def summarize_plane(planes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (architecture, binarizer): the run statistics over seeds, and the verdict.

    Verdict per layer and run: *simultaneous* when H(T) peaks no later than the
    accuracy plateau and at least a quarter of the intervals have I(T;Y) up
    while H(T) is down (compression while fitting); *two-phase* when H(T) peaks
    at or after the plateau and then falls; *no compression* when H(T) never
    falls noticeably below its peak (final within 0.05 bits). The method's
    verdict is the majority over runs of the deepest layer's verdict.
    """
    out = []
    for arch in sorted({tuple(p["arch"]) for p in planes}, key=len, reverse=True):
        for b in [x for x in _PLANE_ORDER if any(p["binarizer"] == x and tuple(p["arch"]) == arch for p in planes)]:
            ps = [p for p in planes if p["binarizer"] == b and tuple(p["arch"]) == arch]
            L = len(ps[0]["stats"]["layers"])
            verdicts = [_verdict(p["stats"], L - 1) for p in ps]
            row = {"arch": list(arch), "binarizer": b, "runs": len(ps), "restarts": sum(p["restarts"] for p in ps),
                   "fit": sum(p["fit"] for p in ps),
                   "best_train_acc": _mean_sd([p["stats"]["best_train_acc"] for p in ps]),
                   "test_acc": _mean_sd([p["test_acc"] for p in ps]),
                   "plateau_epoch": _mean_sd([p["stats"]["plateau_epoch"] for p in ps]),
                   "layers": [{q: _mean_sd([p["stats"]["layers"][l][q] for p in ps])
                               for q in ("peak_epoch", "peak_H_T", "final_H_T", "final_I_TY", "up_while_down", "corr")}
                              for l in range(L)],
                   "verdicts": verdicts,
                   "verdict": max(set(verdicts), key=verdicts.count)}
            out.append(row)
    return out


_PLANE_ORDER = ["ste", "approx_sign", "xnor", "lns", "rbonn"]
#: H(T) "falls" when its final value is this many bits below its peak.
COMPRESSION_BITS = 0.05
#: Fraction of intervals with I(T;Y) up and H(T) down that counts as compressing while fitting.
SIMULTANEOUS_FRACTION = 0.25


def _verdict(stats: dict[str, Any], layer: int) -> str:
    li = stats["layers"][layer]
    if li["peak_H_T"] - li["final_H_T"] < COMPRESSION_BITS:
        return "no compression"
    if li["peak_epoch"] <= stats["plateau_epoch"] and li["up_while_down"] >= SIMULTANEOUS_FRACTION:
        return "simultaneous"
    return "two-phase"


def reduced(cfg: StudyConfig, **changes: Any) -> StudyConfig:
    """``cfg`` with some fields changed (e.g. ``jobs``)."""
    return replace(cfg, **changes)


# --- tables ----------------------------------------------------------------------------


def _pm(ms: tuple[float, float] | None, fmt: str = ".3f") -> str:
    if ms is None or ms[0] is None or (isinstance(ms[0], float) and math.isnan(ms[0])):
        return "–"
    m, s = ms
    return f"{m:{fmt}} ± {s:{fmt}}"


def _layers_str(layers: list[dict[str, Any]], q: str, fmt: str = ".2f") -> str:
    return " / ".join(f"{li[q][0]:{fmt}}" for li in layers)


def _eq_str(e: dict[str, Any] | None, n: int) -> str:
    if e is None:
        return ""
    txt = f"{e['not_equivalent']}/{n} differ"
    space = e.get("space", 0)
    if space <= 1 << 16:
        return txt + (f", {e['count'][0]:.0f} inputs" if e["count"] is not None else "")
    txt += f" (SAT), {e['on_data'][0]:.1f} data images"
    if e["count"] is not None:
        txt += f"; exact over 2^{space.bit_length() - 1} ({e['counted']}/{n}): {e['count'][0]:.6g} inputs"
    if e.get("uncounted"):
        txt += f"; not counted over 2^{space.bit_length() - 1} ({n - e.get('counted', 0)}/{n}): " + \
            ", ".join(_short_status(u) for u in e["uncounted"])
    return txt


def _short_status(status: str) -> str:
    """``timeout: time limit 30.0 s reached`` -> ``timeout``; a memory cap stays named."""
    if "memory" in status:
        return "unknown (BDD memory cap)"
    return status.split(":")[0]


def format_tables(result: dict[str, Any]) -> str:
    """Markdown tables of a :func:`run_study` result (means ± sd over seeds)."""
    cfg = result["config"]
    lines = [f"Study `{cfg['name']}`: seeds {cfg['seeds']}, wall time {result['wall_seconds']:.0f} s on "
             f"{result['cpus']} CPUs, load average before {', '.join(f'{x:.2f}' for x in result['load_before'])}, "
             f"after {', '.join(f'{x:.2f}' for x in result['load_after'])}.", ""]
    summ = summarize_methods(result["methods"])
    for ds in dict.fromkeys(s["dataset"] for s in summ):
        hidden, E, F, lr, bs = cfg["methods_runs"][ds]
        lines += [f"### {ds}: hidden {tuple(hidden)}, {E}+{F} epochs (lr {lr}, batch {bs})", "",
                  "| method | train acc | test acc | gap | VRA H1 | VRA H2 | VRA H3 | differ from sign | flips vs start | vs start | vs u=0 | vs code | rbonn selected |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in (x for x in summ if x["dataset"] == ds):
            lines.append(" | ".join([
                f"| {s['method']}", _pm(s["train_acc"]), _pm(s["test_acc"]), _pm(s["gap"]), _pm(s["vra1"]),
                _pm(s["vra2"]), _pm(s["vra3"]), _pm(s["differ_from_sign"], ".1f"),
                _pm(s.get("flips_vs_start") or s.get("flips_vs_u0"), ".1f") if ("flips_vs_start" in s or "flips_vs_u0" in s) else "",
                _eq_str(s.get("vs_start"), s["n"]), _eq_str(s.get("vs_u0"), s["n"]), _eq_str(s.get("vs_code"), s["n"]),
                _pm(s["selected"], ".1f") if "selected" in s else "",
            ]) + " |")
        brows = [r for r in result["methods"] if r["dataset"] == ds]
        nballs = sorted({r["ball_rows"] for r in brows})
        how = ""
        if all("ball_seconds" in r for r in brows):
            how = (f" ({'/'.join(map(str, nballs))} balls, {brows[0]['ball_members']} members per model, engine "
                   f"`{brows[0]['ball_method']}`: {np.mean([r['ball_seconds'] for r in brows]):.1f} s per model "
                   f"on average, at most {max(r['ball_seconds'] for r in brows):.1f} s)")
        lines += ["", f"Information per hidden layer (means; layer 1 / layer 2 / …): over the data set's rows, and "
                      f"over the Hamming-{INFO_RADIUS} balls around {'/'.join(map(str, nballs))} test images{how}; "
                      "reachable codes.", "",
                  "| method | H(T) data | I(T;Y) data | codes data | H(T) balls | I(T;Y) balls | codes balls | codes whole space |",
                  "|---|---|---|---|---|---|---|---|"]
        for s in (x for x in summ if x["dataset"] == ds):
            whole = " / ".join(f"{c[0]:.0f}" for c in s["codes_whole"]) if "codes_whole" in s else "–"
            lines.append(" | ".join([
                f"| {s['method']}", _layers_str(s["info_data"], "H_T"), _layers_str(s["info_data"], "I_TY", ".3f"),
                _layers_str(s["info_data"], "codes", ".0f"), _layers_str(s["info_balls"], "H_T"),
                _layers_str(s["info_balls"], "I_TY", ".3f"), _layers_str(s["info_balls"], "codes", ".0f"), whole]) + " |")
        lines.append("")
    if result["planes"]:
        lines += [f"### Information plane on var_u (lr {cfg['plane_lr']}, batch {cfg['plane_batch']}, "
                  f"{cfg['plane_epochs']} epochs, exact every {cfg['plane_every']}; restart below "
                  f"{RESTART_ACCURACY:.0%} at epoch {cfg['plane_check_epoch']})", "", _plane_summary_table(result["planes"]), ""]
    if result.get("pixels"):
        lines.append(format_pixel_table(result["pixels"], cfg))
    return "\n".join(lines)


def _plane_summary_table(planes: Sequence[dict[str, Any]]) -> str:
    """Markdown: per (architecture, binarizer), the run statistics over seeds and the verdict."""
    lines = ["| arch | binarizer | runs (restarts) | best train acc | test acc | plateau epoch | "
             "H(T) peak epoch per layer | up-while-down per layer | corr(ΔH, ΔI) per layer | verdicts | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summarize_plane(planes):
        lines.append(" | ".join([
            f"| 12-{'-'.join(map(str, s['arch']))}-2", s["binarizer"], f"{s['runs']} ({s['restarts']})",
            _pm(s["best_train_acc"]), _pm(s["test_acc"]), _pm(s["plateau_epoch"], ".0f"),
            " / ".join(f"{li['peak_epoch'][0]:.0f}±{li['peak_epoch'][1]:.0f}" for li in s["layers"]),
            " / ".join(f"{li['up_while_down'][0]:.2f}±{li['up_while_down'][1]:.2f}" for li in s["layers"]),
            " / ".join(f"{li['corr'][0]:.2f}±{li['corr'][1]:.2f}" for li in s["layers"]),
            ", ".join(s["verdicts"]), f"**{s['verdict']}**"]) + " |")
    return "\n".join(lines)


def format_plane_runs(planes: Sequence[dict[str, Any]]) -> str:
    """Markdown: one row per information-plane run (its statistics and verdict), then the summary per binarizer."""
    lines = ["### Every run", "",
             "| binarizer | seed (used) | restarts | best train acc | test acc | plateau epoch | H(T) peak epoch "
             "per layer | final H(T) per layer | final I(T;Y) per layer | up-while-down per layer | "
             "corr(ΔH, ΔI) per layer | verdict | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in planes:
        st = p["stats"]
        L = len(st["layers"])
        lines.append(" | ".join([
            f"| {p['binarizer']}", f"{p['seed']} ({p['seed_used']})", str(p["restarts"]),
            f"{st['best_train_acc']:.3f}", f"{p['test_acc']:.3f}", str(st["plateau_epoch"]),
            " / ".join(str(li["peak_epoch"]) for li in st["layers"]),
            " / ".join(f"{li['final_H_T']:.2f}" for li in st["layers"]),
            " / ".join(f"{li['final_I_TY']:.3f}" for li in st["layers"]),
            " / ".join(f"{li['up_while_down']:.2f}" for li in st["layers"]),
            " / ".join(f"{li['corr']:.2f}" for li in st["layers"]),
            _verdict(st, L - 1) + ("" if p["fit"] else " (did not fit)"), f"{p['seconds']:.0f}"]) + " |")
    lines += ["", "### Per binarizer (mean ± sd over seeds; verdict: the majority of the runs')", "",
              _plane_summary_table(planes)]
    return "\n".join(lines)
