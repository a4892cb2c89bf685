"""BNNs and regions into CNF (PySAT), exactly: the formula's models are the executions.

One :class:`~pysat.formula.IDPool` per formula: input ``i`` (0-based) is
variable ``i + 1``; then every hidden code variable, network by network and
layer by layer; then auxiliaries (counter outputs, class literals, ...). So
a model decodes to the input bits and the hidden codes, and the projection
set of an export is exactly ``1..n``.

* A hidden neuron is ``code <-> (agreement count >= t)`` in both directions
  (``bnnverify.encoders.cardinality_cnf``). Before anything is encoded, constants are
  folded: inputs the region fixes and codes that cannot change in the region
  are constants, a neuron whose count stays on one side of its threshold for
  every member becomes a unit clause, and its constant is folded into the
  next layer.
* Regions: a cube is unit clauses; a Hamming ball lives on the *one* copy of
  the inputs: the flips are input literals (``x_i`` if the centre bit is 0,
  ``-x_i`` otherwise) under one at-most-k, non-mutable bits are units; an L∞
  box over thermometer features is units plus ``b_{j+1} -> b_j`` chains.
* Ball-aware first layer (default on Hamming balls): relative to the centre,
  a first-layer neuron's agreement count is ``A0 + F - 2C`` (on at the
  centre; ``A0 - F + 2C`` if off), where ``F`` is the number of flips and
  ``C`` the flips on the neuron's *critical side* (agreeing inputs for an on
  neuron, disagreeing for an off one). So the neuron leaves its centre value
  iff ``2C - F >= g`` (its margin), decided from one shared flip counter
  ``F`` (capped at k+1, its top output is the ball) and a counter of ``C``
  capped at k: about 2(k+1) clauses per neuron besides its counter.
  Two families of *implied* clauses link each neuron's counter to the shared
  one: ``C >= c -> F >= c`` (its flips are among the ball's) and "changed ->
  ``C >= g``" (from ``2C - F >= g`` and ``C <= F``). They add no model and
  remove none; without them the solver does not see that few flips mean few
  critical flips. Measured (``benchmarks/results/sat_scale_links.md``:
  784-100-10, one formula for radius 12 around instance_ID8149, glucose4,
  radius by assumption, load ~7): without them radius 1 took 31–58 s and radius 2 ran out
  of 60 s; with them radii 1–10 were proved in under a second together.
* The argmax layer exactly: exact unary counters of each class's agreement
  count; for each pair c < d a literal ``p <-> c beats d``, defined value by
  value of ``A_c`` from the set of ``A_d`` where c wins, as decided by
  :func:`bnnverify.encoders.layers.beats` on the integer dot products (float64 score,
  ties to the lower index); ``class = c <-> AND_d (c beats d)``.

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import Whole
>>> h = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([2, 0]))
>>> o = ArgmaxLayer(np.array([[1, 1], [-1, -1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> f = class_formula(BNN((h,), o), Whole(2), [1])
>>> f.input_vars, f.networks[0].codes
((1, 2), ((3, 4),))
>>> "c ind 1 2 0" in f.to_dimacs()
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from pysat.card import CardEnc, EncType
from pysat.formula import IDPool

from .cardinality_cnf import (
    ClauseSink,
    atmost,
    reified_atleast,
    resolve_encoding,
    unary_counter,
)
from .errors import DeadlineExceeded, ModelError, RegionError, UsageError
from .conv_layers import linear_view
from .sparse_linear import linear_terms
from .layers import BNN, ArgmaxLayer, beats
from .regions import Cube, HammingBall, LevelBox, LevelL0, LinfBox, Region, Whole

__all__ = [
    "NetworkVars",
    "CnfFormula",
    "encode",
    "class_formula",
    "disagreement_formula",
    "dimacs",
]

#: Marks a layer input that is a variable (not a folded constant).
_VAR = -1

#: The one-directional pair constraints of a focused argmax (``p -> sum >= t``): PySAT's cardinality
#: network (Asín et al. 2011, arc-consistent), measured on 480 literals at bound 240: 26,876 clauses
#: (seqcounter 115,200, totalizer 119,249; this module's exact totalizer both ways ~178,000).
IMPLIED_PAIR_ENCODING = "cardnetwrk"

#: ``linear`` rows are folded in blocks of about this many terms (int64 temporaries: 8 MB each).
_FOLD_BLOCK_TERMS = 1 << 20


@dataclass(frozen=True)
class NetworkVars:
    """Where one network lives in a formula.

    ``codes[l][j]`` is the variable of hidden layer ``l``'s neuron ``j``;
    ``constants[l][j]`` is its folded value (0/1) or -1 if it varies in the
    region; ``class_lits[c]`` is a literal true iff the class is ``c``;
    ``pair_lits[c][d]`` (c < d) is true iff class c beats class d.
    """

    codes: tuple[tuple[int, ...], ...]
    constants: tuple[tuple[int, ...], ...]
    class_lits: tuple[int, ...]
    pair_lits: tuple[tuple[int, ...], ...] = ()

    def beats_lit(self, c: int, d: int) -> int:
        """A literal true iff class ``c`` beats class ``d`` (``c != d``): higher
        score, or equal score and ``c < d``."""
        if c == d:
            raise UsageError("beats_lit: c and d must differ")
        return self.pair_lits[c][d] if c < d else -self.pair_lits[d][c]


@dataclass(eq=False)
class CnfFormula:
    """A built formula: clauses (and native at-most constraints) over one pool.

    ``radius_lits[r]`` (ball-aware Hamming balls) is a literal meaning "at most
    ``r`` flips"; assume it to restrict the ball to radius ``r``.
    """

    pool: IDPool
    clauses: list[list[int]]
    atmosts: list[tuple[list[int], int]]
    n_inputs: int
    networks: tuple[NetworkVars, ...]
    encoding: str
    ball_aware: bool
    true_lit: int
    radius_lits: tuple[int, ...] = ()

    @property
    def input_vars(self) -> tuple[int, ...]:
        return tuple(range(1, self.n_inputs + 1))

    @property
    def n_vars(self) -> int:
        return int(self.pool.top)

    @property
    def n_clauses(self) -> int:
        return len(self.clauses) + len(self.atmosts)

    def add_clause(self, clause: Sequence[int]) -> None:
        """Add a clause (constants simplified as in :class:`ClauseSink`)."""
        t = self.true_lit
        if any(l == t for l in clause):
            return
        out = [int(l) for l in clause if l != -t]
        self.clauses.append(out if out else [-t])

    def new_var(self) -> int:
        return self.pool.id()

    def decode_inputs(self, model: np.ndarray, default: np.ndarray | None = None) -> np.ndarray:
        """The input bits of a model (variables missing from it take ``default``)."""
        return self._values(model, self.input_vars, default)

    def decode_codes(self, model: np.ndarray, net: int = 0) -> list[np.ndarray]:
        """Every hidden layer's code bits of network ``net`` in a model."""
        return [self._values(model, layer, None) for layer in self.networks[net].codes]

    @staticmethod
    def _values(model: np.ndarray, variables: Sequence[int], default: np.ndarray | None) -> np.ndarray:
        m = np.asarray(model, dtype=np.int64)
        v = np.asarray(variables, dtype=np.int64)
        out = np.zeros(len(v), dtype=np.uint8) if default is None else np.array(default, dtype=np.uint8)
        ok = v <= len(m)
        out[ok] = (m[v[ok] - 1] > 0).astype(np.uint8)
        return out

    def to_dimacs(self, projection: bool = True, comments: Sequence[str] = ()) -> str:
        """DIMACS text; with ``projection``, ``c ind``/``c p show`` lines on the inputs."""
        return dimacs(self, projection=projection, comments=comments)


