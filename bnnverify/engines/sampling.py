"""Falsification before search: random members of a region, classified by the evaluator.

A SAT search for a member of some classes (a counterexample to robustness)
first classifies :data:`SAMPLE_MEMBERS` random members of the region with the
bit-packed evaluator; a member of a wanted class is a witness (the runner
replays it on the semantics like any other). Finding none decides nothing:
the SAT search follows, and only its ``UNSAT`` is a proof.

Why: on deep networks over large cubes the solver can need tens of seconds
for a counterexample that a few thousand random members contain.
Measured (``benchmarks/results/sat_scale_deep.md``, 784-200-100-100-100-10
trained on digits upscaled to 28x28, cubes of 90/110/130 random free bits
around three test images): 0.05–38 % of each cube's members are
misclassified, yet the CLI's SAT search (default encoding and solver, load
1.3) took 25–50 s on 4 of the 9 cubes and ran out of 60 s on 5; sampling
2^13 members and classifying them took 0.18 s (load 7.6) and found a
counterexample in each. Rejected: random input phases for the solver
(``set_phases``): ``native``/minicard decided the same 2 of the 9 cubes
within 20 s as without them.

Members are drawn uniformly from cubes and the whole space, and uniformly
from the *sphere* of a Hamming ball (exactly ``radius`` mutable bits flipped:
the sphere holds most of the ball's members, and a counterexample within the
ball is what is asked), and uniformly from integer boxes (kind ``box``: each
feature in its range; for a caller that classifies pixel models). Other
region kinds are not sampled. The generator is
seeded (:data:`SAMPLE_SEED`), so a run is reproducible.

>>> import numpy as np
>>> from bnnverify.encoders.regions import Cube
>>> X = sample_members(Cube.from_free(np.zeros(6, np.uint8), [1, 4]), 50, np.random.default_rng(0))
>>> X.shape, bool((X[:, [0, 2, 3, 5]] == 0).all())
((50, 6), True)
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from bnnverify.encoders.pixel_regions import IntBox
from bnnverify.encoders.regions import Cube, HammingBall, Whole

__all__ = ["SAMPLE_MEMBERS", "SAMPLE_SEED", "sample_members", "find_by_sampling"]

#: Members classified before a SAT search (see the module docstring): 2^13 take ~0.1 s on a
#: 784-200-100-100-100-10 network (the evaluator's batch), and on the measured cubes with
#: counterexamples the rarest (0.05 % of members) is met with probability 1 - (1 - 5e-4)^8192 > 98 %.
SAMPLE_MEMBERS: int = 1 << 13

#: Seed of the sampling generator (reproducible runs).
SAMPLE_SEED: int = 20261202


def sample_members(region: Any, count: int, rng: np.random.Generator) -> np.ndarray | None:
    """``count`` random members of ``region`` (uint8 rows), or None for a kind that is not sampled."""
    if isinstance(region, Whole):
        return rng.integers(0, 2, size=(count, region.n), dtype=np.uint8)
    if isinstance(region, Cube):
        X = np.repeat(np.asarray(region.values, np.uint8)[None, :], count, axis=0)
        free = region.free
        X[:, free] = rng.integers(0, 2, size=(count, len(free)), dtype=np.uint8)
        return X
    if isinstance(region, HammingBall):
        mut = region.mutable_indices
        k = region.effective_radius
        X = np.repeat(np.asarray(region.center, np.uint8)[None, :], count, axis=0)
        if k == 0 or len(mut) == 0:
            return X
        pick = np.argpartition(rng.random((count, len(mut))), k - 1, axis=1)[:, :k]
        rows = np.repeat(np.arange(count), k)
        cols = mut[pick.ravel()]
        X[rows, cols] ^= 1
        return X
    if isinstance(region, IntBox):
        return rng.integers(region.lo[None, :], region.hi[None, :] + 1, size=(count, len(region.lo)), dtype=np.int64)
    return None


def find_by_sampling(net: Any, region: Any, classes: Iterable[int], count: int = SAMPLE_MEMBERS,
                     seed: int = SAMPLE_SEED) -> np.ndarray | None:
    """A sampled member of ``region`` whose class (by the evaluator) is in ``classes``, or None.

    The caller replays it; None means only that no sampled member was one.
    """
    if count <= 0:
        return None
    X = sample_members(region, count, np.random.default_rng(seed))
    if X is None:
        return None
    from bnnverify.evaluation.evaluator import Evaluator

    cls = Evaluator(net).classify(X)
    hit = np.flatnonzero(np.isin(cls, np.fromiter((int(c) for c in classes), dtype=np.int64)))
    return None if len(hit) == 0 else X[int(hit[0])].copy()
