"""Commands on model files: ``demo``, ``summary``, ``import bnnquanalyst``, ``import torch``, ``eval``, ``predict``, ``list``."""

from __future__ import annotations

from typing import Any

import click

from bnnverify.commands.common import (
    emit_json,
    handle_errors,
    load_cli_dataset,
    input_ref,
    asked_for,
    echo_result,
    load_model_arg,
    int_list,
    fmt_float,
)


# --- commands -------------------------------------------------------------
# Each command parses its options, calls bnnverify, and prints text or JSON.


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per step.")
@click.option("--study", is_flag=True, help="Instead: the reduced training-methods study (a few minutes, 2 processes).")
@handle_errors
def demo(as_json: bool, study: bool) -> None:
    """Run the embedded default end to end (train, export, verify, measure)."""
    from bnnverify.demo import run_demo, run_study_demo

    if study:
        run_study_demo(echo=(lambda obj: emit_json(obj)) if as_json else (lambda obj: click.echo(obj)),
                       as_json=as_json)
        return
    run_demo(echo=(lambda obj: emit_json(obj)) if as_json else (lambda obj: click.echo(obj)), as_json=as_json)


# --- section: summary, eval, import (foundation: importers) -----------------


@click.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@handle_errors
def summary(model: str, as_json: bool) -> None:
    """Per-layer summary of MODEL (.npz): neurons, ±1 parameters, memory, thresholds."""
    from bnnverify.model.summary import format_summary, summarize, summary_to_dict

    net = load_model_arg(model)
    s = summarize(net)
    asked = asked_for("summary", [(model, net)], input_ref(None))
    echo_result(summary_to_dict(s), asked, as_json)
    if not as_json:
        click.echo(format_summary(s))


