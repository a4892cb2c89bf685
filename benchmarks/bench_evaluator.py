"""The reference evaluator's speed and exact enumeration, side by side in one run.

Usage (from the repository root):

    python benchmarks/bench_evaluator.py [--repeat 5] [--out benchmarks/results/evaluator.md]

writes ``benchmarks/results/evaluator.md``. Workloads:

1. a 784-512-512-10 network (random ±1 weights, thresholds in -3..3) on
   10,000 random inputs: the bit-packed evaluator (1 and 2 threads; its numpy
   loop and, with numba, its compiled XOR-popcount kernel), the same
   network as torch float32 matrix products on the CPU (default threads and
   ``torch.set_num_threads(1)``), and a naive numpy XOR/popcount loop;
2. the same network on batches of 1, 10 and 100 inputs (evaluator vs torch);
3. every input of a random 20-16-8-2 network (2^20): ``enum_class_counts``
   (integer-coded inputs + chunk tables + layer tables),
   ``Evaluator.classify_ints``, and the packed evaluator on the bit rows;
4. BNNQuanalyst: the Hamming ball of radius 3 around ``instance_0_100`` on
   ``mnist_bnn_2_blk_100_50_20_10`` (166,751 inputs), all 2^16 inputs of
   ``mnist_bnn_2_blk_16_25_20_10``, and on ``mnist_bnn_1_blk_784_100_10`` the
   radius-2 ball around ``instance_0_784`` (307,721 inputs) and the 2^20 cube
   of ``fixed_set_file_random_784_20``: ``enum_class_counts`` vs a plain
   brute force (``region.members()`` rows through ``Evaluator.classify``);
5. the Hamming-ball kernel (``bnnverify/evaluation/flips.py``) on the radius-2
   and radius-3 balls around ``instance_0_784`` of ``mnist_bnn_1_blk_784_100_10``:
   members per second (each member's first-layer code, counted per code).

Each figure is the best of ``--repeat`` wall-clock runs (after one warm-up
that is not counted, except where stated: the enumeration figures include
building every table, since a fresh call pays for it). Every method's
answer is checked against the evaluator's. The machine is shared: the load
average is recorded before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bnnverify.engines.enumeration import enum_class_counts  # noqa: E402
from bnnverify.evaluation.evaluator import DEFAULT_CHUNK, Evaluator  # noqa: E402
from bnnverify.evaluation.flips import HAVE_NUMBA  # noqa: E402
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer  # noqa: E402
from bnnverify.encoders.regions import HammingBall, Whole  # noqa: E402

ANCHORS = Path(os.environ.get("BNNVERIFY_ANCHORS", ROOT.parent / "shared" / "anchors" / "bnnquanalyst"))
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "evaluator.md"
#: Inputs of the large-batch workload.
N_INPUTS = 10_000
#: Small batch sizes compared with torch.
SMALL_BATCHES = (1, 10, 100)
#: Calls per timing of a small batch (the per-call time is the mean of these).
SMALL_CALLS = 200
SEED = 0
#: Small-batch figures take the best of this many times ``--repeat`` runs (short runs are easily preempted).
SMALL_REPEAT_FACTOR = 3


def best_of(fn: Callable[[], object], repeat: int, warm: bool = True) -> tuple[float, float, object]:
    """Best wall-clock time of ``repeat`` calls (after one uncounted warm-up if ``warm``),
    the process CPU time of that run, and the last result."""
    out = fn() if warm else None
    best, cpu = float("inf"), float("nan")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        t, c = time.perf_counter() - t, time.process_time() - c
        if t < best:
            best, cpu = t, c
    return best, cpu, out


def random_net(widths: list[int], classes: int, rng: np.random.Generator) -> BNN:
    pm = lambda *s: np.where(rng.random(s) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    hidden = tuple(
        ThresholdLayer(pm(widths[i + 1], widths[i]), rng.integers(-3, 4, widths[i + 1]), name=f"layer{i}")
        for i in range(len(widths) - 1)
    )
    return BNN(hidden, ArgmaxLayer(pm(classes, widths[-1]), np.ones(classes), np.zeros(classes)))


def torch_forward(net: BNN):
    """The network as torch float32 matrix products: ±1 activations, >= thresholds, argmax."""
    import torch

    Ws = [torch.tensor(h.weights, dtype=torch.float32).T.contiguous() for h in net.hidden]
    ts = [torch.tensor(h.thresholds, dtype=torch.float32) for h in net.hidden]
    Wo = torch.tensor(net.output.weights, dtype=torch.float32).T.contiguous()
    a = torch.tensor(net.output.scale, dtype=torch.float32)
    b = torch.tensor(net.output.bias, dtype=torch.float32)

    def run(X01):
        with torch.inference_mode():
            s = X01 * 2 - 1
            for W, t in zip(Ws, ts):
                s = torch.where(s @ W >= t, 1.0, -1.0)
            return torch.argmax(a * (s @ Wo) + b, dim=1)

    return run


def naive_classify(net: BNN, X: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """A naive numpy XOR/popcount evaluator: (N, m) int32 accumulators, one broadcast per word."""
    from bnnverify.evaluation.evaluator import pack_bits

    layers = [(pack_bits((h.weights == 1).astype(np.uint8)), h.n_inputs, h.thresholds) for h in net.hidden]
    wo = pack_bits((net.output.weights == 1).astype(np.uint8))
    out = []
    for s in range(0, len(X), chunk):
        cur = pack_bits(X[s : s + chunk])
        for wp, n, t in layers:
            acc = np.zeros((len(cur), wp.shape[0]), np.int32)
            for k in range(cur.shape[1]):
                acc += np.bitwise_count(cur[:, k, None] ^ wp[None, :, k])
            cur = pack_bits((n - 2 * acc >= t[None, :]).astype(np.uint8))
        acc = np.zeros((len(cur), wo.shape[0]), np.int32)
        for k in range(cur.shape[1]):
            acc += np.bitwise_count(cur[:, k, None] ^ wo[None, :, k])
        dots = net.output.n_inputs - 2 * acc
        out.append(np.argmax(net.output.scale * dots + net.output.bias, axis=1))
    return np.concatenate(out)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "uptime unavailable"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Table:
    """Rows of the results table; each row also records the CPU time of its best run."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, workload: str, method: str, n: int, seconds: float, cpu: float, bound: str) -> None:
        rate = n / seconds if seconds > 0 else float("inf")
        self.rows.append((workload, method, f"{rate:,.0f}", f"{seconds:.4g}", f"{cpu:.4g}", bound))
        print(f"{workload:34s} {method:44s} {rate:>14,.0f}/s {seconds:9.4g} s (cpu {cpu:.4g} s)", flush=True)

    def markdown(self) -> str:
        head = (
            "| workload | method | inputs/s | seconds (wall) | CPU seconds | what bounds it |\n"
            "|---|---|---:|---:|---:|---|\n"
        )
        return head + "\n".join("| " + " | ".join(r) + " |" for r in self.rows) + "\n"


