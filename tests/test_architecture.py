"""The architecture holds: the import graph, the installed names, the error contract.

* ``encoders/`` (installed as ``bnnverify.encoders``) imports nothing else of bnnverify;
* the import graph of the package (module-level and deferred imports alike) has no cycle;
* nothing is installed under a generic top-level name: a user's own ``encoders``
  package and ``cli.py`` cannot shadow ours;
* an internal fault exits 4 with a line asking for a report; it never reads as a verdict.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner

import bnnverify
import bnnverify.encoders

PACKAGE = Path(bnnverify.__file__).parent
ENCODERS = Path(bnnverify.encoders.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for root, prefix in ((PACKAGE, "bnnverify"), (ENCODERS, "bnnverify.encoders")):
        for f in root.rglob("*.py"):
            rel = f.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([prefix, *parts])] = f
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every bnnverify module ``name`` imports (absolute or relative, at any depth)."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([mod] if mod else []))
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("bnnverify")}


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        for target in _imports(name, path):
            while target not in mods and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in mods and target != name:
                g.add_edge(name, target)
    return g


def test_encoders_import_nothing_else_of_bnnverify(graph):
    bad = [(a, b) for a, b in graph.edges if a.startswith("bnnverify.encoders") and not b.startswith("bnnverify.encoders")]
    assert bad == []


ENGINE_MODULES = {f"bnnverify.engines.{m}" for m in ("enumeration", "bdd", "sat", "ball", "ganak")}


def test_questions_are_written_against_the_interface_only(graph):
    """Questions and information reach engines through engines.run / policy / registry, never directly."""
    bad = [(a, b) for a, b in graph.edges
           if a.startswith(("bnnverify.questions", "bnnverify.information")) and b in ENGINE_MODULES]
    assert bad == []


def test_the_import_graph_has_no_cycle(graph):
    # a package's __init__ re-exporting its own modules is not a cycle of meaning: leave those edges out
    g = graph.copy()
    g.remove_edges_from([(a, b) for a, b in graph.edges if b.startswith(a + ".") or a == "bnnverify"])
    cycles = list(nx.simple_cycles(g))
    assert cycles == [], cycles[:3]


def test_the_graph_was_read(graph):
    assert graph.has_edge("bnnverify.questions.robustness", "bnnverify.engines.run")
    assert graph.number_of_nodes() > 40


def test_a_users_encoders_package_and_cli_py_cannot_shadow_ours(tmp_path):
    (tmp_path / "encoders").mkdir()
    (tmp_path / "encoders" / "__init__.py").write_text("raise ImportError('the user package was imported')\n")
    (tmp_path / "cli.py").write_text("raise SystemExit('the user cli.py was run')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    code = ("import bnnverify, bnnverify.encoders.bdd, bnnverify.cli, bnnverify.engines.sat; "
            "from bnnverify.encoders.layers import BNN; print('ok', bnnverify.__version__)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr
    r = subprocess.run([sys.executable, "-m", "bnnverify", "--version"], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "version" in r.stdout, r.stderr


def test_the_public_api_is_at_the_top():
    for name in ("check_robustness", "max_robust_radius", "check_equivalence", "info_over_region",
                 "info_over_dataset", "info_over_balls", "Verdict", "load_dataset", "load_model", "HammingBall"):
        assert callable(getattr(bnnverify, name)) or isinstance(getattr(bnnverify, name), type), name
    assert set(bnnverify.__all__) <= set(dir(bnnverify))
    with pytest.raises(AttributeError):
        bnnverify.no_such_name  # noqa: B018


def test_py_typed_ships():
    assert (PACKAGE / "py.typed").is_file()


def test_an_internal_fault_exits_4_with_a_report_line(tmp_path, monkeypatch):
    import bnnverify.engines.enumeration as en
    from bnnverify.cli import Exit, main
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
    from bnnverify.files.modelio import save_model

    net = BNN((ThresholdLayer(np.ones((1, 3), np.int8), np.array([3])),),
              ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    save_model(net, tmp_path / "m.npz")
    # an engine that claims the centre itself is a counterexample: a bug, caught by the replay
    monkeypatch.setattr(en, "enum_find_class", lambda net, region, classes: np.ones(3, np.uint8))
    r = CliRunner().invoke(main, ["robustness", str(tmp_path / "m.npz"), "--input", "111", "--hamming", "1",
                                  "--method", "enum"])
    assert r.exit_code == Exit.INTERNAL == 4
    assert "internal error: ReplayMismatch" in r.output and "please report it" in r.output


def test_an_unexpected_exception_is_internal_not_a_verdict(tmp_path, monkeypatch):
    import bnnverify.engines.enumeration as en
    from bnnverify.cli import main
    from bnnverify.encoders.layers import BNN, ArgmaxLayer, ThresholdLayer
    from bnnverify.files.modelio import save_model

    net = BNN((ThresholdLayer(np.ones((1, 3), np.int8), np.array([3])),),
              ArgmaxLayer(np.array([[1], [-1]], np.int8), np.ones(2), np.zeros(2)))
    save_model(net, tmp_path / "m.npz")

    def broken(*a, **k):
        raise ZeroDivisionError("an engine bug")

    monkeypatch.setattr(en, "enum_find_class", broken)
    r = CliRunner().invoke(main, ["robustness", str(tmp_path / "m.npz"), "--input", "111", "--hamming", "1"])
    assert r.exit_code == 4 and "unexpected ZeroDivisionError: an engine bug" in r.output
    assert "Traceback" not in r.output
