"""music21's bundled corpus as a score source: ``music21:NAME`` or ``music21:NAME:LIMIT``.

NAME is a collection folder of the corpus that the music21 wheel ships (``bach``: 408 chorale
.mxl; ``essenFolksong``, ``oneills1850``: .abc files of many tunes each; ``ryansMammoth``: one
.abc per tune; ``palestrina``: 1,318 .krn movements; ...). LIMIT takes only the first LIMIT
files (sorted), for quick runs and tests.

Each file is converted once through music21 into one MusicXML file per tune/movement, in worker
processes with a per-file timeout (music21 can be slow, and a parser bug can hang or crash it),
and each result is checked by the codec (``read_score``), which also fills the token cache. What
music21 or the codec cannot convert is counted by reason, never silently lost: per source file a
record ``.done/FILE.json`` (so a killed conversion resumes), per collection ``report.json``
(``report-firstLIMIT.json`` for a limited source), and the run's ``manifest.json`` carries the
report. Converted files live in ``OUT/.music21-cache/NAME/`` beside the token cache.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import re
import time
from collections import Counter
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from grammar.atomic import write_atomic
from synth.sources import MUSIC21_PREFIX, SourceError

log = logging.getLogger(__name__)

MUSIC21_DIRNAME = ".music21-cache"
# Score formats of the corpus (not .rntxt analyses, .mid performances or metadata).
CORPUS_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mei")
FILE_TIMEOUT_S = 600.0  # one source file, all its tunes (an Essen .abc holds hundreds)
# Test hook: the conversion worker hangs on the corpus file with this relative path.
HANG_ENV = "SYNTH_TEST_CONVERT_HANG"
# Bumped when the conversion changes, so stale converted files are not reused.
CONVERTER_VERSION = 1


def default_cache(out: Path | None) -> Path:
    """Where converted collections live: beside the token cache in ``out``, else a user cache."""
    if out is not None:
        return out / MUSIC21_DIRNAME
    env = os.environ.get("SYNTH_MUSIC21_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "omrformer" / "synth-music21"


def parse_name(source: str) -> tuple[str, int | None]:
    """``music21:NAME[:LIMIT]`` -> (NAME, LIMIT or None)."""
    if not source.startswith(MUSIC21_PREFIX):
        raise SourceError(f"{source!r} is not a music21 source (music21:NAME)")
    name, _, limit = source.removeprefix(MUSIC21_PREFIX).partition(":")
    if not name or (limit and not limit.isdigit()) or limit == "0":
        raise SourceError(f"{source!r}: expected music21:NAME or music21:NAME:LIMIT (LIMIT > 0)")
    return name, int(limit) if limit else None


def corpus_root() -> Path:
    try:
        import music21
    except ImportError:
        raise SourceError("music21 sources need the music21 package (pip install 'omrformer[synth]')") from None
    return Path(music21.__file__).parent / "corpus"


def collection_files(source: str) -> list[Path]:
    """The score files of a collection, sorted (the first LIMIT of them with a limit)."""
    name, limit = parse_name(source)
    root = corpus_root()
    d = root / name
    if not d.is_dir() or name.startswith(("_", ".")):
        known = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
        raise SourceError(f"{source}: no such music21 collection (known: {', '.join(known)})")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in CORPUS_SUFFIXES and p.is_file())
    if not files:
        raise SourceError(f"{source}: the collection holds no score files ({', '.join(CORPUS_SUFFIXES)})")
    return files[:limit] if limit else files


def _record_path(cache: Path, name: str, rel: str) -> Path:
    return cache / name / ".done" / (rel.replace("/", "__") + ".json")


def _read_record(path: Path, src: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    st = src.stat()
    if rec.get("version") != CONVERTER_VERSION or rec.get("mtime") != st.st_mtime_ns or rec.get("size") != st.st_size:
        return None
    return rec


def converted_scores(source: str, cache: Path | None) -> list[Path]:
    """The converted MusicXML files of a collection that the codec reads, sorted.

    Raises SourceError when the collection has not been converted into ``cache`` yet
    (``python -m synth make`` and ``preview`` convert before sampling; see prepare_music21).
    """
    name, _ = parse_name(source)
    cache = cache or default_cache(None)
    root = corpus_root() / name
    out: list[Path] = []
    pending = 0
    for src in collection_files(source):
        rec = _read_record(_record_path(cache, name, src.relative_to(root).as_posix()), src)
        if rec is None:
            pending += 1
            continue
        out += [cache / name / s["file"] for s in rec["scores"] if s.get("ok")]
    if pending:
        raise SourceError(
            f"{source}: {pending} files not converted yet in {cache} (python -m synth make converts them)"
        )
    if not out:
        raise SourceError(f"{source}: no score of the collection could be converted (see {report_path(source, cache)})")
    return sorted(out)


def _reason(stage: str, err: BaseException) -> str:
    """A short reason that groups alike failures (numbers and quoted names blanked)."""
    msg = re.sub(r"\d+", "N", str(err).splitlines()[0] if str(err) else "")
    msg = re.sub(r"'[^']*'", "'...'", msg)[:80]
    return f"{stage}: {type(err).__name__}" + (f": {msg}" if msg else "")


def convert_file(src: Path, rel: str, dest: Path, token_cache: Path | None) -> dict[str, Any]:
    """Convert one corpus file into ``dest`` (one MusicXML per score); returns its record."""
    from music21 import converter, stream
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    from synth.token_cache import TokenCache

    st = src.stat()
    rec: dict[str, Any] = {"version": CONVERTER_VERSION, "file": rel, "mtime": st.st_mtime_ns, "size": st.st_size}
    try:
        obj = converter.parse(src)
    except Exception as err:  # noqa: BLE001 - any music21 parser error is a counted reason
        rec["scores"] = [{"file": None, "ok": False, "reason": _reason("music21 parse", err)}]
        return rec
    scores = list(obj.scores) if isinstance(obj, stream.Opus) else [obj]
    tokens = TokenCache(token_cache)
    stem = rel.rsplit(".", 1)[0].replace("/", "__")
    rec["scores"] = []
    for n, score in enumerate(scores):
        name = f"{stem}-{n:04d}.musicxml"
        entry: dict[str, Any] = {"file": name, "ok": False}
        try:
            data = GeneralObjectExporter(score).parse()
        except Exception as err:  # noqa: BLE001
            entry["reason"] = _reason("music21 export", err)
            rec["scores"].append(entry)
            continue
        path = dest / name
        write_atomic(path, data)
        try:
            tokens.get(path)  # the codec's verdict, cached for the samplers
            entry["ok"] = True
        except (SourceError, OSError) as err:
            entry["reason"] = _reason("codec", ValueError(str(err).removeprefix(f"{path}: ")))
        rec["scores"].append(entry)
    if not scores:
        rec["scores"].append({"file": None, "ok": False, "reason": "music21 parse: no score in the file"})
    return rec


def _worker(conn: Connection, token_cache: Path | None) -> None:
    while True:
        task = conn.recv()
        if task is None:
            return
        src, rel, dest = task
        if rel == os.environ.get(HANG_ENV):
            time.sleep(3600)
        try:
            conn.send(convert_file(Path(src), rel, Path(dest), token_cache))
        except Exception as err:  # noqa: BLE001 - a bug here is recorded, never lost
            conn.send({"file": rel, "scores": [{"file": None, "ok": False, "reason": _reason("convert", err)}]})


def convert_collection(
    source: str,
    cache: Path,
    token_cache: Path | None = None,
    workers: int = 1,
    timeout_s: float = FILE_TIMEOUT_S,
) -> dict[str, Any]:
    """Convert every file of the collection not converted yet; returns (and writes) its report."""
    name, _ = parse_name(source)
    root = corpus_root() / name
    dest = cache / name
    dest.mkdir(parents=True, exist_ok=True)
    todo = []
    for src in collection_files(source):
        rel = src.relative_to(root).as_posix()
        if _read_record(_record_path(cache, name, rel), src) is None:
            todo.append((str(src), rel, str(dest)))
    if todo:
        log.warning("converting %d files of %s through music21 (%d workers)", len(todo), source, workers)
        ctx = mp.get_context("spawn")
        slots: list[list[Any]] = []  # [conn, process, task, deadline]

        def start() -> list[Any]:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, token_cache), daemon=True)
            proc.start()
            child.close()
            return [parent, proc, None, 0.0]

        slots = [start() for _ in range(max(1, min(workers, len(todo))))]
        queue = list(reversed(todo))
        done = 0
        while queue or any(s[2] for s in slots):
            for s in slots:
                if s[2] is None and queue:
                    s[2] = queue.pop()
                    s[3] = time.monotonic() + timeout_s + (60.0 if done == 0 else 0.0)  # start-up
                    s[0].send(s[2])
            busy = [s for s in slots if s[2]]
            ready = wait([s[0] for s in busy] + [s[1].sentinel for s in busy], timeout=0.5)
            for i, s in enumerate(slots):
                if s[2] is None:
                    continue
                rec = None
                if s[0] in ready:
                    try:
                        rec = s[0].recv()
                    except (EOFError, OSError):
                        rec = None
                reason = None
                if rec is None:
                    if not s[1].is_alive():
                        reason = f"music21 crashed (exit code {s[1].exitcode})"
                    elif time.monotonic() > s[3]:
                        reason = f"timed out after {timeout_s:g} s"
                    else:
                        continue
                src_path, rel = Path(s[2][0]), s[2][1]
                if reason is not None:
                    st = src_path.stat()
                    rec = {
                        "version": CONVERTER_VERSION,
                        "file": rel,
                        "mtime": st.st_mtime_ns,
                        "size": st.st_size,
                        "scores": [{"file": None, "ok": False, "reason": reason}],
                    }
                    s[1].kill()
                    s[1].join(5)
                    slots[i] = start()
                else:
                    s[2] = None
                write_atomic(_record_path(cache, name, rel), json.dumps(rec).encode())
                done += 1
        for s in slots:
            try:
                s[0].send(None)
            except (BrokenPipeError, OSError):
                pass
            s[1].join(5)
            if s[1].is_alive():
                s[1].kill()
    return conversion_report(source, cache)


def report_path(source: str, cache: Path) -> Path:
    """``NAME/report.json`` for a whole collection, ``NAME/report-first{LIMIT}.json`` for a part."""
    name, limit = parse_name(source)
    return cache / name / ("report.json" if limit is None else f"report-first{limit}.json")


def conversion_report(source: str, cache: Path) -> dict[str, Any]:
    """Counts over the source's files from their records (written to ``report_path``)."""
    name, _ = parse_name(source)
    root = corpus_root() / name
    files = collection_files(source)
    reasons: Counter[str] = Counter()
    scores = ok = 0
    for src in files:
        rec = _read_record(_record_path(cache, name, src.relative_to(root).as_posix()), src)
        if rec is None:
            reasons["not converted"] += 1
            continue
        for s in rec["scores"]:  # a file that fails whole counts as one score lost
            scores += 1
            if s.get("ok"):
                ok += 1
            else:
                reasons[s["reason"]] += 1
    report = {
        "source": source,
        "files": len(files),
        "scores": scores,
        "converted": ok,
        "share_converted": round(ok / scores, 4) if scores else 0.0,
        "failures_by_reason": dict(reasons.most_common()),
    }
    write_atomic(report_path(source, cache), json.dumps(report, indent=1).encode())
    return report


def prepare_music21(
    source: str | None, mix: dict[str, float], cache: Path, token_cache: Path | None, workers: int
) -> dict[str, Any]:
    """Convert every music21 source of a run (``source`` or the mix); returns reports by source."""
    names = [source] if source and source != "mix" else [k for k, w in mix.items() if w > 0]
    return {n: convert_collection(n, cache, token_cache, workers) for n in names if n.startswith(MUSIC21_PREFIX)}
