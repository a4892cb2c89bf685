"""Convolutional BNNs: a digits conv BNN's robustness sweep, evaluator throughput, a 48x48x3 ONNX import.

    python benchmarks/bench_conv.py [--images N] [--timeout S] [--big-timeout S] [--out FILE] [--throughput-only]

1. ``conv16k3,maxpool2,10`` trained on the binarised digits (15 epochs, seed 0),
   exported exactly. Its pixel version reads the grey levels 0..16 through a
   ``quantize`` layer (bit = [pixel >= 8], the data set's binarisation).
   Robustness of the first N test images: L∞ eps = 1, 2, 3 grey levels (pixel
   version, order encoding) and Hamming 1, 2, 3 on the binarised input, every
   engine that takes the question side by side under a time limit; verified
   robust accuracy = correct and proved robust.
2. Throughput of the same network: the evaluator, torch float32 (the trained
   module in eval mode) and onnxruntime (the exported graph), batch 1 and 1,000.
3. A larger conv BNN built here (48x48x3 pixels, three binary convolutions with
   max-pooling, a dense head of 43 classes, random ±1 kernels and random batch
   norm), written as ONNX in the larq / tf2onnx pattern (NHWC input, Transpose,
   Sign -> Add(0.1) -> Sign, batch norm as Mul/Add): import time, the imported
   model's classes against onnxruntime, evaluator throughput (default: numpy
   rules at batch 1, compiled conv front for large batches; and compiled at
   every batch), and robustness at L∞ eps = 1, 3, 5 under ``--big-timeout``
   per query (auto: a sampled witness first, then SAT over the order encoding
   whose first layer and conv views are kept by rows).

Every library runs on one thread (BLAS, torch, onnxruntime sessions; numba's kernels use no
``prange``). ``--throughput-only`` trains and imports the two networks but skips both robustness
sweeps (sections 1 and 3): the throughput tables alone, in a few minutes.
"""

from __future__ import annotations

import argparse
import io
import platform
import subprocess
import sys
import time
from pathlib import Path

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):  # one thread
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The digits data set's binarisation threshold (bnnverify.data.datasets: bit = [pixel >= 8]).
DIGITS_CUT = 8
#: The digits' grey levels.
DIGITS_MAX = 16
#: Repetitions of each throughput measurement (the best is reported; 5 left a 1.5x spread between
#: two columns running the same code at load ~4).
REPEATS = 10


#: Calls timed together per repeat at batch 1 (one call there takes 10-100 µs: a single call's time
#: is mostly the timer's and the scheduler's noise on a shared machine).
SMALL_BATCH_CALLS = 100


