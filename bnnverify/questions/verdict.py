"""The answers every question shares: :class:`Verdict` and :class:`Method`.

A verdict is never a string matched by substring; it is one of these
members, whose values are the lowercase strings the JSON output carries.

>>> Verdict("robust").holds, Verdict.NOT_ROBUST.violated, Verdict.TIMEOUT.undecided
(True, True, True)
>>> Method("auto") is Method.AUTO
True
"""

from __future__ import annotations

from enum import Enum

from bnnverify.errors import DataError

__all__ = ["Verdict", "Method", "parse_method"]


class Verdict(Enum):
    """The outcome of a robustness or equivalence question."""

    ROBUST = "robust"
    NOT_ROBUST = "not_robust"
    EQUIVALENT = "equivalent"
    NOT_EQUIVALENT = "not_equivalent"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"

    @property
    def holds(self) -> bool:
        """The property was proved (UNSAT, an empty BDD or a full enumeration)."""
        return self in (Verdict.ROBUST, Verdict.EQUIVALENT)

    @property
    def violated(self) -> bool:
        """A witness exists and was replayed on the reference evaluator."""
        return self in (Verdict.NOT_ROBUST, Verdict.NOT_EQUIVALENT)

    @property
    def undecided(self) -> bool:
        """A time limit or budget ran out: no answer, never a guess."""
        return self in (Verdict.TIMEOUT, Verdict.UNKNOWN)


class Method(Enum):
    """The engine that answers a question (``auto`` chooses one of the others)."""

    ENUM = "enum"
    SAT = "sat"
    BDD = "bdd"
    AUTO = "auto"


def parse_method(value: "Method | str") -> Method:
    """A :class:`Method` from itself or its name, or :class:`DataError` naming the choices.

    >>> parse_method("SAT")
    <Method.SAT: 'sat'>
    """
    if isinstance(value, Method):
        return value
    try:
        return Method(str(value).lower())
    except ValueError:
        choices = ", ".join(m.value for m in Method)
        raise DataError(f"method {value!r}: unknown; choose one of {choices}") from None
