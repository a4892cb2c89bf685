"""The ``bnnverify`` command line: parse arguments, call the library, print text or JSON.

It holds no logic of its own beyond argument parsing and formatting.
Exit codes, like ``diff``: 0 the property holds, 1 it is violated (a replayed
witness exists), 2 bad usage or input, 3 timeout/unknown/budget exceeded,
4 an internal error of bnnverify (a bug: please report it). No traceback
ever ends a command: every error is one message on stderr and its code.
"""

from __future__ import annotations

import functools
import json
import sys
from enum import IntEnum
from typing import Any, Callable

import click
import numpy as np

from bnnverify.errors import BNNVerifyError, BudgetExceeded, DeadlineExceeded, InternalError


class Exit(IntEnum):
    """Process exit codes shared by every command."""

    HOLDS = 0
    VIOLATED = 1
    BAD_INPUT = 2
    UNDECIDED = 3
    INTERNAL = 4


#: How a library error about a parameter reads on the command line: the
#: library names its parameter (``BNNVerifyError.param``), the CLI its flag.
PARAM_MESSAGES: dict[str, str] = {
    "layer": "--layer: {message}",
    "per_code": "--per-code: {message}",
    "hamming": "--hamming: {message}",
    "linf": "--linf: {message}",
    "jobs": "--jobs: {message}",
    "dask": "--dask: {message}",
    "out": "{message} (--resume continues it)",
    "centre": "{message} (--input or --dataset/--index)",
    "region": "{message}: --region whole, --hamming K, --linf EPS or --free FILE",
}

#: The line that follows an internal error.
REPORT = "this is a bug in bnnverify, not in your input: please report it with the command that caused it"


def cli_message(e: BNNVerifyError) -> str:
    """The error's message as the command line says it (flags instead of parameter names)."""
    template = PARAM_MESSAGES.get(e.param or "")
    return template.format(message=e.message) if template else str(e)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)  # exact Python int, however large
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if hasattr(obj, "value") and hasattr(obj, "name") and not isinstance(obj, (int, float, str)):
        return obj.value  # Enums
    return obj


def emit_json(obj: Any) -> None:
    """Print one JSON object; Python ints stay exact (no float conversion)."""
    click.echo(json.dumps(_jsonable(obj)))


def handle_errors(fn: Callable) -> Callable:
    """Turn project errors into a message on stderr and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BudgetExceeded as e:
            click.echo(f"bnnverify: budget exceeded: {e}", err=True)
            sys.exit(Exit.UNDECIDED)
        except DeadlineExceeded as e:
            click.echo(f"bnnverify: time limit reached: {e}", err=True)
            sys.exit(Exit.UNDECIDED)
        except InternalError as e:
            click.echo(f"bnnverify: internal error: {type(e).__name__}: {e}", err=True)
            click.echo(f"bnnverify: {REPORT}", err=True)
            sys.exit(Exit.INTERNAL)
        except BNNVerifyError as e:
            click.echo(f"bnnverify: error: {cli_message(e)}", err=True)
            sys.exit(Exit.BAD_INPUT)
        except OSError as e:  # a file the user named: missing, unreadable, a directory, ...
            click.echo(f"bnnverify: error: {e}", err=True)
            sys.exit(Exit.BAD_INPUT)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - no traceback may read as a verdict
            click.echo(f"bnnverify: internal error: unexpected {type(e).__name__}: {e}", err=True)
            click.echo(f"bnnverify: {REPORT}", err=True)
            sys.exit(Exit.INTERNAL)

    return wrapper


def load_model_arg(path: str):
    from bnnverify.files.modelio import load_model

    return load_model(path)


def region_options(fn: Callable) -> Callable:
    """The region options every question shares (see :func:`region_from_options`)."""
    opts = [
        click.option("--region", "region_kind", type=click.Choice(["whole"]), default=None,
                     help="The whole input space {0,1}^n."),
        click.option("--hamming", type=int, default=None, metavar="K",
                     help="Hamming ball of radius K around the input."),
        click.option("--linf", type=int, default=None, metavar="EPS",
                     help="L-infinity box of ±EPS levels over thermometer features."),
        click.option("--input", "input_spec", default=None, metavar="FILE_OR_BITS",
                     help="Centre input: a file of 0/1 values or a literal bit string."),
        click.option("--mutable", default=None, type=click.Path(),
                     help="File listing the input indices that may change (with --hamming)."),
        click.option("--free", default=None, type=click.Path(),
                     help="File listing the indices that may change, all others fixed "
                          "(BNNQuanalyst fixed-set files); alone, a cube region."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def region_from_options(net, *, region_kind, hamming, linf, input_spec, mutable, free, center=None):
    """Build the Region for a command from its shared options."""
    from bnnverify.files.inputs import make_region, read_bits, read_indices

    n = net.n_inputs
    if center is None and input_spec is not None:
        center = read_bits(input_spec, n)
    return make_region(
        net,
        whole=region_kind == "whole",
        center=center,
        hamming=hamming,
        mutable=read_indices(mutable, n) if mutable else None,
        linf=linf,
        free=read_indices(free, n) if free else None,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bnnverify")
def main() -> None:
    """bnnverify: exact, formal analysis of trained binary neural networks.

    Exit codes: 0 the property holds, 1 it is violated, 2 bad usage or input,
    3 timeout, unknown or budget exceeded.
    """


# --- commands -------------------------------------------------------------
# Each command parses its options, calls bnnverify, and prints text or JSON.


@main.command()
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


@main.group("import")
def import_group() -> None:
    """Import models made elsewhere into bnnverify's model file format."""


