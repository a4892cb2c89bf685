"""The doctests of :mod:`bnnverify.encoders`, imported by their installed names.

``encoders/`` is installed as ``bnnverify.encoders`` (a ``package-dir``
mapping), so pytest's ``--doctest-modules`` would import its files as a second,
top-level ``encoders`` package; running the doctests from here keeps one copy.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bnnverify.encoders as encoders

MODULES = sorted(m.name for m in pkgutil.iter_modules(encoders.__path__, prefix="bnnverify.encoders."))


def test_every_encoder_module_is_listed() -> None:
    assert "bnnverify.encoders.layers" in MODULES and len(MODULES) >= 10


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
