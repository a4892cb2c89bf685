"""The engine interface is real: an engine defined here, registered at run time, joins everywhere.

``ToyEngine`` enumerates the region through :mod:`bnnverify.semantics` (one
input at a time — the definition, no tricks). Registered with no other
edit, it is picked up by the conformance battery, offered by the CLI's
``--method`` choices, answers ``check_robustness``, and is what ``auto``
chooses where it is the only engine that takes the question (a layer kind
or a region kind the built-ins refuse by name). A deliberately wrong engine
fails the battery: the battery can fail.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Mapping

import numpy as np
import pytest
from click.testing import CliRunner

import conformance
from bnnverify import semantics
from bnnverify.cli import main
from bnnverify.encoders import layers as layer_kinds
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ArrayKey, ThresholdLayer
from bnnverify.encoders.regions import HammingBall
from bnnverify.encoders.results import ClassCounts
from bnnverify.engines.base import Capability, EngineBase, Outcome, Search
from bnnverify.engines.registry import ENGINES
from bnnverify.errors import EngineError, InternalError
from bnnverify.files.modelio import save_model
from bnnverify.questions.robustness import check_robustness
from bnnverify.questions.verdict import Verdict


class ToyEngine(EngineBase):
    """Plain enumeration through the semantics module."""

    name = "toy"
    aliases = ("plain",)
    summary = "every member through bnnverify.semantics, one at a time"
    capabilities = frozenset({Capability.FIND_CLASS, Capability.CLASS_COUNTS})
    layer_kinds = frozenset({"threshold", "argmax", "parity"})
    region_kinds = frozenset({"whole", "cube", "hamming", "linf", "listed"})

    @staticmethod
    def _labels(net, region):
        for X in region.members():
            for x in X:
                yield x, semantics.classify(net, x)

    def find_class(self, net, region, classes, limits):
        for x, c in self._labels(net, region):
            if c in classes:
                return Search(Outcome.FOUND, np.asarray(x, np.uint8))
        return Search(Outcome.NONE)

    def class_counts(self, net, region, witness_of, limits):
        counts, witness = Counter(), None
        for x, c in self._labels(net, region):
            counts[c] += 1
            if witness is None and c in witness_of:
                witness = np.asarray(x, np.uint8)
        return ClassCounts(region.size, [counts[c] for c in range(net.n_classes)]), witness


class OffByOne(ToyEngine):
    """Wrong on purpose: counts one member of class 0 too few and one of the last class too many."""

    name = "off-by-one"
    aliases = ()

    def class_counts(self, net, region, witness_of, limits):
        cc, w = super().class_counts(net, region, witness_of, limits)
        c = list(cc.counts)
        if c[0] and len(c) > 1:
            c[0] -= 1
            c[-1] += 1
        return ClassCounts(region.size, c), w


@dataclass(frozen=True, eq=False)
class Listed:
    """A region no built-in engine takes: an explicit list of members."""

    rows: np.ndarray
    kind: ClassVar[str] = "listed"

    @property
    def n(self) -> int:
        return int(self.rows.shape[1])

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])

    def contains(self, X):
        X = np.atleast_2d(np.asarray(X, np.uint8))
        return np.array([any(np.array_equal(x, r) for r in self.rows) for x in X])

    def members(self, batch_size: int = 1 << 16):
        yield self.rows.copy()

    def describe(self) -> dict:
        return {"kind": self.kind, "size": self.size}


@dataclass(frozen=True, eq=False)
class ParityLayer:
    """A layer kind no built-in engine takes: ``y_j`` = parity of the bits selected by ``mask[j]``."""

    mask: np.ndarray
    name: str = "layer"
    kind: ClassVar[str] = "parity"
    role: ClassVar[str] = layer_kinds.HIDDEN
    keys: ClassVar[tuple] = (ArrayKey("mask", "int8", 2, "0/1 selection per output bit"),)

    @property
    def n_inputs(self) -> int:
        return int(self.mask.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.mask.shape[0])

    def arrays(self) -> dict:
        return {"mask": self.mask}

    @classmethod
    def from_arrays(cls, arrays: Mapping, name: str):
        return cls(arrays["mask"], name)


def parity_rule(layer, bits):
    return tuple(sum(int(b) for b, m in zip(bits, row) if m) % 2 for row in layer.mask.tolist())


def _net() -> BNN:
    h = ThresholdLayer(np.array([[1, 1, -1, 1], [1, -1, 1, 1]], dtype=np.int8), np.array([0, 2]))
    o = ArgmaxLayer(np.array([[1, 1], [-1, 1], [1, -1]], dtype=np.int8), np.ones(3), np.array([0.0, 0.5, 0.0]))
    return BNN((h,), o)


@pytest.fixture
def toy():
    with ENGINES.registered(ToyEngine()) as engine:
        yield engine


def test_the_conformance_battery_picks_up_a_registered_engine(toy):
    checked = {name: conformance.check_engine(name) for name in ENGINES.names() if name == "toy"}
    assert checked == {"toy": [Capability.FIND_CLASS, Capability.CLASS_COUNTS]}
    assert ENGINES.resolve("PLAIN") == "toy"


def test_a_wrong_engine_fails_the_battery():
    """Caught by the battery's comparison with brute force, or earlier by the runner's own checks."""
    with ENGINES.registered(OffByOne()):
        with pytest.raises(BaseException) as caught:
            conformance.check_class_counts("off-by-one")
    found = caught.value.exceptions if isinstance(caught.value, BaseExceptionGroup) else (caught.value,)
    assert found and all(isinstance(e, (AssertionError, InternalError)) for e in found), found


def test_check_robustness_answers_with_it(toy):
    net, x = _net(), np.array([1, 1, 0, 1], np.uint8)
    r = check_robustness(net, x, HammingBall(x, 2), method="toy", count=True)
    ref = check_robustness(net, x, HammingBall(x, 2), method="enum", count=True)
    assert r.method == "toy" and r.reason == "asked for toy"
    assert (r.verdict, r.class_counts, r.adversarial_count) == (ref.verdict, ref.class_counts, ref.adversarial_count)
    assert r.to_json()["method"] == "toy"


def test_the_cli_offers_it(toy, tmp_path):
    model = tmp_path / "m.npz"
    save_model(_net(), model)
    runner = CliRunner()
    help_text = runner.invoke(main, ["robustness", "--help"]).output
    assert "toy" in help_text
    r = runner.invoke(main, ["robustness", str(model), "--input", "1101", "--hamming", "2", "--method", "plain",
                             "--count", "--json"])
    out = json.loads(r.output)
    assert out["method"] == "toy" and r.exit_code == (0 if out["verdict"] == "robust" else 1)
    assert out["adversarial_count"] == check_robustness(_net(), np.array([1, 1, 0, 1], np.uint8),
                                                        HammingBall(np.array([1, 1, 0, 1], np.uint8), 2),
                                                        method="enum", count=True).adversarial_count


def test_without_it_the_cli_refuses_the_name(tmp_path):
    model = tmp_path / "m.npz"
    save_model(_net(), model)
    r = CliRunner().invoke(main, ["robustness", str(model), "--input", "1101", "--hamming", "1", "--method", "toy"])
    assert r.exit_code == 2 and "unknown engine 'toy'" in r.output


def test_auto_picks_the_only_engine_that_takes_a_region(toy):
    net = _net()
    rows = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 1, 0]], np.uint8)
    r = check_robustness(net, rows[0], Listed(rows), count=True)
    assert r.method == "toy" and "the only engine that takes it" in r.reason
    assert "does not take 'listed' regions" in r.reason
    labels = [semantics.classify(net, x) for x in rows]
    assert r.class_counts == tuple(labels.count(c) for c in range(net.n_classes))
    with pytest.raises(EngineError, match="engine 'bdd' does not take 'listed' regions"):
        check_robustness(net, rows[0], Listed(rows), method="bdd")


def test_a_new_layer_kind_is_refused_by_name_and_answered_by_an_engine_that_takes_it(toy, monkeypatch):
    monkeypatch.setitem(layer_kinds.LAYER_KINDS, "parity", ParityLayer)
    monkeypatch.setitem(semantics.RULES, "parity", parity_rule)
    mask = np.array([[1, 1, 0, 0], [0, 1, 1, 1]], np.int8)
    net = BNN((ParityLayer(mask, "layer0"),), ArgmaxLayer(np.array([[1, 1], [-1, -1]], np.int8), np.ones(2), np.zeros(2)))
    x = np.array([1, 0, 0, 1], np.uint8)
    r = check_robustness(net, x, HammingBall(x, 1), count=True)
    assert r.method == "toy"
    for name in ("enum", "bdd", "sat"):
        with pytest.raises(EngineError, match=f"engine '{name}' does not take 'parity' layers"):
            check_robustness(net, x, HammingBall(x, 1), method=name)
    members = [y for X in HammingBall(x, 1).members() for y in X]
    pred = semantics.classify(net, x)
    assert r.adversarial_count == sum(semantics.classify(net, y) != pred for y in members)
    assert r.verdict is (Verdict.ROBUST if r.adversarial_count == 0 else Verdict.NOT_ROBUST)


def test_a_registered_name_cannot_shadow_another():
    with pytest.raises(Exception, match="already taken"):
        ENGINES.register(type("Clash", (ToyEngine,), {"name": "enumerate", "aliases": ()})())


def test_auto_hands_a_question_on_when_an_engine_runs_out_of_budget():
    """The BDD over budget is not the end of an auto question: the next engine that takes it answers."""
    from bnnverify.encoders.bdd import BDDBudget
    from bnnverify.encoders.regions import Cube

    rng = np.random.default_rng(8)
    pm = lambda m, n: np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    n = 30
    net = BNN((ThresholdLayer(pm(6, n), rng.integers(-2, 3, 6)),), ArgmaxLayer(pm(2, 6), np.ones(2), np.zeros(2)))
    x = np.zeros(n, np.uint8)
    region = Cube.from_free(x, list(range(23)))  # 2^23 members: auto counts with the BDD first
    tiny = BDDBudget(max_nodes=3)
    r = check_robustness(net, x, region, count=True, budget=tiny)
    assert r.method == "enum" and "after bdd gave up (budget exceeded" in r.reason, r.reason
    assert sum(r.class_counts) == region.size
    asked = check_robustness(net, x, region, count=True, budget=tiny, method="bdd")  # asked for: no hand-over
    assert asked.verdict is Verdict.UNKNOWN and "budget exceeded" in asked.note


def test_auto_choices_look_engines_up_only_when_needed():
    """``auto``'s choices are found lazily (so a process the first engine answers never imports
    the others' libraries), yet the sequence is the same as looking every engine up at once."""
    from bnnverify.engines.policy import Choices, choices
    from bnnverify.engines.registry import EngineRegistry, _BUILTIN

    class Counting(EngineRegistry):
        def __init__(self):
            super().__init__(_BUILTIN)
            self.looked_up: list[str] = []

        def get(self, name):
            self.looked_up.append(self.resolve(name))
            return super().get(name)

    net = BNN((ThresholdLayer(np.array([[1, -1, 1]], np.int8), np.array([1])),),
              ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    region = HammingBall(np.array([1, 0, 1], np.uint8), 1)
    lazy_reg, eager_reg = Counting(), Counting()
    lazy = choices(Capability.CLASS_COUNTS, net, region, registry=lazy_reg)
    assert isinstance(lazy, Choices)
    first = lazy[0]
    assert lazy_reg.looked_up == [first.name]  # nothing else was looked up
    eager = choices(Capability.CLASS_COUNTS, net, region, registry=eager_reg)
    n = len(eager)  # measuring it finds them all
    assert [c.name for c in lazy] == [c.name for c in eager] and len(lazy) == n
    assert [c.reason for c in lazy] == [eager[i].reason for i in range(n)]
    assert lazy[-1].name == eager[n - 1].name
    assert sorted(set(eager_reg.looked_up)) == sorted(ENGINES.names())
