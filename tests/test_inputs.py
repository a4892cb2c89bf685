"""Reading inputs and index files as users give them; every bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from bnnverify.errors import DataError
from bnnverify.files.inputs import read_bits, read_indices


@given(st.lists(st.integers(0, 1), min_size=1, max_size=80), st.sampled_from([" ", ",", "\n", ", ", ""]))
def test_bits_any_separator(tmp_path_factory, bits, sep):
    p = tmp_path_factory.mktemp("i") / "x.txt"
    p.write_text(sep.join(map(str, bits)))
    assert read_bits(str(p)).tolist() == bits
    assert read_bits(str(p), len(bits)).tolist() == bits


@given(st.lists(st.integers(0, 1), min_size=1, max_size=80))
def test_pm1_file(tmp_path_factory, bits):
    p = tmp_path_factory.mktemp("i") / "x.txt"
    p.write_text(" ".join("1" if b else "-1" for b in bits))
    assert read_bits(str(p)).tolist() == bits


def test_errors_named(tmp_path):
    with pytest.raises(DataError, match="expects 5"):
        read_bits("0101", 5)
    with pytest.raises(DataError, match="no such file"):
        read_bits(str(tmp_path / "nope.txt"))
    p = tmp_path / "bad.txt"
    p.write_text("0 1 2")
    with pytest.raises(DataError, match="'2'"):
        read_bits(str(p))
    p.write_text("0 1 -1")
    with pytest.raises(DataError, match="mixes"):
        read_bits(str(p))
    q = tmp_path / "idx.txt"
    q.write_text("0 3 9")
    with pytest.raises(DataError, match="index 9 is outside 0..7"):
        read_indices(str(q), 8)
    q.write_text("0 3 3")
    with pytest.raises(DataError, match="twice"):
        read_indices(str(q), 8)
    q.write_text("0 x")
    with pytest.raises(DataError, match="'x'"):
        read_indices(str(q), 8)
    ok = tmp_path / "ok.txt"
    ok.write_text("4,1\n")
    assert np.array_equal(read_indices(str(ok), 8), [4, 1])
