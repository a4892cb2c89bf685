"""Issue 14's SAT levers against brute force on random small networks.

* The ball-aware first layer with its implied clauses (``ball_links``): one formula built for a
  radius cap, each radius selected by assuming its literal, projects exactly onto the members of
  that ball with the asked classes — with and without the implied clauses, with masks.
* Constant folding through every layer: every neuron the encoder folds to a constant (on a cube, a
  ball or the whole space) has that value on every member of the region (semantics), and the
  projection stays exact; networks are drawn deep and with thresholds near the edges so that
  folding happens in every layer.
* Sampling before the SAT search: sampled members lie in the region, a returned witness has a wanted
  class on the semantics, and the SAT engine answers ``find_class`` as brute force does.
"""

from __future__ import annotations

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver
from strategies import all_inputs, bit_vectors, networks, plain_forward, regions

from bnnverify import semantics
from bnnverify.encoders.cnf import encode
from bnnverify.encoders.regions import Cube, HammingBall, Whole
from bnnverify.engines.base import Outcome
from bnnverify.engines.run import Limits, find_class
from bnnverify.engines.sampling import find_by_sampling, sample_members


def _projections(f, assumptions=()) -> set[tuple[int, ...]]:
    seen: set[tuple[int, ...]] = set()
    with Solver(name="glucose4", bootstrap_with=f.clauses) as s:
        while s.solve(assumptions=list(assumptions)):
            x = f.decode_inputs(np.array(s.get_model()))
            key = tuple(int(b) for b in x)
            assert key not in seen
            seen.add(key)
            s.add_clause([-(i + 1) if x[i] else i + 1 for i in range(f.n_inputs)])
    return seen


def _members(net, region, classes) -> set[tuple[int, ...]]:
    X = all_inputs(net.n_inputs)
    _, _, cls = plain_forward(net, X)
    ok = region.contains(X) & np.isin(cls, list(classes))
    return {tuple(int(b) for b in row) for row in X[ok]}


@settings(max_examples=40, deadline=None)
@given(st.data(), st.booleans())
def test_radius_literals_select_exactly_each_ball(data, links):
    net = data.draw(networks(n_inputs=st.integers(1, 7), n_hidden=st.integers(1, 2), width=st.integers(1, 5)))
    n = net.n_inputs
    center = data.draw(bit_vectors(n))
    mask = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n).map(np.array)))
    cap = data.draw(st.integers(1, n))
    classes = data.draw(st.lists(st.integers(0, net.n_classes - 1), min_size=1, max_size=2, unique=True))
    f = encode(net, HammingBall(center, cap, mask), radius_cap=cap, ball_links=links)
    f.add_clause([f.networks[0].class_lits[c] for c in classes])
    for r, lit in enumerate(f.radius_lits):
        assert _projections(f, [lit]) == _members(net, HammingBall(center, r, mask), classes)


@st.composite
def deep_folding_cases(draw):
    """Deep narrow networks whose thresholds sit near the reachable range's edges, so that neurons
    fold to constants in every layer, over cubes, balls and the whole space."""
    net = draw(networks(n_inputs=st.integers(2, 8), n_hidden=st.integers(2, 4), width=st.integers(1, 5)))
    region = draw(regions(net, kinds=("whole", "cube", "hamming", "hamming_mask")))
    return net, region


