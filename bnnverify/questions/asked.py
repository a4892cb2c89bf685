"""What was asked: the part of every result that says which question it answers.

A number is only worth printing with its question: which model (the file and
a digest of its content, so a renamed or replaced file is noticed), which
input (a file, a literal bit string, or a data set's split, index and true
label), the tie rule, the limits, the tool version. The CLI attaches an
:class:`Asked` to every result it prints (JSON: the ``"asked"`` object, with
``"schema"`` naming the result format).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ArgmaxLayer
>>> net = BNN((), ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
>>> a = Asked("robustness", (ModelRef.of(net, "m.npz"),), InputRef(kind="bits"), {"timeout": None})
>>> a.to_json()["schema"], a.to_json()["models"][0]["path"], a.lines()[0].startswith("model: m.npz (sha256 ")
('bnnverify-result/1', 'm.npz', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["SCHEMA", "TIE_RULE", "TIE_RULES", "ModelRef", "InputRef", "Asked"]

#: The version of the result format every ``--json`` output carries.
SCHEMA = "bnnverify-result/1"

#: The tie rule of every answer (the argmax layer's, as written in bnnverify.semantics).
TIE_RULE = "argmax: the smallest index among the maximal scores"

#: How each tie rule (bnnverify.semantics.TieRule) reads in a result's ``asked.ties``.
TIE_RULES = {
    "argmax": TIE_RULE,
    "adversarial": "adversarial: misclassified when another class scores at least as much as the reference class",
    "strict": "strict: misclassified when another class scores strictly more than the reference class",
}

#: Hex digits of a digest shown in text output (the JSON carries all 64).
SHORT_DIGEST = 12


@dataclass(frozen=True)
class ModelRef:
    """A model file and the SHA-256 of the network's content (:func:`bnnverify.files.modelio.model_digest`)."""

    path: str | None
    sha256: str

    @classmethod
    def of(cls, net: Any, path: Any = None) -> "ModelRef":
        from bnnverify.files.modelio import model_digest

        return cls(None if path is None else str(path), model_digest(net))

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256}

    def line(self) -> str:
        return f"{self.path or '(in memory)'} (sha256 {self.sha256[:SHORT_DIGEST]}…)"


@dataclass(frozen=True)
class InputRef:
    """Where the centre input came from: ``kind`` is ``bits`` (a literal), ``file``, ``dataset`` or ``none``."""

    kind: str
    path: str | None = None
    dataset: str | None = None
    split: str | None = None
    index: int | None = None
    label: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def line(self) -> str:
        if self.kind == "dataset":
            where = f"{self.dataset}{' ' + self.split if self.split else ''}"
            if self.index is None:
                return f"{where} (every row)"
            return f"{where} #{self.index} (label {self.label})"
        if self.kind == "file":
            return f"file {self.path}"
        return {"bits": "a literal bit string", "none": "none (the region has no centre)"}.get(self.kind, self.kind)


@dataclass(frozen=True)
class Asked:
    """The question a result answers (see the module docstring)."""

    command: str
    models: tuple[ModelRef, ...]
    input: InputRef
    limits: Mapping[str, Any] = field(default_factory=dict)
    ties: str = TIE_RULE

    def to_json(self) -> dict[str, Any]:
        import bnnverify

        return {
            "schema": SCHEMA,
            "command": self.command,
            "version": bnnverify.__version__,
            "models": [m.to_json() for m in self.models],
            "input": self.input.to_json(),
            "ties": self.ties,
            "limits": dict(self.limits),
        }

    def lines(self) -> list[str]:
        """The text lines that open a printed result."""
        out = [f"model: {m.line()}" if len(self.models) == 1 else f"model {'AB'[i]}: {m.line()}"
               for i, m in enumerate(self.models)]
        if self.input.kind != "none":
            out.append(f"input: {self.input.line()}")
        return out