def dimacs(formula: CnfFormula, projection: bool = True, comments: Sequence[str] = ()) -> str:
    """The formula as DIMACS CNF (native at-most constraints are not expressible)."""
    if formula.atmosts:
        raise ModelError(
            "encoding 'native' keeps at-most constraints that DIMACS CNF cannot hold; "
            "export with a clausal encoding"
        )
    lines = [f"c {c}" for c in comments]
    lines.append(f"p cnf {formula.n_vars} {len(formula.clauses)}")
    if projection:
        ind = " ".join(map(str, formula.input_vars))
        lines.append("c t pmc")
        lines.append(f"c ind {ind} 0")
        lines.append(f"c p show {ind} 0")
    lines.extend(" ".join(map(str, c)) + " 0" for c in formula.clauses)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# building


class _Builder:
    def __init__(self, n: int, nets: Sequence[BNN], encoding: str, deadline: float | None = None,
                 ball_links: bool = True) -> None:
        self.n = n
        self.ball_links = ball_links
        self.encoding = encoding
        self.deadline = deadline
        self.pool = IDPool()
        self.inputs = [self.pool.id(("x", i)) for i in range(n)]
        self.code_vars = [
            [[self.pool.id(("h", q, l, j)) for j in range(layer.n_outputs)] for l, layer in enumerate(net.hidden)]
            for q, net in enumerate(nets)
        ]
        self.sink = ClauseSink(self.pool)
        self.T = self.sink.true_lit

    def tick(self) -> None:
        """Raise :class:`DeadlineExceeded` once the deadline (``time.perf_counter``) has passed."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise DeadlineExceeded(
                f"time limit ran out while encoding ({self.sink_size()} clauses built so far)"
            )

    def sink_size(self) -> int:
        return len(self.sink.clauses)

    # -- literal helpers -------------------------------------------------------
    @staticmethod
    def _ge(outs: list[int], T: int, a: int) -> int:
        """Literal for ``count >= a`` from exact unary outputs."""
        if a <= 0:
            return T
        if a > len(outs):
            return -T
        return outs[a - 1]

    # -- regions -----------------------------------------------------------------
    def region(self, region: Region, ball_aware: bool, radius_cap: int | None):
        """Constrain the inputs; returns (input constants, ball info or None)."""
        n = self.n
        vals = np.full(n, _VAR, dtype=np.int64)
        add = self.sink.add
        ball = None
        if isinstance(region, Whole):
            pass
        elif isinstance(region, Cube):
            for i in np.flatnonzero(region.fixed_mask):
                vals[i] = int(region.values[i])
        elif isinstance(region, HammingBall):
            x = region.center.astype(np.int64)
            mut = np.zeros(n, dtype=bool)
            mut[region.mutable_indices] = True
            vals[~mut] = x[~mut]
            R = region.radius if radius_cap is None else max(region.radius, int(radius_cap))
            R = min(R, int(mut.sum()))
            flips = {int(i): (self.inputs[i] if x[i] == 0 else -self.inputs[i]) for i in np.flatnonzero(mut)}
            if R == 0:
                vals[:] = x
            ball = {"center": x, "mutable": mut, "R": R, "flips": flips, "radius": min(region.radius, R)}
            if ball_aware and R > 0:
                F = unary_counter(self.sink, list(flips.values()), R + 1)
                ball["F"] = F
                if len(F) > R:
                    add([-F[R]])
                ball["radius_lits"] = tuple(-self._ge(F, self.T, r + 1) for r in range(R + 1))
                if region.radius < R:
                    add([ball["radius_lits"][region.radius]])
            elif R > 0:
                atmost(self.sink, list(flips.values()), region.radius, self.encoding)
        elif isinstance(region, (LinfBox, LevelBox, LevelL0)):
            L = region.levels
            lo, hi = region.bounds
            if isinstance(region, LevelL0):
                self._at_most_changed(region)
            for f in range(n // L):
                for j in range(L):
                    i = f * L + j
                    if j < lo[f]:
                        vals[i] = 1
                    elif j >= hi[f]:
                        vals[i] = 0
                for j in range(int(lo[f]), int(hi[f]) - 1):  # free bits: b_{j+1} -> b_j
                    i = f * L + j
                    add([-self.inputs[i + 1], self.inputs[i]])
        else:
            raise RegionError(f"region kind {getattr(region, 'kind', type(region).__name__)!r} has no CNF encoding")
        for i in np.flatnonzero(vals != _VAR):
            add([self.inputs[i] if vals[i] else -self.inputs[i]])
        return vals, ball

    def _at_most_changed(self, region: LevelL0) -> None:
        """At most ``k`` thermometer features off their centre level ``c``: feature f is off iff
        bit c-1 is 0 or bit c is 1 (valid codes); ``d_f <-> (-b_{c-1} or b_c)``, then at most k ``d_f``."""
        L = region.levels
        lo, hi = region.bounds
        add = self.sink.add
        ds = []
        for f, c in enumerate(region.center_levels.tolist()):
            parts = []
            if c - 1 >= int(lo[f]):
                parts.append(-self.inputs[f * L + c - 1])
            if c < int(hi[f]):
                parts.append(self.inputs[f * L + c])
            if not parts:
                continue
            d = self.sink.new_var()
            add([-d, *parts])
            for q in parts:
                add([d, -q])
            ds.append(d)
        atmost(self.sink, ds, region.k, self.encoding)

    # -- hidden layers ---------------------------------------------------------------
    def linear_layer(self, layer, in_lits: list[int], in_vals: np.ndarray, out_vars: list[int]) -> np.ndarray:
        """Encode a ``linear`` layer (``C . x >= b`` over 0/1 bits); returns its output constants.

        Constants are folded; a coefficient ``c < 0`` on ``x`` is ``|c|`` copies of ``-x``
        (``c x = |c| (1 - x) - |c|``), a coefficient ``|c| > 1`` is ``|c|`` copies of the literal,
        so a row is a cardinality constraint over a multiset of literals. Rows with repeated
        literals use the exact ``unary`` totalizer (it counts positions, so repeats are exact);
        rows of ±1 use the chosen encoding. Rejected: PySAT's PB encodings (they need the
        ``pypblib`` extension, which is not a dependency); feeding each order-encoded chain to
        the totalizer as a ready unary number (no clauses for the leaves) — measured on a
        16-pixel integer-threshold model over 0..255 (load ~5): L∞ 30 5.9 s vs 3.6 s, L∞ 60
        15.3 s vs 14.3 s, an L0 8 question no faster: the capped top merges dominate.
        """
        index, coef = linear_terms(layer)
        vals = np.append(np.asarray(in_vals, dtype=np.int64), 0)  # the padding index reads a constant 0
        lit_of = np.append(np.asarray(in_lits, dtype=np.int64), 0)
        out = np.full(len(out_vars), _VAR, dtype=np.int64)
        add = self.sink.add
        m = len(out_vars)
        step = max(1, _FOLD_BLOCK_TERMS // max(1, index.shape[1]))
        for s0 in range(0, m, step):
            # constants folded for a block of rows at once: each row's bound after its constant
            # inputs, shifted by its negative coefficients (c x = |c| (1 - x) - |c|), against the
            # number of literal copies: on when t <= 0, off when t > copies
            ix, cf = index[s0:s0 + step], coef[s0:s0 + step]
            v = vals[ix]
            var = (v == _VAR) & (cf != 0)
            t = layer.bounds[s0:s0 + step] - np.where(var, 0, cf * v).sum(axis=1)
            t = t + np.where(var & (cf < 0), -cf, 0).sum(axis=1)
            copies = np.where(var, np.abs(cf), 0).sum(axis=1)
            for r in range(len(t)):
                j = s0 + r
                y = out_vars[j]
                self.tick()
                tj = int(t[r])
                if tj <= 0 or tj > int(copies[r]):
                    out[j] = int(tj <= 0)
                    add([y] if out[j] else [-y])
                    continue
                keep = var[r]
                c = cf[r][keep]
                lits_r = np.where(c > 0, lit_of[ix[r][keep]], -lit_of[ix[r][keep]])
                if (np.abs(c) > 1).any():
                    lits = np.repeat(lits_r, np.abs(c)).tolist()
                    reified_atleast(self.sink, y, lits, tj, "unary")
                else:
                    reified_atleast(self.sink, y, lits_r.tolist(), tj, self.encoding)
        return out

    def generic_layer(self, layer, in_lits: list[int], in_vals: np.ndarray, out_vars: list[int], ball) -> np.ndarray:
        """Encode a threshold layer generically; returns its output constants (-1 = variable)."""
        W = layer.weights.astype(np.int64)
        m_in = W.shape[1]
        t_all = -((-(layer.thresholds.astype(np.int64) + m_in)) // 2)  # A >= t  <->  dot >= theta
        var_idx = np.flatnonzero(in_vals == _VAR)
        const_idx = np.flatnonzero(in_vals != _VAR)
        out = np.full(len(out_vars), _VAR, dtype=np.int64)
        add = self.sink.add
        for j, y in enumerate(out_vars):
            self.tick()
            w = W[j]
            agree_const = int(((w[const_idx] == 1) == (in_vals[const_idx] == 1)).sum())
            t = int(t_all[j]) - agree_const
            if ball is not None:  # first layer on a Hamming ball: at most R flips
                x, R = ball["center"], ball["R"]
                agree_c = (w[var_idx] == 1) == (x[var_idx] == 1)
                a0 = int(agree_c.sum())
                lo, hi = a0 - min(R, a0), a0 + min(R, len(var_idx) - a0)
            else:
                lo, hi = 0, len(var_idx)
            if lo >= t:
                out[j] = 1
            elif hi < t:
                out[j] = 0
            else:
                lits = [in_lits[i] if w[i] == 1 else -in_lits[i] for i in var_idx]
                reified_atleast(self.sink, y, lits, t, self.encoding)
                continue
            add([y] if out[j] else [-y])
        return out

    def ball_layer(self, layer, out_vars: list[int], ball) -> np.ndarray:
        """First layer on a Hamming ball, encoded relative to the centre (see module doc)."""
        W = layer.weights.astype(np.int64)
        n = W.shape[1]
        x, mut, R, flips, F = ball["center"], ball["mutable"], ball["R"], ball["flips"], ball["F"]
        t_all = -((-(layer.thresholds.astype(np.int64) + n)) // 2)
        agree = (W == 1) == (x[None, :] == 1)
        A0 = agree.sum(axis=1)
        mut_idx = np.flatnonzero(mut)
        T = self.T
        add = self.sink.add
        ge = self._ge
        out = np.full(len(out_vars), _VAR, dtype=np.int64)
        for j, y in enumerate(out_vars):
            self.tick()
            t, a0 = int(t_all[j]), int(A0[j])
            on = a0 >= t
            crit = mut_idx[agree[j, mut_idx] == on]
            g = a0 - t + 1 if on else t - a0
            if g > min(R, len(crit)):
                out[j] = int(on)
                add([y] if on else [-y])
                continue
            # outputs needed: C >= ceil((g + f) / 2) for f <= R
            C = unary_counter(self.sink, [flips[int(i)] for i in crit], min(len(crit), (g + R + 1) // 2))
            z = -y if on else y  # z: the neuron differs from its centre value
            if self.ball_links:
                for c in range(1, min(len(C), len(F)) + 1):  # C counts a subset of F's flips: C <= F
                    add([-C[c - 1], F[c - 1]])
                add([-z, ge(C, T, g)])  # 2C - F >= g and C <= F give C >= g
            for f in range(R + 1):
                c = (g + f + 1) // 2
                add([-z, -ge(F, T, f), ge(C, T, c)])
                add([z, ge(F, T, f + 1), -ge(C, T, c)])
        return out

    # -- argmax ----------------------------------------------------------------------
    def argmax(self, out: ArgmaxLayer, in_lits: list[int], in_vals: np.ndarray,
               focus: tuple[int, bool] | None = None):
        """Class and pair literals. ``focus=(c, want)``: only the pairs with class ``c``, each in the
        one direction that asserting "class is c" (``want``) or "class is not c" needs; then
        ``class_lits[c]`` (asserted true, resp. false) implies that, and every other class literal
        and pair literal is 0 (not built). Equisatisfiable, with the same input and hidden-code
        models: the inputs decide every hidden code, and a pair literal can be true iff its
        constraint holds.

        A pair whose outcome is, over every reachable pair of counts, a threshold on the difference
        of the two classes' agreement counts (equal scales with exact or harmless rounding: the
        common case) is one cardinality constraint over the inputs where the two rows differ
        (:meth:`_difference_literal`); the others are decided value by value from exact unary
        counters of each class's count, built only for the classes that need them. Measured on
        the 48x48x3 benchmark network at L∞ 1 (959 varying inputs, 43 classes): exact counters
        of all classes and all 903 pairs, 45 million clauses (8 GB) in 173 s.
        """
        W = out.weights.astype(np.int64)
        m = W.shape[1]
        T = self.T
        add = self.sink.add
        ge = self._ge
        var_idx = np.flatnonzero(in_vals == _VAR)
        const_idx = np.flatnonzero(in_vals != _VAR)
        base = [int(((W[c][const_idx] == 1) == (in_vals[const_idx] == 1)).sum()) for c in range(out.n_classes)]
        counters: dict[int, list[int]] = {}
        k = len(var_idx)

        def lit_ge(c: int, a: int) -> int:  # A_c >= a
            if c not in counters:
                self.tick()
                w = W[c]
                counters[c] = unary_counter(self.sink, [in_lits[i] if w[i] == 1 else -in_lits[i] for i in var_idx], k)
            return ge(counters[c], T, a - base[c])

        def diff_lits(c: int, d: int) -> list[int]:  # agreement with row c where rows c and d differ
            w = W[c]
            return [in_lits[i] if w[i] == 1 else -in_lits[i] for i in var_idx[W[c][var_idx] != W[d][var_idx]]]

        nc = out.n_classes
        if focus is not None:
            # asserting "class is c" needs q_d -> c beats d for every d; "class is not c" needs
            # q_d -> d beats c and one clause (v or OR_d q_d), v asserted false
            c0, want = focus
            qs = []
            for d in range(nc):
                if d == c0:
                    continue
                self.tick()
                lo, hi = min(c0, d), max(c0, d)
                sign = (1 if lo == c0 else -1) * (1 if want else -1)  # +1: q -> lo beats hi
                qs.append(self._beats_literal(out, lo, hi, m, base, k, lit_ge, diff_lits, implied=sign))
            class_lits = [0] * nc
            if want:
                class_lits[c0] = self._and(qs)
            else:
                v = self.sink.new_var()
                self.sink.add([v, *qs])
                class_lits[c0] = v
            return tuple(class_lits), tuple(tuple(0 for _ in range(nc)) for _ in range(nc))
        pair: dict[tuple[int, int], int] = {}
        for c in range(nc):
            for d in range(c + 1, nc):
                self.tick()
                pair[(c, d)] = self._beats_literal(out, c, d, m, base, k, lit_ge, diff_lits)
        class_lits = [self._and([pair[(c, d)] if c < d else -pair[(d, c)] for d in range(nc) if d != c])
                      for c in range(nc)]
        pairs = tuple(tuple(pair.get((c, d), 0) for d in range(nc)) for c in range(nc))
        return tuple(class_lits), pairs

    def _and(self, ps: list[int]) -> int:
        """A literal for the conjunction of ``ps`` (constants folded)."""
        T = self.T
        if all(p == T for p in ps):
            return T
        if any(p == -T for p in ps):
            return -T
        v = self.sink.new_var()
        for p in ps:
            self.sink.add([-v, p])
        self.sink.add([v] + [-p for p in ps])
        return v

    @staticmethod
    def _difference_threshold(win: np.ndarray) -> tuple[bool, int] | None:
        """When ``win[ia, ib]`` (over c's and d's agreement counts on the varying inputs) depends only
        on ``ia - ib`` through a threshold: ``(True, delta0)`` for ``win <-> ia - ib >= delta0``,
        ``(False, delta0)`` for ``win <-> not (ia - ib >= delta0)``; else None. Where rows c and d
        agree an input adds to both counts, so ``ia - ib = 2a - |D|`` with ``a`` the agreements with
        row c over the inputs D where the rows differ: one cardinality constraint over D."""
        k = win.shape[0] - 1
        diag = (np.arange(k + 1)[:, None] - np.arange(k + 1)[None, :] + k).ravel()
        length = np.bincount(diag, minlength=2 * k + 1)
        wins = np.bincount(diag, weights=win.ravel().astype(np.float64), minlength=2 * k + 1).astype(np.int64)
        if not ((wins == 0) | (wins == length)).all():
            return None
        v = (wins == length).astype(np.int8)  # win at difference delta = index - k
        if (np.diff(v) >= 0).all():
            return True, int(np.flatnonzero(v)[0]) - k
        if (np.diff(v) <= 0).all():
            return False, int(np.flatnonzero(v == 0)[0]) - k
        return None

    def _difference_literal(self, win: np.ndarray, lits_of, implied: int | None) -> int | None:
        """``p <-> win`` (``implied=None``), ``p -> win`` (+1) or ``p -> not win`` (-1) as one
        cardinality constraint (:meth:`_difference_threshold`), or None. The implications use
        :data:`IMPLIED_PAIR_ENCODING` (one direction only)."""
        got = self._difference_threshold(win)
        if got is None:
            return None
        up, delta0 = got
        lits = lits_of()
        D = len(lits)
        t = -((-(delta0 + D)) // 2)  # win (up) <-> a >= ceil((delta0 + D) / 2)
        T = self.T
        sign = 1 if up else -1  # win <-> sign * [a >= t]
        if t <= 0 or t > D:  # constant over the reachable counts
            q = (sign if t <= 0 else -sign) * T
            return q if implied is None else q * implied
        p = self.sink.new_var()
        if implied is None:
            reified_atleast(self.sink, sign * p, lits, t, self.encoding)
            return p
        etype = getattr(EncType, IMPLIED_PAIR_ENCODING)
        if sign * implied > 0:  # p -> a >= t
            cls = CardEnc.atleast(lits=lits, bound=t, vpool=self.sink.pool, encoding=etype).clauses
        else:  # p -> a <= t - 1
            cls = CardEnc.atmost(lits=lits, bound=t - 1, vpool=self.sink.pool, encoding=etype).clauses
        for cl in cls:
            self.sink.clauses.append(cl + [-p])
        return p

    def _beats_literal(self, out, c, d, m, base, k, lit_ge, diff_lits=None, implied: int | None = None) -> int:
        """A literal ``p <-> class c beats class d`` (c < d), or a constant; ``implied=+1``: only
        ``p -> c beats d``, ``-1``: only ``p -> d beats c`` (what asserting one class needs)."""
        T = self.T
        a_vals = base[c] + np.arange(k + 1, dtype=np.int64)
        b_vals = base[d] + np.arange(k + 1, dtype=np.int64)
        sc = np.float64(out.scale[c]) * (2 * a_vals - m).astype(np.float64) + np.float64(out.bias[c])
        sd = np.float64(out.scale[d]) * (2 * b_vals - m).astype(np.float64) + np.float64(out.bias[d])
        win = (sc[:, None] > sd[None, :]) | (sc[:, None] == sd[None, :])  # c < d: ties go to c
        # the comparison is the evaluator's rule: confirm it with `beats` where the rows change
        for ia in range(k + 1):
            row = win[ia]
            cols = {0, k} | set((np.flatnonzero(row[1:] != row[:-1]) + np.array([[0], [1]])).ravel().tolist())
            for ib in cols:
                if bool(row[ib]) != beats(out, c, d, int(2 * a_vals[ia] - m), int(2 * b_vals[ib] - m)):
                    raise ModelError(f"output: score comparison of classes {c}, {d} is not reproducible")
        if win.all() or not win.any():
            p = T if win.all() else -T
            return p if implied is None else p * implied
        if diff_lits is not None:
            q = self._difference_literal(win, lambda: diff_lits(c, d), implied)
            if q is not None:
                return q
        if implied is not None:
            return implied * self._beats_literal(out, c, d, m, base, k, lit_ge)
        p = self.sink.new_var()
        add = self.sink.add
        for ia, a in enumerate(a_vals.tolist()):
            row = win[ia]
            is_a = [-lit_ge(c, a), lit_ge(c, a + 1)]  # clause part for "A_c != a"
            idx = np.flatnonzero(row)
            if len(idx) == 0:
                add([-p] + is_a)
            elif len(idx) == k + 1:
                add([p] + is_a)
            else:
                b1, b2 = int(b_vals[idx[0]]), int(b_vals[idx[-1]])
                if len(idx) != idx[-1] - idx[0] + 1:
                    raise ModelError(f"output: winning set of class {c} over {d} is not an interval")
                add([-p] + is_a + [lit_ge(d, b1)])
                add([-p] + is_a + [-lit_ge(d, b2 + 1)])
                add([p] + is_a + [-lit_ge(d, b1), lit_ge(d, b2 + 1)])
        return p

    # -- whole network -------------------------------------------------------------
    def network(self, q: int, net: BNN, in_vals: np.ndarray, ball, ball_aware: bool,
                focus: tuple[int, bool] | None = None) -> NetworkVars:
        lits = list(self.inputs)
        vals = in_vals
        consts = []
        for l, layer in enumerate(net.hidden):
            out_vars = self.code_vars[q][l]
            if layer.kind == "linear":
                vals = self.linear_layer(layer, lits, vals, out_vars)
            elif l == 0 and ball is not None and ball_aware and ball["R"] > 0:
                vals = self.ball_layer(layer, out_vars, ball)
            else:
                vals = self.generic_layer(layer, lits, vals, out_vars, ball if l == 0 and ball is not None and ball["R"] > 0 else None)
            lits = out_vars
            consts.append(tuple(int(v) for v in vals))
        class_lits, pair_lits = self.argmax(net.output, lits, vals, focus)
        return NetworkVars(
            codes=tuple(tuple(layer) for layer in self.code_vars[q]),
            constants=tuple(consts),
            class_lits=class_lits,
            pair_lits=pair_lits,
        )


def encode(
    nets: BNN | Sequence[BNN],
    region: Region,
    *,
    encoding: str | None = None,
    ball_aware: bool = True,
    radius_cap: int | None = None,
    deadline: float | None = None,
    focus: tuple[int, bool] | None = None,
    ball_links: bool = True,
) -> CnfFormula:
    """Encode one or more networks (sharing the input variables) over ``region``.

    ``encoding`` names the neuron encoding (:data:`~bnnverify.encoders.cardinality_cnf.ENCODINGS`);
    ``ball_aware`` encodes a Hamming ball's first layer relative to the centre;
    ``radius_cap`` (Hamming balls) builds for radii up to it so that
    ``radius_lits[r]`` can restrict the ball by assumption.
    ``deadline`` (a ``time.perf_counter()`` value) stops a build that runs
    past it with :class:`~bnnverify.encoders.errors.DeadlineExceeded` — formulas of
    large networks can take minutes and gigabytes to build.
    ``focus=(c, want)`` (one network) builds only what asserting "class is c" (``want``) or "class
    is not c" needs: assert ``class_lits[c]``, resp. its negation; every other class literal is 0.
    ``ball_links`` adds the ball-aware first layer's implied clauses (``C <= F``, a changed neuron has
    ``C >= g``; see the module docstring); off only to measure what they bring.
    """
    if isinstance(nets, BNN):
        nets = [nets]
    nets = [linear_view(net) for net in nets]  # conv / maxpool: their exact linear views
    enc = resolve_encoding(encoding)
    n = region.n
    for i, net in enumerate(nets):
        if net.n_inputs != n:
            raise RegionError(f"region has {n} bits, network {i} expects {net.n_inputs} inputs")
    if isinstance(region, LinfBox) and region.levels <= 0:
        raise RegionError("L-infinity box needs thermometer levels")
    b = _Builder(n, nets, enc, deadline, ball_links)
    vals, ball = b.region(region, ball_aware, radius_cap)
    if focus is not None and (len(nets) != 1 or not 0 <= int(focus[0]) < nets[0].n_classes):
        raise UsageError(f"focus: one network and one of its classes, got {focus} for {len(nets)} networks")
    nv = tuple(b.network(q, net, vals, ball, ball_aware, focus) for q, net in enumerate(nets))
    return CnfFormula(
        pool=b.pool,
        clauses=b.sink.clauses,
        atmosts=b.sink.atmosts,
        n_inputs=n,
        networks=nv,
        encoding=enc,
        ball_aware=bool(ball_aware and ball is not None and "F" in ball),
        true_lit=b.T,
        radius_lits=(ball or {}).get("radius_lits", ()),
    )


def class_formula(
    net: BNN,
    region: Region,
    classes: Iterable[int],
    *,
    negate: bool = False,
    encoding: str | None = None,
    ball_aware: bool = True,
    deadline: float | None = None,
) -> CnfFormula:
    """"x in region and class(x) in classes" (``negate``: class not in classes)."""
    classes = sorted({int(c) for c in classes})
    for c in classes:
        if not 0 <= c < net.n_classes:
            raise ModelError(f"class {c} is outside 0..{net.n_classes - 1}")
    chosen = [c for c in range(net.n_classes) if (c in classes) != negate]
    others = [c for c in range(net.n_classes) if c not in chosen]
    # one class or all but one: only that class's pairs are needed ("class is c" / "class is not c")
    focus = (chosen[0], True) if len(chosen) == 1 else (others[0], False) if len(others) == 1 else None
    f = encode(net, region, encoding=encoding, ball_aware=ball_aware, deadline=deadline, focus=focus)
    lits = f.networks[0].class_lits
    if focus is not None:
        f.add_clause([lits[focus[0]] if focus[1] else -lits[focus[0]]])
    else:
        f.add_clause([lits[c] for c in chosen])
    return f


def disagreement_formula(
    net_a: BNN, net_b: BNN, region: Region, *, encoding: str | None = None, ball_aware: bool = True,
    deadline: float | None = None,
) -> CnfFormula:
    """The miter "x in region and class_a(x) != class_b(x)" (shared input variables)."""
    if net_a.n_classes != net_b.n_classes:
        raise ModelError(f"networks have {net_a.n_classes} and {net_b.n_classes} classes")
    f = encode([net_a, net_b], region, encoding=encoding, ball_aware=ball_aware, deadline=deadline)
    la, lb = f.networks[0].class_lits, f.networks[1].class_lits
    for c in range(net_a.n_classes):
        f.add_clause([-la[c], -lb[c]])
    return f
