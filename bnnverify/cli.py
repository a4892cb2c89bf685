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
    "rbonn_variant": "{message} (--rbonn-variant paper|code)",
    "input_layer": "{message} (--input-layer)",
    "levels": "{message} (--levels)",
    "per_code": "--per-code: {message}",
    "hamming": "--hamming: {message}",
    "linf": "--linf: {message}",
    "eps": "--linf: {message}",
    "l0": "--l0: {message}",
    "k": "--l0: {message}",
    "pixel_region": "{message}",
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


def budget_options(fn: Callable) -> Callable:
    """``--max-nodes N`` and ``--max-memory MB``: one BDD budget option pair for every command that may
    compile BDDs (``--budget``, the old name of ``--max-nodes`` in info/infoplane/codes, still works).

    The command receives ``budget`` (a :class:`~bnnverify.encoders.bdd.BDDBudget`, or None: the default).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, max_nodes: int | None = None, max_memory: int | None = None,
                budget: int | None = None, **kwargs: Any) -> Any:
        if budget is not None and max_nodes is not None:
            raise click.UsageError("--budget is the old name of --max-nodes: give one of them")
        nodes = max_nodes if max_nodes is not None else budget
        kwargs["budget"] = None
        if nodes is not None or max_memory is not None:
            from bnnverify.encoders.bdd import BDDBudget

            kwargs["budget"] = BDDBudget(
                max_nodes=nodes,
                max_memory_bytes=(max_memory << 20) if max_memory is not None else BDDBudget().max_memory_bytes,
            )
        return fn(*args, **kwargs)

    for opt in reversed([
        click.option("--max-nodes", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Live BDD node budget (default: none; exit 3 beyond it)."),
        click.option("--max-memory", type=click.IntRange(min=1), default=None, metavar="MB",
                     help="CUDD memory cap in MiB (default: 1024; exit 3 beyond it)."),
        click.option("--budget", type=click.IntRange(min=1), default=None, hidden=True,
                     help="The old name of --max-nodes."),
    ]):
        wrapper = opt(wrapper)
    return wrapper


def centre_options(fn: Callable) -> Callable:
    """``--dataset NAME --index I [--split S]``: the centre input from a data set, as an alternative to
    ``--input``, for commands whose region has a centre (count, export-cnf, equivalence).

    The command receives ``centre``: None, or ``(bits, InputRef)``.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, dataset: str | None = None, split: str = "test", index: int | None = None,
                **kwargs: Any) -> Any:
        from bnnverify.errors import DataError

        kwargs["centre"] = None
        if (dataset is None) != (index is None):
            raise DataError("--dataset and --index go together (the centre is the data set's I-th input)")
        if dataset is not None:
            if kwargs.get("input_spec") is not None:
                raise DataError("give one centre: --input FILE_OR_BITS or --dataset NAME --index I")
            from bnnverify.data.datasets import load_dataset

            ds = load_cli_dataset(dataset, split)
            if not 0 <= index < len(ds.X):
                raise DataError(f"--index {index}: outside data set {ds.name} (0..{len(ds.X) - 1})")
            kwargs["centre"] = (np.asarray(ds.X[index], dtype=np.uint8), input_ref(None, ds, split, index, dataset))
        return fn(*args, **kwargs)

    for opt in reversed([
        click.option("--dataset", "--data", "dataset", default=None, metavar="NAME", help="With --index: the centre is this data set's input."),
        click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test", "all"]),
                     help="Which split of --dataset."),
        click.option("--index", "index", type=int, default=None, metavar="I", help="The data set's I-th input."),
    ]):
        wrapper = opt(wrapper)
    return wrapper


def centre_bits(net, centre):
    """The centre's bits for ``net`` (checked against its input width), or None."""
    from bnnverify.errors import DataError

    if centre is None:
        return None
    x = centre[0]
    if x.shape[0] != net.n_inputs:
        raise DataError(f"data set input has {x.shape[0]} bits, the model expects {net.n_inputs}")
    return x


def load_cli_dataset(name: str, split: str):
    """:func:`bnnverify.data.load_dataset`, refusing an explicit ``--split`` with a user's ``.npz``
    (a user's file is used whole: the split would be ignored)."""
    from bnnverify.data.datasets import load_dataset
    from bnnverify.errors import DataError

    ctx = click.get_current_context(silent=True)
    explicit = False
    if ctx is not None and "split" in ctx.params:
        explicit = ctx.get_parameter_source("split") is click.core.ParameterSource.COMMANDLINE
    if explicit and split != "all" and str(name).lower().endswith(".npz"):
        raise DataError(f"--split {split} does not apply to {name}: a user's data file is used whole (--split all)")
    return load_dataset(name, split)


def input_ref(input_spec: str | None, dataset=None, split: str | None = None, index: int | None = None,
              dataset_spec: str | None = None):
    """Where a command's centre input came from (see :class:`bnnverify.questions.asked.InputRef`);
    ``dataset_spec`` is the data set as the user named it (a built-in name or a file path)."""
    from bnnverify.files.textfile import is_existing_file
    from bnnverify.questions.asked import InputRef

    if dataset is not None and index is not None:
        name = str(dataset_spec or dataset.name)
        whole = name.lower().endswith(".npz")  # a user's file is used whole: no split applies
        return InputRef("dataset", dataset=name, split=None if whole else split, index=int(index),
                        label=int(dataset.y[index]))
    if input_spec is None:
        return InputRef("none")
    return InputRef("file", path=str(input_spec)) if is_existing_file(input_spec) else InputRef("bits")


def asked_for(command: str, models: list, source, **limits):
    """The :class:`~bnnverify.questions.asked.Asked` of a command: models as (path, net) pairs."""
    from bnnverify.questions.asked import TIE_RULES, Asked, ModelRef

    ties = TIE_RULES[limits.pop("ties", "argmax")]
    return Asked(command, tuple(ModelRef.of(net, path) for path, net in models), source, limits, ties)


def echo_result(result_json: dict, asked, as_json: bool) -> None:
    """``--json``: the result with ``schema`` and ``asked``; text: the ``asked`` lines (the caller prints the rest)."""
    if as_json:
        emit_json({"schema": asked.to_json()["schema"], **result_json, "asked": asked.to_json()})
    else:
        for line in asked.lines():
            click.echo(line)


