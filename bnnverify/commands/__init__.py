"""CLI commands kept out of ``bnnverify/cli.py``: ONNX import/export and VNN-COMP (registered on its group)."""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(main: Any, import_group: Any) -> None:
    """Add this package's commands to the click group ``main`` (and ``bnnverify import``)."""
    from bnnverify.commands import onnx as onnx_commands

    onnx_commands.register(main, import_group)
