"""Engrave MusicXML with Verovio: per-sample engraving style, one system or page 1 of a page.

Verovio is imported only here (and in synth.fonts), inside worker processes: it can abort or
hang on some inputs, which the worker pool turns into recorded failures.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from synth.config import Level, StyleConfig

log = logging.getLogger(__name__)


class RenderError(RuntimeError):
    """Verovio could not load or render a score."""


@dataclass(frozen=True)
class Engraving:
    """One sample's engraving choices (stored in the sample's metadata)."""

    font: str
    unit: float
    page_width: int
    page_height: int
    margins: tuple[int, int, int, int]  # left, right, top, bottom
    spacing_linear: float
    spacing_non_linear: float
    spacing_staff: float
    spacing_system: float
    staff_line_width: float
    stem_width: float
    header: bool
    breaks: str

    def to_json(self) -> dict:
        return asdict(self)


def sample_engraving(style: StyleConfig, level: Level, rng: np.random.Generator) -> Engraving:
    """Draw an engraving style from ``style``'s ranges with the sample's generator."""

    def u(r: tuple[float, float]) -> float:
        return float(rng.uniform(r[0], r[1]))

    fonts = style.font_choices()
    return Engraving(
        font=str(fonts[rng.integers(len(fonts))]),
        unit=round(u(style.unit), 2),
        page_width=int(u(style.page_width)),
        page_height=int(u(style.page_height)),
        margins=tuple(int(u(style.margin)) for _ in range(4)),  # type: ignore[arg-type]
        spacing_linear=round(u(style.spacing_linear), 3),
        spacing_non_linear=round(u(style.spacing_non_linear), 3),
        spacing_staff=round(u(style.spacing_staff), 1),
        spacing_system=round(u(style.spacing_system), 1),
        staff_line_width=round(u(style.staff_line_width), 3),
        stem_width=round(u(style.stem_width), 3),
        header=level == "page" and bool(rng.random() < style.header_prob),
        breaks="none" if level == "system" else str(rng.choice(["auto", "smart"])),
    )


def verovio_options(e: Engraving, level: Level) -> dict:
    left, right, top, bottom = e.margins
    opts = {
        "font": e.font,
        "unit": e.unit,
        "scale": 100,
        "pageWidth": e.page_width,
        "pageHeight": e.page_height,
        "pageMarginLeft": left,
        "pageMarginRight": right,
        "pageMarginTop": top,
        "pageMarginBottom": bottom,
        "spacingLinear": e.spacing_linear,
        "spacingNonLinear": e.spacing_non_linear,
        "spacingStaff": e.spacing_staff,
        "spacingSystem": e.spacing_system,
        "staffLineWidth": e.staff_line_width,
        "stemWidth": e.stem_width,
        "header": "auto" if e.header else "none",
        "footer": "none",
        "breaks": e.breaks,
        "svgViewBox": False,
        "svgRemoveXlink": False,
        "xmlIdSeed": 1,  # ids Verovio invents are then deterministic too
    }
    if level == "system":
        # One system, as wide as its content: the image shows exactly the excerpt's measures.
        opts.update({"adjustPageWidth": True, "adjustPageHeight": True, "pageWidth": 60000})
    return opts


class Renderer:
    """A reusable Verovio toolkit (creating one costs more than a render)."""

    def __init__(self) -> None:
        import verovio

        verovio.enableLog(verovio.LOG_OFF)
        self._tk = verovio.toolkit()

    def render(self, musicxml: bytes | str, engraving: Engraving, level: Level) -> tuple[str, int]:
        """Engrave ``musicxml``; returns (SVG of page 1, number of pages)."""
        self._tk.resetOptions()
        self._tk.setOptions(verovio_options(engraving, level))
        data = musicxml.decode("utf-8") if isinstance(musicxml, bytes) else musicxml
        if not self._tk.loadData(data):
            raise RenderError("Verovio could not load the MusicXML")
        pages = self._tk.getPageCount()
        if pages < 1:
            raise RenderError("Verovio laid out no page")
        return self._tk.renderToSVG(1), pages
