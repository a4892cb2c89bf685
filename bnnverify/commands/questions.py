"""The yes/no questions with witnesses: ``robustness`` (and its sweeps and minimum perturbations) and ``equivalence``."""

from __future__ import annotations

import sys

import click
import numpy as np

from bnnverify.commands.common import (
    Exit,
    emit_json,
    handle_errors,
    budget_options,
    centre_options,
    centre_bits,
    load_cli_dataset,
    input_ref,
    asked_for,
    echo_result,
    warn_if_misclassified,
    load_model_arg,
    region_options,
    check_engine_options,
    region_from_options,
    chatty,
    progress_wanted,
    Progress,
    Seconds,
    METHODS,
    fmt_region,
)


# --- section: robustness, equivalence (questions) --------------------------


def _exit_for(verdict) -> int:
    """The exit code of a verdict: 0 holds, 1 violated, 3 undecided."""
    if verdict.holds:
        return Exit.HOLDS
    if verdict.violated:
        return Exit.VIOLATED
    return Exit.UNDECIDED


def _echo_robustness(res) -> None:
    from bnnverify.questions.robustness import witness_json

    click.echo(f"verdict: {res.verdict.value}")
    click.echo(f"predicted class: {res.predicted_class}")
    click.echo(f"region: {fmt_region(dict(res.region))}")
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


@click.command()
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
@click.option("--method", type=METHODS, default="auto", show_default=True,
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
    from bnnverify.files.inputs import read_indices
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


@click.command()
@click.argument("model_a", type=click.Path())
@click.argument("model_b", type=click.Path())
@region_options
@click.option("--method", type=METHODS, default="auto", show_default=True,
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
        click.echo(f"region: {fmt_region(dict(res.region))}")
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


#: The commands of this module, added to ``bnnverify`` by :mod:`bnnverify.cli`.
COMMANDS = (robustness, equivalence)
