"""Compilers from plain numeric BNN descriptions to BDDs and CNF.

This package never imports the rest of ``bnnverify``; it holds the layer and
region descriptions the compilers consume, and the project's exception
hierarchy. Its names are imported on first use (``import bnnverify.encoders``
loads neither CUDD nor PySAT).
"""

import importlib
from typing import Any

#: public name -> the module that defines it (imported on first access: importing the
#: package must not load CUDD and PySAT, which a command's --help never needs)
_PUBLIC = {
    "BNNVerifyError": "errors",
    "BudgetExceeded": "errors",
    "ModelError": "errors",
    "RegionError": "errors",
    "SolverError": "errors",
    "BNN": "layers",
    "ArgmaxLayer": "layers",
    "ThresholdLayer": "layers",
    "beats": "layers",
    "winner": "layers",
    "Cube": "regions",
    "HammingBall": "regions",
    "LinfBox": "regions",
    "Region": "regions",
    "Whole": "regions",
    "ClassCounts": "results",
    "Disagreement": "results",
    "JointCounts": "results",
    "BDDBudget": "bdd",
    "BDDCompiler": "bdd",
    "NetworkBDD": "bdd",
    "ExactCounter": "bdd_count",
    "exact_count": "bdd_count",
    "DEFAULT_ENCODING": "cardinality_cnf",
    "ENCODINGS": "cardinality_cnf",
    "resolve_encoding": "cardinality_cnf",
    "CnfFormula": "cnf",
    "class_formula": "cnf",
    "disagreement_formula": "cnf",
    "encode": "cnf",
    "DEFAULT_SOLVER": "solving",
    "SOLVERS": "solving",
    "SatStatus": "solving",
    "SolverSession": "solving",
    "resolve_solver": "solving",
}

__all__ = [
    "SatStatus",
    "SOLVERS",
    "ENCODINGS",
    "DEFAULT_SOLVER",
    "DEFAULT_ENCODING",
    "resolve_solver",
    "resolve_encoding",
    "SolverSession",
    "CnfFormula",
    "encode",
    "class_formula",
    "disagreement_formula",
    "BDDBudget",
    "BDDCompiler",
    "NetworkBDD",
    "ExactCounter",
    "exact_count",
    "BNN",
    "ArgmaxLayer",
    "ThresholdLayer",
    "beats",
    "winner",
    "Region",
    "Whole",
    "Cube",
    "HammingBall",
    "LinfBox",
    "ClassCounts",
    "Disagreement",
    "JointCounts",
    "BNNVerifyError",
    "BudgetExceeded",
    "ModelError",
    "RegionError",
    "SolverError",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'bnnverify.encoders' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
