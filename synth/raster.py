"""Rasterise Verovio SVG with pyvips (librsvg) into a grayscale uint8 array."""

from __future__ import annotations

import re

import numpy as np

_ZERO_FONT = re.compile(r'\sfont-size="0px"')
# Any paint other than black in the drawing: then ink is not just alpha and the RGB flatten is
# needed. Verovio's <style> sheet is left out: its only colours style the "cursor" and
# "highlighted" classes of interactive views, which a static render never uses.
_COLOUR = re.compile(r'(?:fill|stroke|color)\s*(?:="|:)\s*(?!none|black|currentColor|#0{3}\b|#0{6}\b)[#\w(]')
_STYLE = re.compile(r"<style\b.*?</style>", re.S)


class RasterError(RuntimeError):
    """librsvg could not draw the SVG."""


def fix_svg(svg: str) -> str:
    """Make Verovio's SVG draw the same in librsvg as in a browser.

    Verovio puts ``font-size="0px"`` on ``<text>`` and the real size on inner ``<tspan>``;
    librsvg then collapses the text. Dropping the zero size lets the tspans' sizes apply.
    """
    return _ZERO_FONT.sub("", svg)


def rasterize(svg: str, scale: float) -> np.ndarray:
    """Draw ``svg`` at ``scale`` pixels per SVG px on white; returns (H, W) uint8, 0 = ink."""
    import pyvips  # after synth.fonts.install_fontconfig has set FONTCONFIG_FILE

    svg = fix_svg(svg)
    try:
        img = pyvips.Image.svgload_buffer(svg.encode(), scale=scale, unlimited=True)
        if img.bands == 4 and not _COLOUR.search(_STYLE.sub("", svg)):
            # Verovio paints everything black, so the page is white minus coverage: 255 - alpha is
            # exactly what flattening onto white and converting to grey gives, at a third of the cost.
            img = img.extract_band(3).invert()
        else:
            if img.hasalpha():
                img = img.flatten(background=[255, 255, 255])
            img = img.colourspace("b-w")
            if img.bands > 1:
                img = img.extract_band(0)
        arr = np.ndarray(buffer=img.write_to_memory(), dtype=np.uint8, shape=(img.height, img.width))
    except pyvips.Error as err:
        raise RasterError(f"librsvg: {str(err).splitlines()[0]}") from None
    return arr.copy()


def choose_scale(
    staff_space_units: float, dpi: float | None, target_px: float, page_width_svg_px: float
) -> float:
    """Raster scale so the staff space spans ``target_px`` pixels, or so the page is at ``dpi``.

    Verovio's page is in tenths of a millimetre at scale 100 (2100 px wide for A4), so one SVG px
    is 0.1 mm and ``dpi`` maps to ``dpi / 254`` pixels per SVG px.
    """
    if dpi is not None:
        return dpi / 254.0
    if staff_space_units <= 0:
        raise RasterError("no staff found in the SVG to size the raster by")
    return target_px / staff_space_units
