"""WebDataset-compatible tar shards: write atomically and reproducibly, read with plain ``tarfile``.

A shard is byte-identical for the same samples: members are sorted by sample then extension and
carry fixed mtime/owner/mode, so checksums can tell a finished shard from a stale one.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from grammar.atomic import write_atomic

EXTS = ("png", "musicxml", "geometry.json", "json")


class ShardError(ValueError):
    """A shard that cannot be read (names the file and the member)."""


def shard_name(i: int) -> str:
    return f"shard-{i:06d}.tar"


def write_shard(path: Path, samples: Iterable[dict[str, bytes]]) -> str:
    """Write members (``{name: bytes}`` per sample) to ``path`` atomically; returns its sha256."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for files in samples:
            for name in sorted(files):
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(files[name]))
    data = buf.getvalue()
    write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _split(name: str) -> tuple[str, str]:
    key, _, ext = name.partition(".")
    return key, ext


def iter_samples(paths: Iterable[str | Path]) -> Iterator[dict[str, Any]]:
    """Yield every sample of the shards in order.

    Each sample is ``{"key", "image" (H, W) uint8, "label" MusicXML bytes, "geometry" dict,
    "meta" dict, "shard" path}``. Raises ShardError on a truncated or malformed shard.
    """
    for path in paths:
        path = Path(path)
        try:
            with tarfile.open(path, mode="r:") as tar:
                cur: dict[str, bytes] = {}
                key = None
                for member in tar:
                    if not member.isfile():
                        continue
                    k, ext = _split(member.name)
                    if key is not None and k != key:
                        yield _decode(path, key, cur)
                        cur = {}
                    key = k
                    f = tar.extractfile(member)
                    cur[ext] = f.read() if f else b""
                if key is not None:
                    yield _decode(path, key, cur)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ShardError(f"{path}: not a readable shard: {err}") from None


def _decode(path: Path, key: str, files: dict[str, bytes]) -> dict[str, Any]:
    missing = [e for e in EXTS if e not in files]
    if missing:
        raise ShardError(f"{path}: sample {key} lacks {', '.join(missing)}")
    image = cv2.imdecode(np.frombuffer(files["png"], np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ShardError(f"{path}: sample {key}: PNG does not decode")
    try:
        geometry, meta = json.loads(files["geometry.json"]), json.loads(files["json"])
    except json.JSONDecodeError as err:
        raise ShardError(f"{path}: sample {key}: bad JSON: {err}") from None
    return {
        "key": key,
        "image": image,
        "label": files["musicxml"],
        "geometry": geometry,
        "meta": meta,
        "shard": str(path),
    }
