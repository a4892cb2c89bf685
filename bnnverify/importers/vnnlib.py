"""VNN-LIB properties of classification robustness: a small parser and their meaning for bnnverify.

The subset read is what VNN-COMP's classification benchmarks write:

* ``(declare-const X_i Real)`` / ``(declare-const Y_j Real)``;
* per-input bounds ``(assert (<= X_i c))`` / ``(assert (>= X_i c))`` (also with the
  operands swapped), every input bounded on both sides;
* the unsafe outputs: ``(assert (<= Y_a Y_b))`` / ``(>= ...)``, or
  ``(assert (or (and (>= Y_j Y_k)) ...))`` — a disjunction of single comparisons
  that all compare against one reference class ``k``.

A property is *violated* (``sat``) iff some input in the box makes one
disjunct true. ``Y_j >= Y_k`` (non-strict, VNN-LIB has no other) counts a tie
as a counterexample: the ``adversarial`` tie rule of
:class:`bnnverify.semantics.TieRule`. The box becomes a region of integer
features (:class:`~bnnverify.encoders.pixel_regions.IntBox`) for a model that
declares integer inputs: integer bounds are taken as they are; a non-integer
bound is rounded inward (``ceil`` of a lower, ``floor`` of an upper bound) and
:attr:`Property.rounded` says so — the answer is then about the integer
inputs of the box only (the model's declared domain), which the result notes.
Anything else is refused naming the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from bnnverify.errors import DataError

__all__ = ["Property", "read_vnnlib", "parse_vnnlib"]

_VAR = re.compile(r"^([XY])_(\d+)$")


@dataclass(frozen=True)
class Property:
    """Bounds per input (exact rationals), the reference class and the classes that may beat it."""

    lo: tuple[Fraction, ...]
    hi: tuple[Fraction, ...]
    reference: int
    targets: tuple[int, ...]
    n_outputs: int
    source: str

    @property
    def rounded(self) -> bool:
        """Whether some bound is not an integer (the integer box is then strictly inside the real one)."""
        return any(v.denominator != 1 for v in self.lo + self.hi)

    def integer_box(self) -> tuple[np.ndarray, np.ndarray]:
        """The integer bounds: ``ceil(lo)``, ``floor(hi)`` (a DataError naming the input if empty)."""
        lo = np.array([math.ceil(v) for v in self.lo], np.int64)
        hi = np.array([math.floor(v) for v in self.hi], np.int64)
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{self.source}: X_{i} in [{float(self.lo[i])}, {float(self.hi[i])}] holds no integer")
        return lo, hi


def _tokens(text: str) -> list[str]:
    text = re.sub(r";[^\n]*", " ", text)
    return text.replace("(", " ( ").replace(")", " ) ").split()


def _sexprs(tokens: list[str], where: str) -> list[Any]:
    out: list[Any] = []
    stack: list[list[Any]] = []
    for t in tokens:
        if t == "(":
            stack.append([])
        elif t == ")":
            if not stack:
                raise DataError(f"{where}: unbalanced ')'")
            e = stack.pop()
            (stack[-1] if stack else out).append(e)
        else:
            (stack[-1] if stack else out).append(t)
    if stack:
        raise DataError(f"{where}: unbalanced '(' (missing ')')")
    return out


def _num(tok: Any, where: str) -> Fraction:
    try:
        return Fraction(str(tok))
    except (ValueError, ZeroDivisionError):
        raise DataError(f"{where}: {tok!r} is not a number") from None


def _show(e: Any) -> str:
    return e if isinstance(e, str) else "(" + " ".join(_show(x) for x in e) + ")"


def parse_vnnlib(text: str, where: str = "property") -> Property:
    """The :class:`Property` of a VNN-LIB text (a DataError naming the statement otherwise)."""
    n_x = n_y = 0
    lo: dict[int, Fraction] = {}
    hi: dict[int, Fraction] = {}
    disjuncts: list[tuple[int, int]] = []  # (j, k): Y_j >= Y_k

    def var(tok: Any) -> tuple[str, int] | None:
        m = _VAR.match(tok) if isinstance(tok, str) else None
        return (m.group(1), int(m.group(2))) if m else None

    def comparison(e: Any, top: Any) -> tuple[str, Any, Any]:
        if not (isinstance(e, list) and len(e) == 3 and e[0] in ("<=", ">=")):
            raise DataError(f"{where}: {_show(top)}: only (<= a b) / (>= a b) comparisons are read")
        return e[0], e[1], e[2]

    def output_atom(e: Any, top: Any) -> tuple[int, int]:
        op, a, b = comparison(e, top)
        va, vb = var(a), var(b)
        if not (va and vb and va[0] == "Y" and vb[0] == "Y"):
            raise DataError(f"{where}: {_show(top)}: an output constraint must compare two outputs (Y_j >= Y_k)")
        return (va[1], vb[1]) if op == ">=" else (vb[1], va[1])

    for e in _sexprs(_tokens(text), where):
        if not isinstance(e, list) or not e:
            raise DataError(f"{where}: {_show(e)}: not a statement")
        head = e[0]
        if head == "declare-const":
            v = var(e[1]) if len(e) == 3 else None
            if v is None or e[2] != "Real":
                raise DataError(f"{where}: {_show(e)}: only X_i / Y_j Real constants")
            if v[0] == "X":
                n_x = max(n_x, v[1] + 1)
            else:
                n_y = max(n_y, v[1] + 1)
            continue
        if head != "assert" or len(e) != 2:
            raise DataError(f"{where}: {_show(e)}: only declare-const and assert")
        body = e[1]
        if isinstance(body, list) and body and body[0] == "or":
            for d in body[1:]:
                if isinstance(d, list) and d and d[0] == "and":
                    if len(d) != 2:
                        raise DataError(f"{where}: {_show(e)}: each disjunct must be one comparison Y_j >= Y_k")
                    d = d[1]
                disjuncts.append(output_atom(d, e))
            continue
        if isinstance(body, list) and body and body[0] == "and":
            raise DataError(f"{where}: {_show(e)}: a conjunction of output constraints is not a robustness property")
        op, a, b = comparison(body, e)
        va, vb = var(a), var(b)
        if va and va[0] == "X" and vb is None:
            i, c, upper = va[1], _num(b, where), op == "<="
        elif vb and vb[0] == "X" and va is None:
            i, c, upper = vb[1], _num(a, where), op == ">="
        elif va and vb and va[0] == "Y" and vb[0] == "Y":
            disjuncts.append(output_atom(body, e))
            continue
        else:
            raise DataError(f"{where}: {_show(e)}: an input bound compares X_i with a number")
        (hi if upper else lo)[i] = min(hi.get(i, c), c) if upper else max(lo.get(i, c), c)
    if n_x == 0 or n_y == 0:
        raise DataError(f"{where}: declares no inputs X_i or no outputs Y_j")
    missing = [i for i in range(n_x) if i not in lo or i not in hi]
    if missing:
        raise DataError(f"{where}: X_{missing[0]} is not bounded on both sides")
    if not disjuncts:
        raise DataError(f"{where}: no output constraint (Y_j >= Y_k)")
    refs = {k for _, k in disjuncts}
    if len(refs) != 1:
        raise DataError(f"{where}: the output constraints compare against several classes {sorted(refs)}; "
                        "a robustness property has one reference class")
    k = refs.pop()
    targets = tuple(sorted({j for j, _ in disjuncts}))
    if any(not 0 <= c < n_y for c in targets + (k,)) or k in targets:
        raise DataError(f"{where}: output indices out of range or Y_{k} compared with itself")
    return Property(tuple(lo[i] for i in range(n_x)), tuple(hi[i] for i in range(n_x)), k, targets, n_y, where)


def read_vnnlib(path: "str | Path") -> Property:
    """Parse the VNN-LIB file at ``path`` (``.vnnlib``; ``.gz`` read transparently)."""
    p = Path(path)
    if p.suffix == ".gz":
        import gzip

        text = gzip.open(p, "rt").read()
    else:
        text = p.read_text()
    return parse_vnnlib(text, str(p))