BOUND_POPCOUNT = (
    "popcount throughput: ~0.6 ns per (input, neuron, 64-bit word) = XOR pass + numpy's "
    "scalar `bitwise_count` (~1 word/cycle) + uint8 adds; 10.8k word-ops per input"
)
BOUND_BLAS = "BLAS float32 FMA throughput: 663k multiply-adds per input"
BOUND_NAIVE = "(N, m) int32 temporaries per word and numpy's buffered broadcast XOR (~3x slower per element)"
BOUND_SMALL = {
    1: "Python + numpy call overhead (~25 numpy calls)",
    10: "numpy call overhead + one broadcast XOR/popcount/reduction per layer",
    100: "popcount work (~7 us per input) + ~65 numpy calls of block overhead",
}
BOUND_SMALL_TORCH = {1: "torch op dispatch overhead per layer", 10: "torch op dispatch overhead per layer",
                     100: "BLAS float32 FMA throughput + dispatch"}


#: What bounds the compiled XOR-popcount kernel (bnnverify/evaluation/xorpop.py).
BOUND_COMPILED = ("vectorised XOR + llvm.ctpop over 64-bit lanes, neuron loop innermost (~0.6 ns per word-op "
                  "with packing and firing); the rest: packing inputs and codes")


def bench_ball_kernel(table: Table, repeat: int) -> None:
    """Members per second of the Hamming-ball kernel (first-layer codes of every member, counted)."""
    if not HAVE_NUMBA:
        return
    from bnnverify.encoders.regions import HammingBall
    from bnnverify.evaluation.flips import FlipPlan, count_codes
    from bnnverify.importers.bnnquanalyst import import_bnnquanalyst, read_instance

    net = import_bnnquanalyst(ANCHORS / "models" / "mnist_bnn_1_blk_784_100_10")
    x = np.asarray(read_instance(ANCHORS / "inputs" / "instance_0_784.txt"), np.uint8)
    for r in (2, 3):
        ball = HammingBall(x, r)
        plan = FlipPlan.of(net, ball)
        t, cpu, _ = best_of(lambda: count_codes(plan), repeat)
        table.add(f"mnist_bnn_1_blk_784_100_10, Hamming r={r} ball (instance_0_784)",
                  "Hamming-ball kernel (first-layer codes of every member, 2 threads)", ball.size, t, cpu,
                  f"{plan.k} neurons can change, {len(plan.cols)} bit types: {plan.work()} type multisets, "
                  "a few word operations and one hash-table add each")


