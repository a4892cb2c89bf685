"""The one engine registry: names with aliases, built-in engines loaded on first use.

Built-in engines are listed by name with the module that defines them, so
that listing names (``--help``, ``bnnverify list engines``) imports neither
CUDD nor PySAT. A new engine joins at run time with :meth:`EngineRegistry.register`
and is then offered by every question, by ``auto`` where it is the only one
that can answer, by the CLI's ``--method`` choices and by the conformance
suite — with no other edit.

>>> ENGINES.resolve("Enumeration"), ENGINES.resolve(None)
('enum', 'auto')
>>> ENGINES.get("bdd").name
'bdd'
>>> ENGINES.resolve("quantum")
Traceback (most recent call last):
...
bnnverify.encoders.errors.EngineError: unknown engine 'quantum'; valid names: auto, enum, bdd, sat, ball, ganak (aliases: bdd-cudd, cudd, enumerate, enumeration, projected, sharpsat, solver)
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Iterator

from bnnverify.encoders.registry import NameRegistry
from bnnverify.engines.base import Engine
from bnnverify.errors import EngineError, UsageError

__all__ = ["AUTO", "EngineRegistry", "ENGINES"]

#: The pseudo-engine that lets the policy choose (:mod:`bnnverify.engines.policy`).
AUTO = "auto"

#: Built-in engines: name -> (aliases, "module:attribute" of the engine object).
_BUILTIN: dict[str, tuple[tuple[str, ...], str]] = {
    "enum": (("enumerate", "enumeration"), "bnnverify.engines.enumeration:ENGINE"),
    "bdd": (("cudd", "bdd-cudd"), "bnnverify.engines.bdd:ENGINE"),
    "sat": (("solver",), "bnnverify.engines.sat:ENGINE"),
    "ball": ((), "bnnverify.engines.ball:ENGINE"),
    "ganak": (("projected", "sharpsat"), "bnnverify.engines.ganak:ENGINE"),
}


class EngineRegistry:
    """Engines by name; ``auto`` is a name too (the policy's choice)."""

    def __init__(self, builtin: dict[str, tuple[tuple[str, ...], str]]) -> None:
        self._names = NameRegistry("engine", {AUTO: ()}, default=AUTO, error=EngineError)
        self._where: dict[str, str] = {}
        self._engines: dict[str, Engine] = {}
        for name, (aliases, where) in builtin.items():
            self._names.add(name, aliases)
            self._where[name] = where

    def names(self, *, auto: bool = False) -> tuple[str, ...]:
        """The canonical engine names (with ``auto`` first if asked)."""
        return tuple(n for n in self._names.names if auto or n != AUTO)

    def aliases(self, name: str) -> tuple[str, ...]:
        return self._names.aliases(self.resolve(name))

    def resolve(self, name: str | None) -> str:
        """The canonical name of ``name`` or an alias (None: ``auto``); :class:`EngineError` if unknown."""
        return self._names.resolve(name)

    def get(self, name: str) -> Engine:
        """The engine called ``name`` (or an alias); ``auto`` is not an engine."""
        canonical = self.resolve(name)
        if canonical == AUTO:
            raise EngineError("'auto' is the policy's choice, not an engine")
        if canonical not in self._engines:
            module, attr = self._where[canonical].split(":")
            self._engines[canonical] = getattr(importlib.import_module(module), attr)
        return self._engines[canonical]

    def engines(self) -> tuple[Engine, ...]:
        """Every registered engine, in registration order (built-ins first)."""
        return tuple(self.get(n) for n in self.names())

    def register(self, engine: Engine) -> Engine:
        """Add ``engine`` under ``engine.name`` and its ``aliases``; names already taken are refused."""
        if not isinstance(engine, Engine):
            raise UsageError(f"{engine!r} does not implement the Engine protocol (bnnverify.engines.base.Engine)")
        self._names.add(engine.name, tuple(engine.aliases))
        self._engines[engine.name] = engine
        return engine

    def unregister(self, name: str) -> None:
        """Remove a registered engine (built-ins included: a test may take one away)."""
        canonical = self.resolve(name)
        self._names.remove(canonical)
        self._engines.pop(canonical, None)
        self._where.pop(canonical, None)

    @contextmanager
    def registered(self, engine: Engine) -> Iterator[Engine]:
        """``engine`` registered for the duration of a ``with`` block."""
        self.register(engine)
        try:
            yield engine
        finally:
            self.unregister(engine.name)


#: Every engine bnnverify knows.
ENGINES = EngineRegistry(_BUILTIN)
