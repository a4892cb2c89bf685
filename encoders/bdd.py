"""Compile BNNs and input regions into ``dd.cudd`` BDDs; exact counts per class and per code.

Design (measured on the BNNQuanalyst models, see ``benchmarks/results/bdd.md``)
-------------------------------------------------------------------------------
One :class:`BDDCompiler` owns one CUDD manager with an explicit variable
order and dynamic reordering OFF (counting and code extraction rely on a known
order). The inputs ``x0..x(n-1)`` are declared first (natural order unless an
order is given); each compiled hidden layer gets fresh *code variables*
inserted at the top, so the order is ``t_L, ..., t_1, x`` — every layer's code
variables lie above the previous layer's and above the inputs. A path through
a layer's code levels therefore ends at its own sub-BDD (the inputs with that
code), which is what per-code counting walks.

**Regions** are split into bits the region fixes (folded away as constants,
never given BDD nodes) and a *care set* over the free bits: whole space and
cube → TRUE over the free bits; Hamming ball → the ball over the mutable bits
(the others are fixed); L∞ box → per-feature thermometer chains over the bits
whose value the box leaves open. Counts over the free bits are exact; fixed
bits are filled in for witnesses.

**Input propagation** (BDD4BNN's scheme), layer by layer:

1. layer 1: each neuron's function *conjoined with the care set* in one
   counter pass (:mod:`bnnverify.encoders.cardinality_bdd`; for a Hamming ball the
   state is (flips used, agreements), so a neuron that cannot cross its
   threshold within the radius folds to a constant at once — on a 784-input
   model at radius 2, 92 of 100 neurons do — and the others cost O(n·r²)
   nodes). Only the varying neurons enter the relation
   ``R_1(x, s) = care ∧ ∧_j (s_j ↔ g_j)``, built over *scratch variables
   below the inputs* in a balanced conjunction, where it keeps the shape of
   the care set; the image ``I_1 = ∃x R_1`` is renamed onto the layer's code
   variables ``t_1`` (above the inputs) and conjoined with the constant
   neurons' literals;
2. layer l ≥ 2: each neuron is a cardinality BDD over the fresh variables
   ``t_{l-1}`` (cheap), restricted to the image ``I_{l-1}``; relation
   ``T_l(t_l, t_{l-1})`` by a balanced conjunction, image ``I_l = ∃t_{l-1} T_l``;
3. the argmax layer: for each class c, ``I_L ∧ ∧_{d≠c} beats(c, d)``, conjoined
   one comparison at a time *starting from the image*; each pairwise
   comparison is a counter BDD over the positions where the rows agree /
   differ (one counter when the decision depends on one group only), its
   table decided by :func:`bnnverify.encoders.layers.beats` on the integer dots (ties
   and float64 rounding exactly as the evaluator);
4. only where a count over inputs is needed are classes related back to the
   inputs: ``P_{l-1} = ∃t_l (T_l ∧ P_l)``, and at the inputs
   ``X_c(x) = ∃s (R_1(x, s) ∧ P_1[t_1 := s])`` (``and_exists``), counted
   exactly by :mod:`bnnverify.encoders.bdd_count` (over the free bits; fixed bits
   contribute no factor).

**Class sets without images** (``classes="compose"``, the default through
``auto``): steps 1–3 build every layer's image only to restrict the next
layer, and on the whole space of mnist_bnn_2_blk_16_25_20_10 quantifying the
inputs out of the 198 k-node first relation (0.3 s) and the second layer's
relation and image are most of the time. Since ``R_1`` is functional, the
images are not needed for counting: the class sets over *every* code of the
last layer (the comparisons conjoined from TRUE: 5–26 nodes there) are
composed back layer by layer, ``P_{l-1} = P_l[t_l := h_l(t_{l-1})]`` (``let``
of one code at a time; the constant first-layer neurons substituted first), and
related to the inputs through ``R_1`` as in step 4. Unrestricted, a class set
can depend on every code of hidden layers 2..L and on the varying first-layer
neurons, so ``auto`` composes only when that is at most ``COMPOSE_MAX_VARS``
(32) variables and falls back to the images when a composed set passes
``COMPOSE_NODE_CAP`` nodes or the memory cap (measured: over the 50 codes of
the 784-50x4-10 model's deep layers the 1 GiB cap is reached; over 25 codes the
largest set has 18 k nodes). Measured in one process, load ~3 (two training
jobs on the 2 cores), images vs compose: whole 2^16 space of 16-25-20-10
1.34–1.95 s vs 0.59–0.62 s; Hamming 2 around instance_0_784 on 784-100-10
0.51–0.59 vs 0.32 s; Hamming 3 around instance_0_100 on 100-50-20-10 1.27–1.30
vs 1.35–1.45 s (there the 477 k-node first relation dominates either way).
Composing the last step too, ``X_c = P_1[t_1 := g(x)]``, is the slow
direction (26.8 s on the 16-input model, 6.7 s on the radius-3 ball).

**A Hamming ball's first relation in parts** (``RELATION_PART`` neurons
each): the one relation ``R_1`` grows like (distinct columns)^r, while the
relations of 5 neurons at a time stay small (radius 3 around instance_0_100
on 100-50-20-10: 476,850 nodes in one, 9 k each in four parts), and relating a
class set back needs only ``∃s_1 (R_1 ∧ ... ∃s_k (R_k ∧ P))`` — each part's
scratch variables quantified as soon as it is conjoined, the whole
conjunction never built (images mode builds it on demand). Relation plus 10
classes related back: 0.69–0.78 s in one piece, 0.26 s in parts; the radius-3
ball around instance_0_784 on 784-100-10, whose one relation exceeds the
1 GiB cap, is counted in 0.31 s (radius 4: 0.92 s, 5: 2.2 s, 6: 4.4 s; 80 M
to 3.2·10^14 members). On the whole space parts are ruinous (21 s against
0.43 s with two parts: the intermediate function of inputs and remaining codes
is large), so other regions keep one relation.

Per-code counts (:meth:`NetworkBDD.iter_joint_counts`) put the code
variables above the inputs: the first layer's reachable codes with their
exact input counts come from *output splitting* (``C ∧ g_j`` / ``C ∧ ¬g_j``
down the varying neurons, each leaf the inputs of one code, counted
exactly); deeper codes and classes follow by integer evaluation of those
reachable codes (at most ``NUMERIC_CODE_LIMIT`` of them). Past that limit,
the relations ``T_1(t_1, x)`` (codes above inputs) and ``T_l`` are conjoined
with intermediate layers quantified, and each reachable key's sub-BDD is
counted — only reachable codes are ever enumerated.

Alternatives measured (CPU seconds on this machine, see also
``benchmarks/results/bdd.md``) and rejected:

* the first-layer relation with the codes *above* the inputs: every code's
  input set becomes its own sub-BDD — 2.27 M nodes and 2.4 s at Hamming
  radius 2 on mnist_bnn_1_blk_784_100_10 (255 codes), and 2.6 s more to
  relate one class back; below the inputs the same step takes 0.9 s in all.
  On the whole space of mnist_bnn_2_blk_16_25_20_10: 2.1 s vs 0.24 s;
* relating classes back by composition (``let``, ``t_1 := g(x)``) instead of
  ``and_exists``: 7.7 s vs 0.09 s for one class at radius 3 on
  mnist_bnn_2_blk_100_50_20_10, 17.9 s vs 0.58 s for all classes of the
  16-input model;
* computing the first image by input splitting in Python (walking the care
  set and the neuron BDDs together, memoized on cofactor tuples): 124 k
  states, 5.7 s at radius 2 on the 784-input model;
* conjoining the pairwise comparisons in a balanced tree: products of
  counters, 36 s for the class sets of the 784-100-10 model vs 0.02 s from
  the image;
* building every neuron of every layer as a function of the raw inputs and
  composing: the issue's measurement, 6.3 M nodes in layer 2 of a
  784-100-100 network at radius 2.
* (issue 14, whole space of mnist_bnn_2_blk_16_25_20_10, where the first
  image — a 198 k-node relation, then ``exist`` to 22 k nodes — is most of
  the 2.2–3.6 s; load 3.5–6, so only the ratios count): a larger CUDD
  computed table (2^22 or 2^24 entries instead of 2^19: 2× *slower*, the
  hit rate stays 0.22–0.23), garbage collection off (no gain), reversed /
  principal-direction / greedy-similarity input orders (the relation stays
  198–202 k nodes; no gain), and the last conjunction fused with the
  quantification (``and_exists`` of two balanced halves: 1.28 s vs 0.94 s).
  BNNQuanalyst with Sylvan takes 1.2–2.0 s there. What did meet the issue's
  2× was dropping the images from class counting (``classes="compose"``
  below) and keeping a ball's first relation in parts:
  ``benchmarks/bench_bdd_engine.py``, engine 0.93 → 0.40 s (3.0–5.0×
  BNNQuanalyst's figures) and 1.12 → 0.39 s on the radius-3 ball of
  100-50-20-10 (4.9–5.6×; before at load 1.2–1.6, after at 0.4); as a
  ``bnnverify count`` process, start-up and imports included (~0.36 s), 0.80
  and 0.83 CPU s (1.5–2.5× and 2.3–2.7×).

**Budgets** (:class:`BDDBudget`): CUDD's memory cap (``max_memory``) makes an
operation that would exceed it fail, and the live-node count is checked after
every operation; either raises :class:`~bnnverify.encoders.errors.BudgetExceeded`, never
a partial answer.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import Whole
>>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
>>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> comp = BDDCompiler(2)
>>> nb = comp.compile(BNN((h,), o), Whole(2))
>>> nb.class_counts()
(3, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import time
import warnings

import dd.cudd as cudd
import numpy as np

from .bdd_count import ExactCounter, exact_count, iter_level_paths
from .cardinality_bdd import BallBuilder, node, agreement_threshold, ball_threshold_bdd, counter_bdd
from .errors import BudgetExceeded, DeadlineExceeded, InternalError, RegionError, UsageError
from .conv_layers import linear_view
from .sparse_linear import linear_terms
from .layers import BNN, ArgmaxLayer, beats, numpy_layer
from .linear_bdd import linear_bdd
from .regions import Cube, HammingBall, LevelBox, LevelL0, LinfBox, Region, Whole

__all__ = [
    "BDDBudget",
    "BDDCompiler",
    "NetworkBDD",
    "RegionPlan",
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_MAX_NODES",
    "CLASS_METHODS",
    "COMPOSE_NODE_CAP",
    "COMPOSE_MAX_VARS",
    "COMPOSE_MEMORY",
    "RELATION_PART",
]

#: Default CUDD memory cap: 1 GiB.
DEFAULT_MAX_MEMORY = 1 << 30
#: Default live-node budget: None (the memory cap bounds the manager).
DEFAULT_MAX_NODES: int | None = None
#: Initial CUDD memory estimate (unique table and cache sizing), capped by the budget.
INITIAL_MEMORY_ESTIMATE = 64 << 20
#: CUDD's "no memory limit" value for ``max_memory``.
_UNLIMITED_MEMORY = (1 << 64) - 1
#: How the first layer's image is computed: ``relation`` (conjoin ``t_j ↔ g_j``
#: with the code variables above the inputs, then quantify the inputs) or
#: ``below`` (the same relation over scratch variables below the inputs, which
#: keeps the care set's shape; classes are then related back to the inputs by
#: ``and_exists`` through it, and the code-above relation is built only if the
#: ``paths`` per-code method asks for it); ``auto`` = ``below``, faster on every
#: benchmark (see the module docstring).
FIRST_LAYER_METHODS = ("auto", "relation", "below")
#: How class sets reach the inputs: ``images`` (each layer's image, class sets over the last
#: image, pulled back through every relation), ``compose`` (no image: the class sets over every
#: code of the last layer composed back to the first layer's codes, then through the first
#: layer's relation) or ``auto`` = ``compose`` where ``COMPOSE_MAX_VARS`` allows, falling back to
#: ``images`` past ``COMPOSE_NODE_CAP`` nodes of a composed set or ``COMPOSE_MEMORY`` more bytes
#: (measured: see the module docstring).
CLASS_METHODS = ("auto", "compose", "images")
#: First-layer neurons per part of a Hamming ball's relation below the inputs (parts are related
#: back one after another, :meth:`NetworkBDD._through_first_relation`). Radius-3 ball of
#: 100-50-20-10 (17 varying neurons), relation + relating 10 classes back: one relation of 476,850
#: nodes 0.69-0.78 s; parts of 3/4/5/6/9 neurons 0.34/0.30/0.26/0.28/0.33 s. On the whole space of
#: 16-25-20-10 parts are ruinous (2 parts: 21 s against 0.43 s), so other regions keep one relation.
RELATION_PART = 5
#: Memory (bytes) ``auto`` lets composing the class sets add to the manager before it builds the
#: images instead: a random 40-60-30-4 network's composition over a radius-2 ball ran for minutes in
#: one ``let`` (a CUDD operation is not interrupted by the deadline) without such a cap.
COMPOSE_MEMORY = 128 << 20
#: ``auto`` composes only when no composed class set can depend on more variables than this (hidden
#: layers 2..L, the varying first-layer neurons): unrestricted by an image, a class set over the 50
#: codes of a deep 784-50x4-10 layer exceeded the 1 GiB memory cap, over 25 codes it had 18 k nodes.
COMPOSE_MAX_VARS = 32
#: Nodes of a composed class set past which ``auto`` abandons composing and builds the images.
COMPOSE_NODE_CAP = 1 << 18
#: Per-code counts evaluate reachable first-layer codes numerically up to this many codes.
NUMERIC_CODE_LIMIT = 1 << 20
#: Output splitting lists the members of a set of at most this many inputs.
SMALL_LEAF = 64
#: CUDD's floating count (used only as that trigger) is finite up to 2^1023.
FLOAT_COUNT_MAX_VARS = 1000
#: Codes evaluated per numpy batch.
NUMERIC_CHUNK = 1 << 14
#: dd.cudd's message when CUDD returns NULL (out of memory / over the cap).
_NULL_MESSAGE = "NULL"


@dataclass(frozen=True)
class BDDBudget:
    """Resource limits of one BDD manager.

    ``max_nodes``: live BDD nodes allowed (checked after every operation);
    None = no node limit. ``max_memory_bytes``: CUDD's memory cap
    (default 1 GiB); None = unlimited. Exceeding either raises
    :class:`~bnnverify.encoders.errors.BudgetExceeded`. ``deadline``: a
    ``time.perf_counter()`` value after which the next check raises
    :class:`~bnnverify.encoders.errors.DeadlineExceeded` (checked after every
    operation, like the node budget: one CUDD operation is not interrupted).
    """

    max_nodes: int | None = DEFAULT_MAX_NODES
    max_memory_bytes: int | None = DEFAULT_MAX_MEMORY
    deadline: float | None = None
    #: called with 1 at every check (a front end's progress display); not part of the budget's identity
    tick: Callable[[int], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for key in ("max_nodes", "max_memory_bytes"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise UsageError(f"BDDBudget.{key}: must be a positive integer or None, got {v!r}")
        if self.deadline is not None and not isinstance(self.deadline, (int, float)):
            raise UsageError(f"BDDBudget.deadline: must be a perf_counter() time or None, got {self.deadline!r}")


def _balanced_and(fs: list, step) -> object:
    """Conjunction of ``fs`` as a balanced tree (``step`` is called after each AND)."""
    if not fs:
        raise UsageError("balanced_and: empty list")
    fs = list(fs)
    while len(fs) > 1:
        nxt = []
        for i in range(0, len(fs) - 1, 2):
            nxt.append(fs[i] & fs[i + 1])
            step()
        if len(fs) % 2:
            nxt.append(fs[-1])
        fs = nxt
    return fs[0]


@dataclass(frozen=True, eq=False)
class RegionPlan:
    """A region as fixed bits (folded) plus a care set over the free bits.

    ``free`` lists the free input indices in level order; ``care`` is a BDD
    over their variables; ``ball`` is set for Hamming balls (the care set's
    builder, reused by every first-layer neuron).
    """

    region: Region
    fixed: np.ndarray  # bool mask
    values: np.ndarray  # uint8 values of the fixed bits (others arbitrary)
    free: tuple[int, ...]
    care: object
    ball: BallBuilder | None

    @property
    def n_fixed(self) -> int:
        return int(self.fixed.sum())


class _Guard:
    """See :meth:`BDDCompiler.guard` (a plain class: a generator-based context
    manager would keep the exception in a reference cycle with BDD nodes)."""

    __slots__ = ("comp",)

    def __init__(self, comp: "BDDCompiler") -> None:
        self.comp = comp

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ, val, tb) -> bool:
        if typ is None:
            self.comp.check()
            return False
        if issubclass(typ, ValueError) and _NULL_MESSAGE in str(val):
            cap = self.comp.budget.max_memory_bytes
            del val, tb
            raise BudgetExceeded(
                f"BDD memory cap exceeded (max_memory_bytes={cap}): CUDD could not allocate more nodes"
            ) from None
        return False


class BDDCompiler:
    """One ``dd.cudd`` manager: inputs ``x0..x(n-1)`` plus code variables of compiled layers.

    ``input_order``: the inputs from the top level down, as indices or names
    ``"x<i>"`` (default ``0..n-1``). Reordering stays off unless ``reordering=True`` (then
    per-code extraction is refused, since it relies on the order).
    """

    def __init__(
        self,
        n_inputs: int,
        *,
        budget: BDDBudget | None = None,
        input_order: Sequence[int | str] | None = None,
        reordering: bool = False,
    ) -> None:
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, (int, np.integer)) or n_inputs < 1:
            raise UsageError(f"n_inputs: must be a positive integer, got {n_inputs!r}")
        self.n = int(n_inputs)
        self.budget = budget if budget is not None else BDDBudget()
        mem = self.budget.max_memory_bytes
        estimate = INITIAL_MEMORY_ESTIMATE if mem is None else min(int(mem), INITIAL_MEMORY_ESTIMATE)
        self.bdd = cudd.BDD(memory_estimate=estimate)
        self.bdd.configure(
            reordering=bool(reordering),
            max_memory=_UNLIMITED_MEMORY if mem is None else int(mem),
        )
        self.reordering = bool(reordering)
        self.input_names = [f"x{i}" for i in range(self.n)]
        if input_order is None:
            order = list(range(self.n))
        else:
            index = {v: i for i, v in enumerate(self.input_names)}
            order = [index[v] if isinstance(v, str) and v in index else v for v in input_order]
            if any(isinstance(v, str) for v in order):
                bad = next(v for v in order if isinstance(v, str))
                raise UsageError(f"input_order: {bad!r} is not an input name (x0..x{self.n - 1})")
            order = [int(i) for i in order]
        if sorted(order) != list(range(self.n)):
            raise UsageError(f"input_order: must be a permutation of 0..{self.n - 1} (or of x0..x{self.n - 1})")
        with self.guard():
            self.bdd.declare(*[self.input_names[i] for i in order])
        self._code_layers: dict[str, list[str]] = {}
        self._scratch: list[str] = []
        self._plans: dict[int, RegionPlan] = {}

    # --- resources ---------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` if the live-node budget is exceeded,
        :class:`DeadlineExceeded` if the budget's deadline has passed."""
        if self.budget.tick is not None:
            self.budget.tick(1)
        deadline = self.budget.deadline
        if deadline is not None and time.perf_counter() > deadline:
            raise DeadlineExceeded("the BDD engine reached its time limit")
        cap = self.budget.max_nodes
        if cap is not None:
            live = len(self.bdd)
            if live > cap:
                raise BudgetExceeded(
                    f"BDD node budget exceeded: {live} live nodes > max_nodes={cap}"
                )

    def guard(self) -> "_Guard":
        """Context: turn CUDD's out-of-memory (NULL result) into :class:`BudgetExceeded`,
        then check the node budget."""
        return _Guard(self)

    @property
    def live_nodes(self) -> int:
        return len(self.bdd)

    # --- variables -----------------------------------------------------------

    def add_code_layer(self, name: str, width: int) -> list[str]:
        """Declare ``width`` fresh code variables ``{name}_0..`` at the top of the order."""
        if name in self._code_layers:
            raise UsageError(f"code layer {name!r} already declared")
        names = [f"{name}_{j}" for j in range(width)]
        with self.guard():
            for v in reversed(names):
                self.bdd.insert_var(v, 0)
        self._code_layers[name] = names
        return names

    def input_band(self) -> tuple[int, int]:
        """Levels ``(lo, hi)`` of the inputs: below every code variable, above the scratch ones."""
        lo = sum(len(v) for v in self._code_layers.values())
        return lo, lo + self.n

    def level(self, var: str) -> int:
        return self.bdd.level_of_var(var)

    # --- regions -------------------------------------------------------------

    def plan(self, region: Region) -> RegionPlan:
        """The region's fixed bits and care set (cached per region object)."""
        key = id(region)
        if key in self._plans and self._plans[key].region is region:
            return self._plans[key]
        if region.n != self.n:
            raise RegionError(f"region has {region.n} input bits, but the network has {self.n} inputs")
        n = self.n
        bdd = self.bdd
        fixed = np.zeros(n, dtype=bool)
        values = np.zeros(n, dtype=np.uint8)
        ball = None
        with self.guard():
            if isinstance(region, Whole):
                care_fn = None
            elif isinstance(region, Cube):
                fixed = np.asarray(region.fixed_mask, dtype=bool).copy()
                values = np.asarray(region.values, dtype=np.uint8).copy()
                care_fn = None
            elif isinstance(region, HammingBall):
                values = np.asarray(region.center, dtype=np.uint8).copy()
                if region.mutable is not None:
                    fixed = ~np.asarray(region.mutable, dtype=bool)
                care_fn = "ball"
            elif isinstance(region, (LinfBox, LevelBox, LevelL0)):
                L = region.levels
                lo, hi = region.bounds
                for f in range(len(lo)):
                    for j in range(L):
                        i = f * L + j
                        if j < lo[f]:
                            fixed[i], values[i] = True, 1
                        elif j >= hi[f]:
                            fixed[i], values[i] = True, 0
                care_fn = "chains"
            else:
                raise RegionError(f"region kind {getattr(region, 'kind', type(region).__name__)!r} is not supported by the BDD engine")
            free = tuple(sorted(np.flatnonzero(~fixed).tolist(), key=lambda i: self.level(self.input_names[i])))
            care = bdd.true
            if care_fn == "ball":
                ball = BallBuilder(bdd, [self.input_names[i] for i in free], [int(values[i]) for i in free],
                                   min(region.radius, len(free)))
                care = ball.ball
            elif care_fn == "chains":
                L = region.levels
                lo, hi = region.bounds
                parts = []
                for f in range(len(lo)):
                    for j in range(int(lo[f]), int(hi[f]) - 1):
                        a = bdd.var(self.input_names[f * L + j])
                        b = bdd.var(self.input_names[f * L + j + 1])
                        parts.append(a | ~b)  # bit j+1 set implies bit j set
                if parts:
                    care = _balanced_and(parts, self.check)
                if isinstance(region, LevelL0):
                    care = care & self._at_most_changed(region, fixed)
        plan = RegionPlan(region, fixed, values, free, care, ball)
        self._plans[key] = plan
        return plan

    def _at_most_changed(self, region: LevelL0, fixed: np.ndarray) -> object:
        """At most ``k`` thermometer features off their centre level (valid codes assumed).

        Feature f with centre level c is off its level iff bit c-1 is 0 or bit c
        is 1 (the bits that are not fixed); a counter over the features, one
        ``ite`` per (feature, count) pair.
        """
        bdd, L = self.bdd, region.levels
        lo, hi = region.bounds

        def bit(i: int) -> object:
            return bdd.var(self.input_names[i]) if not fixed[i] else None

        changed = []
        for f, c in enumerate(region.center_levels.tolist()):
            if hi[f] == lo[f]:
                continue
            parts = []
            if c - 1 >= int(lo[f]):  # bit c-1 can be 0
                parts.append(~bit(f * L + c - 1))
            if c < int(hi[f]):  # bit c can be 1
                parts.append(bit(f * L + c))
            if parts:
                changed.append(parts[0] if len(parts) == 1 else parts[0] | parts[1])
        k = min(region.k, len(changed))
        # at_most[j]: at most j of the features seen so far changed (processed bottom-up)
        at_most = [bdd.true] * (k + 1)
        for g in reversed(changed):
            self.check()
            at_most = [bdd.ite(g, at_most[j - 1] if j else bdd.false, at_most[j]) for j in range(k + 1)]
        return at_most[k]

    def region_bdd(self, region: Region) -> object:
        """The region as a BDD over the inputs (care set ∧ the fixed bits' values)."""
        plan = self.plan(region)
        fixed = {self.input_names[i]: bool(plan.values[i]) for i in np.flatnonzero(plan.fixed)}
        with self.guard():
            return plan.care & self.bdd.cube(fixed)

    # --- neurons -------------------------------------------------------------

    def threshold(self, names: Sequence[str], weights: np.ndarray, theta: int) -> object:
        """``W . s(v) >= theta`` over the variables ``names`` (cardinality construction)."""
        agree = (np.asarray(weights) == 1)
        n = len(names)
        k = agreement_threshold(n, int(theta))
        order = sorted(range(n), key=lambda i: self.level(names[i]))
        lits = [(names[i], bool(agree[i])) for i in order]
        table = [[a >= k] for a in range(n + 1)]
        with self.guard():
            return counter_bdd(self.bdd, lits, [0] * n, table)

    def neuron_in_region(self, plan: RegionPlan, weights: np.ndarray, theta: int) -> object:
        """First-layer neuron ``W . s(x) >= theta`` conjoined with the region's care set."""
        agree = (np.asarray(weights) == 1).astype(np.uint8)
        k = agreement_threshold(self.n, int(theta))
        k -= int((plan.values[plan.fixed] == agree[plan.fixed]).sum())
        free = plan.free
        with self.guard():
            if plan.ball is not None:
                return ball_threshold_bdd(plan.ball, [int(agree[i]) for i in free], k)
            lits = [(self.input_names[i], bool(agree[i])) for i in free]
            table = [[a >= k] for a in range(len(free) + 1)]
            g = counter_bdd(self.bdd, lits, [0] * len(free), table)
            if plan.care != self.bdd.true:
                g = g & plan.care
            return g

    def linear(self, names: Sequence[str], index: np.ndarray, coef: np.ndarray, bound: int) -> object:
        """``sum_t coef[t] * v[index[t]] >= bound`` over the variables ``names`` as 0/1 (a ``linear``
        neuron's stored terms; the padding index ``len(names)`` reads nothing)."""
        n = len(names)
        terms = [(names[int(i)], int(c)) for i, c in zip(index.tolist(), coef.tolist()) if i < n and c != 0]
        terms.sort(key=lambda t: self.level(t[0]))
        with self.guard():
            return linear_bdd(self.bdd, terms, int(bound), self.check)

    def linear_in_region(self, plan: RegionPlan, index: np.ndarray, coef: np.ndarray, bound: int) -> object:
        """First-layer ``linear`` neuron with the region's fixed bits folded, conjoined with its care set."""
        i = np.asarray(index, dtype=np.int64)
        c = np.asarray(coef, dtype=np.int64)
        keep = (i < self.n) & (c != 0)
        i, c = i[keep], c[keep]
        fx = plan.fixed[i]
        b = int(bound) - int((c[fx] * plan.values[i[fx]].astype(np.int64)).sum())
        terms = [(self.input_names[int(k)], int(w)) for k, w in zip(i[~fx].tolist(), c[~fx].tolist())]
        terms.sort(key=lambda t: self.level(t[0]))
        with self.guard():
            g = linear_bdd(self.bdd, terms, b, self.check)
            if plan.care != self.bdd.true:
                g = g & plan.care
            return g

    # --- compile ---------------------------------------------------------------

    def compile(self, net: BNN, region: Region, *, prefix: str = "t", first_layer: str = "auto",
                classes: str = "auto") -> "NetworkBDD":
        """Compile ``net`` over ``region`` in this manager (``first_layer``: :data:`FIRST_LAYER_METHODS`,
        ``classes``: :data:`CLASS_METHODS`)."""
        # conv / maxpool layers are compiled through their exact linear views
        return NetworkBDD(self, linear_view(net), region, prefix=prefix, first_layer=first_layer, classes=classes)

    def scratch(self, width: int) -> list[str]:
        """``width`` scratch variables at the bottom of the order (below the inputs), reused."""
        have = len(self._scratch)
        if width > have:
            names = [f"_s{j}" for j in range(have, width)]
            with self.guard():
                for v in names:
                    self.bdd.add_var(v)  # appended at the bottom
            self._scratch.extend(names)
        return self._scratch[:width]

    def relation_below(self, care, functions: Sequence[tuple[str, object]],
                       scratch: Sequence[str] | None = None) -> object:
        """``care ∧ ∧_j (s_j ↔ g_j)`` over scratch variables ``s_j`` *below* the inputs (g_j ⊆ care;
        ``scratch``: the names ``s_j``, default the first ``len(functions)`` scratch variables).

        Below the inputs the relation keeps the shape of the care set (a
        Hamming ball stays a ball with a few more states per level); it is
        functional: every member of ``care`` meets exactly one code.
        """
        bdd = self.bdd
        if care == bdd.false or not functions:
            return care
        sc = self.scratch(len(functions)) if scratch is None else list(scratch)
        with self.guard():
            rels = [bdd.ite(bdd.var(s), g, care & ~g) for s, (_, g) in zip(sc, functions)]
            return _balanced_and(rels, self.check)

    def image_of_below(self, relation, functions: Sequence[tuple[str, object]]) -> object:
        """Image ``{t : ∃x ∈ care, t_j = g_j(x)}`` over the names in ``functions``, from
        :meth:`relation_below`: the inputs quantified, the scratch variables renamed to the codes."""
        bdd = self.bdd
        if relation == bdd.false:
            return bdd.false
        if not functions:
            return bdd.true
        sc = self.scratch(len(functions))
        in_names = [self.input_names[i] for i in range(self.n)]
        with self.guard():
            img = bdd.exist(in_names, relation)
            return bdd.let({s: t for s, (t, _) in zip(sc, functions)}, img)

    # --- counting / witnesses ----------------------------------------------------

    def counter(self) -> ExactCounter:
        """An exact counter over the input levels (reuse it for functions sharing nodes)."""
        lo, hi = self.input_band()
        return ExactCounter(lo, hi)

    def count_inputs(self, u, plan: RegionPlan, counter: ExactCounter | None = None) -> int:
        """Exact number of region members in ``u`` (a BDD over the region's free input bits)."""
        c = (counter or self.counter()).count(u)
        k = plan.n_fixed
        if c & ((1 << k) - 1):
            raise InternalError("internal error: a count over free bits is not a multiple of 2^fixed")
        return c >> k

    def pick_input(self, u, plan: RegionPlan) -> np.ndarray | None:
        """A full input bit vector in ``u`` (fixed bits from the region), or None if empty."""
        if u == self.bdd.false:
            return None
        care = {self.input_names[i] for i in plan.free}
        with self.guard():
            a = self.bdd.pick(u, care_vars=care)
        x = plan.values.copy()
        for i in plan.free:
            x[i] = 1 if a[self.input_names[i]] else 0
        return x


