"""The fast paths give what the straightforward code gives: token cache, raster, distortions."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from synth.distort import BleedThrough, GaussianNoise, Lighting, PageCurl, PaperTexture
from synth.distort.base import PAPER, smooth_field
from synth.sources import SourceError, load_tokens
from synth.token_cache import TokenCache

FIXTURES = Path(__file__).parent / "fixtures" / "synth"
SCORE = FIXTURES / "two_staves.musicxml"


def _page(h: int = 240, w: int = 320) -> np.ndarray:
    img = np.full((h, w), 250, np.uint8)
    img[40:200:20, 20:300] = 0
    img[100:140, 150:160] = 30
    return img


# ----------------------------------------------------------------- token cache
def test_token_cache_equals_the_codec_and_persists_on_disk(tmp_path):
    score = tmp_path / "s.musicxml"
    score.write_bytes(SCORE.read_bytes())
    cache = TokenCache(tmp_path / "cache")
    tokens = cache.get(score)
    assert tokens == load_tokens(score)
    assert cache.get(score) is tokens and cache.hits == 1 and cache.misses == 1
    (entry,) = (tmp_path / "cache").glob("*.json")
    assert json.loads(entry.read_text())["tokens"] == tokens
    fresh = TokenCache(tmp_path / "cache")  # another worker, or a resumed run
    assert fresh.get(score) == tokens and fresh.disk_hits == 1 and fresh.misses == 0
    os.utime(score, ns=(1, 1))  # the score changed: its old entry no longer applies
    changed = TokenCache(tmp_path / "cache")
    assert changed.get(score) == tokens and changed.misses == 1


def test_token_cache_keeps_the_reason_of_a_bad_score(tmp_path):
    bad = tmp_path / "bad.musicxml"
    bad.write_text("<score-partwise><part")
    with pytest.raises(SourceError, match="bad.musicxml") as first:
        TokenCache(tmp_path / "c").get(bad)
    again = TokenCache(tmp_path / "c")
    with pytest.raises(SourceError) as second:
        again.get(bad)
    assert str(second.value) == str(first.value) and again.disk_hits == 1


def test_an_unopenable_score_is_not_cached(tmp_path):
    score = tmp_path / "s.musicxml"
    score.mkdir()  # opening it fails with an OSError even as root (unlike a chmod 0 file)
    with pytest.raises(SourceError, match="s.musicxml"):
        TokenCache(tmp_path / "c").get(score)
    assert not list((tmp_path / "c").glob("*.json"))


def test_a_corrupt_cache_entry_is_a_miss_not_an_error(tmp_path, caplog):
    score = tmp_path / "s.musicxml"
    score.write_bytes(SCORE.read_bytes())
    TokenCache(tmp_path / "c").get(score)
    (entry,) = (tmp_path / "c").glob("*.json")
    entry.write_text('{"tokens": [')
    with caplog.at_level(logging.WARNING, logger="synth.token_cache"):
        cache = TokenCache(tmp_path / "c")
        assert cache.get(score) == load_tokens(score) and cache.misses == 1
    assert "unreadable token cache entry" in caplog.text
    assert json.loads(entry.read_text())["tokens"]  # rewritten whole


# ----------------------------------------------------------------- raster
def _flatten(svg: str, scale: float) -> np.ndarray:
    import pyvips

    from synth.raster import fix_svg

    img = pyvips.Image.svgload_buffer(fix_svg(svg).encode(), scale=scale, unlimited=True)
    img = img.flatten(background=[255, 255, 255]).colourspace("b-w")
    return np.ndarray(buffer=img.write_to_memory(), dtype=np.uint8, shape=(img.height, img.width))


def test_alpha_raster_equals_flattening_a_verovio_page():
    from synth.fonts import install_fontconfig
    from synth.raster import rasterize
    from synth.render import Engraving, Renderer

    install_fontconfig()
    e = Engraving("Leipzig", 8.0, 2100, 2970, (100, 100, 100, 100), 0.25, 0.6, 8, 8, 0.2, 0.2, True, "auto")
    svg, _ = Renderer().render(SCORE.read_bytes(), e, "page")
    fast = rasterize(svg, 0.4)
    assert (fast < 128).mean() > 0.001  # something was drawn
    assert np.array_equal(fast, _flatten(svg, 0.4))


def test_coloured_svg_takes_the_full_colour_path():
    from synth.raster import rasterize

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="20px" height="10px">'
        '<rect x="0" y="0" width="10" height="10" fill="black"/>'
        '<rect x="10" y="0" width="10" height="10" fill="#ff0000"/></svg>'
    )
    img = rasterize(svg, 1.0)
    assert img[5, 5] == 0 and 40 < img[5, 15] < 200  # red is grey, not black
    assert np.array_equal(img, _flatten(svg, 1.0))


# ----------------------------------------------------------------- distortions
def test_lighting_matches_its_formula():
    img = _page()
    p = {"strength": 0.3, "angle": 2.0, "vignette": 0.2}
    h, w = img.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    xn, yn = x / w - 0.5, y / h - 0.5
    grad = xn * np.cos(p["angle"]) + yn * np.sin(p["angle"])
    light = 1.0 - p["strength"] * (grad + 0.71) / 1.42 - p["vignette"] * (xn**2 + yn**2) * 2
    ref = np.clip(np.round(img * light), 0, 255)
    assert np.abs(Lighting().pixels(img, p).astype(int) - ref).max() <= 1


def test_paper_texture_matches_its_formula():
    img = _page()
    p = {"tint": 30.0, "grain": 6.0, "seed": 11}
    h, w = img.shape
    blotch = smooth_field(11, (h, w), 12).astype(np.float64)
    fine = smooth_field(12, (h, w), max(8, max(h, w) // 6)).astype(np.float64)
    paper = 255 - p["tint"] * (0.6 + 0.4 * blotch) - p["grain"] * fine
    ref = np.clip(np.round(img * paper / 255), 0, 255)
    assert np.abs(PaperTexture().pixels(img, p).astype(int) - ref).max() <= 1


def test_bleed_through_matches_its_formula_and_only_darkens():
    img = _page()
    p = {"alpha": 0.15, "dx": 7, "dy": -5, "sigma": 1.5}
    verso = np.roll(img[:, ::-1], (p["dy"], p["dx"]), axis=(0, 1))
    verso = cv2.GaussianBlur(verso, (0, 0), p["sigma"]).astype(np.float64)
    ref = img * (1.0 - p["alpha"] * (1.0 - verso / 255.0))
    out = BleedThrough().pixels(img, p)
    assert np.abs(out.astype(float) - ref).max() <= 1.5
    assert (out <= img).all()


def test_noise_has_the_recorded_sigma_and_is_reproducible():
    flat = np.full((400, 400), 128, np.uint8)
    p = {"sigma": 6.0, "seed": 5}
    a, b = GaussianNoise().pixels(flat, p), GaussianNoise().pixels(flat, p)
    assert np.array_equal(a, b)
    assert abs(a.mean() - 128) < 0.2 and abs(a.std() - 6.0) < 0.3
    assert not np.array_equal(a, GaussianNoise().pixels(flat, {"sigma": 6.0, "seed": 6}))


def test_page_curl_with_row_maps_equals_full_maps():
    img = _page()
    h, w = img.shape
    p = {"amplitude": 0.01, "phase": 0.4, "periods": 0.8}
    out, _ = PageCurl().run(img, p, None)
    wave = np.sin(p["phase"] + np.pi * p["periods"] * np.arange(w, dtype=np.float32) / w)
    map_y = (np.arange(h, dtype=np.float32)[:, None] + p["amplitude"] * h * wave[None, :]).astype(np.float32)
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32), (h, w)).copy()
    ref = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=PAPER)
    assert np.abs(out.astype(int) - ref).max() <= 1
