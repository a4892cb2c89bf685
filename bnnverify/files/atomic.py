"""Atomic file writes: write a temporary file beside the target, then rename.

* Readers never see a half-written file: the temporary file (``.NAME.XXXX.tmp``
  beside the target) is renamed over the target only once it is complete and
  synced.
* On any exception — ``KeyboardInterrupt`` (SIGINT) and the ``SystemExit``
  the CLI raises on SIGTERM included — the temporary file is removed and the
  target is untouched. Only SIGKILL (or a power loss) can leave a
  ``.NAME.XXXX.tmp`` file behind; it is never mistaken for the target.
* The file gets the mode a plain ``open(path, "w")`` would give it: the
  existing file's mode when it is replaced, else ``0o666`` less the user's
  umask (``mkstemp`` alone would make every output 0600).
* The target's folder must exist and the target must not be a directory;
  both are errors naming the path, never a silently created folder.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

from bnnverify.errors import DataError

__all__ = ["atomic_write", "current_umask", "check_output_path"]

#: The mode of a new file before the umask, as ``open()`` creates it.
NEW_FILE_MODE = 0o666


def current_umask() -> int:
    """The process's umask, read from ``/proc/self/status`` where it is shown (Linux ≥ 4.7).

    Elsewhere it is read the only portable way, by setting it and putting it
    back at once.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_path(path: "str | os.PathLike[str]", what: str = "output file") -> Path:
    """``path`` as a :class:`Path` after checking a file can be written there (folder exists, not a directory)."""
    target = Path(path)
    if str(path) == "":
        raise DataError(f"{what}: empty path")
    parent = target.parent
    if target.is_dir():
        raise DataError(f"{what} {target}: cannot write: it is a directory")
    if not parent.exists():
        raise DataError(f"{what} {target}: cannot write: the folder {parent} does not exist")
    if not parent.is_dir():
        raise DataError(f"{what} {target}: cannot write: {parent} is a file, not a folder")
    return target


@contextlib.contextmanager
def atomic_write(path: "str | os.PathLike[str]", mode: str = "wb", *, what: str = "output file") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is untouched,
    so readers never see a half-written file.
    """
    target = check_output_path(path, what)
    try:
        file_mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        file_mode = NEW_FILE_MODE & ~current_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise DataError(f"{what} {target}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
