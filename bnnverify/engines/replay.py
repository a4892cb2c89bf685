"""Replaying engine witnesses on the semantics module.

No counterexample leaves bnnverify unless it has been replayed here: the
bits are checked, the witness must be a member of the region, and
:func:`bnnverify.semantics.forward` — the definition, not the fast
evaluator — must give it a class the engine claimed (and, where the engine
reports them, the same hidden codes). A failure is a bug in an engine and
raises :class:`ReplayMismatch` — it is never turned into an answer.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import Whole
>>> h = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([0]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> w, c = replay_class(BNN((h,), o), Whole(2), [1, 1], [0], "demo")
>>> c
0
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from bnnverify.encoders.regions import Region

from bnnverify import semantics
from bnnverify.errors import ReplayMismatch
from bnnverify.evaluation.evaluator import check_bits

__all__ = ["bits_to_str", "show", "replay_class", "replay_disagreement", "replay_codes"]


def bits_to_str(bits: np.ndarray | None) -> str | None:
    """A bit vector as a string of 0s and 1s (None stays None).

    >>> bits_to_str(np.array([1, 0, 1], dtype=np.uint8))
    '101'
    """
    if bits is None:
        return None
    return "".join("1" if b else "0" for b in np.asarray(bits).reshape(-1).tolist())


def show(w: np.ndarray | None) -> str | None:
    """A witness for a message: bits as a string, integer features as a list."""
    if w is None:
        return None
    if w.dtype == np.uint8 and (w <= 1).all():
        return bits_to_str(w)
    return str(np.asarray(w).tolist())


def _member(net: Any, region: Region, x: Any, engine: str) -> np.ndarray:
    if getattr(net, "inputs", None) is not None:
        try:
            w = np.asarray(net.inputs.check(np.asarray(x), f"{engine} witness"), dtype=np.int64).copy()
        except Exception as e:  # out of range, not integers: an engine bug, never an answer
            raise ReplayMismatch(str(e)) from None
        if w.ndim != 1:
            raise ReplayMismatch(f"{engine} witness: expected one image, got shape {w.shape}")
    else:
        w = check_bits(np.asarray(x), net.n_inputs, f"{engine} witness")[0].copy()
    if not bool(region.contains(w[None, :])[0]):
        raise ReplayMismatch(
            f"{engine} witness {show(w)} is not in the region ({region.describe().get('kind')})"
        )
    return w


def replay_class(
    net: Any, region: Region, x: Any, classes: Iterable[int], engine: str
) -> tuple[np.ndarray, int]:
    """``x`` as uint8 bits and its class, after checking it is a member of
    ``region`` whose class (by the semantics) is one of ``classes``."""
    w = _member(net, region, x, engine)
    c = semantics.classify(net, w)
    allowed = sorted({int(k) for k in classes})
    if c not in allowed:
        raise ReplayMismatch(f"{engine} witness {show(w)} replays to class {c}, not one of {allowed}")
    return w, c


def replay_disagreement(
    net_a: Any, net_b: Any, region: Region, x: Any, engine: str
) -> tuple[np.ndarray, int, int]:
    """``x`` and its classes on both networks, after checking it is a member
    of ``region`` on which the two networks disagree (by the semantics)."""
    w = _member(net_a, region, x, engine)
    a, b = semantics.classify(net_a, w), semantics.classify(net_b, w)
    if a == b:
        raise ReplayMismatch(f"{engine} witness {show(w)} gets class {a} from both networks")
    return w, a, b


def replay_codes(net: Any, x: np.ndarray, codes: Iterable[np.ndarray], engine: str) -> None:
    """Check an engine's claimed hidden codes of ``x`` against the semantics, layer by layer."""
    want = semantics.forward(net, x).codes
    for l, (w, got) in enumerate(zip(want, codes)):
        got = [int(v) for v in np.asarray(got).reshape(-1)]
        if list(w) != got:
            j = next(j for j, (a, b) in enumerate(zip(w, got)) if a != b)
            raise ReplayMismatch(
                f"{engine} model's hidden layer {l} neuron {j} is {got[j]}, the semantics computes {w[j]}"
            )
