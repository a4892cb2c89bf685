"""The project's exception hierarchy (defined in :mod:`bnnverify.encoders.errors`).

``BNNVerifyError`` is the one root, with three branches the CLI maps to exit
codes: the caller's fault (:class:`UsageError` and its kin: model, region,
data, solver and engine errors) exits 2; a limit (:class:`BudgetExceeded`,
:class:`DeadlineExceeded`) exits 3; bnnverify's own fault
(:class:`InternalError`, e.g. :class:`ReplayMismatch`) exits 4 with a line
asking for a report. Library messages name values, files, keys and shapes,
never command-line flags (the CLI adds those).

>>> issubclass(DataError, UsageError), issubclass(ReplayMismatch, InternalError)
(True, True)
"""

from bnnverify.encoders.errors import (
    BNNVerifyError,
    BudgetExceeded,
    DeadlineExceeded,
    EngineError,
    InternalError,
    ModelError,
    RegionError,
    SolverError,
    UsageError,
)

__all__ = [
    "BNNVerifyError",
    "UsageError",
    "ModelError",
    "ModelFileError",
    "RegionError",
    "DataError",
    "SolverError",
    "EngineError",
    "BudgetExceeded",
    "DeadlineExceeded",
    "InternalError",
    "ReplayMismatch",
]


class ModelFileError(ModelError):
    """A model file is missing, unreadable, or has a missing/mistyped/inconsistent key."""


class DataError(UsageError):
    """A data set or input file is malformed (the message names file and problem)."""


class ReplayMismatch(InternalError, AssertionError):
    """An engine's witness did not replay on the semantics: a bug, never hidden."""
