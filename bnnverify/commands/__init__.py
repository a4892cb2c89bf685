"""CLI commands kept out of ``bnnverify/cli.py``: ONNX import/export and VNN-COMP (registered on its group)."""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(main: Any, import_group: Any, **helpers: Any) -> None:
    """Add this package's commands to the click group ``main`` (and ``bnnverify import``); ``helpers``
    are the CLI's own (``emit_json``, ``handle_errors``, ``load_model_arg``), passed in so that this
    package never imports ``bnnverify.cli`` (no import cycle)."""
    from bnnverify.commands import onnx as onnx_commands

    onnx_commands.register(main, import_group, **helpers)
