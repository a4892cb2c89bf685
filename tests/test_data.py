"""Data sets: sizes, bits, splits, ib12's definition and symmetry, thermometer codes, .npz files."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bnnverify.data.datasets import (
    ICOSAHEDRON,
    Dataset,
    ib12_scores,
    load_data_file,
    load_dataset,
)
from bnnverify.errors import DataError


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def _vertex_permutation(M: np.ndarray) -> np.ndarray:
    """pi with M p_i = p_{pi(i)}, or an assertion error if M is not a symmetry."""
    image = ICOSAHEDRON @ M.T
    dist = np.linalg.norm(image[:, None, :] - ICOSAHEDRON[None, :, :], axis=2)
    pi = dist.argmin(axis=1)
    assert np.allclose(dist[np.arange(12), pi], 0, atol=1e-9)
    assert sorted(pi.tolist()) == list(range(12))
    return pi


def _symmetries() -> list[np.ndarray]:
    p0 = ICOSAHEDRON[0]
    nbrs = [j for j in range(12) if np.isclose(ICOSAHEDRON[j] @ p0, 1 / np.sqrt(5))]
    a, b = nbrs[0], next(j for j in nbrs[1:] if np.isclose(ICOSAHEDRON[j] @ ICOSAHEDRON[nbrs[0]], 1 / np.sqrt(5)))
    face = p0 + ICOSAHEDRON[a] + ICOSAHEDRON[b]
    edge = p0 + ICOSAHEDRON[a]
    return [
        _rotation(p0, 2 * np.pi / 5),
        _rotation(p0, 4 * np.pi / 5),
        _rotation(face, 2 * np.pi / 3),
        _rotation(edge, np.pi),
        -np.eye(3),  # central inversion is a symmetry too
    ]


def _permute_bits(X: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """Move bit i to position pi(i)."""
    out = np.empty_like(X)
    out[:, pi] = X
    return out


# --- ib12 -------------------------------------------------------------------------


def test_ib12_is_every_input_once_balanced():
    ds = load_dataset("ib12", "all")
    assert ds.X.shape == (4096, 12) and ds.X.dtype == np.uint8 and ds.n_classes == 2
    keys = ds.X.astype(np.int64) @ (1 << np.arange(12))
    assert sorted(keys.tolist()) == list(range(4096))
    assert 0.45 < ds.y.mean() < 0.55


def test_ib12_matches_definition_recomputed_by_brute_force():
    """Recompute f from vertex geometry pair by pair: adjacent +1, antipodal -2, else -1."""
    ds = load_dataset("ib12", "all")
    adjacency = np.zeros((12, 12), dtype=int)
    d = np.linalg.norm(ICOSAHEDRON[:, None] - ICOSAHEDRON[None], axis=2)
    edge = np.min(d[d > 0])
    for i, j in itertools.combinations(range(12), 2):
        if np.isclose(d[i, j], edge):
            adjacency[i, j] = 1
        elif np.isclose(d[i, j], 2.0):
            adjacency[i, j] = -2
        else:
            adjacency[i, j] = -1
    assert (adjacency == 1).sum() == 30 and (adjacency == -2).sum() == 6
    rows = ds.X[::37].astype(int)
    s = 2 * rows - 1
    f = np.array([sum(adjacency[i, j] * r[i] * r[j] for i, j in itertools.combinations(range(12), 2)) for r in s])
    np.testing.assert_array_equal(ib12_scores(rows), f)
    np.testing.assert_array_equal(ds.y[::37], (f >= 0).astype(np.int64))


@pytest.mark.parametrize("k", range(5))
def test_ib12_invariant_under_icosahedral_symmetries(k):
    M = _symmetries()[k]
    pi = _vertex_permutation(M)
    assert not np.array_equal(pi, np.arange(12))
    ds = load_dataset("ib12", "all")
    Xp = _permute_bits(ds.X, pi)
    np.testing.assert_array_equal(ib12_scores(Xp), ib12_scores(ds.X))


def test_ib12_not_invariant_under_arbitrary_permutations():
    """The symmetry test is not vacuous: a transposition of two adjacent vertices changes labels."""
    ds = load_dataset("ib12", "all")
    pi = np.arange(12)
    pi[[0, 1]] = [1, 0]
    assert not np.array_equal(ib12_scores(_permute_bits(ds.X, pi)) >= 0, ds.y.astype(bool))


# --- splits -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ib12", "digits", "digits-thermo3"])
def test_splits_partition_and_are_stratified(name):
    full = load_dataset(name, "all")
    tr, te = load_dataset(name, "train"), load_dataset(name, "test")
    assert len(tr) + len(te) == len(full)
    assert tr.n_classes == te.n_classes == full.n_classes
    # disjoint and covering: compare multisets of (row, label)
    key = lambda d: sorted(map(tuple, np.column_stack([d.X, d.y]).tolist()))  # noqa: E731
    assert sorted(key(tr) + key(te)) == key(full)
    for c in range(full.n_classes):
        n_c = int((full.y == c).sum())
        assert abs(int((te.y == c).sum()) - 0.2 * n_c) <= 0.5 + 1e-9
    again = load_dataset(name, "test")
    np.testing.assert_array_equal(again.X, te.X)
    np.testing.assert_array_equal(again.y, te.y)


def test_digits_sizes_and_bits():
    ds = load_dataset("digits", "all")
    assert ds.X.shape == (1797, 64) and ds.n_classes == 10
    assert set(np.unique(ds.X).tolist()) <= {0, 1}
    assert sorted(set(ds.y.tolist())) == list(range(10))
    assert load_dataset("digits8x8", "all").X.tobytes() == ds.X.tobytes()


@pytest.mark.parametrize("L", [1, 2, 3, 5])
def test_thermometer_codes_valid(L):
    ds = load_dataset(f"digits-thermo{L}", "all")
    assert ds.X.shape == (1797, 64 * L) and ds.thermometer_levels == L
    feats = ds.X.reshape(len(ds), 64, L).astype(int)
    assert (np.diff(feats, axis=2) <= 0).all()  # 1^l 0^(L-l)
    from sklearn.datasets import load_digits

    pixels = load_digits().data.astype(int)
    levels = feats.sum(axis=2)
    np.testing.assert_array_equal(levels, np.floor(pixels * L / 16 + 0.5).astype(int))
    if L == 1:
        np.testing.assert_array_equal(ds.X, load_dataset("digits", "all").X)


def test_unknown_names_and_splits():
    with pytest.raises(DataError, match="ib12.*digits"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="split"):
        load_dataset("ib12", "validation")
    with pytest.raises(DataError, match="1..16"):
        load_dataset("digits-thermo17")


def test_dataset_arrays_read_only():
    ds = load_dataset("ib12", "test")
    with pytest.raises(ValueError):
        ds.X[0, 0] = 1


# --- user files -------------------------------------------------------------------


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_data_file_round_trip(tmp_path):
    X = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 1]], dtype=np.uint8)
    y = np.array([0, 2, 1])
    p = _save(tmp_path / "d.npz", X=X, y=y)
    ds = load_data_file(p)
    assert isinstance(ds, Dataset) and ds.n_classes == 3
    np.testing.assert_array_equal(ds.X, X)
    assert load_dataset(str(p), "all").X.shape == (3, 3)


@pytest.mark.parametrize(
    "arrays,pattern",
    [
        ({"y": np.array([0])}, r"missing key 'X'"),
        ({"X": np.zeros((2, 3))}, r"missing key 'y'"),
        ({"X": np.zeros(3), "y": np.zeros(3, int)}, r"'X' must be 2-D"),
        ({"X": np.array([[0, 1], [2, 0]]), "y": np.array([0, 1])}, r"entry \[1, 0\] is 2"),
        ({"X": np.zeros((2, 2)), "y": np.array([0, -1])}, r"'y' must be >= 0; entry \[1\] is -1"),
        ({"X": np.zeros((2, 2)), "y": np.array([0, 1, 1])}, r"3 labels but 'X' has 2 rows"),
        ({"X": np.zeros((2, 2)), "y": np.zeros((2, 1), int)}, r"'y' must be 1-D"),
        ({"X": np.zeros((2, 2)), "y": np.array([0.5, 1.0])}, r"'y' must hold integers"),
    ],
)
def test_data_file_errors_named(tmp_path, arrays, pattern):
    p = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=pattern) as e:
        load_data_file(p)
    assert "bad.npz" in str(e.value)


def test_data_file_unreadable(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        load_data_file(p)
    with pytest.raises(DataError, match="no such"):
        load_data_file(tmp_path / "missing.npz")
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.array([object()], dtype=object), y=np.array([0]))
    with pytest.raises(DataError, match="obj.npz"):
        load_data_file(obj)


def test_dataset_validates_bits_and_labels():
    with pytest.raises(DataError, match="0/1"):
        Dataset("x", np.array([[0, 256]]), np.array([0]), 2)
    with pytest.raises(DataError, match="labels must be in 0..1"):
        Dataset("x", np.array([[0, 1]]), np.array([2]), 2)


# --- var_u: the real Shwartz-Ziv & Tishby task (issue 13) ----------------------


def _var_u_brute(r: int) -> int:
    """The label of row r recomputed from the issue's text: bit i = (r >> (11 - i)) & 1."""
    from bnnverify.data.datasets import VAR_U_ANTIPODAL, VAR_U_NEAR

    on = [i for i in range(12) if (r >> (11 - i)) & 1]
    e1 = e2 = e3 = 0
    for i, j in itertools.combinations(on, 2):
        if (i, j) in VAR_U_NEAR:
            e1 += 1
        elif (i, j) in VAR_U_ANTIPODAL:
            e3 += 1
        else:
            e2 += 1
    return int(23 * len(on) + e1 - 5 * e2 - 8 * e3 >= 99)


