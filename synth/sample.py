"""One training sample: pick a score, cut an excerpt, engrave, read geometry, rasterise, degrade.

``make_sample(config, source, seed, index, attempt)`` is a pure function: all randomness comes from
``np.random.default_rng([seed, index, attempt])``. It runs inside a worker process (Verovio can
crash or hang); failures raise ``SampleError`` with a reason that ends up in the manifest.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from synth.config import SynthConfig
from synth.presets import build_presets, choose_preset, degrade
from synth.raster import choose_scale, rasterize
from synth.render import Renderer, sample_engraving
from synth.sources import SourceError, SourceSet, excerpt, label_bytes, split_measures
from synth.svg_geometry import measures_per_system, parse_svg, to_geometry
from synth.token_cache import TokenCache

log = logging.getLogger(__name__)

# Lossless either way: zlib's run-length strategy at level 1 is faster than the default level 3 on
# noisy scans and on clean pages (long white runs), and the files come out no larger
# (experiments/bench_synth.py prints both on a real page; numbers in docs/synth.md).
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]


class SampleError(RuntimeError):
    """This sample could not be made; ``source`` names the score, the message the reason."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = source, reason


@dataclass
class Sample:
    key: str
    png: bytes
    label: bytes
    geometry: dict[str, Any]
    meta: dict[str, Any]

    def files(self) -> dict[str, bytes]:
        """The shard members of this sample (WebDataset naming: KEY.ext)."""
        return {
            f"{self.key}.png": self.png,
            f"{self.key}.musicxml": self.label,
            f"{self.key}.geometry.json": json.dumps(self.geometry, separators=(",", ":")).encode(),
            f"{self.key}.json": json.dumps(self.meta, sort_keys=True, separators=(",", ":")).encode(),
        }


@dataclass
class SampleGroup:
    """What one task makes: one sample (system, page) or one per staff of a system (staff level).

    ``dropped`` lists the staves cut but not kept, each ``{"staff", "reason"}`` (recorded in
    the shard's sidecar and the manifest, never silently lost).
    """

    samples: list[Sample]
    dropped: list[dict[str, Any]]

    def files(self) -> dict[str, bytes]:
        return {name: data for s in self.samples for name, data in s.files().items()}


def pick_file(rng: np.random.Generator, n: int) -> int:
    """The first draw of a sample's generator: which score file it engraves."""
    return int(rng.integers(n))


