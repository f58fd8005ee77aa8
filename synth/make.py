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
from synth.sample import source_of
from synth.shards import sha256_file, shard_name, write_atomic, write_shard
from synth.sources import list_scores
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

    @property
    def failed_sources(self) -> int:
        return len({f["source"] for f in self.failures})


def _sidecar(out: Path, i: int) -> Path:
    return out / shard_name(i).replace(".tar", ".json")


def _identity(config: SynthConfig, source: str, seed: int, indices: range) -> dict[str, Any]:
    return {
        "fingerprint": config.fingerprint(),
        "source": str(source),
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
    source: str,
    out: Path,
    count: int,
    seed: int,
    workers: int = 1,
    only: list[int] | None = None,
    progress: bool = True,
) -> RunSummary:
    """Make ``count`` samples (or the shards in ``only``) under ``out``; write ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    files = [] if source == "random" else list_scores(source)
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
        cache = None if source == "random" else out / CACHE_DIRNAME
        with WorkerPool(config, source, seed, workers, token_cache=cache) as pool:
            for o in pool.run(todo):
                i = o.task.index // k
                if o.sample is None:
                    src = (
                        o.source if o.source != "?" else source_of(files, seed, o.task.index, o.task.attempt)
                    )
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
    write_manifest(out, config, source, seed, count, n_shards)
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
    side = {
        **ident,
        "shard": shard_name(i),
        "sha256": sha,
        "samples": len(ok),
        "missing": len(samples) - len(ok),
        "failures": sorted(fails, key=lambda f: (f["index"], f["attempt"])),
    }
    write_atomic(_sidecar(out, i), json.dumps(side, indent=1).encode())
    summary.shards_made += 1
    summary.samples += len(ok)
    summary.missing += len(samples) - len(ok)


def write_manifest(out: Path, config: SynthConfig, source: str, seed: int, count: int, n_shards: int) -> dict:
    """Collect every finished shard's sidecar into ``manifest.json`` (counts, checksums, failures)."""
    shards, failures = [], []
    for i in range(n_shards):
        side = _sidecar(out, i)
        if not side.is_file():
            continue
        meta = json.loads(side.read_text())
        shards.append({k: meta[k] for k in ("shard", "sha256", "samples", "missing")})
        failures += [{"shard": meta["shard"], **f} for f in meta["failures"]]
    manifest = {
        "source": str(source),
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
    write_atomic(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest
