"""The code graph: how inputs flow from the codes of one hidden layer to the next.

Nodes are the reachable codes of hidden layer L and of layer L+1 (or, for the
last hidden layer, the output classes), each with its exact input count;
an edge ``a -> b`` carries the exact number of inputs whose layer-L code is
``a`` and layer-(L+1) code is ``b``. A node of layer L+1 with several incoming
edges is where the network merges regions of the input space (compression).

Node ids are ``"L<l>:<bits>"`` (bits of neurons 0, 1, … in order) or
``"class:<c>"``; attributes ``layer`` (int; the output is ``layers+1``),
``code`` (the bit string or class), ``count`` (exact) and ``fraction`` (float).

>>> import numpy as np
>>> from bnnverify.encoders.layers import BNN, ThresholdLayer, ArgmaxLayer
>>> from bnnverify.encoders.regions import Whole
>>> h1 = ThresholdLayer(np.array([[1, 1], [1, -1]], dtype=np.int8), np.array([0, 0]))
>>> h2 = ThresholdLayer(np.array([[1, 1]], dtype=np.int8), np.array([2]))
>>> o = ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> g = code_graph(BNN((h1, h2), o), 1, region=Whole(2))
>>> sorted((u, v, d["count"]) for u, v, d in g.edges(data=True))
[('L1:01', 'L2:0', 1), ('L1:10', 'L2:0', 1), ('L1:11', 'L2:1', 2)]
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import networkx as nx
import numpy as np

from bnnverify.encoders.layers import BNN
from bnnverify.encoders.regions import Region

from bnnverify.files.atomic import atomic_write
from bnnverify.errors import DataError, InternalError, RegionError
from bnnverify.engines import run
from bnnverify.engines.base import Limits
from bnnverify.questions.verdict import Method
from bnnverify.evaluation.evaluator import Evaluator, code_keys

__all__ = ["code_graph", "code_graph_from_pairs", "check_code_graph", "write_graphml", "node_id", "GRAPHML_MAX_INT"]

#: Largest count stored as a GraphML ``long``; beyond it every count is written as a string.
GRAPHML_MAX_INT = (1 << 63) - 1


def _bits(code: int, width: int) -> str:
    return "".join("1" if (code >> j) & 1 else "0" for j in range(width))


def node_id(net: BNN, layer: int, code: int) -> str:
    """Node id of ``code`` at hidden ``layer`` (1-based) or, at ``layers+1``, of a class."""
    if layer == len(net.hidden) + 1:
        return f"class:{code}"
    return f"L{layer}:{_bits(code, net.hidden[layer - 1].n_outputs)}"


def _check_layer(net: BNN, layer: int) -> None:
    if not 1 <= layer <= len(net.hidden):
        raise DataError(f"must be a hidden layer between 1 and {len(net.hidden)} of {net!r}, got {layer}", param="layer")


def code_graph_from_pairs(net: BNN, layer: int, pairs: Mapping[tuple[int, int], int],
                          source: Mapping[str, Any] | None = None) -> nx.DiGraph:
    """The code graph from exact counts ``pairs[(code at layer, code at layer+1 or class)]``."""
    _check_layer(net, layer)
    total = sum(int(v) for v in pairs.values())
    if total <= 0:
        raise DataError("code graph: no inputs were counted")
    g = nx.DiGraph(layer=int(layer), total=total, source=json.dumps(dict(source or {})))
    out_layer = layer + 1
    for (a, b), v in pairs.items():
        v = int(v)
        if v == 0:
            continue
        for lay, code in ((layer, a), (out_layer, b)):
            nid = node_id(net, lay, code)
            if nid not in g:
                label = str(code) if lay == len(net.hidden) + 1 else _bits(code, net.hidden[lay - 1].n_outputs)
                g.add_node(nid, layer=lay, code=label, count=0)
            g.nodes[nid]["count"] += v
        g.add_edge(node_id(net, layer, a), node_id(net, out_layer, b), count=v)
    for _, d in g.nodes(data=True):
        d["fraction"] = d["count"] / total
    for _, _, d in g.edges(data=True):
        d["fraction"] = d["count"] / total
    return g


def check_code_graph(g: nx.DiGraph) -> None:
    """Check the flow: every node's count is the sum of its out-edges (layer L) or in-edges (layer L+1)."""
    L = g.graph["layer"]
    for nid, d in g.nodes(data=True):
        edges = g.out_edges(nid, data="count") if d["layer"] == L else g.in_edges(nid, data="count")
        if sum(c for _, _, c in edges) != d["count"]:
            raise InternalError(f"code graph node {nid} count {d['count']} != its edges")
    if sum(d["count"] for _, d in g.nodes(data=True) if d["layer"] == L) != g.graph["total"]:
        raise InternalError("code graph counts do not add up to the total")