class SampleMaker:
    """Holds what is expensive to rebuild per sample: the score list, the Verovio toolkit, the presets."""

    def __init__(
        self,
        config: SynthConfig,
        source: str | None,
        token_cache: Path | None = None,
        music21_cache: Path | None = None,
    ) -> None:
        """``source``: a directory, 'random', 'music21:NAME', or None / 'mix' for the config's
        ``sources`` weights. ``token_cache``: a folder for tokens of source scores shared across
        workers and runs (see synth.token_cache); without it, each maker keeps its own in-memory
        LRU only. ``music21_cache``: where music21 collections were converted (default: beside
        the token cache, see synth.music21_source)."""
        from synth.music21_source import default_cache

        self.config = config
        self.source = source or "mix"
        if music21_cache is None:
            music21_cache = default_cache(token_cache.parent if token_cache else None)
        self.sources = SourceSet(source, config.sources, music21_cache)
        first = self.sources.files[0]
        self.files: list[Path] = first if first is not None and len(self.sources.names) == 1 else []
        self.presets = build_presets(config.distortions)
        self._renderer: Renderer | None = None
        self.tokens = TokenCache(token_cache)
        self._extras_cache: dict[str, Any] = {}  # score path -> synth.extras.SourceExtras | None
        # CPU seconds per stage over this maker's life (experiments/bench_synth.py reports them;
        # CPU, not wall, so a busy machine does not inflate them).
        self.timings: dict[str, float] = {k: 0.0 for k in ("score", "render", "raster", "distort", "encode")}

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer()
        return self._renderer

    def _pick_source(self, seed: int, index: int, attempt: int) -> int:
        return self.sources.pick(seed, index, attempt)

    def _score(self, rng: np.random.Generator, which: int = 0) -> tuple[str, list[str]]:
        files = self.sources.files[which]
        if files is None:
            from synth.generator import generate

            d = self.config.generator
            difficulty = float(rng.uniform(*d.difficulty))
            n = int(rng.integers(d.measures[0], d.measures[1] + 1))
            return f"random:difficulty={difficulty:.3f}", generate(rng, difficulty=difficulty, measures=n)
        path = files[pick_file(rng, len(files))]
        try:
            return str(path), self.tokens.get(path)
        except (SourceError, OSError) as err:
            raise SampleError(str(path), str(err).removeprefix(f"{path}: ")) from None

    def make(self, seed: int, index: int, attempt: int = 0) -> Sample:
        """Sample ``index`` at system or page level (one image); see ``make_samples`` for staves."""
        if self.config.level == "staff":
            raise ValueError("a staff-level task makes one sample per staff: call make_samples")
        out = self._make(seed, index, attempt)
        assert isinstance(out, Sample)
        return out

    def make_samples(self, seed: int, index: int, attempt: int = 0) -> SampleGroup:
        """Task ``index`` as a group: one sample at system/page level, one per staff at staff level."""
        out = self._make(seed, index, attempt)
        return out if isinstance(out, SampleGroup) else SampleGroup([out], [])

    def _make(self, seed: int, index: int, attempt: int) -> Sample | SampleGroup:
        cfg = self.config
        level = cfg.render_level()
        rng = np.random.default_rng([seed, index, attempt])
        t0 = time.process_time()
        which = self._pick_source(seed, index, attempt)
        name, tokens = self._score(rng, which)
        measures = split_measures(tokens)
        lo, hi = cfg.excerpt_measures()
        count = min(len(measures), int(rng.integers(lo, hi + 1)))
        start = int(rng.integers(0, len(measures) - count + 1))
        ex, start = excerpt(tokens, start, start + count)
        try:
            xml = label_bytes(ex)
        except ValueError as err:  # TokenSequenceError: the excerpt is not a valid sequence
            raise SampleError(name, f"cannot write measures {start}-{start + count}: {err}") from None
        drawn_xml, extras = self._extras(name, which, xml, start, seed, index, attempt)
        engraving = sample_engraving(cfg.style, level, rng)
        t1 = time.process_time()
        try:
            svg, pages = self.renderer.render(drawn_xml, engraving, level)
            layout = parse_svg(svg)
        except (RuntimeError, ValueError) as err:
            raise SampleError(name, f"render: {err}") from None
        per_system = measures_per_system(layout)
        label, shown = xml, count
        if level == "system":
            if pages != 1 or len(per_system) != 1 or per_system[0] != count:
                raise SampleError(name, f"excerpt of {count} measures did not engrave as one system ({per_system})")
        else:
            shown = sum(per_system)
            if pages == 1 and shown != count or shown > count or shown == 0:
                raise SampleError(name, f"page 1 shows {shown} measures of {count} engraved")
            label = self._page_label(ex, per_system)
        t2 = time.process_time()
        geom1 = to_geometry(layout, 1.0)
        target = float(rng.uniform(*cfg.raster.staff_space_px))
        scale = choose_scale(geom1.staff_space(), cfg.raster.dpi, target, layout.width)
        image = rasterize(svg, scale)
        geometry = to_geometry(layout, scale)
        if image.shape != (geometry.height, geometry.width):  # librsvg rounds sizes its own way
            geometry.height, geometry.width = image.shape
        t3 = time.process_time()
        preset = choose_preset(cfg.presets, rng)
        image, geometry, applied = degrade(image, geometry, self.presets[preset], rng)
        t4 = time.process_time()
        meta = {
            "source": name,
            "measures": [start, start + shown],
            "level": cfg.level,
            "seed": seed,
            "index": index,
            "attempt": attempt,
            "style": engraving.to_json(),
            "scale": round(scale, 5),
            "preset": preset,
            "distortions": applied,
            "systems": per_system,
        }
        if extras is not None:
            meta["extras"] = extras  # what was engraved beyond the label, by kind (counts)
        key = f"{seed:08d}-{index:09d}"
        if cfg.level == "staff":
            from synth.staff_level import cut_staves

            group = cut_staves(cfg.staff, name, key, ex, image, geometry, meta, rng)
            self._add_times(t0, t1, t2, t3, t4)
            return group
        ok, png = cv2.imencode(".png", image, PNG_PARAMS)
        self._add_times(t0, t1, t2, t3, t4)
        if not ok:
            raise SampleError(name, "PNG encoding failed")
        return Sample(key, png.tobytes(), label, geometry.to_json(), meta)

    def _extras(
        self, name: str, which: int, xml: bytes, start: int, seed: int, index: int, attempt: int
    ) -> tuple[bytes, dict[str, int] | None]:
        """The MusicXML to engrave: the label, plus the source's lyrics, dynamics, slurs, ... with
        probability ``extras.prob`` (score files only). Drawn from its own generator, so the
        switch does not move any other choice of the sample. Returns (xml, counts or None)."""
        if self.sources.files[which] is None or self.config.extras.prob <= 0:
            return xml, None
        if np.random.default_rng([seed, index, attempt, 2]).random() >= self.config.extras.prob:
            return xml, {}
        from synth.extras import load_extras

        if name not in self._extras_cache:
            if len(self._extras_cache) >= 16:
                self._extras_cache.pop(next(iter(self._extras_cache)))
            self._extras_cache[name] = load_extras(Path(name))
        source = self._extras_cache[name]
        if source is None:
            return xml, {"skipped_unreadable": 1}
        drawn, counts = source.decorate(xml, start)
        return drawn, counts

    def _add_times(self, *marks: float) -> None:
        spans = [b - a for a, b in zip(marks, [*marks[1:], time.process_time()], strict=True)]
        for stage, dt in zip(self.timings, spans, strict=True):
            self.timings[stage] += dt

    @staticmethod
    def _page_label(ex: list[str], per_system: list[int]) -> bytes:
        """Label of page 1: its measures, ``sysbreak`` before each that starts a later system."""
        measures = split_measures(ex)[: sum(per_system)]
        starts = set(np.cumsum(per_system)[:-1].tolist())
        out: list[str] = []
        for i, m in enumerate(measures):
            m = [t for t in m if t not in ("sysbreak", "pagebreak")]
            out += (["sysbreak"] if i in starts else []) + m
        return label_bytes(out)
