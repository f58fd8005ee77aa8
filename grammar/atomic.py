"""Atomic file writes shared by every layer (grammar is the one package all of them may import).

A reader never sees a half-written file and a killed run leaves no truncated output: data goes to a
temporary file in the destination folder, then ``os.replace`` puts it in place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | str, mode: int = 0o644) -> None:
    """Write ``data`` (str is UTF-8 encoded) to ``path`` atomically, creating parent folders.

    ``mode`` is applied before the rename because ``mkstemp`` creates files 0600, and shards,
    reports and checkpoints are read by other users and jobs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
