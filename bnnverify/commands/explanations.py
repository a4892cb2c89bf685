"""Explanations and BNNQuanalyst query files: ``explain`` and ``run-queries``."""

from __future__ import annotations

import sys

import click
import numpy as np

from bnnverify.commands.common import (
    Exit,
    emit_json,
    handle_errors,
    budget_options,
    input_ref,
    asked_for,
    echo_result,
    warn_if_misclassified,
    load_model_arg,
    region_options,
    check_engine_options,
    region_from_options,
    Seconds,
    METHODS,
    int_list,
    fmt_region,
)


# --------------------------------------------------------------------------- explanations (issue 15)
# `bnnverify explain` and `bnnverify run-queries`: kept in their own section.


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
    out = int_list(spec, "--target")
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
    click.echo(f"region: {fmt_region(dict(a.region))}  engine: {res.method}")
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


@click.command("explain")
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
@click.option("--method", "--engine", "method", type=METHODS, default="auto", show_default=True,
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


@click.command("run-queries")
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


#: The commands of this module, added to ``bnnverify`` by :mod:`bnnverify.cli`.
COMMANDS = (explain_cmd, run_queries_cmd)
