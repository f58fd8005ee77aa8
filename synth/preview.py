"""Preview: a few samples as PNGs with their staff geometry drawn on top (for eyes, not training)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from synth.config import SynthConfig
from synth.geometry import Geometry
from synth.sample import SampleError, SampleMaker
from synth.shards import write_atomic


def draw_geometry(image: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Colour copy of ``image``: staff lines red, measures green, systems blue, anchors orange."""
    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    for q in geometry.systems:
        cv2.polylines(out, [np.round(q).astype(np.int32)], True, (255, 120, 0), 1)
    for m in geometry.measures:
        cv2.polylines(out, [np.round(m.quad).astype(np.int32)], True, (0, 170, 0), 1)
    for s in geometry.staves:
        for line in s.lines:
            cv2.polylines(out, [np.round(line).astype(np.int32)], False, (0, 0, 230), 1)
    for p in geometry.anchors.values():
        cv2.circle(out, (int(round(p[0])), int(round(p[1]))), 3, (0, 140, 255), -1)
    return out


def preview(config: SynthConfig, source: str, out: Path, count: int, seed: int) -> list[Path]:
    """Make ``count`` samples in this process and write ``preview-NNN.png`` files; returns them."""
    from synth.fonts import install_fontconfig

    install_fontconfig()
    maker = SampleMaker(config, source)
    written = []
    for i in range(count):
        for attempt in range(config.max_attempts):
            try:
                s = maker.make(seed, i, attempt)
                break
            except SampleError:
                continue
        else:
            continue
        image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert image is not None  # the PNG was just encoded by the sample maker
        ok, png = cv2.imencode(".png", draw_geometry(image, Geometry.from_json(s.geometry)))
        path = out / f"preview-{i:03d}.png"
        write_atomic(path, png.tobytes())
        written.append(path)
    return written
