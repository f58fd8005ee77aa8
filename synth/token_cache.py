"""Model tokens of source scores, cached: reading a whole score with the codec costs more than
engraving an excerpt of it, and a run draws thousands of excerpts from a few hundred files.

Two levels, neither of which changes any result (tokens are a pure function of the file bytes and
the codec, and both are part of the key):

- a per-process LRU keyed by (path, mtime, size);
- an optional on-disk cache (a folder, e.g. ``OUT/.token-cache``) shared by every worker and job
  writing into the same output folder. Each entry is one JSON file named by the sha256 of the
  resolved path, mtime, size and a fingerprint of the codec's source code, written atomically
  (temp file + ``os.replace``), so concurrent writers never expose half a file and a changed score
  or codec simply misses. Scores the codec rejects are cached too (their reason), so a bad file
  costs one read per run, not one per sample; a file that cannot be opened is never cached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import OrderedDict
from pathlib import Path

from synth.shards import write_atomic
from synth.sources import SourceError, load_tokens

log = logging.getLogger(__name__)

CACHE_DIRNAME = ".token-cache"  # under a run's output folder (dot: not matched by shard globs)


@functools.cache
def codec_fingerprint() -> str:
    """sha256 of the source of everything that decides a score's tokens (grammar.musicxml, vocab)."""
    import grammar.musicxml
    import grammar.vocab

    h = hashlib.sha256()
    files = sorted(Path(grammar.musicxml.__file__).parent.rglob("*.py"))
    for path in [*files, Path(grammar.vocab.__file__)]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False


class TokenCache:
    """``get(path)`` -> tokens of the score (raises SourceError naming the file, also when cached)."""

    def __init__(self, directory: Path | None = None, capacity: int = 128) -> None:
        self.directory = directory
        self.capacity = capacity
        self._lru: OrderedDict[tuple[str, int, int], list[str] | str] = OrderedDict()
        self.hits = self.disk_hits = self.misses = 0

    def get(self, path: Path) -> list[str]:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        entry = self._lru.get(key)
        if entry is not None:
            self.hits += 1
            self._lru.move_to_end(key)
        else:
            entry = self._from_disk(key)
            if entry is None:
                self.misses += 1
                entry = self._read(path)
                if isinstance(entry, str) and not _readable(path):
                    raise SourceError(entry)  # an I/O error may pass: never cache it
                self._to_disk(key, entry)
            else:
                self.disk_hits += 1
            self._lru[key] = entry
            if len(self._lru) > self.capacity:
                self._lru.popitem(last=False)
        if isinstance(entry, str):  # a cached failure: the reason, exactly as first raised
            raise SourceError(entry)
        return entry

    @staticmethod
    def _read(path: Path) -> list[str] | str:
        try:
            return load_tokens(path)
        except SourceError as err:
            return str(err)

    def _file(self, key: tuple[str, int, int]) -> Path | None:
        if self.directory is None:
            return None
        path, mtime, size = key
        ident = f"{Path(path).resolve()}\0{mtime}\0{size}\0{codec_fingerprint()}"
        return self.directory / f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}.json"

    def _from_disk(self, key: tuple[str, int, int]) -> list[str] | str | None:
        f = self._file(key)
        if f is None or not f.is_file():
            return None
        try:
            data = json.loads(f.read_bytes())
            if data["source"] != str(Path(key[0]).resolve()):  # a hash collision: treat as a miss
                return None
            return data["error"] if "error" in data else list(data["tokens"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("%s: ignoring unreadable token cache entry (%s)", f, err)
            return None

    def _to_disk(self, key: tuple[str, int, int], entry: list[str] | str) -> None:
        f = self._file(key)
        if f is None:
            return
        body = {
            "source": str(Path(key[0]).resolve()),
            **({"error": entry} if isinstance(entry, str) else {"tokens": entry}),
        }
        try:
            write_atomic(f, json.dumps(body, separators=(",", ":")).encode())
        except OSError as err:  # a read-only or full disk slows the run down but changes nothing
            log.warning("%s: cannot write token cache entry (%s)", f, err)