def _rows_pairs(net: BNN, X: np.ndarray, layer: int) -> dict[tuple[int, int], int]:
    tr = Evaluator(net).trace(X)
    a = code_keys(tr.codes[layer - 1])
    b = [int(c) for c in tr.classes] if layer == len(net.hidden) else code_keys(tr.codes[layer])
    return dict(Counter(zip(a, b)))


def code_graph(net: BNN, layer: int, *, region: Region | None = None, dataset: Any = None,
               method: "str | Method" = "auto", budget: Any = None, timeout: float | None = None,
               progress: Any = None) -> nx.DiGraph:
    """The exact code graph of hidden ``layer`` -> ``layer+1`` (or -> the class, for the last).

    Counts are over the uniform distribution on ``region`` (enumeration or the
    BDD engine, or any engine that counts joint codes, as the one policy chooses) or
    over the rows of ``dataset``. Node counts always equal the sums of their edges.
    """
    _check_layer(net, layer)
    if (region is None) == (dataset is None):
        raise RegionError("code graph: give exactly one of a region or a data set")
    last = layer == len(net.hidden)
    if dataset is not None:
        X = np.asarray(dataset.X, dtype=np.uint8)
        if X.ndim != 2 or X.shape[1] != net.n_inputs:
            raise DataError(f"data set {dataset.name!r}: rows have {X.shape[-1]} bits, the model expects {net.n_inputs}")
        pairs = _rows_pairs(net, X, layer)
        source: dict[str, Any] = {"kind": "dataset", "name": str(dataset.name), "method": Method.EVALUATOR.value}
    else:
        if region.n != net.n_inputs:
            raise RegionError(f"the region has {region.n} bits, the model expects {net.n_inputs}")
        layers = [layer] if last else [layer, layer + 1]
        jc, choice = run.joint_counts(net, region, layers, with_class=last, method=str(method),
                                      limits=Limits(budget=budget, timeout=timeout, progress=progress))
        pairs = jc.marginal((0, 1))
        source = {**region.describe(), "method": choice.name, "reason": choice.reason}
    g = code_graph_from_pairs(net, layer, pairs, source)
    check_code_graph(g)
    return g


def write_graphml(g: nx.DiGraph, path: "str | os.PathLike[str]") -> Path:
    """Write the graph as GraphML atomically; counts stay exact.

    Counts are GraphML ``long`` when every count fits in 63 bits, otherwise
    every count (and the total) is written as a decimal string; the graph
    attribute ``count_type`` says which.
    """
    big = max([g.graph["total"]] + [d["count"] for _, d in g.nodes(data=True)]) > GRAPHML_MAX_INT
    h = g.copy()
    h.graph["count_type"] = "string" if big else "long"
    if big:
        h.graph["total"] = str(h.graph["total"])
        for _, d in h.nodes(data=True):
            d["count"] = str(d["count"])
        for _, _, d in h.edges(data=True):
            d["count"] = str(d["count"])
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        nx.write_graphml(h, fh)
    return path
