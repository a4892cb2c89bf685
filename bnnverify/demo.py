"""``bnnverify demo``: the embedded default, end to end, in well under a minute.

Each capability contributes one step (a function taking the shared
:class:`DemoContext`); steps run in order and print what they did.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["DemoContext", "STEPS", "run_demo", "run_study_demo"]


@dataclass
class DemoContext:
    """What steps share: a work directory, the models trained so far, an output sink."""

    workdir: Path
    echo: Callable[[Any], None]
    as_json: bool = False
    models: dict[str, Any] = field(default_factory=dict)


#: The demo's training runs: name -> (data set, hidden widths, epochs).
DEMO_TRAINING: dict[str, tuple[str, tuple[int, ...], int]] = {
    "ib12": ("ib12", (32, 16), 20),
    "digits": ("digits", (32,), 10),
}
DEMO_SEED = 0


def _step_train(ctx: DemoContext) -> None:
    """Train small BNNs on ib12 and digits, export them exactly, save them in the work dir."""
    from bnnverify.files.modelio import save_model
    from bnnverify.training.train import train_bnn

    for key, (dataset, hidden, epochs) in DEMO_TRAINING.items():
        res = train_bnn(dataset, hidden, epochs=epochs, seed=DEMO_SEED, ste="approx_sign")
        path = save_model(res.model, ctx.workdir / f"{key}.npz")
        ctx.models[key] = res.model
        w = "-".join(str(x) for x in res.model.widths)
        if ctx.as_json:
            ctx.echo({"step": "train", "model": key, "widths": list(res.model.widths), "epochs": epochs,
                      "train_accuracy": res.train_accuracy, "test_accuracy": res.test_accuracy,
                      "min_margin": res.min_margin if math.isfinite(res.min_margin) else None, "seconds": res.seconds, "file": path.name})
        else:
            ctx.echo(f"train: BNN {w} on {dataset}, {epochs} epochs in {res.seconds:.1f} s: "
                     f"train accuracy {res.train_accuracy:.3f}, test accuracy {res.test_accuracy:.3f}, "
                     f"smallest folding margin {res.min_margin:.3g} -> {path.name}")


#: The demo's steps, in order. Each capability adds its own.
STEPS: list[Callable[[DemoContext], None]] = [_step_train]


def _step_summary(ctx: DemoContext) -> None:
    """Print the per-layer summary of every model trained so far (skip quietly if none)."""
    from bnnverify.model.summary import format_summary, summarize, summary_to_dict

    for key, net in ctx.models.items():
        s = summarize(net)
        if ctx.as_json:
            ctx.echo({"step": "summary", "model": key, **summary_to_dict(s)})
        else:
            ctx.echo(format_summary(s, title=net.metadata.get("name", key)))


STEPS.append(_step_summary)


def _step_information(ctx: DemoContext) -> None:
    """Exact H(T) = I(X;T) and I(T;Y) per layer of the ib12 model over all 4096 inputs (skip if absent)."""
    net = ctx.models.get("ib12")
    if net is None:
        ctx.echo({"step": "info", "skipped": "no ib12 model"} if ctx.as_json else "info: skipped (no ib12 model)")
        return
    from bnnverify.data.datasets import load_dataset
    from bnnverify.information.measures import info_over_dataset

    rep = info_over_dataset(net, load_dataset("ib12", "all"), labels="dataset")
    if ctx.as_json:
        ctx.echo({"step": "info", "model": "ib12", **rep.to_json()})
        return
    lines = [f"info: ib12 model over all {rep.region_size} inputs, Y = ib12 label, H(Y) = {rep.H_Y:.4f} bits "
             f"(exact counts, {rep.seconds:.2f} s)",
             "  layer  width  codes  H(T)=I(X;T)  I(T;Y)"]
    lines += [f"  {li.layer:5d}  {li.width:5d}  {li.codes:5d}  {li.H_T:11.4f}  {li.I_TY:6.4f}" for li in rep.layers]
    ctx.echo("\n".join(lines))


STEPS.append(_step_information)


#: Hamming radius of the demo's exact count around a digits test image.
DEMO_COUNT_RADIUS = 2


def _step_count(ctx: DemoContext) -> None:
    """Exact per-class counts (BDD engine): all 4096 ib12 inputs, and a Hamming ball
    around the first digits test image (skip a model that is absent)."""
    from bnnverify.encoders.regions import HammingBall, Whole

    from bnnverify.engines.bdd import bdd_class_counts
    from bnnverify.data.datasets import load_dataset

    jobs = []
    if "ib12" in ctx.models:
        net = ctx.models["ib12"]
        jobs.append(("ib12", f"whole space of {net.n_inputs} bits", Whole(net.n_inputs)))
    if "digits" in ctx.models:
        x = load_dataset("digits", "test").X[0]
        jobs.append(("digits", f"Hamming ball r={DEMO_COUNT_RADIUS} around digits test image 0",
                     HammingBall(x, DEMO_COUNT_RADIUS)))
    if not jobs:
        ctx.echo({"step": "count", "skipped": "no ib12/digits model"} if ctx.as_json
                 else "count: skipped (no ib12/digits model)")
        return
    for key, what, region in jobs:
        t0 = time.perf_counter()
        cc = bdd_class_counts(ctx.models[key], region)
        dt = time.perf_counter() - t0
        if ctx.as_json:
            ctx.echo({"step": "count", "model": key, "region": region.describe()["kind"], "region_size": cc.region_size,
                      "class_counts": {str(c): n for c, n in enumerate(cc.counts)}, "seconds": dt})
        else:
            per = ", ".join(f"{c}: {n}" for c, n in enumerate(cc.counts) if n)
            ctx.echo(f"count: {key} over the {what} ({cc.region_size} inputs), exact per-class counts "
                     f"(BDD, {dt:.2f} s): {per}")


STEPS.append(_step_count)


#: Digits test images the robustness step checks, and the Hamming radii.
DEMO_ROBUSTNESS_IMAGES = 3
DEMO_ROBUSTNESS_RADII = (1, 2, 3)
#: The BDD recounts balls up to this radius (it takes ~1 s per radius-1 ball
#: of the digits model; enumeration counts every ball in milliseconds).
DEMO_BDD_MAX_RADIUS = 1
#: The first-layer weight (neuron, input) the perturbed copy flips.
DEMO_FLIPPED_WEIGHT = (5, 7)
#: Seconds the SAT miter may take over all 2^64 inputs (timeout is a verdict, not a failure).
DEMO_SAT_TIMEOUT = 20.0


def _perturbed_copy(net: Any) -> Any:
    """``net`` with weight :data:`DEMO_FLIPPED_WEIGHT` of its first hidden layer flipped."""
    from bnnverify.encoders.layers import BNN, ThresholdLayer

    h = net.hidden[0]
    w = h.weights.copy()
    j, i = DEMO_FLIPPED_WEIGHT
    w[j, i] = -w[j, i]
    return BNN((ThresholdLayer(w, h.thresholds, name=h.name), *net.hidden[1:]), net.output,
               net.thermometer_levels, net.metadata)


def _step_questions(ctx: DemoContext) -> None:
    """Robustness of a few digits test images at radius 1-3 (SAT verdicts, exact counts by
    enumeration, recounted by the BDD at small radii), then equivalence of the digits model
    and a copy with one weight flipped (skipped if there is no digits model)."""
    net = ctx.models.get("digits")
    if net is None:
        ctx.echo({"step": "robustness", "skipped": "no digits model"} if ctx.as_json
                 else "robustness: skipped (no digits model)")
        return
    from bnnverify.encoders.regions import HammingBall

    from bnnverify.data.datasets import load_dataset
    from bnnverify.questions.equivalence import check_equivalence
    from bnnverify.questions.robustness import check_robustness

    ds = load_dataset("digits", "test")
    for i in range(min(DEMO_ROBUSTNESS_IMAGES, len(ds.X))):
        x = ds.X[i]
        for r in DEMO_ROBUSTNESS_RADII:
            ball = HammingBall(x, r)
            res = {"sat": check_robustness(net, x, ball, method="sat"),
                   "auto": check_robustness(net, x, ball, method="auto", count=True)}
            if r <= DEMO_BDD_MAX_RADIUS:
                res["bdd"] = check_robustness(net, x, ball, method="bdd", count=True)
            e = res["auto"]
            agree = all(v.verdict is e.verdict for v in res.values()) and (
                "bdd" not in res or res["bdd"].class_counts == e.class_counts)
            if ctx.as_json:
                ctx.echo({"step": "robustness", "image": i, "label": int(ds.y[i]), "agree": agree,
                          **{m: v.to_json() for m, v in res.items()}})
            else:
                times = ", ".join(f"{v.method} {v.seconds:.3f} s" for v in res.values())
                ctx.echo(f"robustness: digits test image {i} (label {int(ds.y[i])}, predicted {e.predicted_class}), "
                         f"radius {r}: {e.verdict.value}, {e.adversarial_count} adversarial of {ball.size} "
                         f"({times}; engines agree: {agree})")
    other = _perturbed_copy(net)
    sat = check_equivalence(net, other, method="sat", timeout=DEMO_SAT_TIMEOUT)
    ball = HammingBall(ds.X[0], DEMO_ROBUSTNESS_RADII[-1])
    cnt = check_equivalence(net, other, ball, method="auto", count=True)
    if ctx.as_json:
        ctx.echo({"step": "equivalence", "perturbation": f"layer0 weight {list(DEMO_FLIPPED_WEIGHT)} flipped",
                  "whole_space": sat.to_json(), "ball": cnt.to_json()})
    else:
        w = "" if sat.witness is None else f", a witness: class {sat.class_a} vs {sat.class_b}"
        ctx.echo(f"equivalence: digits model vs a copy with layer0 weight {DEMO_FLIPPED_WEIGHT} flipped, "
                 f"all 2^{net.n_inputs} inputs: {sat.verdict.value} ({sat.method}, {sat.seconds:.2f} s{w}); "
                 f"radius-{ball.radius} ball around test image 0: {cnt.disagreement_count} of {ball.size} "
                 f"inputs differ ({cnt.method}, {cnt.seconds:.3f} s)")


STEPS.append(_step_questions)


def run_demo(echo: Callable[[Any], None], as_json: bool = False) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bnnverify-demo-") as d:
        ctx = DemoContext(Path(d), echo, as_json)
        for step in STEPS:
            step(ctx)
    if not as_json:
        echo(f"demo finished in {time.perf_counter() - t0:.1f} s")


def run_study_demo(echo: Callable[[Any], None], as_json: bool = False, config: Any = None) -> dict[str, Any]:
    """``bnnverify demo --study``: the reduced training-methods study (:mod:`bnnverify.training.study`).

    Prints progress lines and then the tables (or, with ``as_json``, one
    object with the raw results); returns the raw results.
    """
    from bnnverify.training.study import REDUCED, format_tables, run_study

    cfg = REDUCED if config is None else config
    t0 = time.perf_counter()
    result = run_study(cfg, progress=None if as_json else (lambda m: echo(f"[{time.perf_counter() - t0:6.1f} s] {m}")))
    echo(result if as_json else format_tables(result))
    return result
