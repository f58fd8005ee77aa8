"""Atomic file writes shared by every layer (grammar is the one package all of them may import).

A reader never sees a half-written file and a killed run leaves no truncated output: data goes to a
temporary file in the destination folder, then ``os.replace`` puts it in place. A path that is not a
regular file (``/dev/null``, a named pipe, a terminal) is written through, never replaced: renaming
over ``/dev/full`` as root would turn the device into a plain file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | str, mode: int | None = None) -> None:
    """Write ``data`` (str is UTF-8 encoded) to ``path`` atomically, creating parent folders.

    ``mode`` is applied before the rename because ``mkstemp`` creates files 0600, and shards,
    reports and checkpoints are read by other users and jobs. ``None``: an existing file keeps its
    mode (a private 0600 file stays private), a new one gets 0644.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        with open(path, "wb") as fh:  # a device or pipe: write through it
            fh.write(payload)
        return
    if mode is None:
        mode = stat.S_IMODE(st.st_mode) if st is not None and stat.S_ISREG(st.st_mode) else 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