class _MemoryCap:
    """Context: CUDD's memory cap lowered to the memory in use plus ``extra`` bytes (never above the
    budget's), restored on exit — one CUDD operation cannot be interrupted, but an operation that
    would outgrow the cap fails at once (NULL, :class:`BudgetExceeded`)."""

    __slots__ = ("comp", "extra")

    def __init__(self, comp: "BDDCompiler", extra: int) -> None:
        self.comp, self.extra = comp, int(extra)

    def _budget_cap(self) -> int:
        mem = self.comp.budget.max_memory_bytes
        return _UNLIMITED_MEMORY if mem is None else int(mem)

    def __enter__(self) -> None:
        bdd = self.comp.bdd
        with warnings.catch_warnings():  # dd 0.5.7+ warns that "mem" is in bytes (it is what we read)
            warnings.simplefilter("ignore", UserWarning)
            used = int(bdd.statistics()["mem"])
        bdd.configure(max_memory=min(self._budget_cap(), used + self.extra))

    def __exit__(self, typ, val, tb) -> bool:
        self.comp.bdd.configure(max_memory=self._budget_cap())
        return False


class _ComposeAbandoned(Exception):
    """Composing the class sets passed :data:`COMPOSE_NODE_CAP` (``auto`` builds the images instead)."""


