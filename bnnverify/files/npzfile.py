"""Reading ``.npz`` archives safely: never with pickle, every failure named.

A campaign of single-bit corruptions of real model files found ``zlib.error``,
``RuntimeError`` and ``NotImplementedError`` escaping NumPy's reader, and
random bytes named ``.npz`` reported as "needs pickle" (NumPy falls back to
unpickling what is not a zip archive). Every one of them is now the caller's
error naming the file.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from bnnverify.errors import BNNVerifyError

__all__ = ["read_npz"]


def read_npz(path: "str | os.PathLike[str]", what: str, error: type[BNNVerifyError]) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, loaded with ``allow_pickle=False``.

    ``what`` names the kind of file in messages ("model", "data"); every
    failure (missing, a directory, not a zip, needs pickle) raises ``error``
    with a message that starts with the path.
    """
    p = Path(path)
    where = str(p)
    try:
        if not p.exists():
            raise error(f"{where}: no such {what} file")
        if p.is_dir():
            raise error(f"{where}: is a directory, expected a .npz {what} file")
        if not zipfile.is_zipfile(p):
            raise error(f"{where}: not a .npz archive (a {what} file is a zip of .npy arrays)")
    except OSError as e:
        raise error(f"{where}: cannot be read ({e.strerror or e})") from None
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError,
            KeyError, IndexError, TypeError) as e:
        raise error(f"{where}: a damaged .npz {what} file ({type(e).__name__}: {e})") from None
    except ValueError as e:  # e.g. an object array that would need pickle, or a damaged header
        raise error(f"{where}: an array cannot be read without pickle or is damaged ({e})") from None
