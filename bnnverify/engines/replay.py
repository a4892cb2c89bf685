"""Replaying engine witnesses on the reference evaluator.

No counterexample leaves bnnverify unless it has been replayed here: the
bits are checked, the witness must be a member of the region, and the
evaluator must give it a class the engine claimed. A failure is a bug in an
engine and raises :class:`ReplayMismatch` — it is never turned into an answer.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import Whole
>>> h = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([0]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> ev = Evaluator(BNN((h,), o))
>>> w, c = replay_class(ev, Whole(2), [1, 1], [0], "demo")
>>> c
0
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from bnnverify.encoders.regions import Region

from bnnverify.errors import ReplayMismatch
from bnnverify.evaluation.evaluator import Evaluator, check_bits

__all__ = ["bits_to_str", "replay_class", "replay_disagreement"]


def bits_to_str(bits: np.ndarray | None) -> str | None:
    """A bit vector as a string of 0s and 1s (None stays None).

    >>> bits_to_str(np.array([1, 0, 1], dtype=np.uint8))
    '101'
    """
    if bits is None:
        return None
    return "".join("1" if b else "0" for b in np.asarray(bits).reshape(-1).tolist())


def _member(ev: Evaluator, region: Region, x: Any, engine: str) -> np.ndarray:
    w = check_bits(np.asarray(x), ev.net.n_inputs, f"{engine} witness")[0].copy()
    if not bool(region.contains(w[None, :])[0]):
        raise ReplayMismatch(
            f"{engine} witness {bits_to_str(w)} is not in the region ({region.describe().get('kind')})"
        )
    return w


def replay_class(
    ev: Evaluator, region: Region, x: Any, classes: Iterable[int], engine: str
) -> tuple[np.ndarray, int]:
    """``x`` as uint8 bits and its class, after checking it is a member of
    ``region`` whose class (by the evaluator) is one of ``classes``."""
    w = _member(ev, region, x, engine)
    c = ev.classify_one(w)
    allowed = sorted({int(k) for k in classes})
    if c not in allowed:
        raise ReplayMismatch(f"{engine} witness {bits_to_str(w)} replays to class {c}, not one of {allowed}")
    return w, c


def replay_disagreement(
    ea: Evaluator, eb: Evaluator, region: Region, x: Any, engine: str
) -> tuple[np.ndarray, int, int]:
    """``x`` and its classes on both networks, after checking it is a member
    of ``region`` on which the two evaluators disagree."""
    w = _member(ea, region, x, engine)
    a, b = ea.classify_one(w), eb.classify_one(w)
    if a == b:
        raise ReplayMismatch(f"{engine} witness {bits_to_str(w)} gets class {a} from both networks")
    return w, a, b