def warn_if_misclassified(source, predicted: int) -> None:
    """A data-set input the model gets wrong: say so (robustness is about the prediction, not the label)."""
    if chatty() and source.kind == "dataset" and source.label is not None and predicted != source.label:
        click.echo(f"bnnverify: warning: the model predicts class {predicted} for this input, its label is "
                   f"{source.label} (robustness is about the prediction)", err=True)


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
                     help="L-infinity ball of ±EPS: levels of thermometer features, or feature values (grey "
                          "levels) of a model over integer pixels (within their declared ranges)."),
        click.option("--input", "input_spec", default=None, metavar="FILE_OR_BITS",
                     help="Centre input: a file of 0/1 values or a literal bit string; for a model over integer "
                          "pixels an image (PNG, 8-bit grey or RGB), a .npy array or a list of integers."),
        click.option("--mutable", default=None, type=click.Path(),
                     help="File listing the input indices that may change (with --hamming)."),
        click.option("--free", default=None, type=click.Path(),
                     help="File listing the indices that may change, all others fixed "
                          "(BNNQuanalyst fixed-set files); alone, a cube region."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def check_engine_options(method: str, solver: str | None, encoding: str | None) -> None:
    """``--solver``/``--encoding`` configure the CNF engines; with another engine they would be ignored: an error."""
    from bnnverify.errors import DataError

    cnf = {"auto", "sat", "ganak"}
    stray = [o for o, v in (("--solver", solver), ("--encoding", encoding)) if v is not None]
    if stray and method not in cnf and not (method == "ganak" and stray == ["--encoding"]):
        raise DataError(f"{', '.join(stray)} configure the CNF engines (sat, ganak), not --method {method}")


def region_from_options(net, *, region_kind, hamming, linf, input_spec, mutable, free, center=None, l0=None):
    """Build the Region for a command from its shared options (options that do not apply are errors)."""
    from bnnverify.errors import DataError
    from bnnverify.files.inputs import make_region, read_indices, read_input

    if region_kind == "whole":
        stray = [o for o, v in (("--input", input_spec), ("--mutable", mutable), ("--free", free)) if v is not None]
        if stray:
            raise DataError(f"{', '.join(stray)} do not apply to --region whole (it has no centre and no fixed bits)")
    if mutable is not None and hamming is None and net.inputs is None:
        raise DataError("--mutable restricts the flips of a Hamming ball: it needs --hamming K")
    n = net.n_inputs
    if center is None and input_spec is not None:
        center = read_input(input_spec, net)
    return make_region(
        net,
        whole=region_kind == "whole",
        center=center,
        hamming=hamming,
        mutable=read_indices(mutable, n) if mutable else None,
        linf=linf,
        free=read_indices(free, n) if free else None,
        l0=l0,
    )


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM ends the command like Ctrl-C does: cleanly, so atomic writes remove their temporary files."""
    raise SystemExit(128 + signum)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bnnverify")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress bars, notes or warnings on stderr (errors are still printed).")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """bnnverify: exact, formal analysis of trained binary neural networks.

    Exit codes: 0 the property holds, 1 it is violated, 2 bad usage or input,
    3 timeout, unknown or budget exceeded, 4 an internal error (a bug: please report it).
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    ctx.ensure_object(dict)["quiet"] = quiet


def chatty() -> bool:
    """Whether a command may print progress bars, notes and warnings on stderr (not under ``--quiet``)."""
    ctx = click.get_current_context(silent=True)
    return not (ctx is not None and (ctx.find_root().obj or {}).get("quiet"))


def progress_wanted(as_json: bool) -> bool:
    """A progress bar: on a terminal, not with --json, not with --quiet."""
    return not as_json and sys.stderr.isatty() and chatty()


class Progress:
    """A progress display for one question: a callable the engines tell the steps they finish
    (members enumerated, BDD operations); a no-op when no bar is wanted. Closed with ``with``."""

    def __init__(self, as_json: bool, what: str) -> None:
        self.bar = None
        if progress_wanted(as_json):
            from tqdm import tqdm

            self.bar = tqdm(desc=what, unit=" steps", unit_scale=True, file=sys.stderr, leave=False)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def callback(self) -> "Progress | None":
        return self if self.bar is not None else None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


class Seconds(click.ParamType):
    """A time limit: a positive, finite number of seconds (``inf``, ``nan``, 0 and negatives are refused)."""

    name = "seconds"
    #: The largest limit taken (about 31 years): timers and solver limits overflow near 1e308;
    #: for no limit at all, give no --timeout.
    MAX = 1e9

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        import math

        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not (math.isfinite(v) and v > 0):
            self.fail(f"{value!r}: a time limit must be a positive, finite number of seconds", param, ctx)
        if v > self.MAX:
            self.fail(f"{value!r}: at most {self.MAX:g} seconds (give no --timeout for no limit)", param, ctx)
        return v


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

    net = load_model_arg(model)
    s = summarize(net)
    asked = asked_for("summary", [(model, net)], input_ref(None))
    echo_result(summary_to_dict(s), asked, as_json)
    if not as_json:
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

# --- section: train, import torch (foundation: training) -------------------


def _int_list(value: str, what: str) -> list[int]:
    from bnnverify.errors import DataError

    items = value.replace(" ", "").split(",")
    if len(items) > 1 and "" in items:
        raise DataError(f"{what}: an empty item in {value!r} (expected comma-separated integers like 10,7,5)")
    try:
        out = [int(v) for v in items if v != ""]
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
        dataset, _int_list(hidden, "--hidden"), epochs=epochs, seed=seed, ste=ste, scale=scale,
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
            "out": str(out), "widths": list(res.model.widths), "train_accuracy": _fmt_float(res.train_accuracy),
            "test_accuracy": _fmt_float(res.test_accuracy), "min_margin": _fmt_float(res.min_margin),
            "snapshots": len(res.snapshots), "seconds": res.seconds, "binarizer": res.binarizer,
            "sign_disagreements": res.sign_disagreements, "input_layer": res.input_layer,
            "first_layer_margin": _fmt_float(res.front_margin),
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
    ds = load_cli_dataset(dataset, split) if dataset is not None else load_data_file(data_file)
    acc = evaluate_model(net, ds)
    from bnnverify.questions.asked import InputRef

    asked = asked_for("eval", [(model, net)], InputRef("dataset", dataset=str(dataset or data_file),
                                                       split=split if dataset is not None else None))
    if as_json:
        d = acc.as_dict()
        d["accuracy"] = _fmt_float(d["accuracy"])
        for c in d["per_class"]:
            c["accuracy"] = _fmt_float(c["accuracy"])
        echo_result({"model": str(model), **d}, asked, as_json)
        return
    echo_result({}, asked, as_json)
    click.echo(f"{model} on {acc.dataset}: accuracy {acc.accuracy:.4f} ({acc.correct} of {acc.n})")
    for c in acc.per_class:
        if c.n:
            click.echo(f"  class {c.label}: {c.accuracy:.4f} ({c.correct} of {c.n})")


@main.command("predict")
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
    from bnnverify.data.datasets import load_data_file, load_dataset
    from bnnverify.errors import DataError
    from bnnverify.files.inputs import read_bits, read_input

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


@main.command("list")
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


@import_group.command("torch")
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

    net, margin = import_torch_state_report(state_dict, _int_list(arch, "--arch"), eps=bn_eps,
                                            thermometer_levels=thermometer_levels, rbonn_variant=rbonn_variant)
    save_model(net, out)
    if as_json:
        emit_json({"out": str(out), "widths": list(net.widths), "min_margin": _fmt_float(margin)})
    else:
        click.echo(f"imported BNN {'-'.join(map(str, net.widths))} from {state_dict}; "
                   f"smallest folding margin {margin:.3g}; wrote {out}")


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


# --- section: count (any counting engine, by the policy) -------------------


@main.command("count")
@click.argument("model", type=click.Path())
@region_options
@click.option("--per-code", type=int, default=None, metavar="LAYER",
              help="Also report the number of reachable codes of hidden layer LAYER (1-based).")
@click.option("--method", "--engine", "method", type=_METHODS, default="auto", show_default=True,
              help="An engine that counts (enum, bdd, ball: Hamming balls, ganak) or auto: the policy picks by "
                   "the region (for Hamming balls, by the neurons that can change and the flipped-bit types) "
                   "and hands the question on when an engine runs out of budget.")
@click.option("--timeout", type=Seconds(), default=None, metavar="S", help="Time limit in seconds (exit 3 beyond it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (exact integers).")
@handle_errors
@centre_options
@budget_options
def count(model, region_kind, hamming, linf, input_spec, mutable, free, per_code, method, timeout, budget, as_json,
          centre) -> None:
    """Exact number of inputs of the region per class (the engine the policy picks, or --method)."""
    import time

    from bnnverify.engines import run
    from bnnverify.engines.base import Limits
    from bnnverify.errors import BudgetExceeded, DataError, DeadlineExceeded

    net = load_model_arg(model)
    region = region_from_options(net, region_kind=region_kind, hamming=hamming, linf=linf,
                                 input_spec=input_spec, mutable=mutable, free=free, center=centre_bits(net, centre))
    if per_code is not None and not 1 <= per_code <= len(net.hidden):
        raise DataError(f"layer {per_code} is not a hidden layer of the model (1..{len(net.hidden)})", param="per_code")
    t0 = time.perf_counter()
    with Progress(as_json, "counting") as bar:
        limits = Limits(timeout=timeout, budget=budget, started=t0, progress=bar.callback())
        ans = run.class_counts(net, region, (), method=method, limits=limits)
        if ans.counts is None:
            raise (DeadlineExceeded if ans.search.outcome.value == "timeout" else BudgetExceeded)(
                f"{ans.search.note} ({ans.choice.reason})")
        codes = None
        if per_code is not None:
            counter, _ = run.layer_labels(net, region, "model", method=method, limits=limits)
            codes = len({t for t, _ in counter.pair_counts(per_code)})
    seconds = time.perf_counter() - t0
    asked = asked_for("count", [(model, net)], centre[1] if centre else input_ref(input_spec), method=method,
                      timeout=timeout, budget=None if budget is None else repr(budget))
    rep = {"region_size": region.size, "class_counts": {str(c): n for c, n in enumerate(ans.counts)},
           "seconds": seconds}
    if codes is not None:
        rep["codes"] = codes
    echo_result({**rep, "region": region.describe(), "method": ans.choice.name, "reason": ans.choice.reason},
                asked, as_json)
    if as_json:
        return
    click.echo(f"region: {region.describe()['kind']}, {region.size} inputs")
    width = len(str(max(ans.counts))) if ans.counts else 1
    for c, n in enumerate(ans.counts):
        click.echo(f"  class {c}: {n:>{width}}")
    if codes is not None:
        click.echo(f"reachable codes of hidden layer {per_code}: {codes}")
    click.echo(f"method: {ans.choice.name} ({ans.choice.reason})")
    click.echo(f"({seconds:.2f} s)")


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
@centre_options
def export_cnf(model, region_kind, hamming, linf, input_spec, mutable, free, class_, not_class,
               encoding, generic, out_path, as_json, centre) -> None:
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
                                 input_spec=input_spec, mutable=mutable, free=free, center=centre_bits(net, centre))
    info = export_dimacs(net, region, class_ if class_ is not None else not_class, out_path,
                         negate=not_class is not None, encoding=encoding, ball_aware=not generic,
                         model_name=str(model))
    asked = asked_for("export-cnf", [(model, net)], centre[1] if centre else input_ref(input_spec),
                      encoding=encoding, ball_aware=not generic)
    if as_json:
        echo_result({**info, "region": region.describe()}, asked, as_json)
    else:
        click.echo(f"wrote {info['out']}: {info['n_vars']} variables, {info['n_clauses']} clauses "
                   f"(projection on inputs 1..{info['n_inputs']}; encoding {info['encoding']}, "
                   f"{info['seconds']:.3f} s)")


