"""The one exception hierarchy of bnnverify.

It lives in ``encoders`` because ``encoders`` must not import ``bnnverify``;
``bnnverify.errors`` re-exports every class, so users catch
``bnnverify.BNNVerifyError`` and never need to know where it is defined.
"""

from __future__ import annotations

__all__ = [
    "BNNVerifyError",
    "ModelError",
    "RegionError",
    "BudgetExceeded",
    "SolverError",
    "DeadlineExceeded",
]


class BNNVerifyError(Exception):
    """Root of every error bnnverify raises on purpose."""


class ModelError(BNNVerifyError, ValueError):
    """A network (layer arrays, a model file) is malformed.

    The message names the layer or key and what is wrong with it.
    """


class RegionError(BNNVerifyError, ValueError):
    """A region (centre, radius, mask, box) does not fit the network or is invalid."""


class BudgetExceeded(BNNVerifyError):
    """A BDD node budget or memory cap was exceeded; no partial answer exists."""


class SolverError(BNNVerifyError):
    """A SAT solver or encoding name is unknown, or a solver failed."""


class DeadlineExceeded(BNNVerifyError):
    """A wall-clock deadline ran out while building a formula; callers answer ``timeout``."""
