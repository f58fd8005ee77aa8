"""Per-source numbers for docs/synth.md: scores, share the codec reads, tokens per staff, and staff
samples per CPU-second on one core.

    OMP_NUM_THREADS=1 python experiments/bench_synth_staff.py --source ../shared/corpus/lieder/train \\
        --source music21:bach --config experiments/configs/synth/scan.yaml --count 12 --out /tmp/bench

Each source is measured in this process, single-threaded as a pool worker runs: ``--count``
staff-level tasks after one warm-up task (not timed), CPU time, tokens read from the token cache
in ``OUT`` (run it twice to see warm numbers; the first run also tokenizes every score for the
share). music21 sources must be converted first (``python -m synth convert --out OUT``), and
their share is the conversion report's. :func:`bench` returns one dict per source
(``experiments/bench_synth_staff.py`` prints them as JSON lines).
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any

from synth.config import load_config
from synth.music21_source import conversion_report, converted_scores, default_cache
from synth.sample import SampleError, SampleMaker
from synth.sources import MUSIC21_PREFIX, SourceError, list_scores
from synth.token_cache import CACHE_DIRNAME, TokenCache


def _share(source: str, out: Path) -> dict[str, Any]:
    if source == "random":
        return {}
    if source.startswith(MUSIC21_PREFIX):
        converted_scores(source, default_cache(out))  # raises when not converted yet
        report = conversion_report(source, default_cache(out))
        return {k: v for k, v in report.items() if k != "source"}
    files = list_scores(source)
    cache = TokenCache(out / CACHE_DIRNAME)
    ok = 0
    for f in files:
        try:
            cache.get(f)
            ok += 1
        except (SourceError, OSError):
            pass
    return {"scores": len(files), "converted": ok, "share_converted": round(ok / len(files), 4)}


def bench(source: str, config: Path | None, count: int, out: Path, seed: int) -> dict[str, Any]:
    from grammar.musicxml import read_score

    cfg = load_config(config, level="staff")
    cfg = dataclasses.replace(cfg, sources={})
    result: dict[str, Any] = {"source": source, **_share(source, out)}
    maker = SampleMaker(cfg, source, out / CACHE_DIRNAME)
    try:
        maker.make_samples(seed, 10**6)  # warm-up: Verovio toolkit, fonts (not timed)
    except SampleError:
        pass
    maker.timings = dict.fromkeys(maker.timings, 0.0)
    samples, tokens, per_measure, dropped, failed = 0, [], [], 0, 0
    for i in range(count):
        for attempt in range(cfg.max_attempts):
            try:
                g = maker.make_samples(seed, i, attempt)
                break
            except SampleError:
                failed += 1
        else:
            continue
        samples += len(g.samples)
        dropped += len(g.dropped)
        for s in g.samples:
            n = len(read_score(s.label).tokens)
            tokens.append(n)
            per_measure.append(n / (s.meta["measures"][1] - s.meta["measures"][0]))
    # The stages' CPU time only: re-reading the labels for the token counts is not synthesis.
    making = sum(maker.timings.values())
    result.update(
        {
            "tasks": count,
            "failed_attempts": failed,
            "staff_samples": samples,
            "staves_dropped": dropped,
            "tokens_per_staff_median": statistics.median(tokens) if tokens else 0,
            "tokens_per_staff_mean": round(statistics.fmean(tokens), 1) if tokens else 0,
            "tokens_per_staff_measure_mean": round(statistics.fmean(per_measure), 1) if per_measure else 0,
            "staff_samples_per_cpu_s": round(samples / making, 2) if making > 0 else 0,
            "cpu_ms_per_stage_per_task": {k: round(1000 * v / count) for k, v in maker.timings.items()},
        }
    )
    return result