@click.command("bnnquanalyst")
@click.argument("directory")
@click.option("--out", required=True, metavar="MODEL.npz", help="Model file to write (atomically).")
@click.option("--bn-eps", type=float, default=0.0, show_default=True,
              help="Epsilon added to bn_var (BNNQuanalyst itself uses none).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def import_bnnquanalyst_cmd(directory: str, out: str, bn_eps: float, as_json: bool) -> None:
    """Import a BNNQuanalyst CSV model folder DIRECTORY, folding batch norm exactly."""
    from bnnverify.importers.bnnquanalyst import import_bnnquanalyst_report
    from bnnverify.files.modelio import save_model

    from bnnverify.errors import ModelFileError

    rep = import_bnnquanalyst_report(directory, bn_eps=bn_eps)
    try:
        path = save_model(rep.net, out)
    except OSError as e:
        raise ModelFileError(f"{out}: cannot write the model file ({e.strerror or e})") from None
    m = rep.margin
    if as_json:
        emit_json({
            "out": str(path),
            "name": rep.net.metadata["name"],
            "widths": list(rep.net.widths),
            "bn_eps": bn_eps,
            "constant_neurons": rep.constant,
            "flipped_neurons": rep.flipped,
            "min_margin": None if m is None else m.margin,
            "margin_at": None if m is None else {"layer": m.layer + 1, "name": f"layer{m.layer}", "neuron": m.neuron,
                                                 "boundary": m.boundary},
        })
        return
    click.echo(f"imported {rep.net.metadata['name']}: widths {'-'.join(map(str, rep.net.widths))} -> {path}")
    click.echo(f"neurons: {rep.flipped} flipped (negative bn_weight), {rep.constant} constant")
    if m is None:
        click.echo("smallest folding margin: none (no boundary within reach)")
    else:
        click.echo(f"smallest folding margin: {m.margin:.3g} (hidden layer {m.layer + 1} = layer{m.layer}, neuron {m.neuron}, "
                   f"boundary {m.boundary:.6f})")


@click.command("eval")
@click.argument("model", type=click.Path())
@click.option("--dataset", default=None, metavar="NAME", help="A built-in data set (see `bnnverify train`).")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True)
@click.option("--data", "data_file", type=click.Path(), default=None, help="A .npz with X (0/1) and y.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def eval_(model, dataset, split, data_file, as_json) -> None:
    """Accuracy (and per-class accuracy) of MODEL with the reference evaluator."""
    from bnnverify.data.datasets import load_data_file
    from bnnverify.training.train import evaluate_model

    if (dataset is None) == (data_file is None):
        raise click.UsageError("give exactly one of --dataset NAME or --data FILE")
    net = load_model_arg(model)
    ds = load_cli_dataset(dataset, split) if dataset is not None else load_data_file(data_file)
    acc = evaluate_model(net, ds)
    from bnnverify.questions.asked import InputRef

    asked = asked_for("eval", [(model, net)], InputRef("dataset", dataset=str(dataset or data_file),
                                                       split=split if dataset is not None else None))
    if as_json:
        d = acc.as_dict()
        d["accuracy"] = fmt_float(d["accuracy"])
        for c in d["per_class"]:
            c["accuracy"] = fmt_float(c["accuracy"])
        echo_result({"model": str(model), **d}, asked, as_json)
        return
    echo_result({}, asked, as_json)
    click.echo(f"{model} on {acc.dataset}: accuracy {acc.accuracy:.4f} ({acc.correct} of {acc.n})")
    for c in acc.per_class:
        if c.n:
            click.echo(f"  class {c.label}: {c.accuracy:.4f} ({c.correct} of {c.n})")


@click.command("predict")
@click.argument("model", type=click.Path())
@click.option("--input", "input_spec", default=None, metavar="FILE_OR_BITS",
              help="One input: a file of 0/1 values or a literal bit string.")
@click.option("--dataset", default=None, metavar="NAME", help="A built-in data set (or a .npz file): its rows.")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True)
@click.option("--index", "index", type=int, default=None, metavar="I", help="With --dataset: only row I.")
@click.option("--data", "data_file", type=click.Path(), default=None, help="A .npz with X (0/1) and y: its rows.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one object per input.")
@handle_errors
def predict(model, input_spec, dataset, split, index, data_file, as_json) -> None:
    """Class, scores and hidden codes of inputs, computed by the semantics module itself."""
    from bnnverify import semantics
    from bnnverify.data.datasets import load_data_file
    from bnnverify.errors import DataError
    from bnnverify.files.inputs import read_input

    given = [o for o, v in (("--input", input_spec), ("--dataset", dataset), ("--data", data_file)) if v is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --input FILE_OR_BITS, --dataset NAME or --data FILE")
    if index is not None and dataset is None and data_file is None:
        raise click.UsageError("--index goes with --dataset or --data")
    net = load_model_arg(model)
    if input_spec is not None:
        rows, labels, first = read_input(input_spec, net)[None, :], [None], 0
    else:
        ds = load_cli_dataset(dataset, split) if dataset is not None else load_data_file(data_file)
        if ds.n_inputs != net.n_inputs:
            raise DataError(f"data set {ds.name}: rows have {ds.n_inputs} bits, the model expects {net.n_inputs}")
        if index is not None and not 0 <= index < len(ds.X):
            raise DataError(f"--index {index}: outside data set {ds.name} (0..{len(ds.X) - 1})")
        sel = range(len(ds.X)) if index is None else [index]
        rows, labels, first = ds.X[list(sel)], [int(ds.y[i]) for i in sel], sel[0] if len(sel) else 0
    from bnnverify.questions.asked import InputRef

    source = (input_ref(input_spec) if input_spec is not None else
              InputRef("dataset", dataset=str(dataset or data_file), split=split if dataset is not None else None,
                       index=index))
    asked = asked_for("predict", [(model, net)], source)
    if not as_json:
        echo_result({}, asked, as_json)
    for k, (x, label) in enumerate(zip(rows, labels)):
        t = semantics.forward(net, x)
        codes = ["".join(map(str, c)) for c in t.codes]
        if as_json:  # one self-describing JSON line per input
            echo_result({"index": first + k, "label": label, "class": t.label, "scores": list(t.scores),
                         "codes": {str(k): c for k, c in enumerate(codes, start=1)}}, asked, as_json)
        else:
            lab = "" if label is None else f" label {label}{' (misclassified)' if label != t.label else ''}"
            click.echo(f"input {first + k}: class {t.label}{lab}; scores "
                       + " ".join(f"{s:g}" for s in t.scores) + "; codes "
                       + " ".join(f"{k}:{c}" for k, c in enumerate(codes, start=1)))


LISTS = ("engines", "solvers", "encodings", "datasets", "binarizers", "layer-kinds")


@click.command("list")
@click.argument("what", type=click.Choice(LISTS))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def list_(what: str, as_json: bool) -> None:
    """What bnnverify offers: engines (with their capabilities), solvers, encodings, data sets, binarizers, layer kinds."""
    rows: list[dict[str, Any]] = []
    if what == "engines":
        from bnnverify.encoders.layers import INTEGERS, LAYER_KINDS
        from bnnverify.engines.registry import ENGINES

        integer_kinds = sorted(k for k, c in LAYER_KINDS.items() if getattr(c, "reads", None) == INTEGERS)
        for e in ENGINES.engines():
            # networks over integer features reach an engine through the order encoding:
            # a 'linear' first layer over a 'linf' (box) or 'level-l0' (L0 ball) region of order bits
            pixel_regions = [r for r, via in (("box", "linf"), ("l0", "level-l0")) if via in e.region_kinds]
            pixels = "linear" in e.layer_kinds and bool(pixel_regions)
            rows.append({"name": e.name, "aliases": list(e.aliases), "summary": e.summary,
                         "capabilities": sorted(c.value for c in e.capabilities),
                         "regions": sorted(e.region_kinds), "layers": sorted(e.layer_kinds),
                         "pixel_regions": pixel_regions if pixels else [],
                         "pixel_first_layers": integer_kinds if pixels else []})
    elif what in ("solvers", "encodings"):
        from bnnverify.encoders.cardinality_cnf import DEFAULT_ENCODING, ENCODINGS
        from bnnverify.encoders.solving import DEFAULT_SOLVER, SOLVERS

        names, default = (SOLVERS, DEFAULT_SOLVER) if what == "solvers" else (ENCODINGS, DEFAULT_ENCODING)
        rows = [{"name": n, "aliases": list(a), "default": n == default} for n, a in names.items()]
    elif what == "datasets":
        from bnnverify.data.datasets import dataset_names

        rows = [{"name": n} for n in dataset_names()]
    elif what == "binarizers":
        from bnnverify.training.binarizers import BINARIZERS

        rows = [{"name": n, "aliases": list(BINARIZERS.aliases(n)), "default": n == BINARIZERS.default}
                for n in BINARIZERS.names]
    else:
        from bnnverify.encoders.layers import LAYER_KINDS

        rows = [{"name": k, "role": c.role, "keys": [f"<prefix>_{a.suffix}" for a in c.keys]}
                for k, c in LAYER_KINDS.items()]
    if as_json:
        emit_json({what.replace("-", "_"): rows})
        return
    for r in rows:
        extra = {k: v for k, v in r.items() if k != "name" and v not in ([], None, False)}
        click.echo(r["name"] + ("  " + "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}"
                                                 for k, v in extra.items()) if extra else ""))


