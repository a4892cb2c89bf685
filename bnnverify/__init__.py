"""bnnverify: exact, formal analysis of trained binary neural networks.

>>> import bnnverify
>>> bnnverify.BNN is bnnverify.encoders_layers.BNN
True
"""

from encoders import layers as encoders_layers
from encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from encoders.regions import Cube, HammingBall, LinfBox, Region, Whole
from encoders.results import ClassCounts, Disagreement, JointCounts

from .errors import (
    BNNVerifyError,
    BudgetExceeded,
    DataError,
    ModelError,
    ModelFileError,
    RegionError,
    ReplayMismatch,
    SolverError,
)
from .modelio import load_model, save_model
from .reference import Evaluator, code_key, pack_bits, unpack_bits
from .sat import (
    RadiusResult,
    SatResult,
    SatStatus,
    count_projected,
    export_dimacs,
    sat_find_class,
    sat_find_disagreement,
    sat_find_each_class,
    sat_max_radius,
)
from .counting import (
    BDDBudget,
    bdd_class_counts,
    bdd_class_counts_by_radius,
    bdd_code_counts,
    bdd_disagreements,
    bdd_find_class,
    bdd_joint_counts,
)

__version__ = "0.1.0"

__all__ = [
    "SatStatus",
    "SatResult",
    "RadiusResult",
    "sat_find_class",
    "sat_find_each_class",
    "sat_find_disagreement",
    "sat_max_radius",
    "count_projected",
    "export_dimacs",
    "BDDBudget",
    "bdd_class_counts",
    "bdd_class_counts_by_radius",
    "bdd_code_counts",
    "bdd_disagreements",
    "bdd_find_class",
    "bdd_joint_counts",
    "BNN",
    "ArgmaxLayer",
    "ThresholdLayer",
    "Region",
    "Whole",
    "Cube",
    "HammingBall",
    "LinfBox",
    "ClassCounts",
    "Disagreement",
    "JointCounts",
    "Evaluator",
    "pack_bits",
    "unpack_bits",
    "code_key",
    "load_model",
    "save_model",
    "BNNVerifyError",
    "BudgetExceeded",
    "DataError",
    "ModelError",
    "ModelFileError",
    "RegionError",
    "ReplayMismatch",
    "SolverError",
]
