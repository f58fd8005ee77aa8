""""Is this sheet music?": text pages, tables and photo-like noise are refused; real pages pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from omrformer.vision.image_io import load_image, normalize_contrast
from omrformer.vision.music_check import require_music
from omrformer.vision.staff_detection import detect_staves
from omrformer.vision.staff_layout import NoStaffFound

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the quick brown fox jumps over a lazy dog while seven music critics argue loudly".split()


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def text_page(seed: int, size: int = 22, pitch: int = 34) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(img)
    for y in range(100, 1650, pitch):
        draw.text((80, y), " ".join(rng.choice(WORDS, 11)), fill=0, font=_font(size))
    return np.asarray(img, dtype=np.float32) / 255.0


def table_page(rows: int = 30, pitch: int = 30) -> np.ndarray:
    img = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(img)
    for r in range(rows + 1):
        draw.line([(100, 150 + r * pitch), (1140, 150 + r * pitch)], fill=0, width=2)
    for x in (100, 400, 700, 1140):
        draw.line([(x, 150), (x, 150 + rows * pitch)], fill=0, width=2)
    for r in range(rows):
        draw.text((110, 155 + r * pitch), f"item {r}   {r * 3.5:.1f}   ok", fill=0, font=_font(16))
    return np.asarray(img, dtype=np.float32) / 255.0


def photo_page(seed: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((220, 155)).astype(np.float32)
    smooth = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 3), (1240, 1754), interpolation=cv2.INTER_CUBIC)
    smooth = (smooth - smooth.min()) / (np.ptp(smooth) + 1e-6)
    return np.clip(smooth + 0.1 * rng.standard_normal(smooth.shape), 0, 1).astype(np.float32)


NOT_MUSIC = {
    **{f"text-{s}": (lambda s=s: text_page(s)) for s in range(3)},
    "text-small": lambda: text_page(7, size=14, pitch=20),
    "table": table_page,
    "table-dense": lambda: table_page(rows=50, pitch=22),
    **{f"photo-{s}": (lambda s=s: photo_page(s)) for s in range(2)},
}


@pytest.mark.parametrize("name", sorted(NOT_MUSIC))
def test_pages_that_are_not_music_are_refused(name):
    gray = normalize_contrast(NOT_MUSIC[name]())
    with pytest.raises(NoStaffFound, match="no staff found"):
        require_music(gray, detect_staves(gray), name)


MUSIC = sorted((ROOT / "tests/fixtures/staff").glob("*.png")) + sorted((ROOT / "omrformer/examples").glob("*.png"))


@pytest.mark.parametrize("path", MUSIC, ids=lambda p: p.name)
def test_real_pages_pass(path):
    gray = normalize_contrast(load_image(path))
    layout = detect_staves(gray)
    assert require_music(gray, layout, path.name) is layout


def test_the_cli_refuses_a_text_page_with_one_line(tmp_path, capsys):
    from omrformer.cli import main

    page = tmp_path / "letter.png"
    Image.fromarray((text_page(1) * 255).astype(np.uint8)).save(page)
    assert main(["transcribe", str(page), "-o", str(tmp_path / "out.musicxml")]) == 1
    err = capsys.readouterr().err
    assert "is this sheet music?" in err and "Traceback" not in err
    assert not (tmp_path / "out.musicxml").exists()


@pytest.mark.parametrize("name", ["single_staff", "page_two_parts"])
def test_faded_scans_pass(name):
    """Light-grey lines on grey paper (a faded scan) are still continuous lines."""
    rng = np.random.default_rng(0)
    gray = load_image(ROOT / "tests/fixtures/staff" / f"{name}.png")
    faded = np.clip(0.62 + 0.25 * gray + 0.03 * rng.standard_normal(gray.shape), 0, 1).astype(np.float32)
    layout = detect_staves(faded)
    assert layout.staves
    assert require_music(faded, layout, name) is layout
