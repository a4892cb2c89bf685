"""``bnnverify demo``: the embedded default, end to end, in well under a minute.

Each capability contributes one step (a function taking the shared
:class:`DemoContext`); steps run in order and print what they did.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["DemoContext", "STEPS", "run_demo"]


@dataclass
class DemoContext:
    """What steps share: a work directory, the models trained so far, an output sink."""

    workdir: Path
    echo: Callable[[Any], None]
    as_json: bool = False
    models: dict[str, Any] = field(default_factory=dict)


def _step_placeholder(ctx: DemoContext) -> None:
    ctx.echo("bnnverify demo: no steps registered yet" if not ctx.as_json else {"step": "none"})


#: The demo's steps, in order. Each capability adds its own.
STEPS: list[Callable[[DemoContext], None]] = [_step_placeholder]


def run_demo(echo: Callable[[Any], None], as_json: bool = False) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bnnverify-demo-") as d:
        ctx = DemoContext(Path(d), echo, as_json)
        for step in STEPS:
            step(ctx)
    if not as_json:
        echo(f"demo finished in {time.perf_counter() - t0:.1f} s")
