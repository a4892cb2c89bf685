"""The conformance battery every registered engine must pass, as dd runs one test class per backend.

For an engine name, :func:`check_engine` draws random small networks — the
plain ones of :func:`strategies.networks` and the cross-check's nasty ones
(zero hidden layers, one class, constant layers, overflowing and tied
scores) — and regions of every kind the engine declares, asks every question
the engine declares through :mod:`bnnverify.engines.run` (so the witnesses
are replayed there), and compares each answer with brute force over the
region's members on :mod:`bnnverify.semantics`. It also checks that every
question the engine does *not* declare, and every region kind it does not
take, is refused by name (:class:`~bnnverify.errors.EngineError`), never
answered.

A new engine joins by registering; ``tests/test_conformance.py`` runs this
battery over every name in the registry.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnnverify import semantics
from bnnverify.encoders.regions import HammingBall, Whole
from bnnverify.engines import run
from bnnverify.engines.base import Capability, Limits, Outcome
from bnnverify.engines.policy import choose
from bnnverify.engines.registry import ENGINES
from bnnverify.errors import EngineError
from strategies import conv_networks, lowered_cases, nasty_networks, nasty_regions, networks, regions

#: Examples per capability and engine: half the profile's (30 by default: enough to
#: meet ties, constant layers and every region kind, the whole registry in seconds;
#: ``HYPOTHESIS_PROFILE=thorough`` gives 300).
EXAMPLES = max(1, settings.default.max_examples // 2)

#: The largest input width drawn: regions stay small enough to brute-force on the semantics.
MAX_INPUTS = 7

#: Order-encoded regions (integer features) are brute-forced too: at most this many members.
MAX_LOWERED_MEMBERS = 2000


def members(region) -> list[tuple[int, ...]]:
    return [tuple(int(b) for b in row) for X in region.members() for row in X]


def truth(net, region) -> list[semantics.Trace]:
    return [semantics.forward(net, x) for x in members(region)]


@st.composite
def net_region(draw, engine, two: bool = False, integer: bool = True):
    """A network (or two over the same inputs) and a region the engine takes (``integer``: sometimes
    the order encoding of a network over integer features, when the engine takes ``linear`` layers)."""
    if integer and "linear" in engine.layer_kinds and "linf" in engine.region_kinds and draw(st.integers(0, 3)) == 0:
        # a network over integer features, order-encoded: 'linear' first layer, LevelBox / LevelL0
        _, _, low = draw(lowered_cases(two=two))
        if low.region.kind in engine.region_kinds and low.region.size <= MAX_LOWERED_MEMBERS:
            nets = low.nets
            return (nets[0], nets[1], low.region) if two else (nets[0], low.region)
    if "conv" in engine.layer_kinds and draw(st.integers(0, 3)) == 0:
        # a convolutional network (conv / maxpool layers; the other of a pair is dense)
        net = draw(conv_networks(MAX_INPUTS))
        other = draw(networks(n_inputs=st.just(net.n_inputs), n_hidden=st.integers(1, 2),
                              width=st.integers(1, 4))) if two else None
        kinds = [k for k in ("whole", "cube", "hamming", "hamming_mask") if k.split("_")[0] in engine.region_kinds]
        region = draw(regions(net, kinds=tuple(kinds))) if kinds else Whole(net.n_inputs)
        if region.kind in engine.region_kinds:
            return (net, other, region) if two else (net, region)
    L = draw(st.sampled_from([None, None, 1, 2]))
    kinds = [k for k in ("whole", "cube", "hamming", "linf") if k in engine.region_kinds]
    if L is not None and "linf" not in kinds:
        L = None
    nasty = draw(st.booleans())
    def one(n=None):
        n_in = st.integers(1, MAX_INPUTS) if n is None else st.just(n)
        if nasty:
            return draw(nasty_networks(n_inputs=n_in, thermometer=L))
        return draw(networks(n_inputs=n_in, n_hidden=st.integers(1, 2), width=st.integers(1, 5), thermometer=L))
    net = one()
    other = one(net.n_inputs) if two else None
    if nasty:
        region = draw(nasty_regions(net.n_inputs, L))
    else:
        pick = {"whole": "whole", "cube": "cube", "hamming": "hamming", "linf": "linf"}
        region = draw(regions(net, kinds=tuple(pick[k] for k in kinds) + (("hamming_mask",) if "hamming" in kinds else ())))
    if region.kind not in engine.region_kinds:
        region = HammingBall(np.zeros(net.n_inputs, np.uint8), 1) if "hamming" in engine.region_kinds else Whole(net.n_inputs)
    return (net, other, region) if two else (net, region)


def _settings():
    return settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _limits() -> Limits:
    return Limits()


def refused(engine, net, region, capability) -> bool:
    """Whether the engine declines this network or region (its own ``check``): then the refusal
    must name the engine and be an :class:`EngineError` from the runner, never an answer."""
    s = engine.supports(net, region, capability)
    if s:
        return False
    assert f"engine {engine.name!r}" in s.reason, s.reason
    with pytest.raises(EngineError, match=f"engine {engine.name!r}"):
        choose(capability, net, region, engine.name)
    return True


def check_find_class(name: str) -> None:
    engine = ENGINES.get(name)

    @_settings()
    @given(net_region(engine), st.data())
    def prop(nr, data):
        net, region = nr
        if refused(engine, net, region, Capability.FIND_CLASS):
            return
        classes = data.draw(st.sets(st.integers(0, net.n_classes - 1)))
        ans = run.find_class(net, region, sorted(classes), method=name, limits=_limits())
        assert ans.choice.name == name
        labels = {t.label for t in truth(net, region)}
        s = ans.search
        assert s.outcome in (Outcome.FOUND, Outcome.NONE), s
        assert (s.outcome is Outcome.FOUND) == bool(labels & classes)
        if s.outcome is Outcome.FOUND:
            assert bool(region.contains(s.witness[None, :])[0])
            assert semantics.classify(net, s.witness) == s.claimed and s.claimed in classes

    prop()


def check_class_counts(name: str) -> None:
    engine = ENGINES.get(name)

    @_settings()
    @given(net_region(engine), st.data())
    def prop(nr, data):
        net, region = nr
        if refused(engine, net, region, Capability.CLASS_COUNTS):
            return
        want = sorted(data.draw(st.sets(st.integers(0, net.n_classes - 1))))
        ans = run.class_counts(net, region, want, method=name, limits=_limits())
        got = Counter(t.label for t in truth(net, region))
        assert ans.counts == tuple(got.get(c, 0) for c in range(net.n_classes))
        assert sum(ans.counts) == region.size
        if any(got.get(c, 0) for c in want):
            assert ans.search.outcome is Outcome.FOUND
            assert semantics.classify(net, ans.search.witness) == ans.search.claimed in want
        else:
            assert ans.search.outcome is Outcome.NONE and ans.search.witness is None

    prop()


def check_find_disagreement(name: str) -> None:
    engine = ENGINES.get(name)

    @_settings()
    @given(net_region(engine, two=True))
    def prop(nnr):
        a, b, region = nnr
        if refused(engine, (a, b), region, Capability.FIND_DISAGREEMENT):
            return
        ans = run.find_disagreement(a, b, region, method=name, limits=_limits())
        differ = [x for x in members(region) if semantics.classify(a, x) != semantics.classify(b, x)]
        s = ans.search
        assert s.outcome in (Outcome.FOUND, Outcome.NONE), s
        assert (s.outcome is Outcome.FOUND) == bool(differ)
        if differ:
            ca, cb = s.claimed
            assert ca == semantics.classify(a, s.witness) != semantics.classify(b, s.witness) == cb

    prop()


def check_disagreements(name: str) -> None:
    engine = ENGINES.get(name)

    @_settings()
    @given(net_region(engine, two=True))
    def prop(nnr):
        a, b, region = nnr
        if refused(engine, (a, b), region, Capability.DISAGREEMENTS):
            return
        ans = run.disagreements(a, b, region, method=name, limits=_limits())
        conf = Counter((semantics.classify(a, x), semantics.classify(b, x)) for x in members(region))
        assert dict(ans.counts.confusion) == dict(conf)
        assert ans.counts.count == sum(v for (p, q), v in conf.items() if p != q)

    prop()


def _code(bits) -> int:
    return sum(int(v) << j for j, v in enumerate(bits))


def check_layer_labels(name: str) -> None:
    engine = ENGINES.get(name)

    @_settings()
    @given(net_region(engine), st.sampled_from([None, 0, 3]))
    def prop(nr, const):
        net, region = nr
        if not net.hidden or refused(engine, net, region, Capability.LAYER_LABELS):
            return
        counter, choice = run.layer_labels(net, region, "model", const_label=const, method=name, limits=_limits())
        traces = truth(net, region)
        for l in range(1, len(net.hidden) + 1):
            want = Counter((_code(t.codes[l - 1]), t.label if const is None else const) for t in traces)
            assert counter.pair_counts(l) == dict(want)
        assert counter.total == region.size

    prop()


def check_joint_counts(name: str) -> None:
    engine = ENGINES.get(name)

    @_settings()
    @given(net_region(engine), st.data())
    def prop(nr, data):
        net, region = nr
        if not net.hidden or refused(engine, net, region, Capability.JOINT_COUNTS):
            return
        L = len(net.hidden)
        layers = sorted(data.draw(st.sets(st.integers(1, L), min_size=1)))
        with_class = data.draw(st.booleans())
        jc, _ = run.joint_counts(net, region, layers, with_class=with_class, method=name, limits=_limits())
        want = Counter(
            tuple(_code(t.codes[l - 1]) for l in layers) + ((t.label,) if with_class else ())
            for t in truth(net, region)
        )
        assert dict(jc.counts) == dict(want)

    prop()


def check_radius(name: str) -> None:
    engine = ENGINES.get(name)

    @_settings()
    @given(st.data())
    def prop(data):
        net = data.draw(st.one_of(nasty_networks(n_inputs=st.integers(1, MAX_INPUTS)),
                                  networks(n_inputs=st.integers(1, MAX_INPUTS))))
        n = net.n_inputs
        x = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.uint8)
        mask = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
        mask = None if mask is None else np.array(mask, dtype=bool)
        m = n if mask is None else int(mask.sum())
        cap = data.draw(st.integers(0, m))
        if cap == 0:
            return
        pred = semantics.classify(net, x)
        ball = HammingBall(x, cap, mask)
        dists = [sum(a != b for a, b in zip(y, x.tolist())) for y in members(ball)
                 if semantics.classify(net, y) != pred]
        ans = run.max_radius(net, x, mask, cap, True, method=name, limits=_limits())
        if dists:
            assert ans.search.outcome is Outcome.FOUND and ans.proven == min(dists) - 1
            assert int((ans.search.witness != x).sum()) == min(dists)
        else:
            assert ans.search.outcome is Outcome.NONE and ans.proven == cap

    prop()


@st.composite
def explain_case(draw, engine, kinds=("whole", "cube", "hamming")):
    """A network, a region of a kind explanations take (and the engine too) and an input inside it."""
    from explain_brute import explain_region

    kinds = tuple(k for k in kinds if k in engine.region_kinds)
    net, region = draw(net_region(engine, integer=False))
    x = np.array(draw(st.lists(st.integers(0, 1), min_size=net.n_inputs, max_size=net.n_inputs)), np.uint8)
    region = explain_region(region, x)
    if region.kind not in kinds:
        region = Whole(net.n_inputs)
    return net, region, x


def check_sufficient_reason(name: str, cardinality: bool = False) -> None:
    import explain_brute as bf
    from bnnverify.engines.terms import free_bits

    engine = ENGINES.get(name)

    @_settings()
    @given(explain_case(engine), st.randoms(use_true_random=False))
    def prop(case, rnd):
        net, region, x = case
        free = list(free_bits(region))
        order = free[:]
        rnd.shuffle(order)
        ans = run.sufficient_reason(net, region, x, order=None if cardinality else order, cardinality=cardinality,
                                    method=name, limits=_limits())
        assert ans.choice.name == name and ans.reason.outcome is Outcome.FOUND
        X, y = bf.table(net, region)
        target = semantics.classify(net, x)
        S = list(ans.reason.kept)
        assert bf.is_sufficient(X, y, x, S, target)
        for i in S:  # subset-minimal
            assert not bf.is_sufficient(X, y, x, [j for j in S if j != i], target)
        if cardinality:  # no smaller set of free bits is sufficient
            for k in range(len(S)):
                assert not any(bf.is_sufficient(X, y, x, T, target) for T in combinations(free, k))

    prop()


def check_prime_implicants(name: str) -> None:
    import explain_brute as bf
    from bnnverify.engines.terms import free_bits

    engine = ENGINES.get(name)

    @_settings()
    @given(explain_case(engine), st.data())
    def prop(case, data):
        net, region, _ = case
        targets = sorted(data.draw(st.sets(st.integers(0, net.n_classes - 1), min_size=1)))
        max_terms = data.draw(st.integers(1, 6))
        ans = run.prime_implicants(net, region, targets, max_terms=max_terms, method=name, limits=_limits())
        X, y = bf.table(net, region)
        p = ans.primes
        members = np.isin(y, targets)
        assert p.target_count == int(members.sum())
        assert len(p.terms) <= max_terms and len({tuple(sorted(t.items())) for t in p.terms}) == len(p.terms)
        for t in p.terms:
            assert bf.is_prime(X, y, t, targets)
        covered = np.zeros(len(X), bool)
        for t in p.terms:
            covered |= bf.agree(X, t)
        assert p.covers == bool((covered | ~members).all())
        free = list(free_bits(region))
        if not members.any():
            assert p.essential is None and not p.terms
        elif len(free) <= 5:  # essential = the literals every prime implicant shares (3^m terms)
            primes = bf.all_primes(X, y, free, targets)
            shared = set(primes[0].items())
            for t in primes[1:]:
                shared &= set(t.items())
            assert set(p.essential.items()) == shared

    prop()


def check_shapley(name: str) -> None:
    import explain_brute as bf
    from fractions import Fraction

    from bnnverify.engines.terms import free_bits

    engine = ENGINES.get(name)

    @_settings()
    @given(explain_case(engine, ("whole", "cube")), st.data())
    def prop(case, data):
        net, region, x = case
        targets = sorted(data.draw(st.sets(st.integers(0, net.n_classes - 1), min_size=1)))
        sc, choice = run.shapley(net, region, x, targets, method=name, limits=_limits())
        X, y = bf.table(net, region)
        free = list(free_bits(region))
        assert sc.values == bf.shapley(X, y, x, free, targets)
        assert sc.expected == Fraction(int(np.isin(y, targets).sum()), len(X))
        assert sum(sc.values.values()) == int(semantics.classify(net, x) in targets) - sc.expected

    prop()


def check_influence(name: str) -> None:
    import explain_brute as bf
    from bnnverify.engines.terms import free_bits

    engine = ENGINES.get(name)

    @_settings()
    @given(explain_case(engine, ("whole", "cube")))
    def prop(case):
        net, region, _ = case
        inf, _ = run.influence(net, region, method=name, limits=_limits())
        X, y = bf.table(net, region)
        for i in free_bits(region):
            Z = X.copy()
            Z[:, i] ^= 1
            flipped = np.array([semantics.classify(net, z) for z in Z])
            assert inf.changes[i] == int((flipped != y).sum())
        assert inf.total == len(X)

    prop()


CHECKS = {
    Capability.FIND_CLASS: check_find_class,
    Capability.CLASS_COUNTS: check_class_counts,
    Capability.FIND_DISAGREEMENT: check_find_disagreement,
    Capability.DISAGREEMENTS: check_disagreements,
    Capability.LAYER_LABELS: check_layer_labels,
    Capability.JOINT_COUNTS: check_joint_counts,
    Capability.RADIUS: check_radius,
    Capability.SUFFICIENT_REASON: check_sufficient_reason,
    Capability.MIN_SUFFICIENT_REASON: lambda name: check_sufficient_reason(name, cardinality=True),
    Capability.PRIME_IMPLICANTS: check_prime_implicants,
    Capability.SHAPLEY: check_shapley,
    Capability.INFLUENCE: check_influence,
}


def check_refusals(name: str) -> None:
    """Questions and region kinds the engine does not declare are refused by name, never answered."""
    engine = ENGINES.get(name)
    net = _tiny()
    region = Whole(net.n_inputs)
    for cap in Capability:
        if cap not in engine.capabilities:
            with pytest.raises(EngineError, match=f"engine {name!r}"):
                choose(cap, (net, net) if cap in (Capability.FIND_DISAGREEMENT, Capability.DISAGREEMENTS) else net,
                       region, name)
    if "whole" not in engine.region_kinds and engine.capabilities:
        cap = next(iter(engine.capabilities))
        with pytest.raises(EngineError, match="whole"):
            choose(cap, net, region, name)


def _tiny():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    h = ThresholdLayer(np.array([[1, -1, 1]], dtype=np.int8), np.array([1]))
    o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    return BNN((h,), o)


def check_engine(name: str) -> list[Capability]:
    """Run the whole battery on engine ``name``; returns the capabilities checked."""
    engine = ENGINES.get(name)
    check_refusals(name)
    done = []
    for cap in Capability:
        if cap in engine.capabilities:
            CHECKS[cap](name)
            done.append(cap)
    return done
