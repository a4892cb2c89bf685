"""The layer protocol and the helpers every layer kind shares.

:mod:`.layers` (the bit kinds and :class:`BNN`) and :mod:`.integer_layers`
(the kinds that read integer features, and ``linear``) both build on this
module, so neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

from .errors import ModelError

__all__ = ["ArrayKey", "Layer", "HIDDEN", "OUTPUT", "BITS", "INTEGERS", "frozen", "check_pm1_weights", "SameArrays"]

#: A layer's role: a hidden layer maps bits to bits; the output layer maps bits to a class.
HIDDEN = "hidden"
OUTPUT = "output"

#: What a layer reads: bits (0/1, standing for -1/+1 unless the kind says otherwise) or integer features.
BITS = "bits"
INTEGERS = "integers"


@dataclass(frozen=True)
class ArrayKey:
    """One model-file array of a layer kind, stored as ``<prefix>_<suffix>``.

    ``dtype`` is the family a file may use (``int8``, ``int`` = any integer
    dtype, ``float`` = any float dtype); ``meaning`` is the documentation.
    """

    suffix: str
    dtype: str
    ndim: int
    meaning: str


@runtime_checkable
class Layer(Protocol):
    """What every layer kind provides (typed as ``dd._abc`` types its BDD backends).

    ``kind`` is the name in the model file (``<prefix>_kind``) and the key of
    its rule in ``bnnverify.semantics.RULES``; ``role`` is :data:`HIDDEN` or
    :data:`OUTPUT`; ``keys`` lists its model-file arrays. Construction
    validates (raising :class:`ModelError` naming the key and entry);
    :meth:`arrays` and :meth:`from_arrays` are each other's inverse.
    """

    kind: ClassVar[str]
    role: ClassVar[str]
    reads: ClassVar[str]
    keys: ClassVar[tuple[ArrayKey, ...]]
    name: str

    @property
    def n_inputs(self) -> int: ...

    @property
    def n_outputs(self) -> int: ...

    def arrays(self) -> dict[str, np.ndarray]: ...

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> Any: ...


def frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def check_pm1_weights(w: object, where: str) -> np.ndarray:
    if not isinstance(w, np.ndarray):
        raise ModelError(f"{where}: weights must be a numpy array, got {type(w).__name__}")
    if w.dtype != np.int8:
        raise ModelError(f"{where}: weights must have dtype int8, got {w.dtype}")
    if w.ndim != 2:
        raise ModelError(f"{where}: weights must be 2-D (outputs, inputs), got shape {w.shape}")
    if w.shape[0] == 0 or w.shape[1] == 0:
        raise ModelError(f"{where}: weights must not be empty, got shape {w.shape}")
    bad = (w != 1) & (w != -1)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ModelError(
            f"{where}: weights must be exactly +1 or -1; entry [{r}, {c}] is {int(w[r, c])}"
        )
    return frozen(w)


class SameArrays:
    """Equality and hashing by kind and model-file arrays (for layer dataclasses with ``eq=False``):
    two layers are equal when they would be written as the same arrays."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        a, b = self.arrays(), other.arrays()  # type: ignore[attr-defined]
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    def __hash__(self) -> int:
        items = sorted(self.arrays().items())  # type: ignore[attr-defined]
        return hash((self.kind, tuple((k, v.shape, v.tobytes()) for k, v in items)))  # type: ignore[attr-defined]
