"""``python -m bnnverify``: the same command line as ``bnnverify``."""

from bnnverify.cli import main

main(prog_name="bnnverify")
