"""The CLI over models that read integer pixels: images, L∞/L0 balls, minimum perturbations, ties, pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from bnnverify import semantics
from bnnverify.cli import Exit, main
from bnnverify.encoders.layers import BNN, ArgmaxLayer, IntegerInputs, IntegerThresholdLayer, QuantizeLayer, ThresholdLayer
from bnnverify.encoders.pixel_regions import linf_box
from bnnverify.files.modelio import save_model

SIDE = 3
F = SIDE * SIDE


def _nets(seed):
    rng = np.random.default_rng(seed)
    pm = lambda m, k: np.where(rng.random((m, k)) < 0.5, 1, -1).astype(np.int8)  # noqa: E731
    h = ThresholdLayer(pm(5, F), rng.integers(-2, 3, 5))
    o = ArgmaxLayer(pm(3, 5), np.ones(3), np.array([0.0, 0.5, 0.25]))
    inputs = IntegerInputs.pixels(F, 0, 255, shape=(SIDE, SIDE), layout="HW")
    q = BNN((QuantizeLayer(rng.integers(40, 216, (F, 1))), h), o, inputs=inputs)
    i = BNN((IntegerThresholdLayer(rng.integers(-1, 2, (F, F)).astype(np.int16), rng.integers(-150, 150, F)), h), o,
            inputs=inputs)
    return q, i


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from PIL import Image

    d = tmp_path_factory.mktemp("pixels")
    q, i = _nets(11)
    save_model(q, d / "q.npz")
    save_model(i, d / "i.npz")
    x = np.random.default_rng(2).integers(0, 256, F)
    Image.fromarray(x.reshape(SIDE, SIDE).astype(np.uint8)).save(d / "x.png")
    np.save(d / "x.npy", x)
    (d / "x.txt").write_text(" ".join(map(str, x)))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(d / "wrong.png")
    return d, q, i, x


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("which", ["q", "i"])
@pytest.mark.parametrize("source", ["x.png", "x.npy", "x.txt"])
def test_linf_counts_images_exactly_from_every_input_format(files, which, source):
    d, q, i, x = files
    net = q if which == "q" else i
    code, out, err = run("robustness", d / f"{which}.npz", "--input", d / source, "--linf", 1, "--count", "--json",
                         "--method", "enum")
    j = json.loads(out)
    box = linf_box(x, 1, net.inputs.lo, net.inputs.hi)
    pred = semantics.classify(net, x)
    bad = sum(semantics.classify(net, p) != pred for B in box.members() for p in B)
    assert j["adversarial_count"] == bad and j["region"]["size"] == box.size
    assert code == (Exit.HOLDS if bad == 0 else Exit.VIOLATED)
    assert j["asked"]["ties"].startswith("argmax")
    if bad:
        assert isinstance(j["counterexample"], list) and box.contains(np.array([j["counterexample"]]))[0]
    if which == "q":
        assert "bit_space" in j


@pytest.mark.parametrize("which", ["q", "i"])
@pytest.mark.parametrize("ties", ["argmax", "adversarial", "strict"])
def test_min_linf_is_exact_with_a_proof_below(files, which, ties):
    d, q, i, x = files
    net = q if which == "q" else i
    code, out, _ = run("robustness", d / f"{which}.npz", "--input", d / "x.npy", "--min-linf", "--ties", ties,
                       "--json")
    j = json.loads(out)
    assert code == Exit.HOLDS and j["ties"] == ties
    pred = semantics.classify(net, x)

    def bad(eps):  # another engine than the search's (tests/test_pixels.py brute-forces small cases)
        from bnnverify.questions.robustness import check_robustness

        r = check_robustness(net, x, linf_box(x, eps, net.inputs.lo, net.inputs.hi), method="bdd", ties=ties)
        return r.verdict.value == "not_robust"

    m = j["minimum"]
    if m is None:
        assert j["verdict"] == "robust"
    else:
        assert bad(m) and (m == 0 or not bad(m - 1)) and j["proved_robust_at"] == m - 1


def test_min_l0_and_witness_picture(files, tmp_path):
    d, q, i, x = files
    png = tmp_path / "w.png"
    code, out, err = run("robustness", d / "i.npz", "--input", d / "x.png", "--min-l0", "--linf", 40,
                         "--witness-png", png)
    assert code == Exit.HOLDS, err
    assert "minimum l0" in out or "robust at every l0" in out
    if "minimum l0" in out:
        from PIL import Image

        with Image.open(png) as im:
            assert im.size[0] > im.size[1] > 50  # three panels side by side


def test_bad_pixel_inputs_are_clear_errors(files):
    d, q, i, x = files
    code, _, err = run("robustness", d / "q.npz", "--input", d / "wrong.png", "--linf", 1)
    assert code == Exit.BAD_INPUT and "image of shape (4, 4), the model expects (3, 3)" in err
    code, _, err = run("robustness", d / "q.npz", "--input", ",".join(["300"] + ["0"] * (F - 1)), "--linf", 1)
    assert code == Exit.BAD_INPUT and "feature 0 is 300, outside its range [0, 255]" in err
    code, _, err = run("robustness", d / "q.npz", "--input", d / "x.npy", "--hamming", 1)
    assert code == Exit.BAD_INPUT and "integer features" in err
    code, _, err = run("robustness", d / "q.npz", "--input", d / "x.npy", "--min-linf", "--linf", 2)
    assert code == Exit.BAD_INPUT and "do not go with --min-linf" in err
