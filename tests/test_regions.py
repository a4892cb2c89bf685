"""Regions: exact sizes, membership and enumeration agree with brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from bnnverify.encoders.regions import HammingBall, Whole
from strategies import all_inputs, hamming_size, networks, regions


@given(st.data())
def test_members_are_exactly_the_region(data):
    net = data.draw(networks(n_inputs=st.integers(1, 10)) | networks(n_inputs=st.integers(2, 10), thermometer=2))
    region = data.draw(regions(net))
    members = np.concatenate(list(region.members(batch_size=data.draw(st.integers(1, 50)))))
    assert len(members) == region.size
    assert len({r.tobytes() for r in members}) == region.size  # no duplicates
    assert region.contains(members).all()
    X = all_inputs(net.n_inputs)
    assert int(region.contains(X).sum()) == region.size


@given(st.integers(50, 300), st.integers(0, 6))
def test_hamming_size_closed_form(n, k):
    assert HammingBall(np.zeros(n, np.uint8), k).size == hamming_size(n, k)
    assert Whole(n).size == 2**n