def _ints_to_bits(codes: Sequence[int], width: int) -> np.ndarray:
    """Rows of bits (bit j of code = column j) of non-negative ints < 2**width."""
    nbytes = (width + 7) // 8
    buf = b"".join(int(c).to_bytes(nbytes, "little") for c in codes)
    arr = np.frombuffer(buf, dtype=np.uint8).reshape(len(codes), nbytes)
    return np.unpackbits(arr, axis=1, count=width, bitorder="little")


def _bits_to_ints(bits: np.ndarray) -> list[int]:
    """Inverse of :func:`_ints_to_bits`, row by row."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _classes_of(out: ArgmaxLayer, bits: np.ndarray) -> np.ndarray:
    """Classes of rows of last-layer bits: smallest index of the maximal float64 score.

    Scores are ``scale * dot + bias`` in float64 exactly as
    :meth:`ArgmaxLayer.score`; ``argmax`` returns the first maximum, which is
    the rule of :func:`bnnverify.encoders.layers.beats`.
    """
    dots = (2 * bits.astype(np.int64) - 1) @ out.weights.astype(np.int64).T
    scores = out.scale[None, :] * dots.astype(np.float64) + out.bias[None, :]
    return np.argmax(scores, axis=1)


class NetworkBDD:
    """A network compiled over a region: per-layer images and relations, class sets.

    Code variables of hidden layer ``l`` (1-based) are ``{prefix}{l}_{j}``.
    """

    def __init__(
        self,
        compiler: BDDCompiler,
        net: BNN,
        region: Region,
        *,
        prefix: str = "t",
        first_layer: str = "auto",
        classes: str = "auto",
    ) -> None:
        if first_layer not in FIRST_LAYER_METHODS:
            raise UsageError(f"first_layer: one of {FIRST_LAYER_METHODS}, got {first_layer!r}")
        if region.n != net.n_inputs:
            raise RegionError(
                f"region has {region.n} input bits, but the network has {net.n_inputs} inputs"
            )
        if net.n_inputs != compiler.n:
            raise RegionError(
                f"network has {net.n_inputs} inputs, but the BDD compiler was made for {compiler.n}"
            )
        if classes not in CLASS_METHODS:
            raise UsageError(f"classes: one of {CLASS_METHODS}, got {classes!r}")
        self.compiler = compiler
        self.net = net
        self.region = region
        self.plan = compiler.plan(region)
        bdd = compiler.bdd
        # code variable names per hidden layer (0-based), all declared now (the order is t_L, ..., t_1, x)
        self.codes: list[list[str]] = [compiler.add_code_layer(f"{prefix}{li + 1}", layer.n_outputs)
                                       for li, layer in enumerate(net.hidden)]
        self._relations: list[object | None] = []  # T_l restricted to the previous image
        self._images: list[object] | None = None  # I_l over the layer's codes (built on demand)
        method = "below" if first_layer == "auto" else first_layer
        self.first_layer_method = method
        # compose needs the first layer's relation below the inputs and a hidden layer to compose through
        self.class_method = "images" if (classes == "auto" and (method != "below" or not net.hidden)) else classes
        if self.class_method == "compose" and (method != "below" or not net.hidden):
            raise UsageError("classes='compose' needs first_layer='below' (or 'auto') and a hidden layer")
        self._hs: dict[int, dict[str, object]] = {}  # composed layers' neurons over the previous codes
        self._last_names = self.codes[-1] if net.hidden else [compiler.input_names[i] for i in self.plan.free]
        self._classes: list[object] | None = None
        self._pulled: dict[tuple[int, frozenset[int]], object] = {}
        self._composed: dict[frozenset[int], object] = {}
        self._wins: dict[tuple[int, int], object] = {}  # pairwise comparisons (composing)
        if not net.hidden:
            self._images = []
            self._last_care = self.plan.care
            return
        fixed, varying = self._layer_functions(0, None, None)
        self._fixed1, self._varying1 = fixed, varying
        # the first relation below the inputs: its parts (scratch names, relation), and the whole of it
        self._parts: list[tuple[list[str], object]] = []
        self._below1_whole: object | None = None
        if method == "below":
            sc = compiler.scratch(len(varying))
            # a Hamming ball's relation in parts of RELATION_PART neurons (see the module docstring)
            step = RELATION_PART if self.plan.ball is not None else max(1, len(varying))
            with compiler.guard():
                for i in range(0, len(varying), step):
                    names = sc[i:i + step]
                    self._parts.append((names, compiler.relation_below(self.plan.care, varying[i:i + step], names)))
            if len(self._parts) == 1:
                self._below1_whole = self._parts[0][1]
            elif not self._parts:
                self._below1_whole = self.plan.care
        else:  # the relation with the codes above the inputs, and every image now
            self._build_images()

    def _layer_functions(self, li: int, prev_names, prev_care) -> tuple[dict[str, bool], list[tuple[str, object]]]:
        """Layer ``li``'s (0-based) neurons over the previous layer's variables, within ``prev_care``
        (the region for the first layer): the constant ones as values, the others as BDDs."""
        compiler, bdd, layer = self.compiler, self.compiler.bdd, self.net.hidden[li]
        names = self.codes[li]
        fixed: dict[str, bool] = {}
        varying: list[tuple[str, object]] = []
        terms = linear_terms(layer) if layer.kind == "linear" else None
        care = self.plan.care if li == 0 else prev_care
        with compiler.guard():
            for j in range(layer.n_outputs):
                if terms is not None and li == 0:
                    g = compiler.linear_in_region(self.plan, terms[0][j], terms[1][j], int(layer.bounds[j]))
                elif li == 0:
                    g = compiler.neuron_in_region(self.plan, layer.weights[j], int(layer.thresholds[j]))
                else:
                    g = self._hidden_neuron(layer, terms, j, prev_names) & prev_care
                if g == bdd.false:
                    fixed[names[j]] = False
                elif g == care:
                    fixed[names[j]] = True
                else:
                    varying.append((names[j], g))
                compiler.check()
        return fixed, varying

    def _hidden_neuron(self, layer, terms, j: int, prev_names: Sequence[str]) -> object:
        """Neuron ``j`` of a layer after the first over the previous layer's code ``prev_names``, over
        every code (``terms``: :func:`linear_terms` of a ``linear`` layer, else None)."""
        if terms is not None:
            return self.compiler.linear(prev_names, terms[0][j], terms[1][j], int(layer.bounds[j]))
        return self.compiler.threshold(prev_names, layer.weights[j], int(layer.thresholds[j]))

    @property
    def _below1(self) -> object:
        """The first layer's whole relation below the inputs (its parts conjoined on first use)."""
        if self._below1_whole is None:
            with self.compiler.guard():
                self._below1_whole = _balanced_and([r for _, r in self._parts], self.compiler.check)
        return self._below1_whole

    def _through_first_relation(self, u) -> object:
        """``∃s (R_1(x, s) ∧ u(s))`` for ``u`` over the scratch variables, part by part
        (``and_exists`` quantifies each part's scratch variables as soon as it is conjoined)."""
        if self._below1_whole is not None:
            return cudd.and_exists(self._below1_whole, u, [s for names, _ in self._parts for s in names])
        for names, rel in reversed(self._parts):
            u = cudd.and_exists(rel, u, names)
            self.compiler.check()
        return u

    def _build_images(self) -> None:
        """Every layer's image ``I_l`` (and the relations ``T_l``, l >= 2), layer by layer."""
        comp, bdd = self.compiler, self.compiler.bdd
        images: list[object] = []
        prev_names = [comp.input_names[i] for i in self.plan.free]
        prev_care = self.plan.care
        for li in range(len(self.net.hidden)):
            names = self.codes[li]
            if li == 0:
                fixed, varying = self._fixed1, self._varying1
            else:
                fixed, varying = self._layer_functions(li, prev_names, prev_care)
            if li == 0 and self.first_layer_method == "below":
                self._relations.append(None)  # built on demand (per-code counts)
                with comp.guard():
                    img = comp.image_of_below(self._below1, varying)
                    image = bdd.cube(fixed) & img
            else:
                with comp.guard():
                    rel, image = self._relation_and_image(prev_names, prev_care, fixed, varying)
                self._relations.append(rel)
            images.append(image)
            prev_names, prev_care = names, image
        self._last_care = prev_care
        self._images = images

    @property
    def images(self) -> list[object]:
        """``I_l`` over each hidden layer's codes: the codes reached from the region (built on demand)."""
        if self._images is None:
            self._build_images()
        return self._images

    def _relation_and_image(self, prev_names, prev_care, fixed, varying):
        """``T = care ∧ ∧_j (t_j ↔ g_j)`` (balanced conjunction) and its image ``∃prev T``."""
        comp = self.compiler
        bdd = comp.bdd
        rels = [node(bdd, t, prev_care & ~g, g) for t, g in varying]
        rels.append(bdd.cube(fixed) & prev_care)
        rel = _balanced_and(rels, comp.check)
        image = bdd.exist(prev_names, rel) if prev_names else rel
        return rel, image

    def relation(self, layer: int) -> object:
        """``T_l(t_l, t_{l-1})`` (``T_1(t_1, x)``) restricted to the previous image; 1-based."""
        self.images  # noqa: B018 -- builds the images and the relations T_l (l >= 2) on first use
        if self._relations[layer - 1] is None:  # layer 1 imaged below the inputs: build now
            comp = self.compiler
            prev_names = [comp.input_names[i] for i in self.plan.free]
            with comp.guard():
                rel, _ = self._relation_and_image(prev_names, self.plan.care, self._fixed1, self._varying1)
            self._relations[layer - 1] = rel
        return self._relations[layer - 1]

    # --- classes ----------------------------------------------------------------

    def _comparison(self, c: int, d: int, fixed: dict[str, bool] | None = None) -> object:
        """Set of last-layer values where class ``c`` beats class ``d``, with the last layer's
        neurons in ``fixed`` (name -> value) folded as constants (the counter reads only the others)."""
        out: ArgmaxLayer = self.net.output
        comp = self.compiler
        wc, wd = out.weights[c], out.weights[d]
        same = wc == wd
        if self.net.hidden:
            names = self._last_names
            fx = np.array([v in fixed for v in names], dtype=bool) if fixed else np.zeros(len(names), bool)
            values = np.array([bool(fixed.get(v, False)) for v in names]) if fixed else np.zeros(len(names), bool)
            pos = np.flatnonzero(~fx).tolist()
        else:  # the output reads the inputs: fold the region's fixed bits
            pos = list(self.plan.free)
            names = comp.input_names
            fx, values = self.plan.fixed, self.plan.values.astype(bool)
        agree_fixed = values[fx] == (wc[fx] == 1)
        fixed_same = int((agree_fixed & same[fx]).sum())
        fixed_diff = int((agree_fixed & ~same[fx]).sum())
        n_same_total, n_diff_total = int(same.sum()), int((~same).sum())
        free_same = [p for p in pos if same[p]]
        free_diff = [p for p in pos if not same[p]]
        table = np.zeros((len(free_same) + 1, len(free_diff) + 1), dtype=bool)
        for a in range(len(free_same) + 1):
            part_same = 2 * (a + fixed_same) - n_same_total
            for b in range(len(free_diff) + 1):
                part_diff = 2 * (b + fixed_diff) - n_diff_total
                table[a, b] = beats(out, c, d, part_same + part_diff, part_same - part_diff)
        # drop a group the decision does not depend on (keeps the counter one-dimensional)
        use_same = not (table == table[:1, :]).all()
        use_diff = not (table == table[:, :1]).all()
        if not use_same:
            table = table[:1, :]
        if not use_diff:
            table = table[:, :1]
        sel = [p for p in pos if (same[p] and use_same) or (not same[p] and use_diff)]
        sel.sort(key=lambda p: comp.level(names[p]))
        lits = [(names[p], bool(wc[p] == 1)) for p in sel]
        groups = [0 if same[p] else 1 for p in sel]
        with comp.guard():
            return counter_bdd(comp.bdd, lits, groups, table)

    def _constant_codes(self, image, names: Sequence[str]) -> dict[str, bool]:
        """The code variables among ``names`` that have one value over all of ``image``.

        Folded into the argmax comparisons, they shrink the counters to the neurons that vary
        (the digits conv net's 144-neuron last layer over a radius-1 ball: 4.8 M counter nodes in
        40 s for the 45 comparisons before)."""
        bdd = self.compiler.bdd
        if image == bdd.false:
            return {}
        support = bdd.support(image)
        out: dict[str, bool] = {}
        with self.compiler.guard():
            for v in names:
                if v not in support:
                    continue
                x = bdd.var(v)
                if image & x == bdd.false:
                    out[v] = False
                elif image & ~x == bdd.false:
                    out[v] = True
        return out

    def class_sets(self) -> list[object]:
        """For each class c, the last layer's reachable values (codes) classified c."""
        if self._classes is None:
            C = self.net.n_classes
            comp = self.compiler
            wins: dict[tuple[int, int], object] = {}
            self.images  # noqa: B018 -- the last layer's image is the starting point
            constant = self._constant_codes(self._last_care, self._last_names) if self.net.hidden else None
            for c in range(C):
                for d in range(c + 1, C):
                    wins[(c, d)] = self._comparison(c, d, constant)
            sets = []
            with comp.guard():
                for c in range(C):
                    # sequentially from the (small) image: conjoining comparisons with
                    # each other first multiplies their counters and blows up
                    acc = self._last_care
                    for d in range(C):
                        if d != c and acc != comp.bdd.false:
                            acc = acc & (wins[(c, d)] if c < d else ~wins[(d, c)])
                            comp.check()
                    sets.append(acc)
            self._classes = sets
        return self._classes

    def classes_at(self, layer: int, classes: Sequence[int]) -> object:
        """Codes of hidden layer ``layer`` (1-based; 0 = inputs) whose class is in ``classes``.

        Pulled back from the argmax layer: ``P_{l-1} = ∃t_l (T_l ∧ P_l)``.
        """
        cls = frozenset(int(c) for c in classes)
        key = (int(layer), cls)
        if key in self._pulled:
            return self._pulled[key]
        L = len(self.net.hidden)
        if not 0 <= layer <= L:
            raise UsageError(f"layer: must be between 0 and {L}, got {layer}")
        comp = self.compiler
        if layer == L:
            sets = self.class_sets()
            bdd = comp.bdd
            u = bdd.false
            with comp.guard():
                for c in sorted(cls):
                    u = u | sets[c]
        else:
            above = self.classes_at(layer + 1, classes)
            with comp.guard():
                if layer == 0 and self._relations[0] is None:
                    u = self._first_codes_to_inputs(above)
                else:
                    u = cudd.and_exists(self.relation(layer + 1), above, self.codes[layer])
        self._pulled[key] = u
        return u

    def inputs_of(self, classes: Sequence[int]) -> object:
        """Region members (over the free input bits) whose class is in ``classes``.

        ``class_method`` ``compose`` / ``auto``: :meth:`_composed_inputs`, no image built;
        ``auto`` falls back to the images when a composed set exceeds :data:`COMPOSE_NODE_CAP` nodes.
        """
        key = (0, frozenset(int(c) for c in classes))
        if key in self._pulled:  # both methods keep their answers there
            return self._pulled[key]
        if self.class_method == "auto" and self.compose_width() > COMPOSE_MAX_VARS:
            self.class_method = "images"
        if self.class_method != "images":
            try:
                if self.class_method == "compose":
                    return self._composed_inputs(classes)
                with _MemoryCap(self.compiler, COMPOSE_MEMORY):
                    return self._composed_inputs(classes)
            except (_ComposeAbandoned, BudgetExceeded):
                if self.class_method == "compose":
                    raise BudgetExceeded(f"classes='compose': a class set composed back to the first layer "
                                         f"exceeds {COMPOSE_NODE_CAP} BDD nodes") from None
                self.class_method = "images"  # for every later question too
                self._composed.clear()
                self._hs.clear()
                self._wins.clear()
        return self.classes_at(0, classes)

    def compose_width(self) -> int:
        """The most variables a composed class set depends on: the widths of hidden layers 2..L and
        the number of varying first-layer neurons."""
        return max([len(self._varying1)] + [layer.n_outputs for layer in self.net.hidden[1:]])

    def _compose_check(self, u) -> None:
        """The budget, then the composed function's size (``len(u)``: its DAG; CUDD's live-node
        count flushes the computed table — 1.7 of 2.4 s when read after every step)."""
        self.compiler.check()
        if len(u) > COMPOSE_NODE_CAP:
            raise _ComposeAbandoned()

    def _composed_class_set(self, cls: frozenset[int]) -> object:
        """Classes ``cls`` as a function of the first layer's codes over *every* code (no image).

        The last layer's class sets come from the pairwise comparisons conjoined
        from TRUE (over a single hidden layer the constant first-layer neurons
        are substituted first, leaving a function of the varying ones), then
        each layer is composed in: ``P_{l-1}(t_{l-1}) = P_l[t_l := h_l(t_{l-1})]``,
        one code at a time (``let`` of one variable; the neurons ``h_2`` with the
        constant first-layer neurons substituted), the size checked after each:
        as fast as CUDD's vector compose of the whole layer on the BNNQuanalyst
        models (0.084 vs 0.059 s, 0.31 vs 0.36 s; largest intermediate 19 k
        nodes), and on a random 40-60-30-4 network over a radius-2 ball, where
        the vector compose ran 9 s into the memory cap, the blow-up (4.8 M
        nodes) shows after one code.
        """
        if cls in self._composed:
            return self._composed[cls]
        comp, bdd, net = self.compiler, self.compiler.bdd, self.net
        L, C = len(net.hidden), net.n_classes
        fixed1 = self._fixed1
        with comp.guard():
            u = bdd.false
            for c in sorted(cls):
                acc = bdd.true
                for d in range(C):
                    if d == c or acc == bdd.false:
                        continue
                    w = self._wins.get((min(c, d), max(c, d)))
                    if w is None:
                        w = self._comparison(min(c, d), max(c, d), fixed1 if L == 1 else None)
                        self._wins[(min(c, d), max(c, d))] = w
                    acc = acc & (w if c < d else ~w)
                    self._compose_check(acc)
                u = u | acc
            for l in range(L - 1, 0, -1):  # compose hidden layer l + 1 (1-based) into layer l's codes
                if u == bdd.false or u == bdd.true:
                    break
                hs = self._hs.get(l)
                if hs is None:
                    hs = self._compose_layer(l)
                    self._hs[l] = hs
                for v, h in hs.items():  # one code at a time: a blow-up shows before it is complete
                    u = bdd.let({v: h}, u)
                    self._compose_check(u)
        self._composed[cls] = u
        return u

    def _compose_layer(self, l: int) -> dict[str, object]:
        """Hidden layer ``l + 1``'s neurons (1-based) over layer ``l``'s code names, unrestricted."""
        comp, bdd = self.compiler, self.compiler.bdd
        layer, prev = self.net.hidden[l], self.codes[l - 1]
        terms = linear_terms(layer) if layer.kind == "linear" else None
        hs: dict[str, object] = {}
        for j, v in enumerate(self.codes[l]):
            h = self._hidden_neuron(layer, terms, j, prev)
            if l == 1 and self._fixed1:
                h = bdd.let(self._fixed1, h)
            hs[v] = h
            self.compiler.check()
        return hs

    def _composed_inputs(self, classes: Sequence[int]) -> object:
        """:meth:`inputs_of` without images: the composed class set related to the inputs through
        the first layer's relation below them (``and_exists``; the relation is functional)."""
        cls = frozenset(int(c) for c in classes)
        above = self._composed_class_set(cls)
        with self.compiler.guard():
            u = self._first_codes_to_inputs(above)
        self._pulled[(0, cls)] = u
        return u

    def _first_codes_to_inputs(self, above) -> object:
        """Region members whose first-layer code is in ``above`` (a set over ``t_1``): the constant
        neurons fixed, ``t_1`` renamed to the scratch variables, related through the relation below
        the inputs (:meth:`_through_first_relation`)."""
        bdd = self.compiler.bdd
        u = bdd.let(self._fixed1, above) if self._fixed1 else above
        if not self._varying1 or u == bdd.false or u == bdd.true:
            return u & self.plan.care
        sc = self.compiler.scratch(len(self._varying1))
        u = bdd.let({t: s for s, (t, _) in zip(sc, self._varying1)}, u)
        return self._through_first_relation(u)

    def class_counts(self) -> tuple[int, ...]:
        """Exact number of region members per class."""
        counter = self.compiler.counter()
        return tuple(
            self.compiler.count_inputs(self.inputs_of([c]), self.plan, counter)
            for c in range(self.net.n_classes)
        )

    # --- codes ---------------------------------------------------------------------

    def joint_relation(self, layers: Sequence[int]) -> object:
        """``J(t_{l1}, ..., t_{lk}, x)``: region members related to the codes of ``layers``.

        Every other hidden layer's variables are quantified away; the deepest
        requested layer's code lies on top.
        """
        req = sorted({int(l) for l in layers})
        L = len(self.net.hidden)
        if not req or req[0] < 1 or req[-1] > L:
            raise UsageError(f"layers: must be hidden layers between 1 and {L}, got {list(layers)}")
        comp = self.compiler
        J = self.relation(1)
        with comp.guard():
            for l in range(2, req[-1] + 1):
                if (l - 1) in req:
                    J = J & self.relation(l)
                else:
                    J = cudd.and_exists(J, self.relation(l), self.codes[l - 2])
        return J

    def iter_joint_counts(
        self,
        layers: Sequence[int],
        *,
        with_class: bool = False,
        partition: Sequence[object] | None = None,
        method: str = "auto",
    ) -> Iterator[tuple[tuple[int, ...], int]]:
        """Exact counts of region members per reachable key, only reachable keys.

        The key is the code of each layer in ``layers`` (given order; a Python
        int with bit j = neuron j), then the class if ``with_class``, then the
        index of the ``partition`` block (BDDs over the inputs, e.g. another
        network's class sets) if given.

        Two exact methods: when the first layer reaches at most
        ``NUMERIC_CODE_LIMIT`` codes, each reachable first-layer code is
        found with its exact count by output splitting (``C ∧ g_j`` /
        ``C ∧ ¬g_j`` down the neurons, counting each leaf), and deeper codes
        and classes follow by integer evaluation of those codes (the argmax
        by :func:`bnnverify.encoders.layers.beats`); otherwise the codes of the
        requested layers are put above the inputs (:meth:`joint_relation`)
        and each reachable key's sub-BDD is counted. ``method``: ``"auto"``,
        ``"numeric"`` or ``"paths"``.
        """
        if self.compiler.reordering:
            raise UsageError("per-code counts need a fixed variable order (reordering is on)")
        layers = [int(l) for l in layers]
        L = len(self.net.hidden)
        if not layers or min(layers) < 1 or max(layers) > L:
            raise UsageError(f"layers: must be hidden layers between 1 and {L}, got {layers}")
        if method not in ("auto", "numeric", "paths"):
            raise UsageError(f"method: one of auto, numeric, paths; got {method!r}")
        if method == "auto":
            method = "numeric" if self.first_layer_codes() <= NUMERIC_CODE_LIMIT else "paths"
        if method == "numeric":
            yield from self._joint_counts_numeric(layers, with_class, partition)
        else:
            yield from self._joint_counts_paths(layers, with_class, partition)

    def first_layer_codes(self) -> int:
        """Exact number of reachable codes of the first hidden layer."""
        return self.reachable_codes(1)

    def reachable_codes(self, layer: int) -> int:
        """Exact number of codes of hidden ``layer`` (1-based) reached from the region."""
        L = len(self.net.hidden)
        if not 1 <= layer <= L:
            raise UsageError(f"layer: must be between 1 and {L}, got {layer}")
        comp = self.compiler
        lv = [comp.level(v) for v in self.codes[layer - 1]]
        return exact_count(self.images[layer - 1], min(lv), max(lv) + 1)

    def iter_first_layer_counts(self, care=None, *, small_leaf: int = SMALL_LEAF) -> Iterator[tuple[int, int]]:
        """``(code, count)`` of every reachable first-layer code over ``care`` (default: the region).

        Output splitting: ``C ∧ g_j`` and ``C ∧ ¬g_j`` down the varying
        neurons (the constant ones are fixed bits of every code); each leaf is
        the set of inputs with that code, counted exactly. A set ``C`` with at
        most ``small_leaf`` members (CUDD's floating count is only the trigger)
        is finished by listing its members and evaluating the remaining
        neurons on them with integers, one input each. A code may be yielded
        more than once (callers add the counts).
        """
        comp = self.compiler
        bdd = comp.bdd
        if care is None:
            care = self.plan.care
        index = {v: j for j, v in enumerate(self.codes[0])}
        base = sum(1 << index[t] for t, on in self._fixed1.items() if on)
        varying = [(index[t], g) for t, g in self._varying1]
        counter = comp.counter()
        false_id = int(bdd.false)
        n_fixed = self.plan.n_fixed
        low_mask = (1 << n_fixed) - 1
        m = len(varying)
        free = list(self.plan.free)
        free_names = [comp.input_names[i] for i in free]
        use_small = small_leaf > 0 and 0 < len(free) <= FLOAT_COUNT_MAX_VARS
        layer = self.net.hidden[0]
        stack = [(0, care, base)]
        with comp.guard():
            while stack:
                p, C, code = stack.pop()
                if int(C) == false_id:
                    continue
                if p == m:
                    c = counter.count(C)
                    if c & low_mask:
                        raise InternalError("internal error: a count over free bits is not a multiple of 2^fixed")
                    yield code, c >> n_fixed
                    continue
                if use_small and bdd.count(C, len(free)) <= small_leaf:
                    rows = list(bdd.pick_iter(C, care_vars=set(free_names)))
                    X = np.broadcast_to(self.plan.values, (len(rows), comp.n)).copy()
                    for r, a in enumerate(rows):
                        X[r, free] = [a[v] for v in free_names]
                    js = [j for j, _ in varying[p:]]
                    fires = numpy_layer(layer, X)[:, js].astype(np.uint8)
                    leaf: dict[int, int] = {}
                    for row in map(bytes, np.packbits(fires, axis=1, bitorder="little")):
                        leaf[row] = leaf.get(row, 0) + 1
                    for row, n in leaf.items():
                        bits = int.from_bytes(row, "little")
                        extra = 0
                        for i, j in enumerate(js):
                            if (bits >> i) & 1:
                                extra |= 1 << j
                        yield code | extra, n
                    continue
                j, g = varying[p]
                stack.append((p + 1, C & ~g, code))
                stack.append((p + 1, C & g, code | (1 << j)))

    def _joint_counts_numeric(self, layers, with_class, partition):
        net = self.net
        blocks = [((), None)] if partition is None else [((i,), X) for i, X in enumerate(partition)]
        for pkey, X in blocks:
            care = self.plan.care
            if X is not None:
                with self.compiler.guard():
                    care = care & X
            merged: dict[int, int] = {}
            for c, n in self.iter_first_layer_counts(care):
                merged[c] = merged.get(c, 0) + n
            pairs = list(merged.items())
            out: dict[tuple[int, ...], int] = {}
            for start in range(0, len(pairs), NUMERIC_CHUNK):
                chunk = pairs[start : start + NUMERIC_CHUNK]
                bits = _ints_to_bits([c for c, _ in chunk], net.hidden[0].n_outputs)
                per_layer = {1: [c for c, _ in chunk]}
                cur = bits
                for li in range(1, max(max(layers), len(net.hidden) if with_class else 0)):
                    h = net.hidden[li]
                    cur = numpy_layer(h, cur).astype(np.uint8)
                    if (li + 1) in layers:
                        per_layer[li + 1] = _bits_to_ints(cur)
                if with_class:
                    classes = _classes_of(net.output, cur).tolist()
                for r, (_, n) in enumerate(chunk):
                    key = tuple(per_layer[l][r] for l in layers)
                    if with_class:
                        key += (int(classes[r]),)
                    key += pkey
                    out[key] = out.get(key, 0) + n
            yield from out.items()

    def _joint_counts_paths(self, layers, with_class, partition):
        comp = self.compiler
        J = self.joint_relation(layers)
        top = max(layers)
        sel_levels: list[tuple[int, int, int]] = []  # (level, layer, neuron)
        for l in sorted(set(layers)):
            for j, v in enumerate(self.codes[l - 1]):
                sel_levels.append((comp.level(v), l, j))
        sel_levels.sort()
        levels = [s[0] for s in sel_levels]
        counter = comp.counter()
        class_blocks: list[tuple[tuple[int, ...], object]]
        if with_class:
            class_blocks = [((c,), self.classes_at(top, [c])) for c in range(self.net.n_classes)]
        else:
            class_blocks = [((), None)]
        part_blocks: list[tuple[tuple[int, ...], object]] = (
            [((i,), p) for i, p in enumerate(partition)] if partition is not None else [((), None)]
        )
        for ckey, P in class_blocks:
            with comp.guard():
                Jc = J if P is None else J & P
            if Jc == comp.bdd.false:
                continue
            for pkey, X in part_blocks:
                with comp.guard():
                    Jcp = Jc if X is None else Jc & X
                for bits, rest in iter_level_paths(Jcp, levels):
                    codes = {l: 0 for l in layers}
                    for (lv, l, j), b in zip(sel_levels, bits):
                        if b:
                            codes[l] |= 1 << j
                    cnt = comp.count_inputs(rest, self.plan, counter)
                    if cnt:
                        yield tuple(codes[l] for l in layers) + ckey + pkey, cnt

    def code_counts(self, layer: int) -> dict[int, int]:
        """Exact number of region members per reachable code of hidden ``layer`` (1-based)."""
        return {k[0]: v for k, v in self.iter_joint_counts([layer])}

    def witness(self, classes: Sequence[int]) -> np.ndarray | None:
        """A region member whose class is in ``classes`` (full bit vector), or None."""
        return self.compiler.pick_input(self.inputs_of(classes), self.plan)