@main.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@handle_errors
def summary(model: str, as_json: bool) -> None:
    """Per-layer summary of MODEL (.npz): neurons, ±1 parameters, memory, thresholds."""
    from bnnverify.model.summary import format_summary, summarize, summary_to_dict

    s = summarize(load_model_arg(model))
    if as_json:
        emit_json(summary_to_dict(s))
    else:
        click.echo(format_summary(s))


@import_group.command("bnnquanalyst")
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
            "margin": None if m is None else
            {"layer": m.layer, "neuron": m.neuron, "boundary": m.boundary, "margin": m.margin},
        })
        return
    click.echo(f"imported {rep.net.metadata['name']}: widths {'-'.join(map(str, rep.net.widths))} -> {path}")
    click.echo(f"neurons: {rep.flipped} flipped (negative bn_weight), {rep.constant} constant")
    if m is None:
        click.echo("smallest folding margin: none (no boundary within reach)")
    else:
        click.echo(f"smallest folding margin: {m.margin:.3g} (layer{m.layer} neuron {m.neuron}, "
                   f"boundary {m.boundary:.6f})")

# --- section: train, import torch (foundation: training) -------------------


def _int_list(value: str, what: str) -> list[int]:
    from bnnverify.errors import DataError

    try:
        out = [int(v) for v in value.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise DataError(f"{what}: expected comma-separated integers like 10,7,5, got {value!r}") from None
    if not out:
        raise DataError(f"{what}: expected comma-separated integers like 10,7,5, got {value!r}")
    return out


def _fmt_float(x: float) -> Any:
    """A float for JSON: NaN/inf become null."""
    import math

    return x if math.isfinite(x) else None


@main.command()
@click.option("--dataset", required=True, metavar="NAME_OR_NPZ",
              help="ib12, digits, digits-thermo<L>, or a .npz with X (0/1) and y.")
@click.option("--hidden", required=True, metavar="W1,W2,...", help="Hidden layer widths, e.g. 10,7,5,4,3.")
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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def train(dataset, hidden, epochs, seed, out, snapshots, binarizer, ste, scale, rho, alpha, finetune_epochs,
          rbonn_variant, lr, batch_size, torch_state, as_json) -> None:
    """Train a BNN with torch and export it exactly to a model file."""
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
    opt_kw = {k: v for k, v in (("rho", rho), ("alpha", alpha), ("rbonn_variant", rbonn_variant)) if v is not None}
    try:
        options = BinarizerOptions(**opt_kw)
    except BNNVerifyError as e:
        name = e.param or "binarizer"
        msg = e.message[len(name) + 2:] if e.message.startswith(f"{name}: ") else e.message
        raise click.BadParameter(msg, param_hint=f"--{name.replace('_', '-')}") from None
    res = train_bnn(
        dataset, _int_list(hidden, "--hidden"), epochs=epochs, seed=seed, ste=ste, scale=scale,
        binarizer=binarizer, options=options, finetune_epochs=finetune_epochs,
        lr=DEFAULT_LR if lr is None else lr, batch_size=DEFAULT_BATCH_SIZE if batch_size is None else batch_size,
        snapshots=snapshots, progress=not as_json and sys.stderr.isatty(),
    )
    save_model(res.model, out)
    if torch_state:
        import torch

        from bnnverify.files.atomic import atomic_write

        with atomic_write(torch_state, "wb") as fh:
            torch.save(res.module.state_dict(), fh)
    if as_json:
        emit_json({
            "model": str(out), "widths": list(res.model.widths), "train_accuracy": _fmt_float(res.train_accuracy),
            "test_accuracy": _fmt_float(res.test_accuracy), "min_margin": _fmt_float(res.min_margin),
            "snapshots": len(res.snapshots), "seconds": res.seconds, "binarizer": res.binarizer,
            "sign_disagreements": res.sign_disagreements,
        })
        return
    w = "-".join(str(x) for x in res.model.widths)
    click.echo(f"trained BNN {w} on {dataset} ({len(res.losses)} epochs, seed {seed}, {res.binarizer}) "
               f"in {res.seconds:.1f} s")
    click.echo(f"train accuracy: {res.train_accuracy:.4f}")
    click.echo(f"test accuracy:  {res.test_accuracy:.4f}")
    click.echo(f"smallest folding margin: {res.min_margin:.3g} (distance of a real threshold to an integer)")
    if res.sign_disagreements:
        click.echo(f"binary weights that differ from sign(latent): {res.sign_disagreements}")
    if res.snapshots:
        click.echo(f"snapshots: {len(res.snapshots)} in {snapshots}")
    click.echo(f"wrote {out}")


@main.command("eval")
@click.argument("model", type=click.Path())
@click.option("--dataset", default=None, metavar="NAME", help="A built-in data set (see `bnnverify train`).")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True)
@click.option("--data", "data_file", type=click.Path(), default=None, help="A .npz with X (0/1) and y.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def eval_(model, dataset, split, data_file, as_json) -> None:
    """Accuracy (and per-class accuracy) of MODEL with the reference evaluator."""
    from bnnverify.data.datasets import load_data_file, load_dataset
    from bnnverify.training.train import evaluate_model

    if (dataset is None) == (data_file is None):
        raise click.UsageError("give exactly one of --dataset NAME or --data FILE")
    net = load_model_arg(model)
    ds = load_dataset(dataset, split) if dataset is not None else load_data_file(data_file)
    acc = evaluate_model(net, ds)
    if as_json:
        d = acc.as_dict()
        d["accuracy"] = _fmt_float(d["accuracy"])
        for c in d["per_class"]:
            c["accuracy"] = _fmt_float(c["accuracy"])
        emit_json({"model": str(model), **d})
        return
    click.echo(f"{model} on {acc.dataset}: accuracy {acc.accuracy:.4f} ({acc.correct} of {acc.n})")
    for c in acc.per_class:
        if c.n:
            click.echo(f"  class {c.label}: {c.accuracy:.4f} ({c.correct} of {c.n})")


@import_group.command("torch")
@click.argument("state_dict", type=click.Path())
@click.option("--arch", required=True, metavar="N,H1,...,C", help="Widths, e.g. 12,10,7,5,4,3,2.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file to write (.npz).")
@click.option("--bn-eps", type=float, default=1e-5, show_default=True, help="BatchNorm eps used in training.")
@click.option("--thermometer-levels", type=click.IntRange(min=1), default=None, metavar="L",
              help="Record that inputs are thermometer features of L bits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def import_torch(state_dict, arch, out, bn_eps, thermometer_levels, as_json) -> None:
    """Import a state_dict of bnnverify's torch BNN modules (exact batch-norm folding)."""
    from bnnverify.importers.torch_state import import_torch_state_report
    from bnnverify.files.modelio import save_model

    net, margin = import_torch_state_report(state_dict, _int_list(arch, "--arch"), eps=bn_eps,
                                            thermometer_levels=thermometer_levels)
    save_model(net, out)
    if as_json:
        emit_json({"model": str(out), "widths": list(net.widths), "min_margin": _fmt_float(margin)})
    else:
        click.echo(f"imported BNN {'-'.join(map(str, net.widths))} from {state_dict}; "
                   f"smallest folding margin {margin:.3g}; wrote {out}")


# --- section: count (BDD engine) -------------------------------------------


@main.command("count")
@click.argument("model", type=click.Path())
@region_options
@click.option("--per-code", type=int, default=None, metavar="LAYER",
              help="Also report the number of reachable codes of hidden layer LAYER (1-based).")
@click.option("--max-nodes", type=int, default=None, metavar="N", help="Live BDD node budget (default: none).")
@click.option("--max-memory", type=int, default=None, metavar="MB",
              help="CUDD memory cap in MiB (default: 1024).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (exact integers).")
@handle_errors
def count(model, region_kind, hamming, linf, input_spec, mutable, free, per_code, max_nodes, max_memory,
          as_json) -> None:
    """Exact number of inputs of the region per class (BDD engine)."""
    from bnnverify.engines.bdd import BDDBudget, count_report

    net = load_model_arg(model)
    region = region_from_options(net, region_kind=region_kind, hamming=hamming, linf=linf,
                                 input_spec=input_spec, mutable=mutable, free=free)
    for opt, v in (("--max-nodes", max_nodes), ("--max-memory", max_memory)):
        if v is not None and v < 1:
            raise click.BadParameter(f"must be a positive integer, got {v}", param_hint=opt)
    budget = BDDBudget(
        max_nodes=max_nodes,
        max_memory_bytes=(max_memory << 20) if max_memory is not None else BDDBudget().max_memory_bytes,
    )
    rep = count_report(net, region, per_code=per_code, budget=budget)
    if as_json:
        emit_json(rep.as_dict())
        return
    cc = rep.counts
    click.echo(f"region: {region.describe()['kind']}, {cc.region_size} inputs")
    width = len(str(max(cc.counts))) if cc.counts else 1
    for c, n in enumerate(cc.counts):
        click.echo(f"  class {c}: {n:>{width}}")
    if rep.codes is not None:
        click.echo(f"reachable codes of hidden layer {rep.layer}: {rep.codes}")
    click.echo(f"({rep.seconds:.2f} s)")


# --- section: export-cnf (CNF engine) --------------------------------------


@main.command("export-cnf")
@click.argument("model", type=click.Path())
@region_options
@click.option("--class", "class_", type=int, default=None, metavar="C", help="The formula: class(x) = C.")
@click.option("--not-class", type=int, default=None, metavar="C", help="The formula: class(x) != C.")
@click.option("--encoding", default=None, metavar="NAME",
              help="Neuron cardinality encoding (see bnnverify.engines.sat.ENCODINGS; not 'native').")
@click.option("--generic", is_flag=True, help="Encode a Hamming ball's first layer generically (not ball-aware).")
@click.option("--out", "out_path", required=True, type=click.Path(), help="The DIMACS file to write (atomically).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def export_cnf(model, region_kind, hamming, linf, input_spec, mutable, free, class_, not_class,
               encoding, generic, out_path, as_json) -> None:
    """Write "x in REGION and class(x) = C (or != C)" as DIMACS CNF.

    The file carries `c ind ... 0` and `c p show ... 0` lines on the input
    variables 1..n, so projected model counters (Ganak, ApproxMC, d4) count
    inputs, not auxiliary variables.
    """
    from bnnverify.engines.sat import export_dimacs

    net = load_model_arg(model)
    if (class_ is None) == (not_class is None):
        raise click.UsageError("give exactly one of --class C or --not-class C")
    region = region_from_options(net, region_kind=region_kind, hamming=hamming, linf=linf,
                                 input_spec=input_spec, mutable=mutable, free=free)
    info = export_dimacs(net, region, class_ if class_ is not None else not_class, out_path,
                         negate=not_class is not None, encoding=encoding, ball_aware=not generic,
                         model_name=str(model))
    if as_json:
        emit_json(info)
    else:
        click.echo(f"wrote {info['out']}: {info['n_vars']} variables, {info['n_clauses']} clauses "
                   f"(projection on inputs 1..{info['n_inputs']}; encoding {info['encoding']}, "
                   f"{info['seconds']:.3f} s)")


# --- section: robustness, equivalence (questions) --------------------------

class EngineName(click.ParamType):
    """An engine of the registry (or an alias, any case) or ``auto``, read when the command runs.

    The choices are the registry's at that moment, so an engine registered at
    run time is offered with no edit here.
    """

    name = "engine"

    def _names(self) -> tuple[str, ...]:
        from bnnverify.engines.registry import ENGINES

        return ENGINES.names(auto=True)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self._names()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from bnnverify.engines.registry import ENGINES
        from bnnverify.errors import EngineError

        try:
            return ENGINES.resolve(str(value))
        except EngineError as e:
            self.fail(str(e), param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in self._names() if n.startswith(incomplete.lower())]


_METHODS = EngineName()


def _exit_for(verdict) -> int:
    """The exit code of a verdict: 0 holds, 1 violated, 3 undecided."""
    if verdict.holds:
        return Exit.HOLDS
    if verdict.violated:
        return Exit.VIOLATED
    return Exit.UNDECIDED


def _fmt_region(d: dict) -> str:
    params = ", ".join(
        f"{k}={v}" if not isinstance(v, list) else f"{k}=[{len(v)} indices]"
        for k, v in d.items() if k not in ("kind", "size")
    )
    return f"{d['kind']}{' (' + params + ')' if params else ''}, {d['size']} members"


def _echo_robustness(res) -> None:
    click.echo(f"verdict: {res.verdict.value}")
    click.echo(f"predicted class: {res.predicted_class}")
    click.echo(f"region: {_fmt_region(dict(res.region))}")
    if res.counterexample is not None:
        from bnnverify.questions.robustness import bits_to_str

        click.echo(f"counterexample (class {res.counterexample_class}): {bits_to_str(res.counterexample)}")
    if res.adversarial_count is not None:
        click.echo(f"adversarial inputs: {res.adversarial_count} of {res.region['size']}")
        click.echo("class counts: " + ", ".join(f"{c}: {v}" for c, v in enumerate(res.class_counts)))
    if res.note:
        click.echo(f"note: {res.note}")
    click.echo(f"method: {res.method} ({res.seconds:.3f} s)")


def _sweep_cli(net, dataset, split, limit, out, jobs, dask, resume, query, as_json) -> None:
    from bnnverify.data.datasets import load_dataset
    from bnnverify.errors import DataError
    from bnnverify.questions.sweep import sweep

    ds = load_dataset(dataset, split)
    if ds.n_inputs != net.n_inputs:
        raise DataError(f"data set {ds.name}: rows have {ds.n_inputs} bits, the model expects {net.n_inputs}")
    indices = range(len(ds.X) if limit is None else min(limit, len(ds.X)))
    bar = None
    if not as_json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(indices), unit="input", file=sys.stderr)
    try:
        summary = sweep(
            net, ds.X, ds.y, query, out, indices=indices, jobs=jobs, dask=dask, resume=resume,
            on_start=(lambda n_done: bar.update(n_done)) if bar else None,
            on_result=(lambda line: bar.update(1)) if bar else None,
        )
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        emit_json(summary.to_json())
    else:
        v = summary.verdict_counts
        click.echo(f"instances: {summary.n_instances} ({summary.n_resumed} already in {out})")
        click.echo(
            f"verified robust accuracy: {summary.verified_robust_accuracy:.4f} "
            f"({summary.n_verified} of {summary.n_instances}; clean accuracy {summary.accuracy:.4f})"
        )
        click.echo("verdicts: " + ", ".join(f"{k} {n}" for k, n in v.items()))
        click.echo(f"seconds per instance: median {summary.seconds_median:.3f}, p95 {summary.seconds_p95:.3f}")
    # like diff: 1 if some input is not robust, else 3 if some stayed undecided, else 0
    vc = summary.verdict_counts
    if vc.get("not_robust", 0):
        sys.exit(Exit.VIOLATED)
    sys.exit(Exit.UNDECIDED if vc.get("timeout", 0) + vc.get("unknown", 0) else Exit.HOLDS)


@main.command()
@click.argument("model", type=click.Path())
@region_options
@click.option("--dataset", default=None, metavar="NAME",
              help="Take the input(s) from a data set (ib12, digits, digits-thermo<L>, or a .npz file).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test", "all"]),
              help="Which split of --dataset.")
