"""bnnverify: exact, formal analysis of trained binary neural networks.

The questions users ask are here, at the top (imported on first use, so
``import bnnverify`` stays cheap):

>>> import numpy as np, tempfile, pathlib, bnnverify
>>> h = bnnverify.ThresholdLayer(np.array([[1, 1, 1]], dtype=np.int8), np.array([3]))
>>> o = bnnverify.ArgmaxLayer(np.array([[1], [-1]], dtype=np.int8), np.ones(2), np.zeros(2))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
>>> _ = bnnverify.save_model(bnnverify.BNN((h,), o), path)   # class 0 iff all three bits are 1
>>> net = bnnverify.load_model(path)
>>> x = np.array([1, 1, 1], dtype=np.uint8)
>>> r = bnnverify.check_robustness(net, x, bnnverify.HammingBall(x, 1), count=True)
>>> r.verdict, r.adversarial_count, r.region["size"], r.method
(<Verdict.NOT_ROBUST: 'not_robust'>, 3, 4, <Method.ENUM: 'enum'>)
>>> r.counterexample_class, bnnverify.classify(net, r.counterexample)
(1, 1)

Data sets: ``bnnverify.load_dataset("digits", "test")``. Engines (``method=``)
are listed by ``bnnverify.engines.registry.ENGINES``; what each layer kind
means is written once, in :mod:`bnnverify.semantics`.

Subpackages: ``encoders`` (compilers to BDD and CNF, layer and region types),
``semantics``, ``evaluation`` (the fast evaluator), ``engines`` (one
interface, one registry, one ``auto`` policy), ``questions`` (robustness,
equivalence, sweeps), ``information`` (exact I(X;T), I(T;Y), the information
plane), ``training``, ``importers``, ``files``, ``data``, ``model``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first access)
_PUBLIC: dict[str, str] = {
    # networks and regions
    "BNN": "bnnverify.encoders.layers",
    "ThresholdLayer": "bnnverify.encoders.layers",
    "ArgmaxLayer": "bnnverify.encoders.layers",
    "Region": "bnnverify.encoders.regions",
    "Whole": "bnnverify.encoders.regions",
    "Cube": "bnnverify.encoders.regions",
    "HammingBall": "bnnverify.encoders.regions",
    "LinfBox": "bnnverify.encoders.regions",
    "ClassCounts": "bnnverify.encoders.results",
    "Disagreement": "bnnverify.encoders.results",
    "JointCounts": "bnnverify.encoders.results",
    # files and data
    "load_model": "bnnverify.files.modelio",
    "save_model": "bnnverify.files.modelio",
    "load_dataset": "bnnverify.data.datasets",
    "load_data_file": "bnnverify.data.datasets",
    "Dataset": "bnnverify.data.datasets",
    # meaning and evaluation
    "forward": "bnnverify.semantics",
    "classify": "bnnverify.semantics",
    "Evaluator": "bnnverify.evaluation.evaluator",
    "pack_bits": "bnnverify.evaluation.evaluator",
    "unpack_bits": "bnnverify.evaluation.evaluator",
    "code_key": "bnnverify.evaluation.evaluator",
    # questions
    "Verdict": "bnnverify.questions.verdict",
    "check_robustness": "bnnverify.questions.robustness",
    "max_robust_radius": "bnnverify.questions.robustness",
    "RobustnessResult": "bnnverify.questions.robustness",
    "MaxRadiusResult": "bnnverify.questions.robustness",
    "check_equivalence": "bnnverify.questions.equivalence",
    "EquivalenceResult": "bnnverify.questions.equivalence",
    "sufficient_reason": "bnnverify.questions.explain",
    "contrastive_reason": "bnnverify.questions.explain",
    "prime_implicants": "bnnverify.questions.explain",
    "essential_features": "bnnverify.questions.explain",
    "shapley_values": "bnnverify.questions.explain",
    "info_over_region": "bnnverify.information.measures",
    "info_over_dataset": "bnnverify.information.measures",
    "info_over_balls": "bnnverify.information.measures",
    "entropy_bits": "bnnverify.information.measures",
    "code_graph": "bnnverify.information.codegraph",
    # errors
    "BNNVerifyError": "bnnverify.errors",
    "UsageError": "bnnverify.errors",
    "InternalError": "bnnverify.errors",
    "BudgetExceeded": "bnnverify.errors",
    "DataError": "bnnverify.errors",
    "ModelError": "bnnverify.errors",
    "ModelFileError": "bnnverify.errors",
    "RegionError": "bnnverify.errors",
    "ReplayMismatch": "bnnverify.errors",
    "SolverError": "bnnverify.errors",
    "EngineError": "bnnverify.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'bnnverify' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
