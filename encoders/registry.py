"""Name registries with aliases (solvers, encodings, engines), resolved case-insensitively.

Names can be added at run time (:meth:`NameRegistry.add`), so that a new
engine joins by registering.

>>> r = NameRegistry("colour", {"red": ("r", "rouge"), "blue": ()}, default="red")
>>> r.resolve("ROUGE"), r.resolve(None)
('red', 'red')
>>> r.resolve("green")
Traceback (most recent call last):
...
bnnverify.encoders.errors.SolverError: unknown colour 'green'; valid names: red, blue (aliases: r, rouge)
"""

from __future__ import annotations

from typing import Mapping

from .errors import BNNVerifyError, SolverError, UsageError

__all__ = ["NameRegistry"]


class NameRegistry:
    """Canonical names, each with aliases; :meth:`resolve` maps any of them to the canonical one."""

    def __init__(self, kind: str, names: Mapping[str, tuple[str, ...]], default: str,
                 error: type[BNNVerifyError] = SolverError) -> None:
        if default not in names:
            raise UsageError(f"default {default!r} is not one of the {kind} names")
        self.kind = kind
        self.default = default
        self.error = error
        self._aliases: dict[str, tuple[str, ...]] = {}
        self._lookup: dict[str, str] = {}
        for n, aliases in names.items():
            self.add(n, aliases)

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical names, in the order they were added."""
        return tuple(self._aliases)

    def aliases(self, name: str) -> tuple[str, ...]:
        """The aliases of canonical ``name``."""
        return self._aliases[name]

    def add(self, name: str, aliases: tuple[str, ...] = ()) -> None:
        """Add a canonical name with its aliases; a name or alias already taken is refused."""
        for a in (name, *aliases):
            if a.lower() in self._lookup:
                raise UsageError(f"{self.kind} name {a!r} is already taken (by {self._lookup[a.lower()]!r})")
        self._aliases[name] = tuple(aliases)
        for a in (name, *aliases):
            self._lookup[a.lower()] = name

    def remove(self, name: str) -> None:
        """Remove canonical ``name`` and its aliases (the default cannot be removed)."""
        if name == self.default:
            raise UsageError(f"the default {self.kind} {name!r} cannot be removed")
        for a in (name, *self._aliases.pop(name)):
            del self._lookup[a.lower()]

    def resolve(self, name: str | None) -> str:
        """The canonical name for ``name`` (``None`` gives the default); :class:`SolverError` if unknown."""
        if name is None:
            return self.default
        key = str(name).strip().lower()
        if key not in self._lookup:
            aliases = sorted(a for a in self._lookup if a not in self.names)
            raise self.error(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names)}"
                + (f" (aliases: {', '.join(aliases)})" if aliases else "")
            )
        return self._lookup[key]
