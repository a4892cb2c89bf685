"""``bnnverify import onnx``, ``bnnverify export onnx``, ``bnnverify vnncomp`` and ``vnncomp-run``."""

from __future__ import annotations

import sys
from typing import Any

import click

__all__ = ["register"]


def _range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LO,HI integers, got {text!r}", param_hint="--input-range") from None
    if lo > hi:
        raise click.BadParameter(f"LO {lo} > HI {hi}", param_hint="--input-range")
    return lo, hi


def register(main: Any, import_group: Any, *, emit_json: Any, handle_errors: Any, load_model_arg: Any) -> None:

    @import_group.command("onnx")
    @click.argument("onnx_file", type=click.Path())
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file to write (.npz).")
    @click.option("--input-range", default="0,255", show_default=True, metavar="LO,HI",
                  help="The integer range of every input feature (the graph's input values, e.g. pixels).")
    @click.option("--bits/--integer-features", "bits", default=True, show_default=True,
                  help="With --input-range 0,1: a graph that reads its inputs as 2x-1 (or through integer "
                       "weights) becomes a model over bits (threshold / conv / maxpool over spins, linear over "
                       "the bits); --integer-features keeps integer features 0..1.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @handle_errors
    def import_onnx_cmd(onnx_file, out, input_range, bits, as_json) -> None:
        """Import a binarised ONNX graph exactly (refused, naming the node, when it cannot be)."""
        import math

        from bnnverify.files.modelio import save_model
        from bnnverify.importers.onnx_graph import import_onnx

        imp = import_onnx(onnx_file, _range(input_range), bits=bits)
        save_model(imp.net, out)
        kinds = [h.kind for h in imp.net.hidden]
        margin = imp.margin if math.isfinite(imp.margin) else None
        if as_json:
            emit_json({"out": str(out), "input": imp.input_name, "input_shape": list(imp.input_shape),
                       "layers": kinds, "widths": list(imp.net.widths), "min_margin": margin,
                       "notes": list(imp.notes)})
            return
        click.echo(f"imported {onnx_file}: input {imp.input_name!r} of shape {list(imp.input_shape)}, "
                   f"layers {', '.join(kinds)}, argmax over {imp.net.n_classes} classes")
        click.echo(f"smallest folding margin: {imp.margin:.3g}")
        for n in imp.notes:
            click.echo(f"note: {n}")
        click.echo(f"wrote {out}")

    @main.group("export")
    def export_group() -> None:
        """Export models to other formats."""

    @export_group.command("onnx")
    @click.argument("model")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="ONNX file to write.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @handle_errors
    def export_onnx_cmd(model, out, as_json) -> None:
        """Write MODEL as an ONNX graph (explicit sign(0) = +1; float64 scores)."""
        from bnnverify.importers.onnx_export import export_onnx

        net = load_model_arg(model)
        export_onnx(net, out)
        if as_json:
            emit_json({"out": str(out), "model": str(model), "input": "input", "output": "scores"})
        else:
            click.echo(f"wrote {out} (input 'input', output 'scores')")

    @main.command("vnncomp")
    @click.argument("onnx_file", type=click.Path())
    @click.argument("vnnlib_file", type=click.Path())
    @click.option("--timeout", type=float, required=True, help="Seconds for the instance (import included).")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="Result file to write.")
    @click.option("--method", default="auto", show_default=True, help="Engine (auto, enum, bdd, sat).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @handle_errors
    def vnncomp_cmd(onnx_file, vnnlib_file, timeout, out, method, as_json) -> None:
        """Decide a VNN-COMP instance and write its result file (sat / unsat / timeout / unknown)."""
        from bnnverify.files.atomic import atomic_write
        from bnnverify.questions.vnncomp import result_text, solve_instance

        res = solve_instance(onnx_file, vnnlib_file, timeout, method)
        with atomic_write(out, "w") as fh:
            fh.write(result_text(res))
        if as_json:
            emit_json({"status": res.status, "seconds": res.seconds, "method": res.method, "out": str(out),
                       "onnx": str(onnx_file), "vnnlib": str(vnnlib_file), "timeout": timeout,
                       "notes": list(res.notes)})
        else:
            click.echo(f"{res.status} ({res.seconds:.2f} s, {res.method}); wrote {out}")
            for n in res.notes:
                click.echo(f"note: {n}")
        sys.exit({"unsat": 0, "sat": 1}.get(res.status, 3))

    @main.command("vnncomp-run")
    @click.argument("instances", type=click.Path())
    @click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Directory for the results.")
    @click.option("--method", default="auto", show_default=True, help="Engine (auto, enum, bdd, sat).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @handle_errors
    def vnncomp_run_cmd(instances, out_dir, method, as_json) -> None:
        """Every instance of an instances.csv (onnx,vnnlib,timeout): result files and summary.md."""
        from bnnverify.questions.vnncomp import run_instances

        rows = run_instances(instances, out_dir, method)
        if as_json:
            emit_json({"instances": rows, "out_dir": str(out_dir)})
            return
        for r in rows:
            click.echo(f"{r['instance']}: {r['status']} ({r['seconds']:.2f} s) -> {r['result']}")
        click.echo(f"wrote {out_dir}/summary.md")
