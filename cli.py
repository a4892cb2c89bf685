"""The ``bnnverify`` command line: parse arguments, call the library, print text or JSON.

It holds no logic of its own beyond argument parsing and formatting.
Exit codes, like ``diff``: 0 the property holds, 1 it is violated (a replayed
witness exists), 2 bad usage or input, 3 timeout/unknown/budget exceeded.
"""

from __future__ import annotations

import functools
import json
import sys
from enum import IntEnum
from typing import Any, Callable

import click
import numpy as np

from bnnverify.errors import BNNVerifyError, BudgetExceeded


class Exit(IntEnum):
    """Process exit codes shared by every command."""

    HOLDS = 0
    VIOLATED = 1
    BAD_INPUT = 2
    UNDECIDED = 3


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
        except BNNVerifyError as e:
            click.echo(f"bnnverify: error: {e}", err=True)
            sys.exit(Exit.BAD_INPUT)

    return wrapper


def load_model_arg(path: str):
    from bnnverify.modelio import load_model

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
    from bnnverify.inputs import make_region, read_bits, read_indices

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
@handle_errors
def demo(as_json: bool) -> None:
    """Run the embedded default end to end (train, export, verify, measure)."""
    from bnnverify.demo import run_demo

    run_demo(echo=(lambda obj: emit_json(obj)) if as_json else (lambda obj: click.echo(obj)), as_json=as_json)


# --- section: summary, eval, import (foundation: importers) -----------------


@main.group("import")
def import_group() -> None:
    """Import models made elsewhere into bnnverify's model file format."""

# --- section: train, import torch (foundation: training) -------------------

# --- section: count (BDD engine) -------------------------------------------

# --- section: export-cnf (CNF engine) --------------------------------------

# --- section: robustness, equivalence (questions) --------------------------

_METHODS = click.Choice(["sat", "bdd", "enum", "auto"], case_sensitive=False)


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
        from bnnverify.robustness import bits_to_str

        click.echo(f"counterexample (class {res.counterexample_class}): {bits_to_str(res.counterexample)}")
    if res.adversarial_count is not None:
        click.echo(f"adversarial inputs: {res.adversarial_count} of {res.region['size']}")
        click.echo("class counts: " + ", ".join(f"{c}: {v}" for c, v in enumerate(res.class_counts)))
    if res.note:
        click.echo(f"note: {res.note}")
    click.echo(f"method: {res.method.value} ({res.seconds:.3f} s)")


def _sweep_cli(net, dataset, split, limit, out, jobs, dask, resume, query, as_json) -> None:
    from bnnverify.data import load_dataset
    from bnnverify.errors import DataError
    from bnnverify.sweep import sweep

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
              help="enum: enumerate; sat: CNF + SAT solver; bdd: BDD; auto: by region size and question.")
@click.option("--count", is_flag=True, help="Exact number of adversarial inputs and per-class counts.")
@click.option("--solver", default=None, metavar="NAME", help="SAT solver (see bnnverify.sat.SOLVERS).")
@click.option("--encoding", default=None, metavar="NAME", help="Cardinality encoding (see bnnverify.sat.ENCODINGS).")
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
    from bnnverify.inputs import read_bits, read_indices
    from bnnverify.robustness import check_robustness, max_robust_radius

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
        from bnnverify.sweep import RegionSpec, RobustnessQuery

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
        from bnnverify.data import load_dataset

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
            from bnnverify.robustness import bits_to_str

            bound = "" if res.exact else " (a lower bound: the search stopped)"
            click.echo(f"predicted class: {res.predicted_class}")
            click.echo(f"max robust radius: {res.radius}{bound} (cap {res.max_radius})")
            if res.counterexample is not None:
                click.echo(f"counterexample at radius {res.radius + 1} (class {res.counterexample_class}): "
                           f"{bits_to_str(res.counterexample)}")
            if res.note:
                click.echo(f"note: {res.note}")
            click.echo(f"method: {res.method.value} ({res.seconds:.3f} s)")
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
              help="enum: enumerate; sat: SAT miter; bdd: BDD; auto: by region size and question.")
@click.option("--count", is_flag=True, help="Exact number of disagreements and the confusion counts.")
@click.option("--solver", default=None, metavar="NAME", help="SAT solver (see bnnverify.sat.SOLVERS).")
@click.option("--encoding", default=None, metavar="NAME", help="Cardinality encoding (see bnnverify.sat.ENCODINGS).")
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
    from bnnverify.equivalence import check_equivalence
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
        from bnnverify.robustness import bits_to_str

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
        click.echo(f"method: {res.method.value} ({res.seconds:.3f} s)")
    if res.note and res.verdict.undecided:
        click.echo(f"bnnverify: {res.note}", err=True)
    sys.exit(_exit_for(res.verdict))


# --- section: info, infoplane, codes (information) -------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