def _best(fn, repeats=REPEATS, number=1) -> float:
    """Seconds per call: the best of ``repeats`` timings of ``number`` calls each."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def _robust(net, x, region, method, timeout):
    """Robust iff no member of the region has another class (``run.find_class``: witnesses replayed;
    pixel regions through the order encoding). ``check_robustness`` takes bit inputs only on main."""
    from bnnverify.engines import run
    from bnnverify.engines.base import Limits, Outcome
    from bnnverify.errors import EngineError, ModelError, RegionError

    t = time.perf_counter()
    c = int(net.predict(np.asarray(x)[None, :])[0])
    try:
        a = run.find_class(net, region, [k for k in range(net.n_classes) if k != c], method=method or "auto",
                           limits=Limits(timeout=timeout))
    except (EngineError, RegionError, ModelError) as e:
        return f"refused ({str(e)[:80]})", time.perf_counter() - t
    v = {Outcome.NONE: "robust", Outcome.FOUND: "not_robust"}.get(a.search.outcome, a.search.outcome.value)
    if method is None:  # auto: say who decided (sampling before proving, or the engine)
        v += " (sampled)" if "sampled" in a.choice.reason else f" ({a.choice.name})"
    return v, time.perf_counter() - t


def larq_graph(rng, H=48, W=48, C=3, chans=(16, 32, 32), classes=43):
    """A random larq-style conv BNN as ONNX (see the module docstring)."""
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []
    n = helper.make_node

    def init(name, a, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(a, dtype=dtype), name))
        return name

    init("shift", np.array(0.1))
    nodes.append(n("Transpose", ["x"], ["t0"], perm=[0, 3, 1, 2], name="to_nchw"))
    nodes.append(n("Mul", ["t0", init("inv255", np.array(1 / 256))], ["x0"], name="normalise"))
    cur, cin, h, w = "x0", C, H, W
    for i, co in enumerate(chans):
        k = init(f"k{i}", rng.choice([-1.0, 1.0], (co, cin, 3, 3)) * (1.0 if i == 0 else 0.5))
        nodes.append(n("Conv", [cur, k], [f"c{i}"], pads=[1, 1, 1, 1], name=f"conv{i}"))
        nodes.append(n("MaxPool", [f"c{i}"], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2], name=f"pool{i}"))
        g = np.abs(rng.normal(1, 0.3, (1, co, 1, 1))) + 0.05
        b = rng.normal(0, 1, (1, co, 1, 1)) * (3.0 if i == 0 else 1.0)
        nodes.append(n("Mul", [f"p{i}", init(f"g{i}", g)], [f"m{i}"], name=f"bn{i}_mul"))
        nodes.append(n("Add", [f"m{i}", init(f"b{i}", b)], [f"a{i}"], name=f"bn{i}_add"))
        nodes.append(n("Sign", [f"a{i}"], [f"s{i}a"], name=f"sign{i}a"))
        nodes.append(n("Add", [f"s{i}a", "shift"], [f"s{i}b"], name=f"sign{i}_shift"))
        nodes.append(n("Sign", [f"s{i}b"], [f"s{i}"], name=f"sign{i}"))
        cur, cin, h, w = f"s{i}", co, h // 2, w // 2
    nodes.append(n("Transpose", [cur], ["nhwc"], perm=[0, 2, 3, 1], name="to_nhwc"))
    init("shape", np.array([-1, cin * h * w]), np.int64)
    nodes.append(n("Reshape", ["nhwc", "shape"], ["flat"], name="flatten"))
    wd = init("wd", rng.choice([-1.0, 1.0], (cin * h * w, classes)) * 0.125)
    nodes.append(n("MatMul", ["flat", wd], ["d"], name="dense"))
    nodes.append(n("Add", ["d", init("bd", rng.normal(0, 1, classes))], ["logits"], name="dense_bias"))
    nodes.append(n("Softmax", ["logits"], ["probs"], name="softmax"))
    graph = helper.make_graph(nodes, "larq_big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", H, W, C])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", classes])],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--big-timeout", type=float, default=480.0)
    ap.add_argument("--big-images", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "conv.md"))
    ap.add_argument("--throughput-only", action="store_true",
                    help="skip the robustness sweeps of sections 1 and 3 (throughput tables only)")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    import torch

    import bnnverify
    from bnnverify.data.datasets import _digits_raw, load_dataset, stratified_split
    from bnnverify.encoders.layers import BNN, IntegerInputs, QuantizeLayer
    from bnnverify.encoders.pixel_regions import linf_box
    from bnnverify.encoders.regions import HammingBall
    from bnnverify.engines import policy
    from bnnverify.evaluation.evaluator import Evaluator
    from bnnverify.importers.onnx_export import to_onnx
    from bnnverify.importers.onnx_graph import import_onnx
    from bnnverify.training.conv import train_conv

    lines = ["# Convolutional BNNs (issue 12)", "",
             "Command: `python benchmarks/bench_conv.py " + " ".join(sys.argv[1:]) + "`", "",
             f"Load before: `{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}`", "",
             f"Versions: bnnverify {getattr(bnnverify, '__version__', '?')}, python {platform.python_version()}, "
             f"numpy {np.__version__}, torch {torch.__version__}, onnx {onnx.__version__}, "
             f"onnxruntime {ort.__version__}; {platform.machine()}, 2 shared cores", ""]

    # 1. the digits conv BNN
    arch = "conv16k3,maxpool2,10"
    res = train_conv("digits", arch, epochs=15, seed=0)
    net = res.model
    P, y = _digits_raw()
    _, te = stratified_split(y)
    test = load_dataset("digits", "test")
    pix = BNN((QuantizeLayer(np.full((64, 1), DIGITS_CUT), name="layer0"),
               *[type(h).from_arrays(h.arrays(), f"layer{i + 1}") for i, h in enumerate(net.hidden)]), net.output,
              inputs=IntegerInputs.pixels(64, 0, DIGITS_MAX, shape=(1, 8, 8)))
    assert (pix.predict(P[te]) == net.predict(test.X)).all()
    lines += [f"## 1. `{arch}` on digits", "",
              f"Trained 15 epochs, seed 0, {res.seconds:.1f} s: train accuracy {res.train_accuracy:.4f}, "
              f"test accuracy {res.test_accuracy:.4f}, smallest folding margin {res.min_margin:.3g}. "
              f"Layers {', '.join(h.kind for h in net.hidden)}, widths {'-'.join(map(str, net.widths))}; "
              f"the pixel version (quantize at {DIGITS_CUT}, grey levels 0..{DIGITS_MAX}) gives the same class "
              "to every test image.", "",
              f"Robustness of the first {args.images} test images, every engine under a {args.timeout:g} s limit "
              "(robust / not_robust / timeout / unknown / refused, seconds per query):", "",
              "| region | engine | robust | not robust | undecided | mean s | verified robust accuracy |",
              "|---|---|---|---|---|---|---|"]
    idx = list(range(args.images))
    sweep = [] if args.throughput_only else [("linf", 1), ("linf", 2), ("linf", 3), ("hamming", 1), ("hamming", 2),
                                             ("hamming", 3)]
    if args.throughput_only:
        lines.append("| (robustness sweep skipped: --throughput-only) | | | | | | |")
    for kind, r in sweep:
        for method in ("enum", "bdd", "sat"):
            verdicts, secs, vra = [], [], 0
            for i in idx:
                if kind == "linf":
                    c = P[te][i].astype(np.int64)
                    region, model, x = linf_box(c, r, pix.inputs.lo, pix.inputs.hi), pix, c
                else:
                    x = test.X[i]
                    region, model = HammingBall(x, r), net
                v, s = _robust(model, x, region, method, args.timeout)
                verdicts.append(v)
                secs.append(s)
                vra += int(v == "robust" and net.predict(test.X[i])[0] == test.y[i])
            rob, nrob = verdicts.count("robust"), verdicts.count("not_robust")
            und = len(verdicts) - rob - nrob
            label = f"L∞ ε={r} grey levels" if kind == "linf" else f"Hamming {r} (binarised)"
            lines.append(f"| {label} | {method} | {rob} | {nrob} | {und} ({', '.join(sorted(set(v for v in verdicts if v not in ('robust', 'not_robust'))))}) "
                         f"| {np.mean(secs):.2f} | {vra}/{len(idx)} |")
            print(lines[-1], flush=True)

    # 2. throughput
    X1000 = np.random.default_rng(0).integers(0, 2, (1000, 64)).astype(np.uint8)
    ev = Evaluator(net)
    cev = Evaluator(net, compiled=True)
    cev.classify(X1000[:2])  # load the compiled kernels once (~1 s), outside the timings
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sess = ort.InferenceSession(to_onnx(net).SerializeToString(), so, providers=["CPUExecutionProvider"])
    mod = res.module.eval()
    torch.set_num_threads(1)
    rows = []
    for B in (1, 1000):
        Xb = X1000[:B]
        S = torch.from_numpy(2.0 * Xb.astype(np.float32) - 1)
        k = SMALL_BATCH_CALLS if B == 1 else 1
        t_ev = _best(lambda: ev.classify(Xb), number=k)
        with torch.no_grad():
            t_torch = _best(lambda: mod(S).argmax(1), number=k)
        t_ort = _best(lambda: sess.run(None, {"input": Xb.astype(np.float32)}), number=k)
        t_cev = _best(lambda: cev.classify(Xb), number=k)
        rows.append(f"| {B} | {B / t_ev:,.0f} | {B / t_cev:,.0f} | {B / t_torch:,.0f} | {B / t_ort:,.0f} |")
    assert (ev.classify(X1000) == np.argmax(sess.run(None, {"input": X1000.astype(np.float32)})[0], 1)).all()
    # the pixel version: grey levels 0..16 through the quantize layer (onnxruntime on its export)
    G1000 = np.random.default_rng(1).integers(0, DIGITS_MAX + 1, (1000, 64))
    pev, pcev = Evaluator(pix), Evaluator(pix, compiled=True)
    psess = ort.InferenceSession(to_onnx(pix).SerializeToString(), so, providers=["CPUExecutionProvider"])
    pin = psess.get_inputs()[0]
    pshape = [-1] + list(pin.shape[1:])
    assert (pcev.classify(G1000) == np.argmax(psess.run(None, {pin.name: G1000.astype(np.float32).reshape(pshape)})[0],
                                              1)).all()
    prows = []
    for B in (1, 1000):
        Gb = G1000[:B]
        k = SMALL_BATCH_CALLS if B == 1 else 1
        t_ev = _best(lambda: pev.classify(Gb), number=k)
        t_ort = _best(lambda: psess.run(None, {pin.name: Gb.astype(np.float32).reshape(pshape)}), number=k)
        t_cev = _best(lambda: pcev.classify(Gb), number=k)
        prows.append(f"| {B} | {B / t_ev:,.0f} | {B / t_cev:,.0f} | — | {B / t_ort:,.0f} |")
    lines += ["", f"## 2. Throughput (inputs per second, best of {REPEATS}, one thread: BLAS, torch and onnxruntime "
                  f"limited to 1; at batch 1 each repeat times {SMALL_BATCH_CALLS} calls)", "",
              "Bits (the binarised digits, the evaluator's and onnxruntime's classes equal on 1,000 random inputs):", "",
              "| batch | evaluator, default | evaluator, compiled | torch float32 | onnxruntime |",
              "|---|---|---|---|---|", *rows, "",
              f"Pixels (grey levels 0..{DIGITS_MAX} through the quantize layer; onnxruntime on the exported graph, "
              "classes equal on 1,000 random images):", "",
              "| batch | evaluator, default | evaluator, compiled | torch float32 | onnxruntime |",
              "|---|---|---|---|---|", *prows]
    print("\n".join(rows + prows), flush=True)

    # 3. the larger conv BNN through ONNX
    rng = np.random.default_rng(0)
    model = larq_graph(rng)
    buf = io.BytesIO(model.SerializeToString())
    path = Path("/tmp/bench_conv_big.onnx")
    path.write_bytes(buf.getvalue())
    t = time.perf_counter()
    imp = import_onnx(path, (0, 255))
    t_imp = time.perf_counter() - t
    big = imp.net
    Xb = rng.integers(0, 256, (1000, big.n_inputs))
    bsess = ort.InferenceSession(path.read_bytes(), so, providers=["CPUExecutionProvider"])
    probs = bsess.run(None, {"x": Xb.reshape(-1, 48, 48, 3).astype(np.float32)})[0]
    bev = Evaluator(big)
    cev = Evaluator(big, compiled=True)
    agree = int((bev.classify(Xb) == np.argmax(probs, 1)).sum())
    assert (cev.classify(Xb) == bev.classify(Xb)).all()
    thr = []
    for B in (1, 1000):
        k = SMALL_BATCH_CALLS if B == 1 else 1
        t_ev = _best(lambda: bev.classify(Xb[:B]), number=k)
        t_cev = _best(lambda: cev.classify(Xb[:B]), number=k)
        t_ort = _best(lambda: bsess.run(None, {"x": Xb[:B].reshape(-1, 48, 48, 3).astype(np.float32)}), number=k)
        thr.append(f"| {B} | {B / t_ev:,.1f} | {B / t_cev:,.1f} | {B / t_ort:,.1f} |")
    lines += ["", "## 3. 48x48x3, three binary convolutions + max-pooling, 43 classes, via ONNX (larq pattern)", "",
              f"Layers {', '.join(h.kind for h in big.hidden)}, widths {'-'.join(map(str, big.widths))}. "
              f"Import {t_imp:.2f} s (smallest margin {imp.margin:.3g}); classes equal to onnxruntime's on "
              f"{agree}/1000 random images.", "",
              f"Throughput, best of {REPEATS} (at batch 1, of {SMALL_BATCH_CALLS} calls each):", "",
              "| batch | evaluator, default (inputs/s) | evaluator, compiled conv front (inputs/s) | "
              "onnxruntime (inputs/s) |", "|---|---|---|---|", *thr]
    if not args.throughput_only:
        lines += ["", f"Robustness of {args.big_images} random images at L∞ ε (auto engine: "
                      f"{policy.AUTO_SAMPLE_MEMBERS} sampled members, then SAT over the order encoding kept by rows; "
                      f"{args.big_timeout:g} s per query):",
                  "", "| ε | verdicts (who decided) | seconds |", "|---|---|---|"]
    print("\n".join(lines[-10:]), flush=True)
    decided = 0
    for eps in () if args.throughput_only else (1, 3, 5):
        out = []
        for i in range(args.big_images):
            c = Xb[i].astype(np.int64)
            try:
                v, s = _robust(big, c, linf_box(c, eps, big.inputs.lo, big.inputs.hi), None, args.big_timeout)
            except Exception as e:  # noqa: BLE001 - a refusal is a result of the benchmark
                v, s = f"refused: {str(e)[:120]}", 0.0
            out.append((v, s))
        decided += sum(v.startswith(("robust", "not_robust")) for v, _ in out)
        lines.append(f"| {eps} | {'; '.join(v for v, _ in out)} | {', '.join(f'{s:.1f}' for _, s in out)} |")
        print(lines[-1], flush=True)
    if not args.throughput_only:
        lines += ["", f"Decided: {decided} of {3 * args.big_images} queries."]
    lines += ["", f"Load after: `{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}`", ""]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
