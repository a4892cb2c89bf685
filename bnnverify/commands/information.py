"""Exact information: ``info``, ``infoplane`` and ``codes``."""

from __future__ import annotations

import json
import sys
from typing import Callable

import click

from bnnverify.commands.common import (
    handle_errors,
    budget_options,
    load_cli_dataset,
    input_ref,
    asked_for,
    echo_result,
    load_model_arg,
    region_options,
    region_from_options,
    progress_wanted,
    Progress,
    Seconds,
    METHODS,
)


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


@click.command()
@click.argument("model", type=click.Path())
@region_options
@_info_dataset_options
@click.option("--labels", "labels_spec", default=None, metavar="dataset|model|MODEL2",
              help="Y: the data set's label (default with --dataset), the model's own prediction "
                   "(default with a region), or the class given by another model file.")
@click.option("--method", type=METHODS, default="auto", show_default=True,
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


@click.command()
@click.argument("snapshot_dir", type=click.Path())
@region_options
@_info_dataset_options
@click.option("--labels", "labels_spec", default=None, metavar="dataset|model|final|MODEL2",
              help="Y: the data set's label (default with --dataset), each snapshot's own prediction, the "
                   "final snapshot's prediction (default with a region) or another model's class.")
@click.option("--method", type=METHODS, default="auto", show_default=True,
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


@click.command()
@click.argument("model", type=click.Path())
@click.option("--layer", type=int, required=True, metavar="L",
              help="Hidden layer L (1-based): edges go from its codes to layer L+1's (the class, for the last).")
@region_options
@_info_dataset_options
@click.option("--method", type=METHODS, default="auto", show_default=True,
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


#: The commands of this module, added to ``bnnverify`` by :mod:`bnnverify.cli`.
COMMANDS = (info, infoplane, codes)