@click.command("torch")
@click.argument("state_dict", type=click.Path())
@click.option("--arch", required=True, metavar="N,H1,...,C", help="Widths, e.g. 12,10,7,5,4,3,2.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file to write (.npz).")
@click.option("--bn-eps", type=float, default=1e-5, show_default=True, help="BatchNorm eps used in training.")
@click.option("--thermometer-levels", type=click.IntRange(min=1), default=None, metavar="L",
              help="Record that inputs are thermometer features of L bits.")
@click.option("--rbonn-variant", type=click.Choice(["paper", "code"]), default=None,
              help="rbonn files written before they recorded their variant: which correction trained them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def import_torch(state_dict, arch, out, bn_eps, thermometer_levels, rbonn_variant, as_json) -> None:
    """Import a state_dict of bnnverify's torch BNN modules (exact batch-norm folding).

    The keys say the module: plain, lns or rbonn layers; a first layer over
    integer features (front.*: a quantizer or ±1 weights over the pixels, ARCH
    then starts with the number of features)."""
    from bnnverify.importers.torch_state import import_torch_state_report
    from bnnverify.files.modelio import save_model

    net, margin = import_torch_state_report(state_dict, int_list(arch, "--arch"), eps=bn_eps,
                                            thermometer_levels=thermometer_levels, rbonn_variant=rbonn_variant)
    save_model(net, out)
    if as_json:
        emit_json({"out": str(out), "widths": list(net.widths), "min_margin": fmt_float(margin)})
    else:
        click.echo(f"imported BNN {'-'.join(map(str, net.widths))} from {state_dict}; "
                   f"smallest folding margin {margin:.3g}; wrote {out}")


#: The commands of this module, added to ``bnnverify`` by :mod:`bnnverify.cli`.
COMMANDS = (demo, summary, eval_, predict, list_)
#: Its subcommands of ``bnnverify import``.
IMPORT_COMMANDS = (import_bnnquanalyst_cmd, import_torch)
