"""Text fonts for rasterising Verovio SVG: the wheel's embedded fonts, registered with fontconfig.

Why: Verovio writes titles, lyrics and tempo marks as SVG ``<text>`` in "Times, serif" and some
SMuFL glyphs as ``<tspan font-family="Leipzig">``; the SVG embeds those fonts only as CSS
``@font-face`` WOFF2 data, which librsvg ignores. Left alone, the result depends on whatever fonts
the machine has (boxes on a bare container). We decode the WOFF2 fonts shipped in the verovio
package (Liberation Serif is metric-compatible with Times) into a cache folder and point fontconfig
at that folder *only*, so every machine rasterises text identically.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import io
import logging
import os
import re
from pathlib import Path

from grammar.atomic import write_atomic

log = logging.getLogger(__name__)

MUSIC_FONTS: tuple[str, ...] = ("Leipzig", "Bravura", "Gootville", "Leland", "Petaluma")
TEXT_FONT_CSS = "Liberation"
_FACE_RE = re.compile(r"@font-face\s*{(.*?)}", re.S)
_B64_RE = re.compile(r"base64,([A-Za-z0-9+/=]+)")


class FontError(RuntimeError):
    """The Verovio fonts could not be extracted or registered."""


def verovio_data_dir() -> Path:
    """The ``data`` folder of the installed verovio package (fonts, glyph metrics)."""
    import verovio  # heavy native module: imported only where fonts are needed

    return Path(verovio.__file__).resolve().parent / "data"


NO_BROTLI = (
    "decoding Verovio's WOFF2 fonts needs brotli: install the 'brotli' Python package "
    "(pip install brotli; a declared dependency of omrformer) or the system libbrotlidec"
)


class _LibBrotli:
    """Minimal ``brotli.decompress`` over the system libbrotlidec (fontTools needs it for WOFF2)."""

    def __init__(self, name: str) -> None:
        self._lib = ctypes.CDLL(name)

    def decompress(self, data: bytes) -> bytes:
        size = 1 << 22
        while size <= 1 << 28:
            out = ctypes.create_string_buffer(size)
            n = ctypes.c_size_t(size)
            ok = self._lib.BrotliDecoderDecompress(ctypes.c_size_t(len(data)), data, ctypes.byref(n), out)
            if ok == 1:
                return out.raw[: n.value]
            size *= 4
        raise FontError("brotli: could not decompress an embedded font")


def brotli_decompressor():
    """Something with ``decompress(bytes) -> bytes``: the brotli package, else libbrotlidec.

    Raises FontError (one clear sentence) when the machine has neither.
    """
    try:
        import brotli

        return brotli
    except ImportError:
        pass
    name = ctypes.util.find_library("brotlidec")
    if not name:
        raise FontError(NO_BROTLI)
    try:
        return _LibBrotli(name)
    except OSError as err:
        raise FontError(f"{NO_BROTLI} ({name} does not load: {err})") from None


def _woff2_to_ttf(data: bytes, brotli) -> bytes:
    import fontTools.ttLib.woff2 as woff2
    from fontTools.ttLib import TTFont

    woff2.brotli = brotli  # the decompressor chosen once for this extraction (see brotli_decompressor)
    woff2.haveBrotli = True
    font = TTFont(io.BytesIO(data))
    font.flavor = None
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def extract_fonts(cache_dir: Path) -> list[Path]:
    """Decode every embedded font of the verovio package into ``cache_dir`` (idempotent)."""
    data_dir = verovio_data_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = []
    brotli = None  # found on first need: a machine whose fonts are already extracted needs none
    for name in (TEXT_FONT_CSS, *MUSIC_FONTS):
        css_path = data_dir / f"{name}.css"
        if not css_path.is_file():
            raise FontError(f"{css_path}: missing from the verovio package")
        for i, face in enumerate(_FACE_RE.findall(css_path.read_text())):
            target = cache_dir / f"{name}-{i}.ttf"
            if not target.is_file():
                m = _B64_RE.search(face)
                if not m:
                    raise FontError(f"{css_path}: @font-face {i} has no base64 data")
                brotli = brotli or brotli_decompressor()
                write_atomic(target, _woff2_to_ttf(base64.b64decode(m.group(1)), brotli))
            out.append(target)
    return out


FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>{fonts}</dir>
  <cachedir>{fonts}/fccache</cachedir>
  <alias binding="same"><family>Times</family><prefer><family>Liberation Serif</family></prefer></alias>
  <alias binding="same"><family>serif</family><prefer><family>Liberation Serif</family></prefer></alias>
  <alias binding="same"><family>sans-serif</family><prefer><family>Liberation Serif</family></prefer></alias>
</fontconfig>
"""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "omrformer" / "fonts"


def install_fontconfig(cache_dir: Path | None = None) -> Path:
    """Extract the fonts and point ``FONTCONFIG_FILE`` at a config naming only them.

    Must run before libvips first renders text in this process (fontconfig reads its config once).
    Returns the path of the written fonts.conf.
    """
    cache_dir = cache_dir or default_cache_dir()
    try:
        extract_fonts(cache_dir)
    except (OSError, ValueError) as err:
        raise FontError(f"{cache_dir}: cannot prepare fonts: {err}") from err
    except FontError as err:
        raise FontError(f"{cache_dir}: cannot prepare fonts: {err}") from None
    conf = cache_dir / "fonts.conf"
    text = FONTS_CONF.format(fonts=cache_dir.resolve())
    if not conf.is_file() or conf.read_text() != text:
        write_atomic(conf, text.encode())
    os.environ["FONTCONFIG_FILE"] = str(conf)
    return conf