def test_var_u_positive_count_entropy_and_rows():
    ds = load_dataset("var_u", "all")
    assert ds.X.shape == (4096, 12) and ds.n_classes == 2
    assert int(ds.y.sum()) == 2118
    p = 2118 / 4096
    h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    assert round(h, 5) == 0.99916
    # binary-counting order, bit 0 the most significant bit of the row index
    assert ds.X[1].tolist() == [0] * 11 + [1] and ds.X[2048].tolist() == [1] + [0] * 11
    # pinned rows: 62 = bits 6..10 (score 107, positive), 61 = bits 6..9, 11 (score 98, negative)
    assert [int(ds.y[r]) for r in (0, 61, 62, 63, 94, 4095)] == [0, 0, 1, 1, 1, 1]
    assert int(np.flatnonzero(ds.y)[0]) == 62
    rows = list(range(0, 4096, 37)) + [61, 62, 4095]
    assert [int(ds.y[r]) for r in rows] == [_var_u_brute(r) for r in rows]


def test_var_u_pairs_are_an_icosahedron_and_alias_moved():
    from bnnverify.data.datasets import VAR_U_ANTIPODAL, VAR_U_NEAR

    assert len(set(VAR_U_NEAR)) == 30 and len(set(VAR_U_ANTIPODAL)) == 6
    assert not set(VAR_U_NEAR) & set(VAR_U_ANTIPODAL)
    for v in range(12):  # every vertex: 5 neighbours, 1 antipode, 5 far
        assert sum(v in p for p in VAR_U_NEAR) == 5 and sum(v in p for p in VAR_U_ANTIPODAL) == 1
    assert load_dataset("tishby12", "all").name == "var_u"
    assert int(load_dataset("ib12", "all").y.sum()) == 2036  # ib12 unchanged
    tr, te = load_dataset("var_u", "train"), load_dataset("var_u", "test")
    assert len(tr) + len(te) == 4096 and int(te.y.sum()) == round(0.2 * 2118)
