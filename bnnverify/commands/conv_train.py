"""``bnnverify train --arch conv...``: train a convolutional BNN and export it exactly."""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["train_conv_command"]


def train_conv_command(emit_json: Any, dataset: str, arch: str, epochs: int, seed: int, out: str, lr: float | None,
                       batch_size: int | None, torch_state: str | None, as_json: bool,
                       unused: dict[str, Any]) -> None:
    from bnnverify.files.modelio import save_model
    from bnnverify.training.conv import train_conv
    from bnnverify.training.train import DEFAULT_BATCH_SIZE, DEFAULT_LR

    given = [flag for flag, v in unused.items() if v is not None]
    if given:
        raise click.UsageError(f"{given[0]} applies to dense networks (--hidden) only, not to --arch")
    res = train_conv(dataset, arch, epochs=epochs, seed=seed, lr=DEFAULT_LR if lr is None else lr,
                     batch_size=DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
    save_model(res.model, out)
    if torch_state:
        import torch

        from bnnverify.files.atomic import atomic_write

        with atomic_write(torch_state, "wb") as fh:
            torch.save(res.module.state_dict(), fh)

    def f(x: float) -> float | None:
        return x if math.isfinite(x) else None

    kinds = [h.kind for h in res.model.hidden]
    if as_json:
        emit_json({"out": str(out), "arch": arch, "layers": kinds, "widths": list(res.model.widths),
                   "train_accuracy": f(res.train_accuracy), "test_accuracy": f(res.test_accuracy),
                   "min_margin": f(res.min_margin), "seconds": res.seconds})
        return
    click.echo(f"trained conv BNN {arch} ({', '.join(kinds)}, widths {'-'.join(map(str, res.model.widths))}) "
               f"on {dataset} ({epochs} epochs, seed {seed}) in {res.seconds:.1f} s")
    click.echo(f"train accuracy: {res.train_accuracy:.4f}")
    click.echo(f"test accuracy:  {res.test_accuracy:.4f}")
    click.echo(f"smallest folding margin: {res.min_margin:.3g} (distance of a real threshold to an integer)")
    click.echo(f"wrote {out}")
