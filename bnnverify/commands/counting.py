"""Commands that count or export a region: ``count`` (any counting engine, by the policy) and ``export-cnf``."""

from __future__ import annotations

import click

from bnnverify.commands.common import (
    handle_errors,
    budget_options,
    centre_options,
    centre_bits,
    input_ref,
    asked_for,
    echo_result,
    load_model_arg,
    region_options,
    region_from_options,
    Progress,
    Seconds,
    METHODS,
)


# --- section: count (any counting engine, by the policy) -------------------


@click.command("count")
@click.argument("model", type=click.Path())
@region_options
@click.option("--per-code", type=int, default=None, metavar="LAYER",
              help="Also report the number of reachable codes of hidden layer LAYER (1-based).")
@click.option("--method", "--engine", "method", type=METHODS, default="auto", show_default=True,
              help="An engine that counts (enum, bdd, ball: Hamming balls, ganak) or auto: the policy picks by "
                   "the region (for Hamming balls, by the neurons that can change and the flipped-bit types) "
                   "and hands the question on when an engine runs out of budget.")
@click.option("--timeout", type=Seconds(), default=None, metavar="S", help="Time limit in seconds (exit 3 beyond it).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Split a whole-space or cube region into disjoint cubes counted by this many processes "
                   "(counts summed exactly; see bnnverify.engines.partition).")
@click.option("--dask", default=None, metavar="tcp://HOST:PORT",
              help="Count the parts on the workers of this running Dask scheduler instead.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (exact integers).")
@handle_errors
@centre_options
@budget_options
def count(model, region_kind, hamming, linf, input_spec, mutable, free, per_code, method, timeout, jobs, dask,
          budget, as_json, centre) -> None:
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
    split = jobs > 1 or dask is not None
    if split and per_code is not None:
        raise DataError("--per-code is not summed over parts: give it without --jobs/--dask", param="per_code")
    t0 = time.perf_counter()
    with Progress(as_json, "counting") as bar:
        limits = Limits(timeout=timeout, budget=budget, started=t0, progress=bar.callback())
        if split:
            from bnnverify.engines.partition import split_class_counts

            ans = split_class_counts(net, region, (), method=method, jobs=jobs, dask=dask, timeout=timeout,
                                     budget=budget)
        else:
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
                      timeout=timeout, budget=None if budget is None else repr(budget), jobs=jobs, dask=dask)
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


@click.command("export-cnf")
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


#: The commands of this module, added to ``bnnverify`` by :mod:`bnnverify.cli`.
COMMANDS = (count, export_cnf)
