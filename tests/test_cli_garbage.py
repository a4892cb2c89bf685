"""Garbage in every file argument of every command: exit 2 with a message, never a traceback.

A crash used to exit 1 — which reads as "not robust". Every file a command
reads or writes is tried with a binary file (PNG bytes), random bytes named
``.npz``, an empty file, a directory, a missing path, and (for outputs) a
path under a regular file and a directory; the exit code must be 2 and the
output must carry a one-line message and no traceback.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from click.testing import CliRunner

from bnnverify.cli import Exit, main
from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
from bnnverify.files.modelio import save_model

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("garbage")
    h = ThresholdLayer(np.array([[1, -1, 1, 1], [1, 1, -1, 1]], np.int8), np.array([0, 1]))
    o = ArgmaxLayer(np.array([[1, 1], [-1, 1]], np.int8), np.ones(2), np.zeros(2))
    save_model(BNN((h,), o), d / "m.npz")
    (d / "x.txt").write_text("1 0 1 1\n")
    (d / "idx.txt").write_text("0 2\n")
    (d / "png.txt").write_bytes(PNG)
    (d / "random.npz").write_bytes(b"\xff" + np.random.default_rng(0).bytes(299))  # fixed, never UTF-8
    (d / "empty.npz").write_bytes(b"")
    (d / "dir").mkdir()
    (d / "afile").write_text("x")
    return d


READ_GARBAGE = ["png.txt", "random.npz", "empty.npz", "dir", "missing.npz"]
#: an empty index file is a valid (empty) list of positions: not garbage there
INDEX_GARBAGE = ["png.txt", "random.npz", "dir", "missing.npz"]
WRITE_GARBAGE = ["dir", "afile/out.npz", "nofolder/out.npz"]

#: (command line with {F} where the file goes, which garbage to try)
CASES = [
    (["summary", "{F}"], READ_GARBAGE),
    (["eval", "{F}", "--dataset", "digits"], READ_GARBAGE),
    (["eval", "{m}", "--data", "{F}"], READ_GARBAGE),
    (["robustness", "{F}", "--input", "1011", "--hamming", "1"], READ_GARBAGE),
    (["robustness", "{m}", "--input", "{F}", "--hamming", "1"], ["png.txt", "dir", "empty.npz"]),
    (["robustness", "{m}", "--input", "1011", "--hamming", "1", "--mutable", "{F}"], INDEX_GARBAGE),
    (["robustness", "{m}", "--input", "1011", "--free", "{F}"], INDEX_GARBAGE),
    (["equivalence", "{m}", "{F}"], READ_GARBAGE),
    (["equivalence", "{F}", "{m}"], READ_GARBAGE),
    (["count", "{F}", "--region", "whole"], READ_GARBAGE),
    (["count", "{m}", "--hamming", "1", "--input", "{F}"], ["png.txt", "dir", "empty.npz"]),
    (["export-cnf", "{F}", "--region", "whole", "--class", "0", "--out", "{d}/q.cnf"], READ_GARBAGE),
    (["export-cnf", "{m}", "--region", "whole", "--class", "0", "--out", "{F}"], WRITE_GARBAGE),
    (["info", "{F}", "--region", "whole"], READ_GARBAGE),
    (["info", "{m}", "--region", "whole", "--labels", "{F}"], ["png.txt", "random.npz", "dir"]),
    (["codes", "{F}", "--region", "whole", "--layer", "1"], READ_GARBAGE),
    (["codes", "{m}", "--region", "whole", "--layer", "1", "--graph", "{F}"], WRITE_GARBAGE),
    (["infoplane", "{F}", "--region", "whole"], ["png.txt", "random.npz", "missing.npz"]),
    (["import", "bnnquanalyst", "{F}", "--out", "{d}/imp.npz"], ["png.txt", "dir", "missing.npz"]),
    (["import", "torch", "{F}", "--arch", "4,2,2", "--out", "{d}/imp.npz"], ["png.txt", "random.npz", "dir"]),
    (["train", "--dataset", "{F}", "--hidden", "2", "--epochs", "1", "--seed", "0", "--out", "{d}/t.npz"],
     ["png.txt", "random.npz", "dir"]),
    (["train", "--dataset", "ib12", "--hidden", "2", "--epochs", "1", "--seed", "0", "--out", "{F}"],
     WRITE_GARBAGE),
    (["robustness", "{m}", "--dataset", "ib12", "--all", "--hamming", "1", "--out", "{F}"], WRITE_GARBAGE),
]

PARAMS = [(argv, g) for argv, garbage in CASES for g in garbage]


@pytest.mark.parametrize("argv,garbage", PARAMS, ids=[f"{' '.join(a[:2])}-{g}" for a, g in PARAMS])
def test_garbage_file_is_exit_2_with_a_message(files, argv, garbage):
    d = files
    args = [a.format(F=d / garbage, m=d / "m.npz", d=d) for a in argv]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == Exit.BAD_INPUT, (args, r.exit_code, r.output)
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert "error" in r.output.lower(), r.output


def test_a_long_literal_input_is_bits_not_a_file_name(files):
    # 784 bits cannot be a file name (the OS refuses names over 255 bytes): it is a literal
    r = CliRunner().invoke(main, ["robustness", str(files / "m.npz"), "--input", "1" * 300, "--hamming", "1"])
    assert r.exit_code == 2 and "has 300 bits, the model expects 4" in r.output


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "1e308", "soon"])
def test_timeouts_that_are_not_a_time_limit_are_refused(files, value):
    r = CliRunner().invoke(main, ["robustness", str(files / "m.npz"), "--input", "1011", "--hamming", "1",
                                  "--timeout", value])
    assert r.exit_code == 2 and "--timeout" in r.output, r.output


def test_outputs_respect_the_umask_and_leave_no_temporary_file(files, tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "m2.npz"
        r = CliRunner().invoke(main, ["train", "--dataset", "ib12", "--hidden", "2", "--epochs", "1", "--seed", "0",
                                      "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(old)
    assert [p.name for p in tmp_path.iterdir()] == ["m2.npz"]


def test_an_interrupted_write_leaves_the_target_untouched_and_no_debris(tmp_path):
    from bnnverify.files.atomic import atomic_write

    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.txt"]


@pytest.mark.parametrize("args,message", [
    (["robustness", "{m}", "--input", "1011", "--hamming", "1", "--method", "enum", "--solver", "minisat22"],
     "--solver configure the CNF engines"),
    (["equivalence", "{m}", "{m}", "--method", "bdd", "--encoding", "seqcounter"], "--encoding configure"),
    (["count", "{m}", "--region", "whole", "--input", "1011"], "do not apply to --region whole"),
    (["count", "{m}", "--region", "whole", "--mutable", "{d}/idx.txt"], "do not apply to --region whole"),
    (["train", "--dataset", "ib12", "--hidden", "32,,4", "--epochs", "1", "--seed", "0", "--out", "{d}/t.npz"],
     "an empty item"),
])
def test_options_that_do_not_apply_are_errors_not_ignored(files, args, message):
    d = files
    r = CliRunner().invoke(main, [a.format(m=d / "m.npz", d=d) for a in args])
    assert r.exit_code == 2 and message in r.output, r.output


def test_sigterm_during_a_write_leaves_no_debris(tmp_path):
    """The CLI turns SIGTERM into a clean exit, so an atomic write removes its temporary file."""
    import subprocess
    import sys

    script = f"""
import os, signal
from bnnverify.cli import _terminate
from bnnverify.files.atomic import atomic_write
signal.signal(signal.SIGTERM, _terminate)
with atomic_write({str(tmp_path / 'big.cnf')!r}, "w") as fh:
    fh.write("p cnf 1 1\\n" * 1000)
    os.kill(os.getpid(), signal.SIGTERM)
    fh.write("never")
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 128 + 15, r.stderr
    assert list(tmp_path.iterdir()) == []
