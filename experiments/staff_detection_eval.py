"""Staff detection against true staff lines: rendered fixtures (degraded here) or synth shards.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python experiments/staff_detection_eval.py [--seeds 10]
    OMP_NUM_THREADS=1 .venv/bin/python experiments/staff_detection_eval.py --shards DIR_OR_TAR... [--limit N]

Without ``--shards`` the three fixtures in tests/fixtures/staff are degraded with synth's presets
(seeds 0..N-1); with ``--shards`` every sample of the given shards (files, directories of
``*.tar``, or globs) is scored as stored, grouped by its preset and level (``KEY.json``).
Prints a Markdown table: per group, staff recall, precision, mean line error over all matched
staves and of the worst image (pixels, against the true line polylines of ``KEY.geometry.json``),
whether the grouping of staves into systems is right, and detection time per image.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omrformer.vision.image_io import normalize_contrast, to_gray  # noqa: E402
from omrformer.vision.staff_detection import detect_staves  # noqa: E402
from omrformer.vision.staff_metrics import score_staves  # noqa: E402
from synth.geometry import Geometry, Staff  # noqa: E402
from synth.presets import PRESETS, degrade  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "staff"

# One case: (group label, image (H, W) uint8, true staves as (system, (5, K, 2) line polylines), name).
Case = tuple[str, np.ndarray, list[tuple[int, np.ndarray]], str]


@dataclass
class Tally:
    """Running totals of one table row."""

    cases: int = 0
    true_n: int = 0
    matched: int = 0
    detected: int = 0
    system_ok: int = 0
    errors: list[tuple[float, int, str]] = field(default_factory=list)  # (mean error, staves, name)
    times: list[float] = field(default_factory=list)

    def row(self, label: str) -> str:
        n = sum(k for _, k, _ in self.errors)
        mean_err = sum(e * k for e, k, _ in self.errors) / n if n else float("nan")
        worst = max((e for e, _, _ in self.errors), default=float("nan"))
        return (
            f"| {label} | {self.cases} | {self.true_n} | {self.matched / max(self.true_n, 1):.3f} "
            f"| {self.matched / max(self.detected, 1):.3f} | {mean_err:.2f} | {worst:.2f} "
            f"| {self.system_ok / max(self.cases, 1):.2f} | {1000 * float(np.mean(self.times)):.0f} |"
        )


def load_fixture(name: str) -> tuple[np.ndarray, Geometry]:
    img = np.asarray(Image.open(FIXTURES / f"{name}.png").convert("L"))
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    staves = [Staff(s["system"], s["index"], np.array(s["lines"], dtype=np.float64)) for s in data["staves"]]
    return img, Geometry(img.shape[1], img.shape[0], staves)


def fixture_cases(seeds: int) -> Iterator[Case]:
    """The fixtures as rendered ("none") and degraded by each synth preset."""
    names = sorted(p.stem for p in FIXTURES.glob("*.png"))
    for preset in ("none", "clean", "scan", "photo"):
        for name in names:
            base, geom = load_fixture(name)
            for seed in range(1 if preset == "none" else seeds):
                img, g = base, geom
                if preset != "none":
                    img, g, _ = degrade(base, geom, PRESETS[preset], np.random.default_rng(seed))
                yield preset, img, [(s.system, s.lines) for s in g.staves], f"{name}/{preset}/{seed}"


def shard_paths(specs: list[str]) -> list[Path]:
    """Shard tars named by files, directories (their ``*.tar``) or glob patterns, in order."""
    out: list[Path] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            found = sorted(p.glob("*.tar"))
        elif p.is_file():
            found = [p]
        else:
            found = sorted(Path(x) for x in glob.glob(spec) if x.endswith(".tar"))
        if not found:
            raise FileNotFoundError(f"{spec}: no shard (.tar) found there")
        out.extend(found)
    return out


def shard_cases(paths: Iterable[Path], limit: int | None) -> Iterator[Case]:
    """Every stored sample of the shards (at most ``limit``), labelled ``preset / level``."""
    from synth.shards import iter_samples

    for i, sample in enumerate(iter_samples(paths)):
        if limit is not None and i >= limit:
            return
        meta, geom = sample["meta"], sample["geometry"]
        label = f"{meta.get('preset', '?')} / {meta.get('level', '?')}"
        truth = [(int(s["system"]), np.asarray(s["lines"], dtype=np.float64)) for s in geom["staves"]]
        yield label, sample["image"], truth, f"{Path(sample['shard']).name}:{sample['key']}"


def evaluate(cases: Iterable[Case]) -> dict[str, Tally]:
    """Detect and score every case; one tally per group label, in first-seen order."""
    tallies: dict[str, Tally] = {}
    for label, img, truth, name in cases:
        gray = normalize_contrast(to_gray(img))
        t0 = time.perf_counter()
        layout = detect_staves(gray)
        elapsed = time.perf_counter() - t0
        sc = score_staves([lines for _, lines in truth], layout)
        t = tallies.setdefault(label, Tally())
        t.cases += 1
        t.true_n += sc.n_true
        t.matched += sc.n_matched
        t.detected += sc.n_detected
        t.times.append(elapsed)
        if not np.isnan(sc.mean_line_error):
            t.errors.append((sc.mean_line_error, sc.n_matched, name))
        want = [sum(1 for s, _ in truth if s == k) for k in sorted({s for s, _ in truth})]
        t.system_ok += [len(x) for x in layout.systems] == want
        if sc.recall < 1.0 or sc.precision < 1.0:
            logging.info("%s: %d/%d staves found, %d detected", name, sc.n_matched, sc.n_true, sc.n_detected)
    return tallies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="degraded variants per fixture and preset")
    ap.add_argument("--shards", nargs="+", metavar="PATH", help="synth shards: .tar files, directories, globs")
    ap.add_argument("--limit", type=int, default=None, help="score at most N shard samples")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every image with a missed staff")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        if args.shards:
            cases = shard_cases(shard_paths(args.shards), args.limit)
        else:
            cases = fixture_cases(args.seeds)
        tallies = evaluate(cases)
    except (FileNotFoundError, ValueError) as err:  # ShardError is a ValueError
        print(f"staff_detection_eval: {err}", file=sys.stderr)
        sys.exit(2)
    first = "preset / level" if args.shards else "degradation"
    print(
        f"| {first} | images | true staves | recall | precision | mean line error px | worst image px "
        "| systems right | ms/image |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    labels = sorted(tallies) if args.shards else list(tallies)
    for label in labels:
        print(tallies[label].row(label))
    if args.verbose:
        for label, t in tallies.items():
            for e, _, name in sorted(t.errors, reverse=True)[:3]:
                logging.info("%s worst: %s %.2f px", label, name, e)


if __name__ == "__main__":
    main()
