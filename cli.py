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

# --- section: info, infoplane, codes (information) -------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