# --- section: robustness, equivalence (questions) --------------------------



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
    from bnnverify.questions.robustness import witness_json

    click.echo(f"verdict: {res.verdict.value}")
    click.echo(f"predicted class: {res.predicted_class}")
    click.echo(f"region: {_fmt_region(dict(res.region))}")
    if res.ties.value != "argmax":
        click.echo(f"ties: {res.ties.value}")
    if res.counterexample is not None:
        w = witness_json(res.counterexample)
        click.echo(f"counterexample (class {res.counterexample_class}): {w if isinstance(w, str) else ' '.join(map(str, w))}")
    if res.adversarial_count is not None:
        what = "images" if res.space == "pixels" else "inputs"
        click.echo(f"adversarial {what}: {res.adversarial_count} of {res.region['size']}")
        click.echo("class counts: " + ", ".join(f"{c}: {v}" for c, v in enumerate(res.class_counts)))
        if res.bit_counts is not None:
            adv_bits = sum(res.bit_counts) - res.bit_counts[res.predicted_class]
            click.echo(f"bit space (distinct quantizer codes): {adv_bits} adversarial of {sum(res.bit_counts)}; "
                       + ", ".join(f"{c}: {v}" for c, v in enumerate(res.bit_counts)))
    if res.note:
        click.echo(f"note: {res.note}")
    click.echo(f"method: {res.method} ({res.seconds:.3f} s; {res.reason})")


def _witness_png(net, x, w, pred, wc, path) -> None:
    """The input, the counterexample and their difference side by side (matplotlib), written atomically."""
    from bnnverify.files.figures import witness_figure

    witness_figure(net, x, w, pred, wc, path)
    if chatty():
        click.echo(f"bnnverify: wrote {path}" + ("" if w is not None else " (no counterexample: the input only)"),
                   err=True)


def _min_perturbation_cli(net, x, source, asked, norm, region_kind, hamming, linf, l0, mutable, free, method,
                          count, solver, encoding, timeout, budget, ties, witness_png, as_json) -> None:
    from bnnverify.errors import DataError
    from bnnverify.files.inputs import read_indices
    from bnnverify.questions.perturbation import min_perturbation
    from bnnverify.questions.robustness import witness_json

    stray = [o for o, on in (("--region", region_kind is not None), ("--hamming", hamming is not None),
                             ("--l0", l0 is not None), ("--count", count),
                             ("--linf", linf is not None and norm == "linf")) if on]
    if stray:
        raise DataError(f"{', '.join(stray)} do not go with --min-{norm} (it searches the radius itself"
                        + ("; --linf EPS bounds each feature of --min-l0" if norm == "l0" else "") + ")")
    n = net.n_inputs
    sel = mutable or free
    mask = None
    if sel:
        mask = np.zeros(n, dtype=bool)
        mask[read_indices(sel, n)] = True
    with Progress(as_json, f"minimum {norm}") as bar:
        res = min_perturbation(net, x, norm, mask=mask, eps=linf if norm == "l0" else None, ties=ties,
                               method=method, solver=solver, encoding=encoding, timeout=timeout, budget=budget,
                               progress=bar.callback())
    warn_if_misclassified(source, res.predicted_class)
    if witness_png is not None:
        _witness_png(net, x, res.counterexample, res.predicted_class, res.counterexample_class, witness_png)
    echo_result(res.to_json(), asked, as_json)
    if not as_json:
        unit = "grey levels" if norm == "linf" else "features"
        click.echo(f"predicted class: {res.predicted_class}")
        if res.minimum is not None:
            click.echo(f"minimum {norm}: {res.minimum} {unit} (proved robust at {res.proof_at})")
            w = witness_json(res.counterexample)
            click.echo(f"counterexample (class {res.counterexample_class}): {' '.join(map(str, w))}")
        elif res.verdict.value == "robust":
            click.echo(f"robust at every {norm} up to {res.largest} {unit}: no perturbation changes the class")
        else:
            up = "" if res.upper is None else f", not robust at {res.upper}"
            click.echo(f"undecided: robust up to {res.lower}{up}")
        click.echo(f"questions: {len(res.steps)} of {res.candidates} candidates; ties: {res.ties.value}")
        if res.note:
            click.echo(f"note: {res.note}")
        click.echo(f"method: {res.method} ({res.seconds:.3f} s)")
    undecided = res.verdict.undecided
    sys.exit(Exit.UNDECIDED if undecided else Exit.HOLDS)


