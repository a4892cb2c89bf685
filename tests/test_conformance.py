"""Every registered engine against the semantics: the conformance battery of ``tests/conformance.py``.

Parametrised over the registry as it stands when the tests are collected
(built-ins: enum, bdd, sat, ball, ganak); ``tests/test_engine_interface.py``
shows that an engine registered at run time is picked up too.
"""

from __future__ import annotations

import pytest

import conformance
from bnnverify.engines.base import Capability, Engine
from bnnverify.engines.registry import ENGINES

#: Nasty networks overflow their scores to inf on purpose; numpy warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

PAIRS = [(name, cap) for name in ENGINES.names() for cap in Capability if cap in ENGINES.get(name).capabilities]


def test_every_engine_declares_something_and_implements_the_protocol():
    assert set(ENGINES.names()) >= {"enum", "bdd", "sat", "ball", "ganak"}
    for engine in ENGINES.engines():
        assert isinstance(engine, Engine) and engine.capabilities, engine


@pytest.mark.parametrize("name", ENGINES.names())
def test_refusals_name_the_engine(name):
    conformance.check_refusals(name)


@pytest.mark.parametrize("name,capability", PAIRS, ids=[f"{n}-{c.value}" for n, c in PAIRS])
def test_engine_answers_like_the_semantics(name, capability):
    if name == "ganak":
        pytest.importorskip("pyganak")
    conformance.CHECKS[capability](name)
