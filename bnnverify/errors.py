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
    "ArgumentTypeError",
    "check_network",
    "check_region",
]


class ModelFileError(ModelError):
    """A model file is missing, unreadable, or has a missing/mistyped/inconsistent key."""


class DataError(UsageError):
    """A data set or input file is malformed (the message names file and problem)."""


class ReplayMismatch(InternalError, AssertionError):
    """An engine's witness did not replay on the semantics: a bug, never hidden."""


class ArgumentTypeError(UsageError, TypeError):
    """An argument of the wrong type was passed to the Python API (a ``TypeError`` too)."""


def check_network(net: object, what: str = "net") -> None:
    """Raise :class:`ArgumentTypeError` unless ``net`` is a :class:`~bnnverify.encoders.layers.BNN`."""
    from bnnverify.encoders.layers import BNN

    if not isinstance(net, BNN):
        raise ArgumentTypeError(f"{what}: expected a BNN (bnnverify.load_model(path) reads one), "
                                f"got {type(net).__name__}")


def check_region(region: object, what: str = "region") -> None:
    """Raise :class:`ArgumentTypeError` unless ``region`` is a region (Whole, Cube, HammingBall, LinfBox, ...)."""
    if not all(hasattr(region, a) for a in ("n", "size", "kind", "contains", "members", "describe")):
        raise ArgumentTypeError(f"{what}: expected a region (bnnverify.Whole, Cube, HammingBall, LinfBox), "
                                f"got {type(region).__name__}")
