"""On-the-fly samples for training without shards (``RenderStream`` in omrformer.training.data).

Runs in the calling process (a DataLoader worker): no timeout protection, so prefer shards made by
``python -m synth make`` for sources that may crash Verovio. Failed samples are logged and skipped.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from synth.config import load_config
from synth.sample import SampleError, SampleMaker

log = logging.getLogger(__name__)


def render_stream(
    source: str, level: str = "system", config: str | Path | None = None, seed: int = 0, stream: int = 0
) -> Iterator[dict[str, Any]]:
    """Endless samples ``{"key", "image", "label", "geometry", "meta"}``.

    Sample ``i`` of stream ``s`` is a pure function of (config, seed, s, i); streams are disjoint.
    """
    from synth.fonts import install_fontconfig

    install_fontconfig()
    cfg = load_config(config, level=level)
    # music21 sources must have been converted (python -m synth make/preview does it), into the
    # user cache here (SYNTH_MUSIC21_CACHE): a training reader has no output folder.
    maker = SampleMaker(cfg, source)
    for i in itertools.count():
        index = i * 1_000_003 + stream  # disjoint index sets per stream
        for attempt in range(cfg.max_attempts):
            try:
                group = maker.make_samples(seed, index, attempt)
            except SampleError as err:
                log.warning("sample %d attempt %d skipped: %s", index, attempt, err)
                continue
            for s in group.samples:  # one per staff at staff level
                image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
                yield {"key": s.key, "image": image, "label": s.label, "geometry": s.geometry, "meta": s.meta}
            break
