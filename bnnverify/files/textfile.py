"""Reading a text file a user named: every way it can be wrong is one clear error.

A binary file (a PNG, an ``.npy``) given where text is expected, a directory,
a missing file, a name too long for the file system — each raises the
project error the caller chooses, naming the file and what is wrong, never a
``UnicodeDecodeError`` or ``OSError`` traceback.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.png"
>>> _ = p.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
>>> read_text(p, "input file")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bnnverify.errors.DataError: input file ...x.png: not a text file (byte 0 is 0x89, not UTF-8 text)
"""

from __future__ import annotations

import os
from pathlib import Path

from bnnverify.errors import BNNVerifyError, DataError

__all__ = ["read_text", "is_existing_file"]


def is_existing_file(spec: str) -> bool:
    """Whether ``spec`` names an existing path (a name the OS refuses, e.g. too long, names none)."""
    if not spec:
        return False
    try:
        return Path(spec).exists()
    except (OSError, ValueError):
        return False


def read_text(path: "str | os.PathLike[str]", what: str, error: type[BNNVerifyError] = DataError) -> str:
    """The UTF-8 text of ``path``; ``error`` naming ``what`` and the file for anything else."""
    p = Path(path)
    try:
        if not p.exists():
            raise error(f"{what} {p}: no such file")
        if p.is_dir():
            raise error(f"{what} {p}: is a directory, not a file")
        data = p.read_bytes()
    except OSError as e:
        raise error(f"{what} {p}: cannot be read ({e.strerror or e})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{what} {p}: not a text file (byte {e.start} is 0x{data[e.start]:02x}, not UTF-8 text)") from None
