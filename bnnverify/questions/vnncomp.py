"""VNN-COMP instances: an ONNX model, a VNN-LIB property, a time limit -> sat / unsat / timeout / unknown.

The property (:mod:`bnnverify.importers.vnnlib`) asks whether some input of a
box makes ``Y_j >= Y_k`` for a target j (ties count). bnnverify answers it
exactly with its argmax engines on a derived network: the output layer keeps
the target classes and the reference, the reference *last* — the class is the
smallest index among the maximal scores, so the derived class differs from the
reference iff some target scores at least as much. Over integer inputs (the
model's declared domain: the box's integer points) the runner's ``find_class``
decides it (order encoding, SAT/BDD/enumeration, witnesses replayed).

A ``sat`` answer is written only after its counterexample has been replayed
on the semantics module (the exact model: ``Y_j >= Y_k``) *and* on onnxruntime
(the ONNX graph in float32: the same comparison on its outputs); when
onnxruntime does not confirm it the instance is ``unknown`` and the note says
why. The result file is the competition's: the status line, then for ``sat``
``((X_0 v) ... (Y_0 v) ...)`` with the inputs and onnxruntime's outputs.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bnnverify.encoders.layers import BNN, IntegerInputs
from bnnverify.encoders.pixel_regions import IntBox
from bnnverify.errors import DataError, InternalError

__all__ = ["VnnResult", "solve_instance", "result_text", "run_instances", "STATUSES"]

STATUSES = ("sat", "unsat", "timeout", "unknown")


@dataclass(frozen=True)
class VnnResult:
    status: str
    seconds: float
    method: str
    inputs: np.ndarray | None = None
    outputs: np.ndarray | None = None
    notes: tuple[str, ...] = ()


def _derived(net: BNN, reference: int, targets: tuple[int, ...], inputs: IntegerInputs) -> BNN:
    """Only the property's classes, the reference last (it loses every tie: ``Y_j >= Y_ref``), over the box's inputs."""
    from bnnverify.questions.robustness import with_class_order

    return with_class_order(BNN(net.hidden, net.output, metadata=net.metadata, inputs=inputs),
                            list(targets) + [reference])


def _onnx_outputs(model_bytes: bytes, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.asarray(sess.run(None, {name: x.reshape(1, *shape).astype(np.float32)})[0]).reshape(-1)


def solve_instance(onnx_path: "str | Path", vnnlib_path: "str | Path", timeout: float,
                   method: str | None = "auto") -> VnnResult:
    """Decide one instance within ``timeout`` seconds (import and parsing included)."""
    from bnnverify import semantics
    from bnnverify.engines import run
    from bnnverify.engines.base import Limits, Outcome
    from bnnverify.importers.onnx_graph import import_onnx
    from bnnverify.importers.vnnlib import read_vnnlib

    t0 = time.perf_counter()
    if not (timeout > 0 and math.isfinite(timeout)):
        raise DataError(f"timeout: must be a positive number of seconds, got {timeout}", param="timeout")
    prop = read_vnnlib(vnnlib_path)
    lo, hi = prop.integer_box()
    notes = []
    if prop.rounded:
        notes.append("non-integer bounds rounded inward: the answer is about the box's integer inputs")
    notes.append("domain: the integer inputs of the box (the model's declared integer features)")
    imp = import_onnx(onnx_path, (int(lo.min()), int(hi.max())), bits=False)
    net = imp.net
    if net.n_inputs != len(lo) or net.n_classes != prop.n_outputs:
        raise DataError(f"{vnnlib_path}: declares {len(lo)} inputs and {prop.n_outputs} outputs, the model has "
                        f"{net.n_inputs} and {net.n_classes}")
    inputs = IntegerInputs(lo, hi, shape=net.inputs.shape)
    derived = _derived(net, prop.reference, prop.targets, inputs)
    left = timeout - (time.perf_counter() - t0)
    if left <= 0:
        return VnnResult("timeout", time.perf_counter() - t0, "import", notes=tuple(notes))
    ans = run.find_class(derived, IntBox(lo, hi), list(range(len(prop.targets))), method=method,
                         limits=Limits(timeout=left))
    s = ans.search
    name = str(ans.choice.name)
    secs = time.perf_counter() - t0
    if s.outcome is Outcome.NONE:
        return VnnResult("unsat", secs, name, notes=tuple(notes))
    if s.outcome is Outcome.TIMEOUT:
        return VnnResult("timeout", secs, name, notes=tuple(notes + [s.note] if s.note else notes))
    if s.outcome is not Outcome.FOUND:
        return VnnResult("unknown", secs, name, notes=tuple(notes + [s.note] if s.note else notes))
    x = np.asarray(s.witness, dtype=np.int64)
    scores = semantics.forward(net, x).scores
    if not any(scores[j] >= scores[prop.reference] for j in prop.targets) or not (
            (x >= lo).all() and (x <= hi).all()):
        raise InternalError(f"counterexample {x.tolist()} does not replay on the semantics")
    y = _onnx_outputs(Path(onnx_path).read_bytes(), x, imp.input_shape)
    if not any(y[j] >= y[prop.reference] for j in prop.targets):
        notes.append("the exact model's counterexample is not one for onnxruntime's float32 outputs: "
                     "not written as sat")
        return VnnResult("unknown", time.perf_counter() - t0, name, x, y, tuple(notes))
    return VnnResult("sat", time.perf_counter() - t0, name, x, y, tuple(notes))


def result_text(res: VnnResult) -> str:
    """The competition's result file."""
    if res.status != "sat":
        return res.status + "\n"
    assert res.inputs is not None and res.outputs is not None
    items = [f"(X_{i} {int(v)})" for i, v in enumerate(res.inputs.tolist())]
    items += [f"(Y_{j} {float(v)!r})" for j, v in enumerate(res.outputs.tolist())]
    return "sat\n(" + "\n ".join(items) + ")\n"


def run_instances(csv_path: "str | Path", out_dir: "str | Path", method: str | None = "auto") -> list[dict[str, Any]]:
    """Every row ``onnx,vnnlib,timeout`` of ``instances.csv`` (paths relative to it): one result file each
    in ``out_dir`` and a summary row per instance (also written as ``summary.md``)."""
    from bnnverify.files.atomic import atomic_write

    csv_path = Path(csv_path)
    base = csv_path.parent
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(csv_path, newline="") as fh:
        for i, r in enumerate(csv.reader(fh)):
            if not r or r[0].startswith("#"):
                continue
            if len(r) != 3:
                raise DataError(f"{csv_path}: row {i + 1} must be onnx,vnnlib,timeout, got {r}")
            onnx_p, prop_p = base / r[0].strip(), base / r[1].strip()
            try:
                timeout = float(r[2])
            except ValueError:
                raise DataError(f"{csv_path}: row {i + 1}: timeout {r[2]!r} is not a number") from None
            res = solve_instance(onnx_p, prop_p, timeout, method)
            name = f"{i:04d}_{Path(r[0]).stem}_{Path(r[1]).stem}.txt"
            with atomic_write(out / name, "w") as f:
                f.write(result_text(res))
            rows.append({"instance": i, "onnx": r[0], "vnnlib": r[1], "timeout": timeout, "status": res.status,
                         "seconds": round(res.seconds, 3), "method": res.method, "result": name})
    lines = ["| # | onnx | vnnlib | timeout (s) | status | seconds | engine |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['instance']} | {r['onnx']} | {r['vnnlib']} | {r['timeout']:g} | {r['status']} | "
              f"{r['seconds']:.3f} | {r['method']} |" for r in rows]
    with atomic_write(out / "summary.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    return rows
