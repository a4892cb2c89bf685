"""The answers every question shares: :class:`Verdict` and the engine vocabulary.

A verdict is never a string matched by substring; it is one of these
members, whose values are the lowercase strings the JSON output carries.
Engines are named by the one registry (:data:`bnnverify.engines.ENGINES`);
:class:`Method` holds the built-in names as constants, and a result's
``method`` is the canonical name of the engine that answered — a
:class:`Method` member for built-ins (a ``str``), the plain name otherwise.

>>> Verdict("robust").holds, Verdict.NOT_ROBUST.violated, Verdict.TIMEOUT.undecided
(True, True, True)
>>> Method("auto") is Method.AUTO, engine_label("enum") is Method.ENUM, engine_label("toy")
(True, True, 'toy')
>>> parse_method("Enumeration"), str(Method.SAT)
(<Method.ENUM: 'enum'>, 'sat')
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Verdict", "Method", "CountMethod", "engine_label", "parse_method"]


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


class Method(str, Enum):
    """The built-in engine names (``auto`` lets the policy choose; ``evaluator``: a data set's rows)."""

    ENUM = "enum"
    SAT = "sat"
    BDD = "bdd"
    BALL = "ball"
    GANAK = "ganak"
    EVALUATOR = "evaluator"
    AUTO = "auto"

    def __str__(self) -> str:
        return self.value


#: The information measures' name for the same vocabulary (one set of names, not two).
CountMethod = Method


def engine_label(name: str) -> "Method | str":
    """The :class:`Method` member for a built-in engine's canonical name, else the name itself."""
    try:
        return Method(name)
    except ValueError:
        return name


def parse_method(value: "Method | str | None") -> "Method | str":
    """The canonical engine name of ``value`` (an alias, any case; None: ``auto``).

    Unknown names raise :class:`~bnnverify.errors.EngineError` listing the registry.
    """
    from bnnverify.engines.registry import ENGINES

    return engine_label(ENGINES.resolve(None if value is None else str(value)))
