"""Staff detection on rendered fixtures, clean and degraded with synth's scan/photo presets.

Usage: ``OMP_NUM_THREADS=1 .venv/bin/python experiments/staff_detection_eval.py [--seeds 10]``
Prints a Markdown table: per preset, staff recall, precision, mean line error over all matched
staves and of the worst image (pixels, against the true line polylines moved by the same
distortions), and time per image.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
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


def load_fixture(name: str) -> tuple[np.ndarray, Geometry]:
    img = np.asarray(Image.open(FIXTURES / f"{name}.png").convert("L"))
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    staves = [Staff(s["system"], s["index"], np.array(s["lines"], dtype=np.float64)) for s in data["staves"]]
    return img, Geometry(img.shape[1], img.shape[0], staves)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="degraded variants per fixture and preset")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    names = sorted(p.stem for p in FIXTURES.glob("*.png"))
    rows = []
    for preset in ("none", "clean", "scan", "photo"):
        true_n = matched = detected = 0
        errors, times, system_ok, cases = [], [], 0, 0
        for name in names:
            base, geom = load_fixture(name)
            for seed in range(1 if preset == "none" else args.seeds):
                img, g = base, geom
                if preset != "none":
                    img, g, _ = degrade(base, geom, PRESETS[preset], np.random.default_rng(seed))
                gray = normalize_contrast(to_gray(img))
                t0 = time.perf_counter()
                layout = detect_staves(gray)
                times.append(time.perf_counter() - t0)
                truth = [s.lines for s in g.staves]
                sc = score_staves(truth, layout)
                true_n += sc.n_true
                matched += sc.n_matched
                detected += sc.n_detected
                if not np.isnan(sc.mean_line_error):
                    errors.append((sc.mean_line_error, sc.n_matched))
                want = [
                    [s.index for s in g.staves if s.system == k] for k in sorted({s.system for s in g.staves})
                ]
                system_ok += [len(x) for x in layout.systems] == [len(x) for x in want]
                cases += 1
        mean_err = sum(e * n for e, n in errors) / max(1, sum(n for _, n in errors))
        worst = max((e for e, _ in errors), default=float("nan"))
        rows.append(
            (
                preset,
                cases,
                true_n,
                matched / true_n,
                matched / max(detected, 1),
                mean_err,
                worst,
                system_ok / cases,
                1000 * float(np.mean(times)),
            )
        )
    print(
        "| degradation | images | true staves | recall | precision | mean line error px | worst image px "
        "| systems right | ms/image |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.2f} | {r[6]:.2f} | {r[7]:.2f} "
            f"| {r[8]:.0f} |"
        )


if __name__ == "__main__":
    main()
