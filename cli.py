"""Run the command line from a source checkout: ``python cli.py ...``.

The installed command is ``bnnverify`` (or ``python -m bnnverify``); the CLI
itself is :mod:`bnnverify.cli`. This file is not installed: a top-level
module named ``cli`` would clash with users' own files.
"""

from bnnverify.cli import main

if __name__ == "__main__":
    main()
