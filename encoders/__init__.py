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

__all__ = [
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
