"""Reading ``.npz`` archives safely: never with pickle, every failure named."""

from __future__ import annotations

import os
import zipfile
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
    if not p.exists():
        raise error(f"{where}: no such {what} file")
    if p.is_dir():
        raise error(f"{where}: is a directory, expected a .npz {what} file")
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise error(f"{where}: not a readable .npz {what} file ({e})") from None
    except ValueError as e:  # e.g. an object array that would need pickle
        raise error(f"{where}: cannot be read without pickle ({e})") from None