def bench_large(table: Table, repeat: int, rng: np.random.Generator) -> None:
    import torch

    net = random_net([784, 512, 512], 10, rng)
    X = rng.integers(0, 2, (N_INPUTS, 784), dtype=np.uint8)
    work = f"784-512-512-10, {N_INPUTS:,} inputs"
    ref = Evaluator(net).classify(X)
    ref = Evaluator(net, compiled=False).classify(X)
    for threads in (1, 2):
        ev = Evaluator(net, threads=threads, compiled=False)
        t, cpu, got = best_of(lambda: ev.classify(X), repeat)
        assert np.array_equal(got, ref)
        table.add(work, f"bnnverify Evaluator, numpy loop, {threads} thread{'s' if threads > 1 else ''}", N_INPUTS,
                  t, cpu, BOUND_POPCOUNT + ("; 2 threads share 2 busy cores" if threads > 1 else ""))
        if HAVE_NUMBA:
            ev = Evaluator(net, threads=threads, compiled=True)
            t, cpu, got = best_of(lambda: ev.classify(X), repeat)
            assert np.array_equal(got, ref) and np.array_equal(ev.trace(X[:999]).dots,
                                                               Evaluator(net, compiled=False).trace(X[:999]).dots)
            table.add(work, f"bnnverify Evaluator, compiled kernel, {threads} thread{'s' if threads > 1 else ''}",
                      N_INPUTS, t, cpu, BOUND_COMPILED)
    run = torch_forward(net)
    Xt = torch.tensor(X, dtype=torch.float32)
    default_threads = torch.get_num_threads()
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        t, cpu, got = best_of(lambda: run(Xt), repeat)
        assert np.array_equal(got.numpy(), ref)
        table.add(work, f"torch float32 matmul, {threads} thread{'s' if threads > 1 else ''}", N_INPUTS, t, cpu,
                  BOUND_BLAS)
    torch.set_num_threads(default_threads)
    t, cpu, got = best_of(lambda: naive_classify(net, X), max(1, repeat // 2))
    assert np.array_equal(got, ref)
    table.add(work, "naive numpy XOR/popcount loop", N_INPUTS, t, cpu, BOUND_NAIVE)

    ev = Evaluator(net)
    for N in SMALL_BATCHES:
        x = X[:N]
        xt = Xt[:N]
        calls = max(10, SMALL_CALLS // N)

        def many_ev():
            for _ in range(calls):
                ev.classify(x)

        t, cpu, _ = best_of(many_ev, SMALL_REPEAT_FACTOR * repeat)
        table.add(f"784-512-512-10, batches of {N}", "bnnverify Evaluator, 1 thread", N, t / calls, cpu / calls,
                  BOUND_SMALL[N])
        for threads in (default_threads, 1):
            torch.set_num_threads(threads)

            def many_torch():
                for _ in range(calls):
                    run(xt)

            t, cpu, _ = best_of(many_torch, SMALL_REPEAT_FACTOR * repeat)
            table.add(f"784-512-512-10, batches of {N}", f"torch float32, {threads} thread{'s' if threads > 1 else ''}",
                      N, t / calls, cpu / calls, BOUND_SMALL_TORCH[N])
        torch.set_num_threads(default_threads)


def bench_twenty(table: Table, repeat: int, rng: np.random.Generator) -> None:
    net = random_net([20, 16, 8], 2, rng)
    N = 1 << 20
    work = "20-16-8-2, all 2^20 inputs"
    u = np.arange(N, dtype=np.uint64)
    X = ((u[:, None] >> np.arange(20, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    ref = Evaluator(net).classify(X)
    want = tuple(np.bincount(ref, minlength=2).tolist())
    t, cpu, got = best_of(lambda: enum_class_counts(net, Whole(20)), repeat, warm=False)
    assert got.counts == want
    table.add(work, "enum_class_counts (chunk + layer tables; incl. building them)", N, t, cpu,
              "~4 passes over (inputs x 16) bytes: threshold compare, bit packing, 2 table gathers")
    t, cpu, got = best_of(lambda: Evaluator(net).classify_ints(u), repeat, warm=False)
    assert np.array_equal(got, ref)
    table.add(work, "Evaluator.classify_ints (fresh evaluator)", N, t, cpu,
              "chunk-table gathers of (inputs x 16) int16 rows + the same tail")
    t, cpu, got = best_of(lambda: Evaluator(net).classify(X), max(1, repeat // 2))
    assert np.array_equal(got, ref)
    table.add(work, "Evaluator.classify on bit rows", N, t, cpu, "per-row packing + narrow popcount layers")


def bench_bnnquanalyst(table: Table, repeat: int) -> None:
    try:
        from bnnverify.importers.bnnquanalyst import import_bnnquanalyst
    except ImportError:  # pragma: no cover - the importer ships with bnnverify
        print("BNNQuanalyst importer unavailable: skipped", file=sys.stderr)
        return
    if not (ANCHORS / "models").is_dir():
        print(f"BNNQuanalyst anchors not found at {ANCHORS}: skipped", file=sys.stderr)
        return
    net = import_bnnquanalyst(ANCHORS / "models" / "mnist_bnn_2_blk_100_50_20_10")
    x = np.loadtxt(ANCHORS / "inputs" / "instance_0_100.txt", dtype=np.int64).astype(np.uint8).reshape(-1)
    cases = [
        ("mnist_bnn_2_blk_100_50_20_10, Hamming r=3 ball (instance_0_100)", net, HammingBall(x, 3),
         "incremental first-layer dots (one compare per member and neuron) + packed 50->20->10 tail"),
    ]
    net16 = import_bnnquanalyst(ANCHORS / "models" / "mnist_bnn_2_blk_16_25_20_10")
    cases.append(("mnist_bnn_2_blk_16_25_20_10, all 2^16 inputs", net16, Whole(16),
                  "chunk tables + packed 25->20->10 tail (no layer tables: 2^25, 2^20 rows > 2^16 members)"))
    from bnnverify.importers.bnnquanalyst import read_fixed_set, read_instance
    from bnnverify.encoders.regions import Cube

    net784 = import_bnnquanalyst(ANCHORS / "models" / "mnist_bnn_1_blk_784_100_10")
    x784 = read_instance(ANCHORS / "inputs" / "instance_0_784.txt", 784)
    cases.append(("mnist_bnn_1_blk_784_100_10, Hamming r=2 ball (instance_0_784)", net784, HammingBall(x784, 2),
                  "incremental first-layer dots (100 neurons) + packed 100->10 output"))
    free = read_fixed_set(ANCHORS / "inputs" / "fixed_set_file_random_784_20.txt", 784)
    cases.append(("mnist_bnn_1_blk_784_100_10, 2^20 cube (instance_0_784, fixed_set_file_random_784_20)",
                  net784, Cube.from_free(x784, free),
                  "chunk tables: one compare per member and neuron + packing + packed 100->10 output"))
    for work, model, region, bound in cases:
        def plain():
            ev = Evaluator(model)
            return np.bincount(np.concatenate([ev.classify(X) for X in region.members()]), minlength=model.n_classes)

        t, cpu, want = best_of(plain, max(1, repeat // 2), warm=False)
        table.add(work, "plain: members() rows + Evaluator.classify", region.size, t, cpu,
                  "building member bit rows (Python-level combinations for balls) + packing + popcount layers")
        t, cpu, got = best_of(lambda: enum_class_counts(model, region), repeat, warm=False)
        assert list(got.counts) == want.tolist()
        table.add(work, "enum_class_counts", region.size, t, cpu, bound)


def kernel_breakdown(repeat: int, rng: np.random.Generator) -> str:
    """Per-element cost of the evaluator's inner steps on one (chunk, 512) block of 64-bit words."""
    from bnnverify.evaluation.evaluator import UFUNC_BUFSIZE

    N, m = DEFAULT_CHUNK, 512
    x = rng.integers(0, 2**63, N, dtype=np.uint64)
    w = rng.integers(0, 2**63, m, dtype=np.uint64)
    buf = np.empty((N, m), np.uint64)
    c8 = np.empty((N, m), np.uint8)
    acc = np.zeros((N, m), np.uint16)
    steps = [
        ("broadcast XOR, default ufunc buffer (8192)", lambda: np.bitwise_xor(x[:, None], w, out=buf), None),
        (f"broadcast XOR, ufunc buffer {UFUNC_BUFSIZE}", lambda: np.bitwise_xor(x[:, None], w, out=buf), UFUNC_BUFSIZE),
        ("bitwise_count uint64 -> uint8", lambda: np.bitwise_count(buf, out=c8), UFUNC_BUFSIZE),
        ("uint8 add (grouped words)", lambda: np.add(c8, c8, out=c8), UFUNC_BUFSIZE),
        ("widening add uint8 -> uint16", lambda: np.add(acc, c8, out=acc), UFUNC_BUFSIZE),
    ]
    lines = ["| step | ns per (input, neuron, word) |", "|---|---:|"]
    reps = 50
    for name, fn, bufsize in steps:
        old = np.setbufsize(bufsize) if bufsize else np.getbufsize()
        try:
            def many():
                for _ in range(reps):
                    fn()

            t, cpu, _ = best_of(many, repeat)
        finally:
            np.setbufsize(old)
        lines.append(f"| {name} | {t / reps / (N * m) * 1e9:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per figure (best is reported)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(SEED)
    before = uptime()
    table = Table()
    t0 = time.perf_counter()
    bench_large(table, args.repeat, rng)
    bench_twenty(table, args.repeat, rng)
    bench_bnnquanalyst(table, args.repeat)
    bench_ball_kernel(table, args.repeat)
    breakdown = kernel_breakdown(args.repeat, rng)
    print(breakdown)
    after = uptime()
    import torch

    cmd = "python benchmarks/bench_evaluator.py" + (f" --repeat {args.repeat}" if args.repeat != 5 else "")
    text = f"""# Reference evaluator and enumeration speed

Produced by `{cmd}` (from the repository root) in {time.perf_counter() - t0:.0f} s.

* CPU: {cpu_model()}, {os.cpu_count()} logical CPUs (shared with other jobs)
* load before: `{before}`
* load after: `{after}`
* numpy {np.__version__}, torch {torch.__version__} (default threads: {torch.get_num_threads()}), Python {platform.python_version()}
* each figure: best of {args.repeat} wall-clock runs (small batches: best of {SMALL_REPEAT_FACTOR * args.repeat}, per call);
  "CPU seconds" is this process's CPU time (all its threads) during that run; every method's answers were
  checked against the evaluator

{table.markdown()}
### Inner steps of the evaluator (one block of {DEFAULT_CHUNK} inputs x 512 neurons, same run)

{breakdown}
Per 64-bit word and neuron the evaluator pays one XOR, one popcount and a
third of a widening add (plus uint8 adds): the sum of the rows above, times
13 + 8 + 8 words x neurons per input of the 784-512-512-10 network.

## Notes

* The evaluator computes `dot = n - 2 popcount(x XOR w)` on 64-bit words in
  blocks of {DEFAULT_CHUNK} inputs x all neurons (XOR buffer {DEFAULT_CHUNK * 512 * 8 // 1024} KB for 512
  neurons: fits L2), with numpy's ufunc buffer lowered to 1024 elements
  while the loops run (the default makes numpy buffer the broadcast XOR of
  rows shorter than ~4096 elements, several times slower: first rows of the
  step table), byte popcounts of 3 words summed in uint8 before one widening
  add, and thresholds turned into popcount limits. It is bound by numpy's
  scalar `bitwise_count` (~1 word per cycle) plus the XOR pass: 13x512 +
  8x512 + 8x10 = 10,896 word operations per input. torch is bound by BLAS
  FMA throughput on 64x as many (float) operations.
* Small batches are bound by per-call overhead: one input costs ~25 numpy
  calls (per layer: one broadcast XOR, one popcount, one reduction, one
  comparison, one packing); torch dispatches a few ops per layer.
* The 2-thread figures use a thread pool over blocks (numpy releases the
  GIL); on this 2-CPU machine shared with other jobs they gain only what the
  second CPU has free. torch's default thread count here is 2.
* Enumeration figures include building every table (a fresh call pays it).
  Targets of the brief: the radius-3 ball well under 1.4 s (a plain brute
  force took 1.4 s), the 2^16 space with per-class counts well under 0.3 s,
  the 2^20 space at >= 10 M inputs/s.
* Wall-clock figures on a shared machine: compare methods within one run
  (same load), not across runs. When the machine is loaded, a CPU time
  much smaller than the wall time means the run was preempted; a CPU time
  above the wall time means several threads ran.
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
