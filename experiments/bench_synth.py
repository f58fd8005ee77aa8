"""Synthesis speed: pages per CPU-second on one core, time per stage, peak RSS.

Runs the sample pipeline in this process, single-threaded, exactly as each pool worker does, so
the stages can be timed; the first sample (Verovio start-up, font cache) is excluded. For a
directory source the same samples are made twice:

- cold: every score is tokenized by the codec (the first time a run meets a file), the tokens
  going to an on-disk token cache as ``python -m synth make`` does;
- warm: a fresh maker (empty in-memory cache) reads tokens from that disk cache, which is what
  almost every sample of a long run sees (each file is tokenized once per output folder).

The two passes must give byte-identical samples (checked). The last image is also PNG-encoded
with the old and the current settings, to show what the encoder choice costs and saves.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/bench_synth.py --source ../shared/corpus/lieder/train \
        --config experiments/configs/synth/scan.yaml --level page --count 12
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from synth.config import load_config
from synth.fonts import install_fontconfig
from synth.sample import PNG_PARAMS, SampleError, SampleMaker
from synth.workers import single_thread


def run_pass(cfg, source: str, cache: Path | None, seed: int, count: int):
    maker = SampleMaker(cfg, source, token_cache=cache)
    maker.make(seed, 10**6)  # warm-up: Verovio toolkit, fonts (not timed)
    maker.timings = dict.fromkeys(maker.timings, 0.0)
    samples, failed = {}, 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(count):
        try:
            samples[i] = maker.make(seed, i)
        except SampleError as err:
            failed += 1
            logging.warning("%s", err)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return maker, samples, failed, cpu, wall


def report(name: str, maker, samples, failed: int, cpu: float, wall: float) -> None:
    ok = len(samples)
    print(
        f"\n{name}: {ok} ok, {failed} failed; {ok / cpu:.2f} per CPU-second, {ok / wall:.2f} per wall-second"
    )
    print("| stage | ms per attempted sample |")
    print("| --- | --- |")
    for stage, s in maker.timings.items():
        print(f"| {stage} | {1000 * s / max(1, ok + failed):.0f} |")
    print(f"| total CPU | {1000 * cpu / max(1, ok + failed):.0f} |")


def png_table(png: bytes) -> None:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    print(f"\nPNG encoding of the last image ({image.shape[1]}x{image.shape[0]}):")
    print("| settings | ms | bytes |")
    print("| --- | --- | --- |")
    for label, params in (
        ("level 3, default strategy (before)", [cv2.IMWRITE_PNG_COMPRESSION, 3]),
        ("level 1, RLE strategy (now)", PNG_PARAMS),
    ):
        t0 = time.process_time()
        for _ in range(3):
            ok, buf = cv2.imencode(".png", image, params)
        print(f"| {label} | {1000 * (time.process_time() - t0) / 3:.0f} | {len(buf)} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True)
    p.add_argument("--config", default="experiments/configs/synth/scan.yaml")
    p.add_argument("--level", default=None)
    p.add_argument("--count", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    install_fontconfig()
    single_thread()
    cfg = load_config(args.config, level=args.level)
    print(f"level {cfg.level}, config {args.config}, source {args.source}, {args.count} samples")
    with tempfile.TemporaryDirectory() as tmp:
        cache = None if args.source == "random" else Path(tmp)
        cold = run_pass(cfg, args.source, cache, args.seed, args.count)
        report("cold token cache" if cache else "generated scores", *cold)
        last = cold[1][max(cold[1])].png if cold[1] else None
        if cache is not None:
            warm = run_pass(cfg, args.source, cache, args.seed, args.count)
            report("warm token cache", *warm)
            same = {i: s.png for i, s in cold[1].items()} == {i: s.png for i, s in warm[1].items()}
            print(f"\nwarm samples byte-identical to cold: {same}")
    if last is not None:
        png_table(last)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
