"""Compilers from plain numeric BNN descriptions to BDDs and CNF.

This package never imports ``bnnverify``; it holds the layer and region
descriptions the compilers consume, and the project's exception hierarchy.
"""

from .errors import BNNVerifyError, BudgetExceeded, ModelError, RegionError, SolverError
from .layers import BNN, ArgmaxLayer, ThresholdLayer, beats, winner
from .regions import Cube, HammingBall, LinfBox, Region, Whole
from .results import ClassCounts, Disagreement, JointCounts
from .bdd import BDDBudget, BDDCompiler, NetworkBDD
from .bdd_count import ExactCounter, exact_count
from .cardinality_cnf import DEFAULT_ENCODING, ENCODINGS, resolve_encoding
from .cnf import CnfFormula, class_formula, disagreement_formula, encode
from .solving import DEFAULT_SOLVER, SOLVERS, SatStatus, SolverSession, resolve_solver

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
