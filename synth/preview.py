"""Preview: a few samples as PNGs with their staff geometry drawn on top (for eyes, not training)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from synth.config import SynthConfig
from synth.geometry import Geometry
from synth.sample import SampleError, SampleMaker
from synth.shards import write_atomic

log = logging.getLogger(__name__)


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


def preview(config: SynthConfig, source: str | None, out: Path, count: int, seed: int) -> list[Path]:
    """Make ``count`` tasks in this process and write ``preview-NNN.png`` files (one per staff,
    ``preview-NNN-sKK.png``, at staff level); returns them."""
    from synth.fonts import install_fontconfig
    from synth.music21_source import default_cache, prepare_music21
    from synth.token_cache import CACHE_DIRNAME

    install_fontconfig()
    prepare_music21(source, config.sources, default_cache(out), out / CACHE_DIRNAME, 1)
    maker = SampleMaker(config, source, out / CACHE_DIRNAME)
    written = []
    for i in range(count):
        for attempt in range(config.max_attempts):
            try:
                group = maker.make_samples(seed, i, attempt)
                break
            except SampleError as err:
                log.info("preview %d attempt %d: %s", i, attempt, err)
                continue
        else:
            continue
        for s in group.samples:
            image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
            assert image is not None  # the PNG was just encoded by the sample maker
            ok, png = cv2.imencode(".png", draw_geometry(image, Geometry.from_json(s.geometry)))
            suffix = f"-{s.key.rsplit('-', 1)[1]}" if config.level == "staff" else ""
            path = out / f"preview-{i:03d}{suffix}.png"
            write_atomic(path, png.tobytes())
            written.append(path)
    return written
