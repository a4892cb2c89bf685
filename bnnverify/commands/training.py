"""The ``train`` command (dense BNNs and their first layers; ``--arch`` conv nets are in :mod:`bnnverify.commands.conv_train`)."""

from __future__ import annotations

import click

from bnnverify.errors import BNNVerifyError
from bnnverify.commands.common import (
    emit_json,
    handle_errors,
    progress_wanted,
    int_list,
    fmt_float,
)


# --- section: train, import torch (foundation: training) -------------------


@click.command()
@click.option("--dataset", "--data", "dataset", required=True, metavar="NAME_OR_NPZ",
              help="ib12, var_u, digits, digits-thermo<L>, digits17 (integer pixels 0..16, for "
                   "--input-layer quantize|integer), or a .npz with X (0/1) and y.")
@click.option("--hidden", default=None, metavar="W1,W2,...", help="Hidden layer widths, e.g. 10,7,5,4,3.")
@click.option("--arch", default=None, metavar="BLOCKS",
              help="Instead of --hidden: a convolutional network, e.g. conv16k3p1,maxpool2,10 (see bnnverify.training.conv).")
@click.option("--epochs", type=click.IntRange(min=0), required=True)
@click.option("--seed", type=int, required=True, help="Seed: same seed, same model.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file to write (.npz).")
@click.option("--snapshots", type=click.Path(file_okay=False), default=None,
              help="Directory for one exported model per epoch (epoch_0000.npz, ...).")
@click.option("--binarizer", default=None, metavar="NAME",
              help="Training method: ste (default), approx_sign, xnor, lns (Han et al. 2020), "
                   "rbonn (Xu et al. 2022); see `bnnverify list binarizers`.")
@click.option("--ste", type=click.Choice(["ste", "approx_sign"]), default=None,
              help="Straight-through estimator for sign (old flag: same as --binarizer ste/approx_sign).")
@click.option("--scale", is_flag=True, help="XNOR-style per-neuron scale mean|latent weight| (old flag: "
                                           "with --ste ste, same as --binarizer xnor).")
@click.option("--rho", type=float, default=None, help="lns: flip rate of the noisy labels sign(w), in [0, 0.5).")
@click.option("--alpha", type=float, default=None, help="lns: weight of the noisy-supervision loss (>= 0).")
@click.option("--finetune-epochs", type=click.IntRange(min=0), default=None,
              help="lns: fine-tuning epochs after the --epochs of baseline (default: --epochs).")
@click.option("--rbonn-variant", type=click.Choice(["paper", "code"]), default=None,
              help="rbonn: the paper's recurrent correction (default) or the public code's.")
@click.option("--lr", type=float, default=None, help="Adam learning rate (default 0.01).")
@click.option("--batch-size", type=int, default=None, help="Mini-batch size (default 128).")
@click.option("--torch-state", type=click.Path(dir_okay=False), default=None,
              help="Also save the torch state_dict here (for `bnnverify import torch`).")
@click.option("--input-layer", type=click.Choice(["binary", "quantize", "integer"]), default="binary",
              show_default=True,
              help="What the first layer reads: 0/1 bits; integer features through a learned per-feature "
                   "quantizer (batch norm + sign); or integer features through ±1 weights (batch norm + sign).")
