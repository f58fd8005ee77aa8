"""Synthesis speed: pages per second on one core, time per stage, peak RSS.

Runs the sample pipeline in this process (one worker, as each pool worker does) so the stages can
be timed; the first sample (Verovio start-up, font cache) is excluded.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/bench_synth.py --source ../shared/corpus/lieder/train \
        --config experiments/configs/synth/scan.yaml --count 20
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

from synth.config import load_config
from synth.fonts import install_fontconfig
from synth.sample import SampleError, SampleMaker


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True)
    p.add_argument("--config", default="experiments/configs/synth/scan.yaml")
    p.add_argument("--level", default=None)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    install_fontconfig()
    cfg = load_config(args.config, level=args.level)
    maker = SampleMaker(cfg, args.source)
    maker.make(args.seed, 10**6)  # warm-up: Verovio toolkit, fonts
    maker.timings = dict.fromkeys(maker.timings, 0.0)
    ok = failed = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(args.count):
        try:
            maker.make(args.seed, i)
            ok += 1
        except SampleError as err:
            failed += 1
            logging.warning("%s", err)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"level {cfg.level}, config {args.config}, source {args.source}")
    print(f"samples {ok} ok, {failed} failed; {ok / cpu:.2f} per CPU-second, {ok / wall:.2f} per wall-second")
    print("| stage | ms per attempted sample |")
    print("| --- | --- |")
    for stage, s in maker.timings.items():
        print(f"| {stage} | {1000 * s / max(1, ok + failed):.0f} |")
    print(f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