@click.option("--index", "index", type=int, default=None, metavar="I", help="The data set's I-th input.")
@click.option("--all", "sweep_all", is_flag=True, help="Every input of the data set (a sweep; needs --out).")
@click.option("--limit", type=click.IntRange(min=0), default=None, metavar="N",
              help="With --all: only the first N inputs.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="With --all: JSON-lines results file, one line per input, appended as each finishes.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --all: local worker processes.")
@click.option("--dask", default=None, metavar="ADDRESS",
              help="With --all: submit the tasks to a Dask scheduler, e.g. tcp://127.0.0.1:8786.")
@click.option("--resume", is_flag=True, help="With --all: skip the inputs already in --out.")
@click.option("--method", type=_METHODS, default="auto", show_default=True,
              help="An engine of the registry (enum: enumerate; sat: CNF + SAT solver; bdd: BDD; ganak: projected model counting) or auto: the policy chooses by region size and question. An engine that cannot answer is refused by name.")
@click.option("--count", is_flag=True, help="Exact number of adversarial inputs and per-class counts.")
@click.option("--solver", default=None, metavar="NAME", help="SAT solver (see bnnverify.engines.sat.SOLVERS).")
@click.option("--encoding", default=None, metavar="NAME", help="Cardinality encoding (see bnnverify.engines.sat.ENCODINGS).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Time limit in seconds (SAT; enumeration for --max-radius).")
@click.option("--max-radius", "max_radius", is_flag=True,
              help="The largest Hamming radius at which the input is robust (--hamming K caps it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def robustness(model, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index,
               sweep_all, limit, out, jobs, dask, resume, method, count, solver, encoding, timeout,
               max_radius, as_json) -> None:
    """Is MODEL's class constant over a region around an input?

    Exit codes: 0 robust, 1 not robust (a replayed counterexample),
    2 bad usage or input, 3 timeout, unknown or budget exceeded.
    """
    from bnnverify.errors import DataError
    from bnnverify.files.inputs import read_bits, read_indices
    from bnnverify.questions.robustness import check_robustness, max_robust_radius

    net = load_model_arg(model)
    n = net.n_inputs
    sources = [s for s, on in (("--input", input_spec is not None), ("--dataset/--index", index is not None),
                               ("--dataset/--all", sweep_all)) if on]
    if len(sources) != 1:
        raise DataError("give exactly one input source: --input FILE_OR_BITS, --dataset NAME --index I, "
                        "or --dataset NAME --all" + (f" (got {', '.join(sources)})" if sources else ""))
    if (index is not None or sweep_all) and dataset is None:
        raise DataError("--index and --all need --dataset NAME")
    if dataset is not None and not (index is not None or sweep_all):
        raise DataError("--dataset needs --index I or --all")
    sweep_only = [o for o, on in (("--out", out is not None), ("--jobs", jobs != 1), ("--dask", dask is not None),
                                  ("--resume", resume), ("--limit", limit is not None)) if on]
    if sweep_only and not sweep_all:
        raise DataError(f"{', '.join(sweep_only)} only go with --all")
    if sweep_all and out is None:
        raise DataError("--all needs --out FILE (the JSON-lines results)")
    if sweep_all and max_radius:
        raise DataError("--max-radius does not go with --all")
    if dask is not None and jobs != 1:
        raise DataError("choose one of --jobs and --dask")

    if sweep_all:
        from bnnverify.questions.sweep import RegionSpec, RobustnessQuery

        spec = RegionSpec(
            whole=region_kind == "whole", hamming=hamming, linf=linf,
            mutable=tuple(read_indices(mutable, n).tolist()) if mutable else None,
            free=tuple(read_indices(free, n).tolist()) if free else None,
        )
        query = RobustnessQuery(spec, method, count, solver, encoding, timeout)
        _sweep_cli(net, dataset, split, limit, out, jobs, dask, resume, query, as_json)
        return

    if input_spec is not None:
        x = read_bits(input_spec, n)
    else:
        from bnnverify.data.datasets import load_dataset

        ds = load_dataset(dataset, split)
        if not 0 <= index < len(ds.X):
            raise DataError(f"--index {index}: outside data set {ds.name} (0..{len(ds.X) - 1})")
        if ds.n_inputs != n:
            raise DataError(f"data set {ds.name}: rows have {ds.n_inputs} bits, the model expects {n}")
        x = np.asarray(ds.X[index], dtype=np.uint8)

    if max_radius:
        if region_kind is not None or linf is not None:
            raise DataError("--max-radius searches Hamming balls: use --hamming K (a cap) and --mutable/--free, "
                            "not --region or --linf")
        if count:
            raise DataError("--count does not go with --max-radius")
        if hamming is not None and not 0 <= hamming <= n:
            raise DataError(f"--hamming: radius must be between 0 and {n}, got {hamming}")
        sel = mutable or free
        res = max_robust_radius(
            net, x, mutable=read_indices(sel, n) if sel else None, max_radius=hamming, method=method,
            solver=solver, encoding=encoding, timeout=timeout,
        )
        if as_json:
            emit_json(res.to_json())
        else:
            from bnnverify.questions.robustness import bits_to_str

            bound = "" if res.exact else " (a lower bound: the search stopped)"
            click.echo(f"predicted class: {res.predicted_class}")
            click.echo(f"max robust radius: {res.radius}{bound} (cap {res.max_radius})")
            if res.counterexample is not None:
                click.echo(f"counterexample at radius {res.radius + 1} (class {res.counterexample_class}): "
                           f"{bits_to_str(res.counterexample)}")
            if res.note:
                click.echo(f"note: {res.note}")
            click.echo(f"method: {res.method} ({res.seconds:.3f} s)")
        if res.note:
            click.echo(f"bnnverify: {res.note}", err=True)
        sys.exit(Exit.HOLDS if res.exact else Exit.UNDECIDED)

    region = region_from_options(net, region_kind=region_kind, hamming=hamming, linf=linf,
                                 input_spec=None, mutable=mutable, free=free, center=x)
    res = check_robustness(net, x, region, method=method, count=count, solver=solver, encoding=encoding,
                           timeout=timeout)
    if as_json:
        emit_json(res.to_json())
    else:
        _echo_robustness(res)
    if res.note and res.verdict.undecided:
        click.echo(f"bnnverify: {res.note}", err=True)
    sys.exit(_exit_for(res.verdict))


@main.command()
@click.argument("model_a", type=click.Path())
@click.argument("model_b", type=click.Path())
@region_options
@click.option("--method", type=_METHODS, default="auto", show_default=True,
              help="An engine of the registry (enum: enumerate; sat: SAT miter; bdd: BDD) or auto: the policy chooses by region size and question.")
@click.option("--count", is_flag=True, help="Exact number of disagreements and the confusion counts.")
@click.option("--solver", default=None, metavar="NAME", help="SAT solver (see bnnverify.engines.sat.SOLVERS).")
@click.option("--encoding", default=None, metavar="NAME", help="Cardinality encoding (see bnnverify.engines.sat.ENCODINGS).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Time limit in seconds (SAT).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def equivalence(model_a, model_b, region_kind, hamming, linf, input_spec, mutable, free, method, count,
                solver, encoding, timeout, as_json) -> None:
    """Do MODEL_A and MODEL_B classify every input of a region alike (default: all inputs)?

    Exit codes: 0 equivalent, 1 not equivalent (a replayed witness),
    2 bad usage or input, 3 timeout, unknown or budget exceeded.
    """
    from bnnverify.questions.equivalence import check_equivalence
    from bnnverify.errors import DataError, ModelError

    net_a, net_b = load_model_arg(model_a), load_model_arg(model_b)
    if net_a.n_inputs != net_b.n_inputs:
        raise ModelError(f"{model_a} has {net_a.n_inputs} inputs but {model_b} has {net_b.n_inputs}: "
                         "equivalence needs models over the same inputs")
    given = any(v is not None for v in (region_kind, hamming, linf, free))
    region = None
    if given:
        region = region_from_options(net_a, region_kind=region_kind, hamming=hamming, linf=linf,
                                     input_spec=input_spec, mutable=mutable, free=free)
    elif input_spec is not None or mutable is not None:
        raise DataError("--input/--mutable need a region option (--hamming K, --linf EPS or --free FILE)")
    res = check_equivalence(net_a, net_b, region, method=method, count=count, solver=solver,
                            encoding=encoding, timeout=timeout)
    if as_json:
        emit_json(res.to_json())
    else:
        from bnnverify.questions.robustness import bits_to_str

        click.echo(f"verdict: {res.verdict.value}")
        click.echo(f"region: {_fmt_region(dict(res.region))}")
        if res.witness is not None:
            click.echo(f"witness: {bits_to_str(res.witness)} (class {res.class_a} by A, {res.class_b} by B)")
        if res.disagreement_count is not None:
            click.echo(f"disagreements: {res.disagreement_count} of {res.region['size']}")
            off = {k: v for k, v in res.confusion.items() if k[0] != k[1]}
            if off:
                click.echo("confusion (A -> B: count): " + ", ".join(f"{a}->{b}: {v}" for (a, b), v in sorted(off.items())))
        if res.note:
            click.echo(f"note: {res.note}")
        click.echo(f"method: {res.method} ({res.seconds:.3f} s)")
    if res.note and res.verdict.undecided:
        click.echo(f"bnnverify: {res.note}", err=True)
    sys.exit(_exit_for(res.verdict))


# --- section: info, infoplane, codes (information) -------------------------


def _info_dataset_options(fn: Callable) -> Callable:
    """--dataset/--split/--index/--rows: a data set as the distribution, or a centre from it."""
    opts = [
        click.option("--dataset", default=None, metavar="NAME",
                     help="The data set's rows as the distribution (ib12, digits, digits-thermo<L>, a .npz); "
                          "with --hamming K: the mixture of radius-K balls around its rows (label = the row's); "
                          "with --index I: the centre input."),
        click.option("--split", default="all", show_default=True, type=click.Choice(["train", "test", "all"]),
                     help="Which split of --dataset."),
        click.option("--index", "index", type=int, default=None, metavar="I",
                     help="With --dataset: the I-th row is the centre of the region."),
        click.option("--rows", type=click.IntRange(min=1), default=None, metavar="N",
                     help="With --dataset and --hamming: balls around the first N rows only."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def _info_labels(spec: str, net):
    """'dataset', 'model', 'final' or a label model file."""
    from bnnverify.errors import DataError

    if spec in ("dataset", "model", "final"):
        return spec
    from pathlib import Path

    if not Path(spec).exists():
        raise DataError(f"--labels {spec!r}: not 'dataset', 'model' or an existing model file")
    teacher = load_model_arg(spec)
    if teacher.n_inputs != net.n_inputs:
        raise DataError(f"--labels {spec}: the label model has {teacher.n_inputs} inputs, the model has {net.n_inputs}")
    return teacher


def _info_distribution(net, opts: dict):
    """(region, dataset, radius) from the shared options: exactly one distribution."""
    from bnnverify.data.datasets import load_dataset
    from bnnverify.errors import DataError

    ds = None
    if opts["dataset"] is not None:
        ds = load_dataset(opts["dataset"], opts["split"])
        if ds.n_inputs != net.n_inputs:
            raise DataError(f"data set {ds.name}: rows have {ds.n_inputs} bits, the model expects {net.n_inputs}")
    elif opts["index"] is not None or opts["rows"] is not None:
        raise DataError("--index and --rows need --dataset NAME")
    region_given = any(opts[k] is not None for k in ("region_kind", "hamming", "linf", "free"))
    center = None
    if ds is not None and opts["index"] is not None:
        if not 0 <= opts["index"] < len(ds.X):
            raise DataError(f"--index {opts['index']}: data set {ds.name} has rows 0..{len(ds.X) - 1}")
        if opts["input_spec"] is not None:
            raise DataError("give one centre: --input or --dataset/--index")
        center = ds.X[opts["index"]]
    if ds is not None and center is None:
        if opts["hamming"] is not None and opts["input_spec"] is None:
            if opts["rows"] is not None:
                ds = dataclasses_replace_rows(ds, opts["rows"])
            return None, ds, opts["hamming"]
        if region_given:
            raise DataError("--dataset is the distribution; a region around an input needs --index I or --input")
        return None, ds, None
    region = region_from_options(net, region_kind=opts["region_kind"], hamming=opts["hamming"], linf=opts["linf"],
                                 input_spec=opts["input_spec"], mutable=opts["mutable"], free=opts["free"],
                                 center=center)
    return region, None, None


def dataclasses_replace_rows(ds, n_rows: int):
    """The first ``n_rows`` rows of a data set."""
    import dataclasses

    return dataclasses.replace(ds, name=f"{ds.name}[:{n_rows}]", X=ds.X[:n_rows], y=ds.y[:n_rows])


def _fmt_bits(x: float) -> str:
    return f"{x:.6f}"


@main.command()
@click.argument("model", type=click.Path())
@region_options
@_info_dataset_options
@click.option("--labels", "labels_spec", default=None, metavar="dataset|model|MODEL2",
              help="Y: the data set's label (default with --dataset), the model's own prediction "
                   "(default with a region), or the class given by another model file.")
@click.option("--method", type=_METHODS, default="auto", show_default=True,
              help="Region counts: enumerate with the evaluator, BDD, ball (Hamming balls: exact programme over "
                   "flipped-bit types), or auto (enumerate up to 10^7 members, then ball for Hamming balls, else BDD).")
@click.option("--budget", type=click.IntRange(min=1), default=None, metavar="NODES",
              help="BDD node budget (exit 3 beyond it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def info(model, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index, rows,
         labels_spec, method, budget, as_json) -> None:
    """Exact I(X;T), I(T;Y), H(T|Y) of every hidden layer of MODEL.

    The distribution is uniform on a region (--region whole, --hamming K
    --input X, ...), a data set's rows (--dataset NAME) or the mixture of
    Hamming balls around them (--dataset NAME --hamming K). Counts are exact;
    entropies are in bits.
    """
    from bnnverify.information.measures import info_over_balls, info_over_dataset, info_over_region

    net = load_model_arg(model)
    opts = dict(region_kind=region_kind, hamming=hamming, linf=linf, input_spec=input_spec, mutable=mutable,
                free=free, dataset=dataset, split=split, index=index, rows=rows)
    region, ds, radius = _info_distribution(net, opts)
    default = "dataset" if ds is not None else "model"
    labels = _info_labels(labels_spec or default, net)
    if labels == "final":
        from bnnverify.errors import DataError

        raise DataError("--labels final is only for infoplane (the last snapshot); give a model file")
    if ds is None:
        rep = info_over_region(net, region, labels=labels, method=method, budget=budget)
    elif radius is None:
        rep = info_over_dataset(net, ds, labels=labels)
    else:
        rep = info_over_balls(net, ds, radius, labels=labels, method=method, budget=budget)
    if as_json:
        emit_json(rep.to_json())
        return
    from bnnverify.information.infoplane import describe_source

    src = describe_source(rep.region)
    click.echo(f"{model}: {net!r} over {src}; region size {rep.region_size}")
    ytext = {"dataset": "the data set's label", "model": "the model's own prediction"}.get(
        rep.labels.value, f"the class of {labels_spec}")
    click.echo(f"Y = {ytext}; "
               f"H(Y) = {_fmt_bits(rep.H_Y)} bits; counts by {rep.method} in {rep.seconds:.2f} s")
    head = ("layer", "width", "codes", "H(T)=I(X;T)", "I(T;Y)", "H(T|Y)", "H(Y|T)")
    rows_ = [(str(li.layer), str(li.width), str(li.codes), _fmt_bits(li.H_T), _fmt_bits(li.I_TY),
              _fmt_bits(li.H_T_given_Y), _fmt_bits(li.H_Y_given_T)) for li in rep.layers]
    widths = [max(len(h), *(len(r[i]) for r in rows_)) for i, h in enumerate(head)]
    click.echo("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for r in rows_:
        click.echo("  ".join(c.rjust(w) for c, w in zip(r, widths)))


@main.command()
@click.argument("snapshot_dir", type=click.Path())
@region_options
@_info_dataset_options
@click.option("--labels", "labels_spec", default=None, metavar="dataset|model|final|MODEL2",
              help="Y: the data set's label (default with --dataset), each snapshot's own prediction, the "
                   "final snapshot's prediction (default with a region) or another model's class.")
@click.option("--method", type=_METHODS, default="auto", show_default=True,
              help="Region counts: enumerate with the evaluator, BDD, ball (Hamming balls), or auto.")
@click.option("--budget", type=click.IntRange(min=1), default=None, metavar="NODES", help="BDD node budget.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False), metavar="PNG",
              help="Draw the information plane to this PNG.")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False), metavar="CSV",
              help="Write every (epoch, layer) point to this CSV.")
@click.option("--title", default=None, help="Plot title (default: names the distribution and Y).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (all points).")
@handle_errors
def infoplane(snapshot_dir, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index, rows,
              labels_spec, method, budget, plot_path, out_path, title, as_json) -> None:
    """The exact information plane of the snapshots in SNAPSHOT_DIR.

    SNAPSHOT_DIR holds the per-epoch models written by `bnnverify train
    --snapshots DIR`. For every epoch and hidden layer, (I(X;T), I(T;Y)) over
    the chosen distribution; --plot draws it (x: I(X;T), y: I(T;Y), a curve
    per layer, colour = epoch), --out writes the points as CSV.
    """
    from bnnverify.information.infoplane import compute_infoplane, describe_source, load_snapshots, plot_infoplane, write_csv

    snaps = load_snapshots(snapshot_dir)
    net = snaps[0].net
    opts = dict(region_kind=region_kind, hamming=hamming, linf=linf, input_spec=input_spec, mutable=mutable,
                free=free, dataset=dataset, split=split, index=index, rows=rows)
    region, ds, radius = _info_distribution(net, opts)
    labels = _info_labels(labels_spec or ("dataset" if ds is not None else "final"), net)
    bar = None
    if not as_json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(snaps), unit="epoch", file=sys.stderr)
    try:
        plane = compute_infoplane(snaps, region=region, dataset=ds, radius=radius, labels=labels, method=method,
                                  budget=budget, progress=(lambda e: bar.update(1)) if bar else None)
    finally:
        if bar is not None:
            bar.close()
    if out_path:
        write_csv(plane, out_path)
    if plot_path:
        plot_infoplane(plane, plot_path, title)
    if as_json:
        emit_json({"source": dict(plane.source), "labels": plane.labels.value, "method": str(plane.method),
                   "seconds": plane.seconds,
                   "points": [{"epoch": p.epoch, "layer": p.layer, "width": p.width, "codes": p.codes,
                               "I_XT": p.I_XT, "I_TY": p.I_TY, "H_T_given_Y": p.H_T_given_Y, "H_Y": p.H_Y,
                               "region_size": p.region_size} for p in plane.points]})
        return
    ep = plane.epochs
    click.echo(f"{len(snaps)} snapshots (epochs {ep[0]}..{ep[-1]}) of {net!r} over {describe_source(plane.source)}; "
               f"{plane.label_note}; counts by {plane.method} in {plane.seconds:.2f} s")
    click.echo("layer  width  I(X;T) first -> last   I(T;Y) first -> last")
    for layer in plane.layers:
        c = plane.curve(layer)
        click.echo(f"{layer:5d}  {c[0].width:5d}  {c[0].I_XT:7.4f} -> {c[-1].I_XT:7.4f}   "
                   f"{c[0].I_TY:7.4f} -> {c[-1].I_TY:7.4f}")
    for what, p in (("CSV", out_path), ("plot", plot_path)):
        if p:
            click.echo(f"{what}: {p}")


@main.command()
@click.argument("model", type=click.Path())
@click.option("--layer", type=int, required=True, metavar="L",
              help="Hidden layer L (1-based): edges go from its codes to layer L+1's (the class, for the last).")
@region_options
@_info_dataset_options
@click.option("--method", type=_METHODS, default="auto", show_default=True,
              help="Region counts: enumerate with the evaluator, BDD, or auto.")
@click.option("--budget", type=click.IntRange(min=1), default=None, metavar="NODES", help="BDD node budget.")
@click.option("--graph", "graph_path", default=None, type=click.Path(dir_okay=False), metavar="GRAPHML",
              help="Write the code graph as GraphML (counts exact: long, or strings beyond 2^63).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@handle_errors
def codes(model, layer, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index, rows,
          method, budget, graph_path, as_json) -> None:
    """The code graph of MODEL between hidden layer L and L+1.

    Nodes: the reachable codes of both layers with their exact input counts;
    edges: how many inputs pass from a code of L to a code of L+1. A code of
    L+1 with several incoming edges is where the network merges inputs.
    """
    from bnnverify.information.codegraph import code_graph, write_graphml
    from bnnverify.errors import DataError

    net = load_model_arg(model)
    opts = dict(region_kind=region_kind, hamming=hamming, linf=linf, input_spec=input_spec, mutable=mutable,
                free=free, dataset=dataset, split=split, index=index, rows=rows)
    region, ds, radius = _info_distribution(net, opts)
    if radius is not None:
        raise DataError("codes: --dataset with --hamming (ball mixtures) is not supported; use --index I")
    g = code_graph(net, layer, region=region, dataset=ds, method=method, budget=budget)
    if graph_path:
        write_graphml(g, graph_path)
    a = [d for _, d in g.nodes(data=True) if d["layer"] == layer]
    b = [(n, d) for n, d in g.nodes(data=True) if d["layer"] == layer + 1]
    merging = sorted(((g.in_degree(n), n, d["count"]) for n, d in b if g.in_degree(n) > 1), reverse=True)
    summary = {"layer": layer, "total": g.graph["total"], "codes_in": len(a), "codes_out": len(b),
               "edges": g.number_of_edges(), "merging_codes": len(merging),
               "largest_merges": [{"code": n, "in_codes": k, "count": c} for k, n, c in merging[:5]],
               "graph": graph_path}
    if as_json:
        emit_json(summary)
        return
    nxt = "classes" if layer == len(net.hidden) else f"layer {layer + 1} codes"
    click.echo(f"{model}: {net!r}, layer {layer} -> {nxt}, {summary['total']} inputs")
    click.echo(f"layer {layer}: {len(a)} codes; {nxt}: {len(b)}; edges: {g.number_of_edges()}")
    click.echo(f"{len(merging)} of the {len(b)} {nxt} merge several layer-{layer} codes")
    for k, n, c in merging[:5]:
        click.echo(f"  {n}: {k} codes merge, {c} inputs")
    if graph_path:
        click.echo(f"GraphML: {graph_path}")


if __name__ == "__main__":  # pragma: no cover
    main()
