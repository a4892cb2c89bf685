"""The project's exception hierarchy (defined in :mod:`bnnverify.encoders.errors`).

``BNNVerifyError`` is the one root; the CLI turns any of these into a message
on stderr and exit code 2 (bad input) — or 3 for :class:`BudgetExceeded`.
"""

from bnnverify.encoders.errors import (
    BNNVerifyError,
    BudgetExceeded,
    DeadlineExceeded,
    ModelError,
    RegionError,
    SolverError,
)

__all__ = [
    "BNNVerifyError",
    "ModelError",
    "ModelFileError",
    "RegionError",
    "BudgetExceeded",
    "DeadlineExceeded",
    "SolverError",
    "DataError",
    "ReplayMismatch",
]


class ModelFileError(ModelError):
    """A model file is missing, unreadable, or has a missing/mistyped/inconsistent key."""


class DataError(BNNVerifyError, ValueError):
    """A data set or input file is malformed (the message names file and problem)."""


class ReplayMismatch(BNNVerifyError, AssertionError):
    """An engine's witness did not replay on the reference evaluator: a bug, never hidden."""
