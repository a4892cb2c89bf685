"""Regenerate the README's examples from real runs, so README and tool cannot drift.

    python docs/readme_examples.py [--readme README.md] [--check]

Every ```` ```console ```` block of the README is a sequence of ``$ command``
lines, each followed by what it prints. This script runs every command, in
order, in one scratch folder (so a model imported by one example is there for
the next), with ``../shared`` pointing at the workspace's shared folder (the
BNNQuanalyst anchors the examples read), and writes what each command really
printed (standard output and error, as a terminal shows them) back under it.

* A trailing ``# comment`` on a command line is kept in the README and not run.
* Where the README shows a line that is just ``...``, the output is cut to the
  lines above it (followed by the same ``...``): long listings stay short.
* ``--check`` changes nothing and exits 1 if an example's output differs in
  anything but numbers of seconds (timings vary from run to run).

Commands run through ``bash -c`` with the ``bnnverify`` on ``PATH`` — the
installed package, i.e. the checkout with ``pip install -e``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Seconds one example may take before the script gives up on it (training 300 epochs is the slowest).
EXAMPLE_TIMEOUT_S = 900
ELLIPSIS = re.compile(r"^\s*\.\.\.\s*$")
TIMING = re.compile(r"\d+\.\d+ s\b|\"seconds\": [0-9.e-]+|in \d+\.\d+ s")


def _blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) line indices of the body of every console block."""
    lines = text.split("\n")
    out, start = [], None
    for i, line in enumerate(lines):
        if line.strip() == "```console":
            start = i + 1
        elif line.strip() == "```" and start is not None:
            out.append((start, i))
            start = None
    return out


def _examples(body: list[str]) -> list[tuple[str, list[str]]]:
    """(command line, shown output lines) of one block."""
    out: list[tuple[str, list[str]]] = []
    for line in body:
        if line.startswith("$ "):
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return out


def _run(command: str, cwd: Path) -> list[str]:
    cmd = command[2:].split("  #", 1)[0].split(" # ", 1)[0].strip()
    env = {**os.environ, "COLUMNS": "120", "MPLBACKEND": "Agg"}
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=EXAMPLE_TIMEOUT_S)
    text = r.stdout + r.stderr
    return text.rstrip("\n").split("\n") if text.strip() else []


def _shape_of(line: str) -> str:
    """A line with its numbers abstracted (to find the same line in a new run)."""
    return re.sub(r"\d+(\.\d+)?", "N", line)


def _shaped(new: list[str], shown: list[str]) -> list[str]:
    """``new`` cut where ``shown`` has a ``...`` line, with the ``...`` kept: after the new line
    of the same shape as the one shown before the ``...`` (else at the same position)."""
    cut = next((i for i, line in enumerate(shown) if ELLIPSIS.match(line)), None)
    if cut is None:
        return new
    if cut > 0:
        last = _shape_of(shown[cut - 1])
        at = next((i for i, line in enumerate(new) if _shape_of(line) == last), None)
        if at is not None:
            return new[:at + 1] + [shown[cut]]
    return new if len(new) <= cut else new[:cut] + [shown[cut]]


def regenerate(readme: Path, check: bool = False) -> int:
    text = readme.read_text()
    lines = text.split("\n")
    shared = (ROOT.parent / "shared").resolve()
    changed = []
    with tempfile.TemporaryDirectory(prefix="bnnverify-readme-") as tmp:
        base = Path(tmp)
        (base / "shared").symlink_to(shared)
        work = base / "work"
        work.mkdir()
        new_lines = list(lines)
        offset = 0
        for start, end in _blocks(text):
            body: list[str] = []
            for command, shown in _examples(lines[start:end]):
                print(command, file=sys.stderr, flush=True)
                out = _shaped(_run(command, work), shown)
                if [TIMING.sub("T", x) for x in out] != [TIMING.sub("T", x) for x in shown]:
                    changed.append(command)
                body += [command, *out]
            new_lines[start + offset:end + offset] = body
            offset += len(body) - (end - start)
    if check:
        for c in changed:
            print(f"differs: {c}")
        return 1 if changed else 0
    readme.write_text("\n".join(new_lines))
    print(f"{len(changed)} examples changed; wrote {readme}")
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--check", action="store_true", help="report differences, change nothing")
    args = ap.parse_args()
    sys.exit(regenerate(args.readme, args.check))


if __name__ == "__main__":
    main()
