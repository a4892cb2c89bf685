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

__all__ = ["DemoContext", "STEPS", "run_demo"]


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
    from .modelio import save_model
    from .train import train_bnn

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
    from .summary import format_summary, summarize, summary_to_dict

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
    from .data import load_dataset
    from .information import info_over_dataset

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


def run_demo(echo: Callable[[Any], None], as_json: bool = False) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bnnverify-demo-") as d:
        ctx = DemoContext(Path(d), echo, as_json)
        for step in STEPS:
            step(ctx)
    if not as_json:
        echo(f"demo finished in {time.perf_counter() - t0:.1f} s")
