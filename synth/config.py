"""Typed configuration of a synthesis run, loaded from YAML with strict checking.

Ranges are ``[low, high]`` pairs sampled uniformly per sample from that sample's own
``np.random.Generator``; a run is a pure function of (config, seed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from synth.fonts import MUSIC_FONTS

Level = Literal["system", "page", "staff"]
Range = tuple[float, float]


class ConfigError(ValueError):
    """A configuration file or value that cannot be used (names the file and the key)."""


@dataclass(frozen=True)
class StyleConfig:
    """Engraving variation; Verovio option names in comments. Lengths in Verovio units (0.1 mm)."""

    fonts: tuple[str, ...] = MUSIC_FONTS
    exclude_fonts: tuple[str, ...] = ()
    unit: Range = (7.0, 10.0)  # half a staff space; sets the music size
    page_width: Range = (1900.0, 2300.0)  # pageWidth (A4 is 2100)
    page_height: Range = (2600.0, 3200.0)  # pageHeight (A4 is 2970)
    margin: Range = (40.0, 200.0)  # pageMarginLeft/Right/Top/Bottom, drawn per side
    spacing_linear: Range = (0.2, 0.32)  # spacingLinear
    spacing_non_linear: Range = (0.5, 0.7)  # spacingNonLinear
    spacing_staff: Range = (6.0, 16.0)  # spacingStaff
    spacing_system: Range = (4.0, 14.0)  # spacingSystem
    staff_line_width: Range = (0.15, 0.3)  # staffLineWidth
    stem_width: Range = (0.15, 0.35)  # stemWidth
    header_prob: float = 0.3  # header "auto" vs "none" (page level only)

    def font_choices(self) -> tuple[str, ...]:
        fonts = tuple(f for f in self.fonts if f not in self.exclude_fonts)
        if not fonts:
            raise ConfigError(f"every font is excluded (fonts {list(self.fonts)}, exclude {list(self.exclude_fonts)})")
        return fonts


@dataclass(frozen=True)
class RasterConfig:
    """Resolution: a fixed ``dpi`` if given, else a staff space drawn in ``staff_space_px`` pixels."""

    dpi: float | None = None
    staff_space_px: Range = (10.0, 14.0)


@dataclass(frozen=True)
class ExcerptConfig:
    """How many measures an excerpt takes (page level renders more and keeps what fits page 1)."""

    system_measures: tuple[int, int] = (2, 6)
    page_measures: tuple[int, int] = (12, 40)


@dataclass(frozen=True)
class StaffConfig:
    """Staff level: how each staff is cut from its engraved system (synth.staff_crop; staff spaces).

    ``above``/``below``/``pad_x`` are the margins the transcriber uses on detected staves (the
    defaults of ``synth.staff_crop.staff_crop_box``); ``jitter`` varies each margin per sample by
    up to that many spaces, so the model does not rely on the exact cut.
    """

    above: float = 4.5
    below: float = 5.5
    pad_x: float = 1.0
    jitter: float = 0.5


@dataclass(frozen=True)
class ExtrasConfig:
    """Lyrics, dynamics, slurs, articulations, fermatas, fingering, tempo and words that a real
    source has: engraved with probability ``prob`` while the label omits them (synth.extras)."""

    prob: float = 0.8  # per sample, for score-file sources (the generator has none)


@dataclass(frozen=True)
class GeneratorConfig:
    """Procedural scores: ``difficulty`` 0 = one monophonic staff ... 1 = full multi-part page."""

    difficulty: Range = (0.0, 1.0)
    measures: tuple[int, int] = (4, 24)


@dataclass(frozen=True)
class SynthConfig:
    level: Level = "system"
    samples_per_shard: int = 64
    timeout_s: float = 60.0  # per render; a hang past this kills the worker and is recorded
    max_attempts: int = 4  # a failed sample is retried with the next deterministic candidate
    presets: dict[str, float] = field(default_factory=lambda: {"clean": 0.2, "scan": 0.5, "photo": 0.3})
    distortions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> overrides (e.g. p)
    style: StyleConfig = StyleConfig()
    raster: RasterConfig = RasterConfig()
    excerpt: ExcerptConfig = ExcerptConfig()
    generator: GeneratorConfig = GeneratorConfig()
    staff: StaffConfig = StaffConfig()
    extras: ExtrasConfig = ExtrasConfig()
    # A mix of sources (directory, 'random' or 'music21:NAME') -> weight; used when the command
    # line names no --source. Each sample draws its source from these weights.
    sources: dict[str, float] = field(default_factory=dict)

    def render_level(self) -> Literal["system", "page"]:
        """What Verovio engraves: a staff sample is cut from an engraved system."""
        return "page" if self.level == "page" else "system"

    def excerpt_measures(self) -> tuple[int, int]:
        return self.excerpt.page_measures if self.level == "page" else self.excerpt.system_measures

    def fingerprint(self) -> str:
        """sha256 of the config's canonical JSON: shards made under another config are not reused."""
        d = to_dict(self)
        # Keys added with the staff level leave out what they do not change, so shards made
        # before they existed keep their fingerprint (and resume) under the same config.
        if self.level != "staff":
            d.pop("staff")
        if not self.sources:
            d.pop("sources")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def validate(self) -> SynthConfig:
        if self.level not in ("system", "page", "staff"):
            raise ConfigError(f"level must be 'system', 'page' or 'staff', got {self.level!r}")
        if not 0.0 <= self.extras.prob <= 1.0:
            raise ConfigError(f"extras.prob must be in [0, 1], got {self.extras.prob}")
        st = self.staff
        if min(st.above, st.below) < 1.0 or st.pad_x < 0 or st.jitter < 0:
            raise ConfigError(f"staff: above and below must be >= 1 staff space, pad_x and jitter >= 0, got {st}")
        if not isinstance(self.sources, dict) or any(not isinstance(k, str) for k in self.sources):
            raise ConfigError(f"sources must map source names to weights, got {self.sources!r}")
        if any(not isinstance(w, (int, float)) or w < 0 for w in self.sources.values()) or (
            self.sources and sum(self.sources.values()) <= 0
        ):
            raise ConfigError(f"sources must map each source to a non-negative weight, got {self.sources}")
        if self.samples_per_shard < 1 or self.max_attempts < 1 or self.timeout_s <= 0:
            raise ConfigError("samples_per_shard, max_attempts and timeout_s must be positive")
        unknown = set(self.style.fonts) - set(MUSIC_FONTS)
        if unknown:
            raise ConfigError(f"unknown fonts {sorted(unknown)} (Verovio ships {', '.join(MUSIC_FONTS)})")
        self.style.font_choices()
        from synth.presets import PRESETS, build_presets, known_distortions

        bad = set(self.presets) - set(PRESETS)
        if bad or not self.presets or any(w < 0 for w in self.presets.values()) or sum(self.presets.values()) <= 0:
            raise ConfigError(f"presets must weigh {sorted(PRESETS)} with non-negative weights, got {self.presets}")
        bad = set(self.distortions) - set(known_distortions())
        if bad:
            raise ConfigError(f"unknown distortions {sorted(bad)} (known: {', '.join(known_distortions())})")
        try:
            build_presets(self.distortions)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        for name, (lo, hi) in _ranges(self):
            if lo > hi:
                raise ConfigError(f"{name}: range low {lo} > high {hi}")
        return self


def _ranges(cfg: Any, prefix: str = "") -> list[tuple[str, tuple[float, float]]]:
    out = []
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            out += _ranges(v, f"{prefix}{f.name}.")
        elif isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
            out.append((prefix + f.name, v))
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(fields)})")
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            value = _build(type(default), value, f"{where}.{name}")
        elif isinstance(default, tuple) or name in ("dpi",) and isinstance(value, list):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}.{name}: expected a list, got {value!r}")
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None


def load_config(path: str | Path | None = None, **overrides: Any) -> SynthConfig:
    """Read a YAML config (or the defaults), apply top-level ``overrides``, validate."""
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as err:
            raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    cfg = _build(SynthConfig, data, where)
    try:
        return cfg.validate()
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
