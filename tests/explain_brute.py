"""Brute-force definitions of the explanation questions, on the semantics, for tiny regions.

Used by the conformance battery (``tests/conformance.py``) and
``tests/test_explain.py``: every sufficient reason, prime implicant, essential
literal and Shapley value an engine reports is compared with these.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import factorial

import numpy as np

from bnnverify import semantics
from bnnverify.encoders.regions import Cube, HammingBall, Whole
from bnnverify.engines.terms import free_bits


def table(net, region) -> tuple[np.ndarray, np.ndarray]:
    """Every member of ``region`` (rows) and its class by the semantics."""
    X = np.concatenate(list(region.members()))
    y = np.array([semantics.classify(net, x) for x in X], dtype=np.int64)
    return X, y


def agree(X: np.ndarray, term: dict[int, int]) -> np.ndarray:
    ok = np.ones(len(X), bool)
    for i, b in term.items():
        ok &= X[:, i] == b
    return ok


def is_sufficient(X, y, x, S, target) -> bool:
    sel = agree(X, {i: int(x[i]) for i in S})
    return bool((y[sel] == target).all())


def is_implicant(X, y, term, targets) -> bool:
    sel = agree(X, term)
    return bool(sel.any()) and bool(np.isin(y[sel], list(targets)).all())


def is_prime(X, y, term, targets) -> bool:
    return is_implicant(X, y, term, targets) and all(
        not is_implicant(X, y, {j: b for j, b in term.items() if j != i}, targets) for i in term)


def all_primes(X, y, free, targets) -> list[dict[int, int]]:
    """Every prime implicant over the free bits (3^m terms: tiny m only)."""
    out = []
    for vals in itertools.product((None, 0, 1), repeat=len(free)):
        term = {i: v for i, v in zip(free, vals) if v is not None}
        if is_prime(X, y, term, targets):
            out.append(term)
    return out


def shapley(X, y, x, free, targets) -> dict[int, Fraction]:
    """The definition: v(S) = P(class in targets | agree with x on S), uniform on the members."""
    f = np.isin(y, list(targets))
    m = len(free)

    def v(S):
        sel = agree(X, {i: int(x[i]) for i in S})
        return Fraction(int(f[sel].sum()), int(sel.sum()))

    out = {}
    for i in free:
        rest = [j for j in free if j != i]
        phi = Fraction(0)
        for k in range(m):
            w = Fraction(factorial(k) * factorial(m - k - 1), factorial(m))
            for S in itertools.combinations(rest, k):
                phi += w * (v(S + (i,)) - v(S))
        out[i] = phi
    return out


def explain_region(region, x):
    """``region`` made one explanations take, containing ``x`` (a ball is re-centred at ``x``)."""
    if isinstance(region, HammingBall):
        return HammingBall(x, region.radius, region.mutable)
    if isinstance(region, Cube):
        return Cube(x, region.fixed_mask)
    if isinstance(region, Whole):
        return region
    return Whole(region.n)