def _sweep_cli(net, model, dataset, split, limit, out, jobs, dask, resume, query, as_json) -> None:
    from bnnverify.data.datasets import load_dataset
    from bnnverify.errors import DataError
    from bnnverify.questions.sweep import sweep

    ds = load_cli_dataset(dataset, split)
    if ds.n_inputs != net.n_inputs:
        raise DataError(f"data set {ds.name}: rows have {ds.n_inputs} bits, the model expects {net.n_inputs}")
    indices = range(len(ds.X) if limit is None else min(limit, len(ds.X)))
    bar = None
    if progress_wanted(as_json):
        from tqdm import tqdm

        bar = tqdm(total=len(indices), unit="input", file=sys.stderr)
    try:
        summary = sweep(
            net, ds.X, ds.y, query, out, indices=indices, jobs=jobs, dask=dask, resume=resume,
            on_start=(lambda n_done: bar.update(n_done)) if bar else None,
            on_result=(lambda line: bar.update(1)) if bar else None,
            source={"model": str(model), "dataset": ds.name, "split": split},
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
@click.option("--dataset", "--data", "dataset", default=None, metavar="NAME",
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
@click.option("--timeout", type=Seconds(), default=None, metavar="S",
              help="Time limit in seconds (SAT; enumeration for --max-radius).")
@click.option("--max-radius", "max_radius", is_flag=True,
              help="The largest Hamming radius at which the input is robust (--hamming K caps it).")
@click.option("--l0", type=int, default=None, metavar="K",
              help="Pixel models: at most K features changed, each to any value of its range (within --linf EPS "
                   "if given; only --free/--mutable features if given).")
@click.option("--min-linf", "min_linf", is_flag=True,
              help="Pixel models: the exact smallest L-inf perturbation (grey levels) that changes the class, "
                   "with a replayed image at it and a proof one below.")
@click.option("--min-l0", "min_l0", is_flag=True,
              help="Pixel models: the exact smallest number of changed features that changes the class "
                   "(each within --linf EPS if given).")
@click.option("--ties", type=click.Choice(["argmax", "adversarial", "strict"]), default="argmax", show_default=True,
              help="When is an input misclassified: argmax (the model's class differs; ties to the lowest index), "
                   "adversarial (another class scores >= the input's class) or strict (another class scores more).")
@click.option("--witness-png", "witness_png", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Pixel models: draw the input, the counterexample and their difference side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
@budget_options
def robustness(model, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index,
               sweep_all, limit, out, jobs, dask, resume, method, count, solver, encoding, timeout,
               max_radius, l0, min_linf, min_l0, ties, witness_png, as_json, budget) -> None:
    """Is MODEL's class constant over a region around an input?

    For a model over integer pixels the region is an L-inf ball (--linf), an
    L0 ball (--l0) or the whole box (--region whole), and --min-linf/--min-l0
    find the exact smallest perturbation. Exit codes: 0 robust (for
    --min-*: the minimum was found and proved, or none exists), 1 not robust
    (a replayed counterexample), 2 bad usage or input, 3 timeout, unknown or
    budget exceeded.
    """
    check_engine_options(method, solver, encoding)
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
    if sweep_all and (max_radius or min_linf or min_l0):
        raise DataError("--max-radius, --min-linf and --min-l0 do not go with --all")
    pixel_only = [o for o, on in (("--l0", l0 is not None), ("--min-linf", min_linf), ("--min-l0", min_l0),
                                  ("--witness-png", witness_png is not None)) if on]
    if pixel_only and net.inputs is None:
        raise DataError(f"{', '.join(pixel_only)}: for models over integer pixels; {model} reads bits")
    if min_linf and min_l0:
        raise DataError("choose one of --min-linf and --min-l0")
    if dask is not None and jobs != 1:
        raise DataError("choose one of --jobs and --dask")

    if sweep_all:
        from bnnverify.questions.sweep import RegionSpec, RobustnessQuery

        spec = RegionSpec(
            whole=region_kind == "whole", hamming=hamming, linf=linf,
            mutable=tuple(read_indices(mutable, n).tolist()) if mutable else None,
            free=tuple(read_indices(free, n).tolist()) if free else None,
        )
        if net.inputs is not None or ties != "argmax":
            raise DataError("--all sweeps models over bits with --ties argmax (pixel-model sweeps: one --index at a time)")
        query = RobustnessQuery(spec, method, count, solver, encoding, timeout, budget)
        _sweep_cli(net, model, dataset, split, limit, out, jobs, dask, resume, query, as_json)
        return

    ds = None
    if input_spec is not None:
        from bnnverify.files.inputs import read_input

        x = read_input(input_spec, net)
    else:
        from bnnverify.data.datasets import load_dataset

        ds = load_cli_dataset(dataset, split)
        if not 0 <= index < len(ds.X):
            raise DataError(f"--index {index}: outside data set {ds.name} (0..{len(ds.X) - 1})")
        if ds.n_inputs != n:
            raise DataError(f"data set {ds.name}: rows have {ds.n_inputs} values, the model expects {n}")
        x = np.asarray(ds.X[index], dtype=np.int64 if net.inputs is not None else np.uint8)
    source = input_ref(input_spec, ds, split, index, dataset)
    asked = asked_for("robustness", [(model, net)], source, method=method, timeout=timeout, solver=solver,
                      encoding=encoding, count=count, max_radius=max_radius,
                      budget=None if budget is None else repr(budget), ties=ties,
                      **({"l0": l0, "min_linf": min_linf, "min_l0": min_l0} if net.inputs is not None else {}))

    if min_linf or min_l0:
        _min_perturbation_cli(net, x, source, asked, "linf" if min_linf else "l0", region_kind, hamming, linf, l0,
                              mutable, free, method, count, solver, encoding, timeout, budget, ties, witness_png,
                              as_json)
        return

    if max_radius:
        if region_kind is not None or linf is not None:
            raise DataError("--max-radius searches Hamming balls: use --hamming K (a cap) and --mutable/--free, "
                            "not --region or --linf")
        if count:
            raise DataError("--count does not go with --max-radius")
        if hamming is not None and not 0 <= hamming <= n:
            raise DataError(f"--hamming: radius must be between 0 and {n}, got {hamming}")
        sel = mutable or free
        with Progress(as_json, "radius search") as bar:
            res = max_robust_radius(
                net, x, mutable=read_indices(sel, n) if sel else None, max_radius=hamming, method=method,
                solver=solver, encoding=encoding, timeout=timeout, budget=budget, progress=bar.callback(),
            )
        warn_if_misclassified(source, res.predicted_class)
        echo_result(res.to_json(), asked, as_json)
        if not as_json:
            from bnnverify.questions.robustness import bits_to_str

            bound = "" if res.exact else " (a lower bound: the search stopped)"
            click.echo(f"predicted class: {res.predicted_class}")
            click.echo(f"max robust radius: {res.radius}{bound} (cap {res.max_radius})")
            if res.counterexample is not None:
                click.echo(f"counterexample at radius {res.radius + 1} (class {res.counterexample_class}): "
                           f"{bits_to_str(res.counterexample)}")
            if res.note:
                click.echo(f"note: {res.note}")
            click.echo(f"method: {res.method} ({res.seconds:.3f} s; {res.reason})")
        if res.note and chatty():
            click.echo(f"bnnverify: {res.note}", err=True)
        sys.exit(Exit.HOLDS if res.exact else Exit.UNDECIDED)

    region = region_from_options(net, region_kind=region_kind, hamming=hamming, linf=linf,
                                 input_spec=None, mutable=mutable, free=free, center=x, l0=l0)
    with Progress(as_json, "robustness") as bar:
        res = check_robustness(net, x, region, method=method, count=count, solver=solver, encoding=encoding,
                               timeout=timeout, budget=budget, progress=bar.callback(), ties=ties)
    warn_if_misclassified(source, res.predicted_class)
    if witness_png is not None:
        _witness_png(net, x, res.counterexample, res.predicted_class, res.counterexample_class, witness_png)
    echo_result(res.to_json(), asked, as_json)
    if not as_json:
        _echo_robustness(res)
    if res.note and res.verdict.undecided and chatty():
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
@click.option("--timeout", type=Seconds(), default=None, metavar="S",
              help="Time limit in seconds (SAT).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
@centre_options
@budget_options
def equivalence(model_a, model_b, region_kind, hamming, linf, input_spec, mutable, free, method, count,
                solver, encoding, timeout, as_json, budget, centre) -> None:
    """Do MODEL_A and MODEL_B classify every input of a region alike (default: all inputs)?

    Exit codes: 0 equivalent, 1 not equivalent (a replayed witness),
    2 bad usage or input, 3 timeout, unknown or budget exceeded.
    """
    check_engine_options(method, solver, encoding)
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
                                     input_spec=input_spec, mutable=mutable, free=free,
                                     center=centre_bits(net_a, centre))
    elif input_spec is not None or mutable is not None or centre is not None:
        raise DataError("--input/--mutable need a region option (--hamming K, --linf EPS or --free FILE)")
    with Progress(as_json, "equivalence") as bar:
        res = check_equivalence(net_a, net_b, region, method=method, count=count, solver=solver,
                                encoding=encoding, timeout=timeout, budget=budget, progress=bar.callback())
    asked = asked_for("equivalence", [(model_a, net_a), (model_b, net_b)],
                      centre[1] if centre else input_ref(input_spec if region else None),
                      method=method, timeout=timeout, solver=solver, encoding=encoding, count=count,
                      budget=None if budget is None else repr(budget))
    echo_result(res.to_json(), asked, as_json)
    if not as_json:
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
        click.echo(f"method: {res.method} ({res.seconds:.3f} s; {res.reason})")
    if res.note and res.verdict.undecided and chatty():
        click.echo(f"bnnverify: {res.note}", err=True)
    sys.exit(_exit_for(res.verdict))


# --- section: info, infoplane, codes (information) -------------------------


def _info_dataset_options(fn: Callable) -> Callable:
    """--dataset/--split/--index/--rows: a data set as the distribution, or a centre from it."""
    opts = [
        click.option("--dataset", "--data", "dataset", default=None, metavar="NAME",
                     help="The data set's rows as the distribution (ib12, digits, digits-thermo<L>, a .npz); "
                          "with --hamming K: the mixture of radius-K balls around its rows (label = the row's); "
                          "with --index I: the centre input."),
        click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test", "all"]),
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
        ds = load_cli_dataset(opts["dataset"], opts["split"])
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
                   "flipped-bit types), or auto (the Hamming-ball kernel for balls beyond 2^18 members, else enumerate up to 10^7 members, then ball for Hamming balls, else BDD).")
@click.option("--timeout", type=Seconds(), default=None, metavar="S", help="Time limit in seconds (exit 3 beyond it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
@budget_options
def info(model, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index, rows,
         labels_spec, method, timeout, budget, as_json) -> None:
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
        with Progress(as_json, "counting") as bar:
            rep = info_over_region(net, region, labels=labels, method=method, budget=budget, timeout=timeout,
                                   progress=bar.callback())
    elif radius is None:
        rep = info_over_dataset(net, ds, labels=labels)
    else:
        with Progress(as_json, "counting") as bar:
            rep = info_over_balls(net, ds, radius, labels=labels, method=method, budget=budget, timeout=timeout,
                                  progress=bar.callback())
    source = input_ref(input_spec, ds, split, index, dataset) if index is not None else input_ref(input_spec)
    models = [(model, net)] + ([(labels_spec, labels)] if not isinstance(labels, str) else [])
    asked = asked_for("info", models, source, method=method, labels=labels_spec or default, timeout=timeout,
                      budget=None if budget is None else repr(budget))
    echo_result(rep.to_json(), asked, as_json)
    if as_json:
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
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Draw the information plane to this file; its extension names the format (png, pdf, svg).")
@click.option("--vs-epoch", "epoch_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Also draw I(X;T) and I(T;Y) of every layer against the epoch to this file (png, pdf, svg).")
@click.option("--dpi", type=click.IntRange(min=10, max=1200), default=110, show_default=True,
              help="Resolution of a png plot.")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False), metavar="CSV",
              help="Write every (epoch, layer) point to this CSV.")
@click.option("--title", default=None, help="Plot title (default: names the distribution and Y).")
@click.option("--timeout", type=Seconds(), default=None, metavar="S", help="Time limit in seconds (exit 3 beyond it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (all points).")
@handle_errors
@budget_options
def infoplane(snapshot_dir, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index, rows,
              labels_spec, method, budget, plot_path, epoch_path, dpi, out_path, title, timeout, as_json) -> None:
    """The exact information plane of the snapshots in SNAPSHOT_DIR.

    SNAPSHOT_DIR holds the per-epoch models written by `bnnverify train
    --snapshots DIR`. For every epoch and hidden layer, (I(X;T), I(T;Y)) over
    the chosen distribution; --plot draws it (x: I(X;T), y: I(T;Y), a curve
    per layer, colour = epoch), --out writes the points as CSV.
    """
    from bnnverify.files.atomic import check_output_path
    from bnnverify.information.infoplane import (compute_infoplane, describe_source, load_snapshots, plot_format,
                                                 plot_infoplane, write_csv)

    for path, what in ((plot_path, "plot"), (epoch_path, "plot"), (out_path, "CSV file")):
        if path is not None:  # a bad output path fails now, not after the counting
            check_output_path(path, what)
            if what == "plot":
                plot_format(path)
    snaps = load_snapshots(snapshot_dir)
    net = snaps[0].net
    opts = dict(region_kind=region_kind, hamming=hamming, linf=linf, input_spec=input_spec, mutable=mutable,
                free=free, dataset=dataset, split=split, index=index, rows=rows)
    region, ds, radius = _info_distribution(net, opts)
    labels = _info_labels(labels_spec or ("dataset" if ds is not None else "final"), net)
    bar = None
    if progress_wanted(as_json):
        from tqdm import tqdm

        bar = tqdm(total=len(snaps), unit="epoch", file=sys.stderr)
    try:
        plane = compute_infoplane(snaps, region=region, dataset=ds, radius=radius, labels=labels, method=method,
                                  budget=budget, progress=(lambda e: bar.update(1)) if bar else None,
                                  timeout=timeout)
    finally:
        if bar is not None:
            bar.close()
    if out_path:
        write_csv(plane, out_path)
    if title is None:
        meta = dict(snaps[-1].net.metadata)
        run_name = f"{net!r}" + (f", trained on {meta['dataset']}" if "dataset" in meta else "") + (
            f", seed {meta['seed']}" if "seed" in meta else "")
        title = (f"Exact information plane of {run_name} — {describe_source(plane.source)}\n"
                 f"{plane.label_note}")
    if plot_path:
        plot_infoplane(plane, plot_path, title, dpi=dpi)
    if epoch_path:
        from bnnverify.information.infoplane import plot_vs_epoch

        plot_vs_epoch(plane, epoch_path, title, dpi=dpi)
    if as_json:
        asked = asked_for("infoplane", [(s.path, s.net) for s in (snaps[0], snaps[-1])],
                          input_ref(input_spec, ds, split, index, dataset) if index is not None else input_ref(input_spec),
                          method=method, labels=labels_spec, budget=None if budget is None else repr(budget))
        echo_result({"source": dict(plane.source), "labels": plane.labels.value, "method": str(plane.method),
                     "seconds": plane.seconds,
                     "points": [{"epoch": p.epoch, "layer": p.layer, "width": p.width, "codes": p.codes,
                                 "I_XT": p.I_XT, "I_TY": p.I_TY, "H_T_given_Y": p.H_T_given_Y, "H_Y": p.H_Y,
                                 "region_size": p.region_size} for p in plane.points]}, asked, as_json)
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
@click.option("--graph", "graph_path", default=None, type=click.Path(dir_okay=False), metavar="GRAPHML",
              help="Write the code graph as GraphML (counts exact: long, or strings beyond 2^63).")
@click.option("--timeout", type=Seconds(), default=None, metavar="S", help="Time limit in seconds (exit 3 beyond it).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@handle_errors
@budget_options
def codes(model, layer, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index, rows,
          method, budget, graph_path, timeout, as_json) -> None:
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
    import time

    t0 = time.perf_counter()
    with Progress(as_json, "counting") as bar:
        g = code_graph(net, layer, region=region, dataset=ds, method=method, budget=budget, timeout=timeout,
                       progress=bar.callback())
    seconds = time.perf_counter() - t0
    if graph_path:
        write_graphml(g, graph_path)
    a = [d for _, d in g.nodes(data=True) if d["layer"] == layer]
    b = [(n, d) for n, d in g.nodes(data=True) if d["layer"] == layer + 1]
    merging = sorted(((g.in_degree(n), n, d["count"]) for n, d in b if g.in_degree(n) > 1), reverse=True)
    summary = {"layer": layer, "total": g.graph["total"], "codes_in": len(a), "codes_out": len(b),
               "edges": g.number_of_edges(), "merging_codes": len(merging),
               "largest_merges": [{"code": n, "in_codes": k, "count": c} for k, n, c in merging[:5]],
               "graph": graph_path}
    src = json.loads(g.graph.get("source", "{}"))  # GraphML keeps graph attributes as strings
    summary.update(region={k: v for k, v in src.items() if k not in ("method", "reason")},
                   method=src.get("method"), seconds=seconds)
    source = input_ref(input_spec, ds, split, index, dataset) if index is not None else input_ref(input_spec)
    asked = asked_for("codes", [(model, net)], source, method=method, timeout=timeout,
                      budget=None if budget is None else repr(budget))
    echo_result(summary, asked, as_json)
    if as_json:
        return
    nxt = "classes" if layer == len(net.hidden) else f"layer {layer + 1} codes"
    click.echo(f"{model}: {net!r}, layer {layer} -> {nxt}, {summary['total']} inputs")
    click.echo(f"layer {layer}: {len(a)} codes; {nxt}: {len(b)}; edges: {g.number_of_edges()}")
    click.echo(f"{len(merging)} of the {len(b)} {nxt} merge several layer-{layer} codes")
    for k, n, c in merging[:5]:
        click.echo(f"  {n}: {k} codes merge, {c} inputs")
    if graph_path:
        click.echo(f"GraphML: {graph_path}")



# --------------------------------------------------------------------------- explanations (issue 15)
# `bnnverify explain` and `bnnverify run-queries`: kept in their own section.

PARAM_MESSAGES.update({
    "targets": "--target: {message}",
    "max_terms": "--max-terms: {message}",
    "png": "--png: {message}",
    "order": "{message}",
})

EXPLAIN_KINDS = ("sufficient", "contrastive", "prime", "essential", "shapley")


def _explain_input(net, input_spec, dataset, split, index):
    """The input to explain and where it came from: --input, or --dataset/--index."""
    from bnnverify.errors import DataError
    from bnnverify.files.inputs import read_bits

    n = net.n_inputs
    if (input_spec is None) == (index is None):
        raise DataError("give exactly one input: --input FILE_OR_BITS or --dataset NAME --index I")
    if input_spec is not None:
        if dataset is not None:
            raise DataError("--dataset goes with --index, not with --input")
        return read_bits(input_spec, n), input_ref(input_spec)
    if dataset is None:
        raise DataError("--index needs --dataset NAME")
    from bnnverify.data.datasets import load_dataset

    ds = load_dataset(dataset, split)
    if not 0 <= index < len(ds.X):
        raise DataError(f"--index {index}: outside data set {ds.name} (0..{len(ds.X) - 1})")
    if ds.n_inputs != n:
        raise DataError(f"data set {ds.name}: rows have {ds.n_inputs} bits, the model expects {n}")
    return np.asarray(ds.X[index], dtype=np.uint8), input_ref(None, ds, split, index, dataset)


def _targets(spec, net):
    from bnnverify.errors import DataError

    if spec is None:
        return None
    out = _int_list(spec, "--target")
    bad = [c for c in out if not 0 <= c < net.n_classes]
    if bad:
        raise DataError(f"--target: {bad[0]} is not a class of the model (0..{net.n_classes - 1})")
    return out


def _fmt_bits_list(idx) -> str:
    idx = list(idx)
    return "{" + ", ".join(str(i) for i in idx) + "}" if len(idx) <= 40 else \
        "{" + ", ".join(str(i) for i in idx[:40]) + f", ... ({len(idx)} bits)}}"


def _echo_explanation(res, x) -> None:
    a = res.asked
    kind = res.to_json()["kind"]
    click.echo(f"region: {_fmt_region(dict(a.region))}  engine: {res.method}")
    if kind == "sufficient":
        click.echo(f"predicted class: {res.predicted_class}")
        if res.kept is None:
            click.echo(f"sufficient reason: {res.status} ({res.note})")
        else:
            click.echo(f"sufficient reason ({res.minimality}-minimal, proved): {len(res.kept)} of "
                       f"{res.n_free} free bits {_fmt_bits_list(res.kept)}")
            click.echo(f"  values: {''.join(str(int(x[i])) for i in res.kept)}")
            click.echo(f"  proof: {res.proof}; {res.checks} checks; {len(res.witnesses)} replayed witnesses")
    elif kind == "contrastive":
        click.echo(f"predicted class: {res.predicted_class}")
        if res.changed is None:
            click.echo(f"contrastive reason: {res.status}: no change of at most {res.cap} bits changes the class"
                       if res.status == "none" else f"contrastive reason: {res.status} ({res.note}); "
                       f"at least {res.radius_proved + 1} bits")
        else:
            click.echo(f"contrastive reason (smallest, proved: robust up to radius {res.radius_proved}): "
                       f"flip {len(res.changed)} bits {_fmt_bits_list(res.changed)} -> class "
                       f"{res.counterexample_class}")
    elif kind in ("prime", "essential"):
        from bnnverify.questions.explain import _literals

        click.echo(f"targets: {list(res.targets)}: {res.target_count} of {res.region_size} members")
        click.echo(f"prime implicants: {len(res.terms)} ({'they cover every target member' if res.covers else 'more exist'}), "
                   "each literal needed (replayed), one random completion each replayed")
        for k, t in enumerate(res.terms):
            lits = _literals(t)
            shown = " ".join(lits) if len(lits) <= 30 else " ".join(lits[:30]) + f" ... ({len(lits)} literals)"
            click.echo(f"  {k + 1}: {shown}")
        if res.essential is None:
            click.echo("essential features: none (no member has a target class)")
        else:
            click.echo(f"essential features ({len(res.essential)}): {' '.join(_literals(res.essential)) or '-'}")
    elif kind == "shapley":
        from bnnverify.questions.explain import fraction_str

        click.echo(f"predicted class: {res.predicted_class}; f = [class in {list(res.targets)}]: f(x) = {res.at_x}, "
                   f"E[f] = {fraction_str(res.expected)} ({float(res.expected):.6g})")
        click.echo(f"{res.exactness}")
        if res.targets == (res.predicted_class,):
            click.echo(f"expected robustness (members classified like x): {fraction_str(res.expected)}")
        top = sorted(res.values.items(), key=lambda kv: -abs(kv[1]))
        for i, v in top[:20]:
            extra = "" if res.influence is None else f"  influence {fraction_str(res.influence[i])}"
            click.echo(f"  x{i}={int(x[i])}: {fraction_str(v)} ({float(v):+.6f}){extra}")
        if len(top) > 20:
            click.echo(f"  ... {len(top) - 20} more (--json for all)")
        click.echo(f"sum = f(x) - E[f] = {fraction_str(sum(res.values.values()))}")
    click.echo(f"seconds: {res.seconds:.3f} ({res.reason})")


def _explain_png(path, res, x) -> None:
    from bnnverify.questions.picture import kept_image, write_png

    xs = np.asarray(x, dtype=float)
    kind = res.to_json()["kind"]
    panels = [("input", xs, "grey")]
    if kind == "sufficient" and res.kept is not None:
        panels.append((f"sufficient reason: {len(res.kept)} bits", kept_image(x, res.kept), "grey"))
    elif kind == "contrastive" and res.changed is not None:
        v = xs.copy()
        v[list(res.changed)] = 2.0
        panels.append((f"flip {len(res.changed)} (red) -> {res.counterexample_class}", v, "changed"))
    elif kind in ("prime", "essential"):
        for k, t in enumerate(res.terms[:3]):
            panels.append((f"prime implicant {k + 1}: {len(t)}", kept_image(x, t), "grey"))
        if res.essential is not None:
            panels.append((f"essential: {len(res.essential)}", kept_image(x, res.essential), "grey"))
    elif kind == "shapley":
        v = np.zeros(len(x))
        for i, q in res.values.items():
            v[i] = float(q)
        panels.append(("Shapley values", v, "heat"))
    write_png(path, panels)


@main.command("explain")
@click.argument("model", type=click.Path())
@region_options
@click.option("--dataset", "--data", "dataset", default=None, metavar="NAME",
              help="Explain this data set's --index-th input (a built-in name or a .npz file).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test", "all"]))
@click.option("--index", "index", type=int, default=None, metavar="I", help="The data set's I-th input.")
@click.option("--kind", required=True, type=click.Choice(EXPLAIN_KINDS), help="What to explain.")
@click.option("--minimal", type=click.Choice(["subset", "cardinality"]), default="subset", show_default=True,
              help="Sufficient reasons: subset-minimal (deletion) or cardinality-minimal (BDD).")
@click.option("--target", "target_spec", default=None, metavar="C1,C2,...",
              help="Target classes (prime, essential, shapley); default: the input's class.")
@click.option("--max-terms", type=int, default=10, show_default=True, help="Prime implicants: at most this many.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random completions replayed.")
@click.option("--method", "--engine", "method", type=_METHODS, default="auto", show_default=True,
              help="Engine (auto lets the policy choose).")
@click.option("--solver", default=None, metavar="NAME", help="SAT solver.")
@click.option("--encoding", default=None, metavar="NAME", help="Cardinality encoding.")
@click.option("--timeout", type=Seconds(), default=None, metavar="S",
              help="Wall-clock limit in seconds.")
@click.option("--png", "png_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Also draw the explanation (square image inputs).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
@budget_options
def explain_cmd(model, region_kind, hamming, linf, input_spec, mutable, free, dataset, split, index, kind,
                minimal, target_spec, max_terms, seed, method, solver, encoding, timeout, budget, png_path,
                as_json) -> None:
    """Explain MODEL's decision on an input, with proofs.

    Region: --region whole (the default), --free FILE (a cube around the
    input), --hamming K [--mutable FILE] (a ball centred at the input). For
    --kind contrastive, --hamming K caps the search and --mutable/--free
    restrict the flips. Exit codes: 0 answered (proved), 2 bad input,
    3 timeout/unknown/budget, 4 internal error.
    """
    check_engine_options(method, solver, encoding)
    from bnnverify import semantics
    from bnnverify.errors import DataError
    from bnnverify.files.inputs import read_indices
    from bnnverify.questions import explain as ex

    net = load_model_arg(model)
    n = net.n_inputs
    x, source = _explain_input(net, input_spec, dataset, split, index)
    warn_if_misclassified(source, semantics.classify(net, x))
    if png_path is not None:
        from bnnverify.questions.picture import image_side

        image_side(n)
    targets = _targets(target_spec, net)
    if targets is not None and kind in ("sufficient", "contrastive"):
        raise DataError(f"--target does not go with --kind {kind} (it explains the input's own class)")
    if minimal != "subset" and kind != "sufficient":
        raise DataError("--minimal goes with --kind sufficient")
    if kind == "contrastive":
        if region_kind is not None or linf is not None:
            raise DataError("--kind contrastive searches Hamming balls: use --hamming K (a cap) and "
                            "--mutable/--free, not --region or --linf")
        if hamming is not None and not 0 <= hamming <= n:
            raise DataError(f"--hamming: radius must be between 0 and {n}, got {hamming}")
        sel = mutable or free
        res = ex.contrastive_reason(net, x, mutable=read_indices(sel, n) if sel else None, max_radius=hamming,
                                    method=method, timeout=timeout, solver=solver, encoding=encoding,
                                    model_name=model)
        undecided = res.status in ("timeout", "unknown")
    else:
        if region_kind is None and hamming is None and linf is None and free is None:
            if mutable is not None:
                raise DataError("--mutable goes with --hamming K")
            from bnnverify.encoders.regions import Whole

            region = Whole(n)
        else:
            region = region_from_options(net, region_kind=region_kind, hamming=hamming, linf=linf,
                                         input_spec=None, mutable=mutable, free=free, center=x)
        if kind == "sufficient":
            res = ex.sufficient_reason(net, x, region, cardinality=minimal == "cardinality", method=method,
                                       timeout=timeout, budget=budget, solver=solver, encoding=encoding,
                                       model_name=model)
            undecided = not res.proved
        elif kind in ("prime", "essential"):
            fn = ex.prime_implicants if kind == "prime" else ex.essential_features
            kw = {"max_terms": max_terms, "seed": seed} if kind == "prime" else {}
            res = fn(net, region, targets, x=x, method=method, timeout=timeout, budget=budget,
                     model_name=model, **kw)
            undecided = False
        else:
            res = ex.shapley_values(net, x, region, targets, method=method, timeout=timeout, budget=budget,
                                    model_name=model)
            undecided = False
    asked = asked_for("explain", [(model, net)], source, kind=kind, method=method, timeout=timeout,
                      solver=solver, encoding=encoding, budget=None if budget is None else repr(budget))
    out = res.to_json()
    out["question"] = out.pop("asked")  # region, centre bits, engine asked; "asked" is the command's
    echo_result(out, asked, as_json)
    if not as_json:
        _echo_explanation(res, x)
    if png_path is not None:
        _explain_png(png_path, res, x)
        if not as_json:
            click.echo(f"picture: {png_path}")
    sys.exit(Exit.UNDECIDED if undecided else Exit.HOLDS)


def _query_model(spec, name, cache):
    """The model a query names: --model is a model file, one BNNQuanalyst model folder, or a folder of them."""
    from pathlib import Path

    from bnnverify.errors import DataError
    from bnnverify.importers.bnnquanalyst import import_bnnquanalyst

    p = Path(spec)
    key = str(p / name) if p.is_dir() and (p / name).is_dir() else str(p)
    if key not in cache:
        if p.is_file():
            cache[key] = load_model_arg(str(p))
        elif (p / name).is_dir():
            cache[key] = import_bnnquanalyst(p / name)
        elif p.is_dir() and p.name == name:
            cache[key] = import_bnnquanalyst(p)
        elif p.is_dir():
            raise DataError(f"--model {spec}: holds no model folder {name!r} and is not that model's folder")
        else:
            raise DataError(f"--model {spec}: no such file or directory")
    return cache[key]


def _query_text(q) -> str:
    where = f"hamming {q.hamming}" if q.region.value == "hamming" else f"set {q.fixed_set}"
    extra = f", covers {q.cover_count}" if q.cover_count is not None else ""
    return f"{q.kind.value} <{q.model}, {q.instance}, {where}, {q.targets}{extra}>"


@main.command("run-queries")
@click.argument("query_file", type=click.Path())
@click.option("--model", "model_spec", required=True, metavar="MODEL_OR_DIR",
              help="A model file, a BNNQuanalyst model folder, or the folder holding the queries' model folders.")
@click.option("--root", default=None, type=click.Path(file_okay=False), metavar="DIR",
              help="The benchmark folder with inputs/ (default: the query file's folder's parent).")
@click.option("--timeout", type=Seconds(), default=None, metavar="S",
              help="Wall-clock limit per query in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per query (JSON lines).")
@handle_errors
@budget_options
def run_queries_cmd(query_file, model_spec, root, timeout, budget, as_json) -> None:
    """Run a BNNQuanalyst query file (EF_explain, PI_explain, target_robustness) and print each result
    beside what the file asks. compute_SD queries are listed as not run.

    Per target class of a query's target file: EF_explain prints the
    essential features, PI_explain up to the file's number of prime
    implicants, target_robustness the exact number of members of the class.
    Exit codes: 0 every query answered, 2 bad input, 3 a limit ran out.
    """
    import time
    from pathlib import Path

    from bnnverify.encoders.regions import Cube, HammingBall
    from bnnverify.errors import BudgetExceeded, DeadlineExceeded
    from bnnverify.engines import run
    from bnnverify.engines.base import Limits
    from bnnverify.importers.bnnquanalyst import QueryKind, parse_queries, read_fixed_set, read_instance, read_targets
    from bnnverify.questions import explain as ex
    from bnnverify.questions.explain import _literals

    queries = parse_queries(query_file)
    base = Path(root) if root else Path(query_file).resolve().parent.parent
    cache: dict = {}
    undecided = False
    for q in queries:
        t0 = time.perf_counter()
        head = f"line {q.line}: {_query_text(q)}"
        if q.kind is QueryKind.COMPUTE_SD:
            out = {"line": q.line, "query": _query_text(q), "status": "not run",
                   "note": "run-queries answers EF_explain, PI_explain and target_robustness"}
            emit_json(out) if as_json else click.echo(f"{head}\n  not run: compute_SD is not supported here")
            continue
        net = _query_model(model_spec, q.model, cache)
        x = read_instance(q.instance_path(base), net.n_inputs)
        if q.region.value == "hamming":
            region = HammingBall(x, q.hamming)
        else:
            region = Cube.from_free(x, read_fixed_set(q.fixed_set_path(base), net.n_inputs))
        targets = read_targets(q.targets_path(base), net.n_classes)
        rows = []
        try:
            # one exact count per query: classes without a member need no explanation engine
            t1 = time.perf_counter()
            ans = run.class_counts(net, region, (), limits=Limits(timeout=timeout, budget=budget))
            if ans.counts is None:
                raise BudgetExceeded(ans.search.note)
            count_seconds = time.perf_counter() - t1
            for c in targets:
                t1 = time.perf_counter()
                if q.kind is QueryKind.TARGET_ROBUSTNESS or ans.counts[c] == 0:
                    rows.append({"target": c, "count": ans.counts[c], "target_count": ans.counts[c],
                                 "region_size": region.size, "essential": None, "primes": [], "covers": True,
                                 "method": ans.choice.name, "seconds": count_seconds})
                    continue
                if q.kind is QueryKind.EF_EXPLAIN:
                    r = ex.essential_features(net, region, [c], timeout=timeout, budget=budget, model_name=q.model)
                else:
                    r = ex.prime_implicants(net, region, [c], max_terms=max(1, q.cover_count), timeout=timeout,
                                            budget=budget, model_name=q.model)
                rows.append({"target": c, "target_count": r.target_count, "region_size": r.region_size,
                             "essential": None if r.essential is None else _literals(r.essential),
                             "primes": [_literals(t) for t in r.terms] if q.kind is QueryKind.PI_EXPLAIN else None,
                             "covers": r.covers if q.kind is QueryKind.PI_EXPLAIN else None,
                             "method": str(r.method), "seconds": time.perf_counter() - t1})
            status = "answered"
        except (BudgetExceeded, DeadlineExceeded) as e:
            status, undecided = f"undecided: {e}", True
        out = {"line": q.line, "query": _query_text(q), "status": status, "results": rows,
               "seconds": time.perf_counter() - t0}
        if as_json:
            emit_json(out)
            continue
        click.echo(head)
        for row in rows:
            if q.kind is QueryKind.TARGET_ROBUSTNESS:
                click.echo(f"  class {row['target']}: {row['count']} of {row['region_size']} members "
                           f"({row['method']}, {row['seconds']:.2f} s)")
            elif q.kind is QueryKind.EF_EXPLAIN:
                ess = row["essential"]
                click.echo(f"  class {row['target']}: {row['target_count']} of {row['region_size']} members; "
                           f"essential features: {'(no member)' if ess is None else (' '.join(ess) or 'none')} "
                           f"({row['seconds']:.2f} s)")
            else:
                sizes = [len(p) for p in row["primes"]]
                click.echo(f"  class {row['target']}: {row['target_count']} of {row['region_size']} members; "
                           f"{len(sizes)} prime implicants of sizes {sizes}"
                           f"{' (a cover)' if row['covers'] else ''} ({row['seconds']:.2f} s)")
                for k, p in enumerate(row["primes"][:3]):
                    shown = " ".join(p) if len(p) <= 12 else " ".join(p[:12]) + " ..."
                    click.echo(f"    {k + 1}: {shown or '(the empty term: every member of the region)'}")
        if status != "answered":
            click.echo(f"  {status}")
        click.echo(f"  ({out['seconds']:.2f} s)")
    sys.exit(Exit.UNDECIDED if undecided else Exit.HOLDS)


from bnnverify.commands import register as _register_commands  # noqa: E402  (ONNX, VNN-COMP: bnnverify/commands/)

_register_commands(main, import_group, emit_json=emit_json, handle_errors=handle_errors,
                   load_model_arg=load_model_arg)

if __name__ == "__main__":  # pragma: no cover
    main()
