"""The one exception hierarchy of bnnverify.

It lives in ``encoders`` because ``encoders`` must not import the rest of
``bnnverify``; :mod:`bnnverify.errors` re-exports every class, so users catch
``bnnverify.BNNVerifyError`` and never need to know where it is defined.

Three branches, kept apart as hypothesis keeps usage errors apart from its
own faults:

* the caller's fault — :class:`UsageError` and its kin (:class:`ModelError`,
  :class:`RegionError`, :class:`SolverError`, :class:`EngineError`, and
  ``bnnverify``'s ``DataError``): a bad file, value or call; the CLI exits 2;
* a limit — :class:`BudgetExceeded`, :class:`DeadlineExceeded`: no answer
  within the budget or time (never a partial one); the CLI exits 3;
* our fault — :class:`InternalError`: an invariant of bnnverify itself broke
  (a witness that does not replay, counts that do not add up); the CLI exits 4
  and asks for a report.

>>> issubclass(EngineError, UsageError), issubclass(InternalError, UsageError)
(True, False)
"""

from __future__ import annotations

__all__ = [
    "BNNVerifyError",
    "UsageError",
    "EngineError",
    "InternalError",
    "ModelError",
    "RegionError",
    "BudgetExceeded",
    "SolverError",
    "DeadlineExceeded",
]


class BNNVerifyError(Exception):
    """Root of every error bnnverify raises on purpose.

    ``param`` names the parameter at fault (``layer``, ``hamming``, ...) when
    there is one: the message then reads ``"<param>: <message>"``, and a
    front end may name its own option instead (the CLI names its flag).

    >>> e = RegionError("radius must be between 0 and 4, got 7", param="hamming")
    >>> str(e), e.param, e.message
    ('hamming: radius must be between 0 and 4, got 7', 'hamming', 'radius must be between 0 and 4, got 7')
    """

    def __init__(self, message: str = "", *, param: str | None = None) -> None:
        super().__init__(f"{param}: {message}" if param else message)
        self.message = message
        self.param = param


class UsageError(BNNVerifyError, ValueError):
    """A call's arguments are wrong: a value out of range, a missing or contradictory option."""


class EngineError(UsageError):
    """An engine was asked for what it cannot do: a question, a layer kind or a region kind.

    The message names the engine and what it refused (never a wrong answer instead).
    """


class InternalError(BNNVerifyError):
    """A bnnverify invariant broke: a bug to report, never the user's fault and never a verdict."""


class ModelError(UsageError):
    """A network (layer arrays, a model file) is malformed.

    The message names the layer or key and what is wrong with it.
    """


class RegionError(UsageError):
    """A region (centre, radius, mask, box) does not fit the network or is invalid."""


class BudgetExceeded(BNNVerifyError):
    """A BDD node budget or memory cap was exceeded; no partial answer exists."""


class SolverError(UsageError):
    """A SAT solver or encoding name is unknown, or a solver failed."""


class DeadlineExceeded(BNNVerifyError):
    """A wall-clock deadline ran out while building a formula; callers answer ``timeout``."""
