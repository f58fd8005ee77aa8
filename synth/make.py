"""A synthesis run: shards of samples made by worker processes, resumable, with a manifest.

Shard ``i`` holds samples ``i*K .. i*K+K-1`` and sample ``j`` is a pure function of (config, seed,
j), so any subset of shards can be made by any job, and a killed run resumes: a shard whose tar
matches the checksum in its sidecar ``shard-NNNNNN.json`` is kept, any other is made again.
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from synth.config import SynthConfig, to_dict
from synth.fonts import install_fontconfig
from synth.music21_source import default_cache, prepare_music21
from synth.shards import sha256_file, shard_name, write_atomic, write_shard
from synth.sources import SourceSet
from synth.token_cache import CACHE_DIRNAME
from synth.workers import Task, WorkerPool

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    shards_made: int = 0
    shards_kept: int = 0
    samples: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    missing: int = 0  # samples that failed every attempt
    staves_dropped: int = 0  # staff level: staves cut but not kept (reasons in the manifest)
    # The whole folder as the manifest records it, earlier runs' shards included: a re-run over a
    # finished folder makes nothing new, but the folder may still lack samples.
    folder_samples: int = 0
    folder_missing: int = 0

    @property
    def failed_sources(self) -> int:
        return len({f["source"] for f in self.failures})


def _sidecar(out: Path, i: int) -> Path:
    return out / shard_name(i).replace(".tar", ".json")


def _identity(config: SynthConfig, source: str | None, seed: int, indices: range) -> dict[str, Any]:
    return {
        "fingerprint": config.fingerprint(),
        "source": str(source or "mix"),
        "seed": seed,
        "indices": [indices.start, indices.stop],
    }


def _is_done(out: Path, i: int, ident: dict[str, Any]) -> bool:
    tar, side = out / shard_name(i), _sidecar(out, i)
    if not (tar.is_file() and side.is_file()):
        return False
    try:
        meta = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return all(meta.get(k) == v for k, v in ident.items()) and meta.get("sha256") == sha256_file(tar)


def make(
    config: SynthConfig,
    source: str | None,
    out: Path,
    count: int,
    seed: int,
    workers: int = 1,
    only: list[int] | None = None,
    progress: bool = True,
) -> RunSummary:
    """Make ``count`` tasks (or the shards in ``only``) under ``out``; write ``manifest.json``.

    ``source``: a directory, 'random', 'music21:NAME', or None for the config's ``sources`` mix.
    A task is one sample at system and page level and one sample per kept staff at staff level.
    """
    out.mkdir(parents=True, exist_ok=True)
    # music21 collections are converted to MusicXML once, in worker processes, before sampling.
    conversions = prepare_music21(source, config.sources, default_cache(out), out / CACHE_DIRNAME, workers)
    sources = SourceSet(source, config.sources, default_cache(out))
    k = config.samples_per_shard
    n_shards = math.ceil(count / k)
    wanted = sorted(set(only)) if only is not None else list(range(n_shards))
    summary = RunSummary()
    ranges = {i: range(i * k, min(count, (i + 1) * k)) for i in wanted if i < n_shards}
    todo_shards = {}
    for i, r in ranges.items():
        if _is_done(out, i, _identity(config, source, seed, r)):
            summary.shards_kept += 1
        else:
            todo_shards[i] = r
    results: dict[int, dict[int, Any]] = {i: {} for i in todo_shards}
    fails: dict[int, list[dict[str, Any]]] = {i: [] for i in todo_shards}
    todo = deque(Task(j, 0) for r in todo_shards.values() for j in r)
    total = len(todo)
    if total:
        install_fontconfig()  # here, not only in each worker: a FontError surfaces once, at start
        bar = tqdm(total=total, desc="samples", unit="smp", disable=not progress)
        cache = None if sources.files == [None] else out / CACHE_DIRNAME  # the generator reads no files
        with WorkerPool(config, source, seed, workers, token_cache=cache) as pool:
            for o in pool.run(todo):
                i = o.task.index // k
                if o.sample is None:
                    src = o.source if o.source != "?" else sources.name_of(seed, o.task.index, o.task.attempt)
                    fails[i].append(
                        {"index": o.task.index, "attempt": o.task.attempt, "source": src, "reason": o.reason}
                    )
                    if o.task.attempt + 1 < config.max_attempts:
                        todo.append(Task(o.task.index, o.task.attempt + 1))
                        continue
                    results[i][o.task.index] = None
                else:
                    results[i][o.task.index] = o.sample
                bar.update(1)
                if len(results[i]) == len(todo_shards[i]):
                    _finish_shard(
                        out,
                        i,
                        results.pop(i),
                        fails[i],
                        _identity(config, source, seed, todo_shards[i]),
                        summary,
                    )
        bar.close()
    manifest = write_manifest(out, config, source, seed, count, n_shards, conversions)
    summary.folder_samples, summary.folder_missing = manifest["samples"], manifest["missing"]
    for f in fails.values():
        summary.failures += f
    return summary


def _finish_shard(
    out: Path,
    i: int,
    samples: dict[int, Any],
    fails: list[dict[str, Any]],
    ident: dict[str, Any],
    summary: RunSummary,
) -> None:
    ok = [samples[j] for j in sorted(samples) if samples[j] is not None]
    sha = write_shard(out / shard_name(i), (s.files() for s in ok))
    dropped = [{"index": j, **d} for j in sorted(samples) if samples[j] is not None for d in samples[j].dropped]
    side = {
        **ident,
        "shard": shard_name(i),
        "sha256": sha,
        "samples": sum(len(g.samples) for g in ok),
        "missing": len(samples) - len(ok),
        "failures": sorted(fails, key=lambda f: (f["index"], f["attempt"])),
        "staves_dropped": dropped,
    }
    write_atomic(_sidecar(out, i), json.dumps(side, indent=1).encode())
    summary.shards_made += 1
    summary.samples += side["samples"]
    summary.missing += len(samples) - len(ok)
    summary.staves_dropped += len(dropped)


def write_manifest(
    out: Path,
    config: SynthConfig,
    source: str | None,
    seed: int,
    count: int,
    n_shards: int,
    conversions: dict[str, Any] | None = None,
) -> dict:
    """Collect every finished shard's sidecar into ``manifest.json`` (counts, checksums, failures,
    dropped staves, and the music21 conversion reports)."""
    shards, failures, dropped = [], [], []
    for i in range(n_shards):
        side = _sidecar(out, i)
        if not side.is_file():
            continue
        meta = json.loads(side.read_text())
        shards.append({k: meta[k] for k in ("shard", "sha256", "samples", "missing")})
        failures += [{"shard": meta["shard"], **f} for f in meta["failures"]]
        dropped += [{"shard": meta["shard"], **d} for d in meta.get("staves_dropped", [])]
    reasons: dict[str, int] = {}
    for d in dropped:
        reason = d["reason"].split(" (")[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    manifest = {
        "source": str(source or "mix"),
        "seed": seed,
        "level": config.level,
        "count": count,
        "samples_per_shard": config.samples_per_shard,
        "fingerprint": config.fingerprint(),
        "config": to_dict(config),
        "shards_expected": n_shards,
        "shards_done": len(shards),
        "samples": sum(s["samples"] for s in shards),
        "missing": sum(s["missing"] for s in shards),
        "shards": shards,
        "failures": failures,
    }
    if config.level == "staff":
        manifest["staves_dropped"] = len(dropped)
        manifest["staves_dropped_by_reason"] = dict(sorted(reasons.items()))
        manifest["staves_dropped_list"] = dropped
    if conversions:
        manifest["music21"] = conversions
    write_atomic(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest
