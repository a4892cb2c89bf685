"""A count split into disjoint cubes (``bnnverify.engines.partition``, ``count --jobs``) is exact.

The parts are checked member by member against the region (disjoint, union equal to it),
and the summed counts against brute force on the semantics module and the runner's
unsplit count; the worker pool is exercised once through the CLI.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from bnnverify import semantics
from bnnverify.cli import main
from bnnverify.encoders.regions import HammingBall
from bnnverify.engines import run
from bnnverify.engines.partition import count_group, group_parts, parts, split_class_counts
from bnnverify.errors import DataError
from bnnverify.files.modelio import save_model
from strategies import networks, regions


def _members(region) -> set[bytes]:
    return {row.tobytes() for X in region.members() for row in np.asarray(X, np.uint8)}


@given(st.data(), st.integers(1, 20))
def test_parts_are_disjoint_and_cover_the_region(data, wanted):
    net = data.draw(networks(n_inputs=st.integers(1, 9)))
    region = data.draw(regions(net, kinds=("whole", "cube")))
    ps = parts(region, wanted)
    assert sum(p.size for p in ps) == region.size
    seen: set[bytes] = set()
    for p in ps:
        m = _members(p)
        assert len(m) == p.size and not (m & seen)
        seen |= m
    assert seen == _members(region)
    free = region.size.bit_length() - 1
    assert len(ps) == min(1 << free, 1 << max(0, (wanted - 1).bit_length()))


@given(st.data(), st.integers(1, 8))
def test_groups_keep_order_and_every_part(data, groups):
    net = data.draw(networks(n_inputs=st.integers(1, 8)))
    region = data.draw(regions(net, kinds=("whole", "cube")))
    ps = parts(region, 16)
    gs = group_parts(ps, groups)
    assert [p for g in gs for p in g] == ps and 1 <= len(gs) <= groups and all(gs)


@given(st.data())
def test_split_counts_equal_brute_force_and_the_runner(data):
    net = data.draw(networks(n_inputs=st.integers(1, 9)))
    region = data.draw(regions(net, kinds=("whole", "cube")))
    classes = [int(c) for c in data.draw(st.lists(st.integers(0, net.n_classes - 1), max_size=2, unique=True))]
    brute = [0] * net.n_classes
    for X in region.members():
        for x in np.asarray(X, np.uint8):
            brute[semantics.classify(net, x)] += 1
    ans = split_class_counts(net, region, classes, method="enum", jobs=1)
    assert list(ans.counts) == brute
    assert list(run.class_counts(net, region, classes, method="enum").counts) == brute
    if any(brute[c] for c in classes):
        w = ans.search.witness
        assert semantics.classify(net, w) in classes and _members(region) >= {np.asarray(w, np.uint8).tobytes()}
    else:
        assert ans.search.witness is None


def test_a_part_out_of_time_makes_the_whole_count_undecided(tmp_path):
    rng = np.random.default_rng(0)
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
    from bnnverify.encoders.regions import Whole

    net = BNN((ThresholdLayer(rng.choice([-1, 1], (3, 4)).astype(np.int8), np.zeros(3, np.int64)),),
              ArgmaxLayer(rng.choice([-1, 1], (2, 3)).astype(np.int8), np.ones(2), np.zeros(2)))
    g = count_group(net, parts(Whole(4), 4), (), "enum", None, -1.0)
    assert g.counts is None and g.outcome == "timeout"


def test_other_region_kinds_are_refused_by_name():
    with pytest.raises(DataError, match="'hamming'"):
        parts(HammingBall(np.zeros(5, np.uint8), 2), 4)


def test_cli_count_with_two_jobs_equals_one(tmp_path):
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer

    rng = np.random.default_rng(3)
    net = BNN((ThresholdLayer(rng.choice([-1, 1], (6, 10)).astype(np.int8), rng.integers(-2, 3, 6)),),
              ArgmaxLayer(rng.choice([-1, 1], (3, 6)).astype(np.int8), np.ones(3), np.zeros(3)))
    path = tmp_path / "m.npz"
    save_model(net, path)
    runner = CliRunner()
    one = runner.invoke(main, ["count", str(path), "--region", "whole", "--json"])
    two = runner.invoke(main, ["count", str(path), "--region", "whole", "--json", "--jobs", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    a, b = json.loads(one.output), json.loads(two.output)
    assert a["class_counts"] == b["class_counts"] and b["asked"]["limits"]["jobs"] == 2
    assert "disjoint parts" in b["reason"]
    bad = runner.invoke(main, ["count", str(path), "--region", "whole", "--jobs", "2", "--per-code", "1"])
    assert bad.exit_code == 2 and "--per-code" in bad.output


def test_dask_scheduler_counts_equal_the_runner():
    distributed = pytest.importorskip("distributed")
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
    from bnnverify.encoders.regions import Cube

    rng = np.random.default_rng(5)
    net = BNN((ThresholdLayer(rng.choice([-1, 1], (5, 9)).astype(np.int8), rng.integers(-2, 3, 5)),),
              ArgmaxLayer(rng.choice([-1, 1], (3, 5)).astype(np.int8), np.ones(3), np.zeros(3)))
    region = Cube.from_free(rng.integers(0, 2, 9).astype(np.uint8), [0, 2, 3, 5, 7, 8])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        ans = split_class_counts(net, region, [1], dask=cluster.scheduler_address)
    assert ans.counts == run.class_counts(net, region, [1]).counts
    assert "Dask scheduler" in ans.choice.reason
    with pytest.raises(DataError, match="cannot connect to the Dask scheduler"):
        split_class_counts(net, region, dask="tcp://127.0.0.1:1", dask_timeout=1)
