"""Per-source staff-level numbers for docs/synth.md (the command line of :mod:`synth.bench`).

    OMP_NUM_THREADS=1 python experiments/bench_synth_staff.py --source ../shared/corpus/lieder/train \\
        --source music21:bach --config experiments/configs/synth/scan.yaml --count 12 --out /tmp/bench

Prints one JSON object per source (see synth/bench.py for what is measured).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth.bench import bench  # noqa: E402
from synth.fonts import install_fontconfig  # noqa: E402
from synth.workers import single_thread  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", action="append", required=True)
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--count", type=int, default=12)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    install_fontconfig()
    single_thread()
    args.out.mkdir(parents=True, exist_ok=True)
    for source in args.source:
        print(json.dumps(bench(source, args.config, args.count, args.out, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
