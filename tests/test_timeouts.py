"""A time limit bounds every engine: the answer is ``timeout`` soon after the deadline, never a partial one.

These are contracts, not performance measurements: each question below needs
far longer than its limit (seconds to minutes), and must come back as
``timeout`` (or, for counts, with no count at all) well within
``LIMIT + SLACK`` seconds. The BDD engine checks the clock after every CUDD
operation (one large conjunction is not interrupted), enumeration after
every batch, Ganak runs in a worker process killed at the deadline.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from bnnverify import check_equivalence, check_robustness, max_robust_radius
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.encoders.regions import Cube, HammingBall, Whole
from bnnverify.questions.verdict import Verdict

#: The limit given to every question here (seconds).
LIMIT = 0.4
#: How long past the limit an answer may take: one CUDD operation, process start-up, a loaded CI machine.
SLACK = 4.0


def _pm(rng, m, n):
    return np.where(rng.random((m, n)) < 0.5, 1, -1).astype(np.int8)


@pytest.fixture(scope="module")
def nets():
    rng = np.random.default_rng(0)
    n = 40
    a = BNN((ThresholdLayer(_pm(rng, 60, n), rng.integers(-3, 4, 60)),
             ThresholdLayer(_pm(rng, 30, 60), rng.integers(-3, 4, 30))),
            ArgmaxLayer(_pm(rng, 4, 30), np.ones(4), np.zeros(4)))
    b = BNN((ThresholdLayer(_pm(rng, 60, n), rng.integers(-3, 4, 60)),), ArgmaxLayer(_pm(rng, 4, 60), np.ones(4), np.zeros(4)))
    return a, b, rng.integers(0, 2, n).astype(np.uint8)


QUESTIONS = {
    "bdd-robustness": lambda a, b, x: check_robustness(a, x, Whole(a.n_inputs), method="bdd", timeout=LIMIT),
    "bdd-count": lambda a, b, x: check_robustness(a, x, HammingBall(x, 8), method="bdd", count=True, timeout=LIMIT),
    "enum-count": lambda a, b, x: check_robustness(a, x, Cube.from_free(x, list(range(23))), method="enum",
                                                   count=True, timeout=LIMIT),
    "bdd-equivalence": lambda a, b, x: check_equivalence(a, b, Whole(a.n_inputs), method="bdd", timeout=LIMIT),
    "enum-equivalence": lambda a, b, x: check_equivalence(a, b, Cube.from_free(x, list(range(23))), method="enum",
                                                          timeout=LIMIT),
    "bdd-radius": lambda a, b, x: max_robust_radius(a, x, method="bdd", timeout=LIMIT),
    "sat-robustness": lambda a, b, x: check_robustness(a, x, Whole(a.n_inputs), method="sat", timeout=LIMIT),
}


@pytest.mark.parametrize("name", QUESTIONS)
def test_the_limit_ends_in_timeout(nets, name, monkeypatch):
    a, b, x = nets
    if name.startswith("sat"):  # the solver's limit, not the sampling that precedes it
        import bnnverify.engines.sat as sat

        monkeypatch.setattr(sat, "find_by_sampling", lambda *a, **k: None)
    t0 = time.perf_counter()
    r = QUESTIONS[name](a, b, x)
    took = time.perf_counter() - t0
    if r.verdict is not Verdict.TIMEOUT:  # a quick proof or witness is fine; a late one is not
        assert took < LIMIT + SLACK and not r.verdict.undecided, (name, r)
        pytest.skip(f"{name} answered {r.verdict.value} before the limit")
    assert took < LIMIT + SLACK, (name, took)
    assert "time limit" in r.note or "ran out of time" in r.note, r.note
    if hasattr(r, "class_counts"):
        assert r.class_counts is None and r.adversarial_count is None


def test_ganak_is_killed_at_the_deadline(nets):
    pytest.importorskip("pyganak")
    a, _, x = nets
    t0 = time.perf_counter()
    r = check_robustness(a, x, HammingBall(x, 12), method="ganak", count=True, timeout=LIMIT)
    took = time.perf_counter() - t0
    assert r.verdict is Verdict.TIMEOUT and r.class_counts is None, r
    assert took < LIMIT + SLACK, took


def test_cli_timeout_exits_3(nets, tmp_path):
    from click.testing import CliRunner

    from bnnverify.cli import main
    from bnnverify.files.modelio import save_model

    a, _, x = nets
    save_model(a, tmp_path / "a.npz")
    r = CliRunner().invoke(main, ["robustness", str(tmp_path / "a.npz"), "--input", "".join(map(str, x)),
                                  "--region", "whole", "--method", "bdd", "--timeout", str(LIMIT)])
    assert r.exit_code == 3 and "timeout" in r.output, r.output


def test_infoplane_takes_the_same_timeout(nets, tmp_path):
    from click.testing import CliRunner

    from bnnverify.cli import main
    from bnnverify.training.train import train_bnn

    train_bnn("ib12", (6,), epochs=3, seed=0, snapshots=tmp_path / "s")
    r = CliRunner().invoke(main, ["infoplane", str(tmp_path / "s"), "--region", "whole", "--method", "bdd",
                                  "--timeout", "0.001"])
    assert r.exit_code == 3 and "time limit" in r.output, r.output
    ok = CliRunner().invoke(main, ["infoplane", str(tmp_path / "s"), "--dataset", "ib12", "--timeout", "60"])
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("command", ["info", "codes"])
def test_information_commands_take_the_same_timeout(nets, tmp_path, command):
    from click.testing import CliRunner

    from bnnverify.cli import main
    from bnnverify.files.modelio import save_model

    a, _, x = nets
    save_model(a, tmp_path / "a.npz")
    extra = ["--layer", "1"] if command == "codes" else []
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, [command, str(tmp_path / "a.npz"), *extra, "--region", "whole", "--method", "bdd",
                                  "--timeout", str(LIMIT)])
    assert r.exit_code == 3 and "time limit" in r.output, r.output
    assert time.perf_counter() - t0 < LIMIT + SLACK


@pytest.mark.parametrize("method", ["enum", "bdd"])
def test_long_questions_report_progress(nets, method):
    """Engines tell a front end the steps they finish (the CLI draws a bar on a terminal)."""
    from bnnverify import info_over_region

    a, _, x = nets
    steps: list[int] = []
    region = HammingBall(x, 2)
    r = check_robustness(a, x, region, method=method, count=True, progress=steps.append)
    assert r.class_counts is not None and steps and all(s > 0 for s in steps)
    if method == "enum":
        assert sum(steps) >= region.size  # every member enumerated is a step
    steps.clear()
    info_over_region(a, region, method=method, progress=steps.append)
    assert sum(steps) > 0


def test_the_cli_draws_a_progress_bar_on_a_terminal(nets, tmp_path):
    """Under a pseudo-terminal the bar appears on stderr; with --quiet it does not."""
    import os
    import pty
    import subprocess
    import sys

    from bnnverify.files.modelio import save_model

    a, _, x = nets
    save_model(a, tmp_path / "a.npz")
    cmd = [sys.executable, "-m", "bnnverify", "count", str(tmp_path / "a.npz"), "--hamming", "2",
           "--input", "".join(map(str, x))]

    def stderr_of(argv):
        import fcntl
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has columns
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=slave, timeout=120)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        return proc.returncode, out.decode(errors="replace")

    code, err = stderr_of(cmd)
    assert code == 0 and "counting" in err and "steps" in err, err
    code, err = stderr_of(cmd[:3] + ["--quiet"] + cmd[3:])
    assert code == 0 and "steps" not in err, err
