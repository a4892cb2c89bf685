"""Name registries with aliases (solvers, encodings), resolved case-insensitively.

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

from .errors import SolverError

__all__ = ["NameRegistry"]


class NameRegistry:
    """Canonical names, each with aliases; :meth:`resolve` maps any of them to the canonical one."""

    def __init__(self, kind: str, names: Mapping[str, tuple[str, ...]], default: str) -> None:
        if default not in names:
            raise ValueError(f"default {default!r} is not one of the {kind} names")
        self.kind = kind
        self.names = tuple(names)
        self.default = default
        self._lookup = {a.lower(): n for n, aliases in names.items() for a in (n, *aliases)}

    def resolve(self, name: str | None) -> str:
        """The canonical name for ``name`` (``None`` gives the default); :class:`SolverError` if unknown."""
        if name is None:
            return self.default
        key = str(name).strip().lower()
        if key not in self._lookup:
            aliases = sorted(a for a in self._lookup if a not in self.names)
            raise SolverError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names)}"
                + (f" (aliases: {', '.join(aliases)})" if aliases else "")
            )
        return self._lookup[key]