@click.option("--levels", type=click.IntRange(min=1), default=None, metavar="K",
              help="--input-layer quantize: thresholds per feature (default 1; K > 1: a thermometer).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def train(dataset, hidden, arch, epochs, seed, out, snapshots, binarizer, ste, scale, rho, alpha, finetune_epochs,
          rbonn_variant, lr, batch_size, torch_state, input_layer, levels, as_json) -> None:
    """Train a BNN with torch and export it exactly to a model file."""
    if (hidden is None) == (arch is None):
        raise click.UsageError("give --hidden (a dense network) or --arch (a convolutional one)")
    if arch is not None:
        from bnnverify.commands.conv_train import train_conv_command

        return train_conv_command(emit_json, dataset, arch, epochs, seed, out, lr, batch_size, torch_state, as_json,
                                  unused={"--snapshots": snapshots, "--binarizer": binarizer, "--ste": ste,
                                          "--input-layer": None if input_layer == "binary" else input_layer,
                                          "--levels": levels,
                                          "--scale": scale or None, "--rho": rho, "--alpha": alpha,
                                          "--finetune-epochs": finetune_epochs, "--rbonn-variant": rbonn_variant})
    from bnnverify.files.modelio import save_model
    from bnnverify.training.binarizers import BinarizerOptions, get_binarizer
    from bnnverify.training.train import DEFAULT_BATCH_SIZE, DEFAULT_LR, train_bnn

    flags = {"--rho": rho, "--alpha": alpha, "--finetune-epochs": finetune_epochs}
    spec = get_binarizer(binarizer) if binarizer is not None else None
    for flag, value in [*flags.items(), ("--rbonn-variant", rbonn_variant)]:
        wants = "rbonn" if flag == "--rbonn-variant" else "lns"
        if value is not None and (spec is None or spec.name != wants):
            raise click.UsageError(f"{flag} applies to --binarizer {wants} only")
    if binarizer is not None and (ste is not None or scale):
        raise click.UsageError("give --binarizer or the old --ste/--scale flags, not both")
    if levels is not None and input_layer != "quantize":
        raise click.UsageError("--levels applies to --input-layer quantize only")
    opt_kw = {k: v for k, v in (("rho", rho), ("alpha", alpha), ("rbonn_variant", rbonn_variant)) if v is not None}
    try:
        options = BinarizerOptions(**opt_kw)
    except BNNVerifyError as e:
        name = e.param or "binarizer"
        msg = e.message[len(name) + 2:] if e.message.startswith(f"{name}: ") else e.message
        raise click.BadParameter(msg, param_hint=f"--{name.replace('_', '-')}") from None
    res = train_bnn(
        dataset, int_list(hidden, "--hidden"), epochs=epochs, seed=seed, ste=ste, scale=scale,
        binarizer=binarizer, options=options, finetune_epochs=finetune_epochs,
        lr=DEFAULT_LR if lr is None else lr, batch_size=DEFAULT_BATCH_SIZE if batch_size is None else batch_size,
        snapshots=snapshots, progress=progress_wanted(as_json), input_layer=input_layer,
        levels=1 if levels is None else levels,
    )
    save_model(res.model, out)
    if torch_state:
        import torch

        from bnnverify.files.atomic import atomic_write

        with atomic_write(torch_state, "wb") as fh:
            torch.save(res.module.state_dict(), fh)
    if as_json:
        emit_json({
            "out": str(out), "widths": list(res.model.widths), "train_accuracy": fmt_float(res.train_accuracy),
            "test_accuracy": fmt_float(res.test_accuracy), "min_margin": fmt_float(res.min_margin),
            "snapshots": len(res.snapshots), "seconds": res.seconds, "binarizer": res.binarizer,
            "sign_disagreements": res.sign_disagreements, "input_layer": res.input_layer,
            "first_layer_margin": fmt_float(res.front_margin),
        })
        return
    w = "-".join(str(x) for x in res.model.widths)
    click.echo(f"trained BNN {w} on {dataset} ({len(res.losses)} epochs, seed {seed}, {res.binarizer}) "
               f"in {res.seconds:.1f} s")
    click.echo(f"train accuracy: {res.train_accuracy:.4f}")
    click.echo(f"test accuracy:  {res.test_accuracy:.4f}")
    click.echo(f"smallest folding margin: {res.min_margin:.3g} (distance of a real threshold to an integer)")
    if res.input_layer != "binary":
        click.echo(f"first layer ({res.input_layer}, {res.model.hidden[0].kind}) over integer features: "
                   f"smallest margin {res.front_margin:.3g}")
    if res.sign_disagreements:
        click.echo(f"binary weights that differ from sign(latent): {res.sign_disagreements}")
    if res.snapshots:
        click.echo(f"snapshots: {len(res.snapshots)} in {snapshots}")
    click.echo(f"wrote {out}")


#: The commands of this module, added to ``bnnverify`` by :mod:`bnnverify.cli`.
COMMANDS = (train,)
