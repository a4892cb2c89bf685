"""The ``bnnverify`` command line: the click group, and the commands added to it from
:mod:`bnnverify.commands` (one module per topic).

It holds no logic of its own beyond argument parsing and formatting.
Exit codes, like ``diff``: 0 the property holds, 1 it is violated (a replayed
witness exists), 2 bad usage or input, 3 timeout/unknown/budget exceeded,
4 an internal error of bnnverify (a bug: please report it). No traceback
ever ends a command: every error is one message on stderr and its code.

Where the commands are (``bnnverify/commands/``): ``common`` (exit codes, error handling,
JSON, the shared option groups), ``models`` (demo, summary, import, eval, predict, list),
``training`` (train), ``conv_train`` (train --arch), ``counting`` (count, export-cnf),
``questions`` (robustness, equivalence), ``information`` (info, infoplane, codes),
``explanations`` (explain, run-queries), ``onnx`` (import/export onnx, vnncomp).
"""

from __future__ import annotations

from typing import Any

import click

from bnnverify.commands import counting, explanations, information, models, questions, training
from bnnverify.commands.common import Exit, emit_json, handle_errors, load_model_arg

__all__ = ["Exit", "main"]


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


@main.group("import")
def import_group() -> None:
    """Import models made elsewhere into bnnverify's model file format."""


for _module in (models, training, counting, questions, information, explanations):
    for _command in _module.COMMANDS:
        main.add_command(_command)
    for _command in getattr(_module, "IMPORT_COMMANDS", ()):
        import_group.add_command(_command)

from bnnverify.commands import register as _register_commands  # noqa: E402  (ONNX, VNN-COMP: bnnverify/commands/)

_register_commands(main, import_group, emit_json=emit_json, handle_errors=handle_errors,
                   load_model_arg=load_model_arg)

if __name__ == "__main__":  # pragma: no cover
    main()
