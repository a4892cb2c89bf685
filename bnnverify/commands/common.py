"""What every command shares: exit codes, error handling, JSON output, the option groups
(regions, centres, budgets), progress bars and the time-limit type.

Commands live in the modules of :mod:`bnnverify.commands` by topic; :mod:`bnnverify.cli` holds
only the ``bnnverify`` group and adds them to it.
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
    "targets": "--target: {message}",
    "max_terms": "--max-terms: {message}",
    "png": "--png: {message}",
    "order": "{message}",
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


def _headed(head: str, e: Exception) -> str:
    """``head: message``, the head said once (the runner's notes often open with it already)."""
    text = str(e)
    while text.startswith(f"{head}: "):
        text = text[len(head) + 2:]
    return f"{head}: {text}"


def handle_errors(fn: Callable) -> Callable:
    """Turn project errors into a message on stderr and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BudgetExceeded as e:
            click.echo(f"bnnverify: {_headed('budget exceeded', e)}", err=True)
            sys.exit(Exit.UNDECIDED)
        except DeadlineExceeded as e:
            click.echo(f"bnnverify: {_headed('time limit reached', e)}", err=True)
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


METHODS = EngineName()


def int_list(value: str, what: str) -> list[int]:
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


def fmt_float(x: float) -> Any:
    """A float for JSON: NaN/inf become null."""
    import math

    return x if math.isfinite(x) else None


def fmt_region(d: dict) -> str:
    params = ", ".join(
        f"{k}={v}" if not isinstance(v, list) else f"{k}=[{len(v)} indices]"
        for k, v in d.items() if k not in ("kind", "size")
    )
    return f"{d['kind']}{' (' + params + ')' if params else ''}, {d['size']} members"
