"""The code graph against brute force; GraphML keeps counts exact."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnverify.information.codegraph import code_graph, code_graph_from_pairs, node_id, write_graphml
from bnnverify.errors import DataError, RegionError
from bnnverify.encoders.regions import Whole
from strategies import all_inputs, networks, plain_forward, regions


def _key(row) -> int:
    return sum(int(b) << j for j, b in enumerate(row))


@st.composite
def net_region_layer(draw):
    net = draw(networks(n_inputs=st.integers(1, 9)))
    region = draw(regions(net, kinds=("whole", "cube", "hamming", "hamming_mask")))
    return net, region, draw(st.integers(1, len(net.hidden)))


@given(net_region_layer())
@settings(max_examples=40)
def test_code_graph_matches_brute_force(nrl):
    net, region, layer = nrl
    g = code_graph(net, layer, region=region, method="enum")
    X = all_inputs(net.n_inputs)
    X = X[region.contains(X)]
    hidden, _, classes = plain_forward(net, X)
    a = [_key(r) for r in hidden[layer - 1]]
    b = [int(c) for c in classes] if layer == len(net.hidden) else [_key(r) for r in hidden[layer]]
    edges = Counter(zip(a, b))
    got = {(u, v): d["count"] for u, v, d in g.edges(data=True)}
    assert got == {(node_id(net, layer, x), node_id(net, layer + 1, y)): n for (x, y), n in edges.items()}
    # flow: node counts are the sums of their edges on both sides, and add up to the region size
    for nid, d in g.nodes(data=True):
        side = g.out_edges(nid, data="count") if d["layer"] == layer else g.in_edges(nid, data="count")
        assert sum(c for _, _, c in side) == d["count"]
    assert sum(d["count"] for _, d in g.nodes(data=True) if d["layer"] == layer) == region.size
    assert g.number_of_nodes() == len(set(a)) + len(set(b))
    gb = code_graph(net, layer, region=region, method="bdd")
    assert {(u, v): d["count"] for u, v, d in gb.edges(data=True)} == got
    assert dict(gb.nodes(data="count")) == dict(g.nodes(data="count"))


@given(st.data())
@settings(max_examples=20)
def test_code_graph_over_dataset_rows(data):
    net = data.draw(networks(n_inputs=st.integers(1, 8)))
    rows = data.draw(st.lists(st.lists(st.integers(0, 1), min_size=net.n_inputs, max_size=net.n_inputs),
                              min_size=1, max_size=30))
    X = np.array(rows, dtype=np.uint8)
    g = code_graph(net, 1, dataset=SimpleNamespace(name="rows", X=X, y=np.zeros(len(X))))
    hidden, _, classes = plain_forward(net, X)
    a = Counter(_key(r) for r in hidden[0])
    assert {d["code"]: d["count"] for _, d in g.nodes(data=True) if d["layer"] == 1} == {
        "".join(str((k >> j) & 1) for j in range(net.hidden[0].n_outputs)): v for k, v in a.items()
    }


def _tiny_net():
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    h1 = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([0, 0]))
    h2 = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([2]))
    o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
    return BNN((h1, h2), o)


def test_graphml_roundtrip_small_and_huge(tmp_path):
    net = _tiny_net()
    g = code_graph(net, 1, region=Whole(2))
    p = write_graphml(g, tmp_path / "g.graphml")
    back = nx.read_graphml(p)
    assert back.graph["count_type"] == "long"
    assert {(u, v): d["count"] for u, v, d in back.edges(data=True)} == {
        (u, v): d["count"] for u, v, d in g.edges(data=True)
    }
    big = {(0, 0): 2**299 + 1, (1, 0): 2**299 - 1, (3, 1): 5}
    gb = code_graph_from_pairs(net, 1, big)
    back = nx.read_graphml(write_graphml(gb, tmp_path / "big.graphml"))
    assert back.graph["count_type"] == "string"
    assert int(back.nodes["L2:0"]["count"]) == 2**300
    assert int(back.graph["total"]) == 2**300 + 5
    assert not list(tmp_path.glob(".*.tmp"))


def test_code_graph_errors():
    net = _tiny_net()
    with pytest.raises(DataError, match="layer: must be a hidden layer"):
        code_graph(net, 3, region=Whole(2))
    with pytest.raises(RegionError, match="exactly one"):
        code_graph(net, 1)
    with pytest.raises(RegionError, match="bits"):
        code_graph(net, 1, region=Whole(4))