@settings(max_examples=60, deadline=None)
@given(deep_folding_cases(), st.data())
def test_folded_neurons_are_constant_on_the_region_and_projection_is_exact(case, data):
    net, region = case
    classes = data.draw(st.lists(st.integers(0, net.n_classes - 1), min_size=1, max_size=2, unique=True))
    f = encode(net, region)
    X = all_inputs(net.n_inputs)
    X = X[region.contains(X)]
    codes, _, _ = plain_forward(net, X)
    folded = 0
    for layer, consts in enumerate(f.networks[0].constants):
        c = np.asarray(consts)
        for j in np.flatnonzero(c >= 0):
            assert (codes[layer][:, j] == c[j]).all(), f"layer {layer} neuron {j} folded to {c[j]} but varies"
            folded += 1
        if layer > 0 and (c >= 0).any():
            event("a neuron folded beyond the first layer")
    event(f"folded neurons: {'some' if folded else 'none'}")
    f.add_clause([f.networks[0].class_lits[c] for c in classes])
    assert _projections(f) == _members(net, region, classes)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_sampled_members_lie_in_the_region_and_witnesses_have_a_wanted_class(data):
    net = data.draw(networks(n_inputs=st.integers(1, 10)))
    region = data.draw(regions(net, kinds=("whole", "cube", "hamming", "hamming_mask")))
    X = sample_members(region, 64, np.random.default_rng(data.draw(st.integers(0, 9))))
    assert X.shape == (64, net.n_inputs) and region.contains(X).all()
    if isinstance(region, HammingBall):  # on the sphere: exactly the effective radius flipped
        assert ((X != region.center).sum(axis=1) == region.effective_radius).all()
    classes = data.draw(st.lists(st.integers(0, net.n_classes - 1), min_size=1, max_size=2, unique=True))
    w = find_by_sampling(net, region, classes, count=64)
    if w is not None:
        assert region.contains(w[None, :])[0] and semantics.classify(net, w) in classes


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_sat_engine_find_class_agrees_with_brute_force(data):
    net = data.draw(networks(n_inputs=st.integers(1, 8)))
    region = data.draw(regions(net, kinds=("whole", "cube", "hamming", "hamming_mask")))
    classes = data.draw(st.lists(st.integers(0, net.n_classes - 1), min_size=1, max_size=2, unique=True))
    a = find_class(net, region, classes, method="sat", limits=Limits())
    expected = _members(net, region, classes)
    assert (a.search.outcome is Outcome.FOUND) == bool(expected)
    if expected:
        assert tuple(int(b) for b in a.search.witness) in expected


def test_sampling_leaves_unsampled_kinds_to_the_solver():
    from bnnverify.encoders.regions import LinfBox

    box = LinfBox(np.array([1, 0, 1, 1], np.uint8), 1, 2)
    assert sample_members(box, 4, np.random.default_rng(0)) is None
    assert sample_members(Whole(3), 5, np.random.default_rng(0)).shape == (5, 3)
    cube = Cube.from_free(np.array([1, 0, 1], np.uint8), [])
    assert (sample_members(cube, 3, np.random.default_rng(0)) == [1, 0, 1]).all()


@given(st.lists(st.tuples(st.integers(-5, 5), st.integers(0, 4)), min_size=1, max_size=5), st.integers(0, 9))
def test_integer_boxes_are_sampled_within_their_ranges(ranges, seed):
    from bnnverify.encoders.pixel_regions import IntBox

    lo = np.array([a for a, _ in ranges])
    box = IntBox(lo, lo + np.array([w for _, w in ranges]))
    X = sample_members(box, 50, np.random.default_rng(seed))
    assert X.shape == (50, len(ranges)) and box.contains(X).all()


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_lazy_choices_are_the_supporting_engines_in_order(data):
    from bnnverify.engines.base import Capability
    from bnnverify.engines.policy import choices, prefer
    from bnnverify.engines.registry import ENGINES

    net = data.draw(networks(n_inputs=st.integers(1, 8)))
    region = data.draw(regions(net, kinds=("whole", "cube", "hamming")))
    cap = data.draw(st.sampled_from([Capability.FIND_CLASS, Capability.CLASS_COUNTS, Capability.RADIUS]))
    order = [n for n in prefer(cap, region) if n in ENGINES.names()]
    order += [n for n in ENGINES.names() if n not in order]
    expected = [n for n in order if ENGINES.get(n).supports(net, region, cap)]
    got = choices(cap, net, region)
    assert got[0].name == expected[0]
    assert [c.name for c in got] == expected and len(got) == len(expected) and got[-1].name == expected[-1]
