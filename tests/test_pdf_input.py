"""PDF pages as input (pypdfium2): each page is read as grayscale in [0, 1] and transcribed on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from grammar.musicxml import validate_xsd
from omrformer.cli import main
from omrformer.vision.image_io import load_pages

PAGE = Path(__file__).resolve().parents[1] / "omrformer" / "examples" / "lc6488630-m2.png"


def _two_page_pdf(tmp_path: Path) -> Path:
    page = Image.open(PAGE).convert("L")
    blank = Image.new("L", page.size, 255)
    pdf = tmp_path / "score.pdf"
    page.save(pdf, save_all=True, append_images=[blank], resolution=150)
    return pdf


def test_pdf_pages_load_as_grayscale_arrays(tmp_path):
    pages = load_pages(_two_page_pdf(tmp_path))
    assert len(pages) == 2
    assert all(p.dtype == np.float32 and p.ndim == 2 and 0 <= p.min() <= p.max() <= 1 for p in pages)
    assert pages[0].min() < 0.4 and pages[1].min() > 0.8  # ink on page 1, blank page 2


def test_transcribe_a_pdf_writes_one_musicxml_per_page_with_staves(tmp_path, capsys):
    rc = main(["transcribe", str(_two_page_pdf(tmp_path)), "-o", str(tmp_path / "out"), "--device", "cpu",
               "--max-length", "128"])
    written = sorted((tmp_path / "out").glob("*.musicxml"))
    err = capsys.readouterr().err
    assert rc == 1  # page 2 has no staff: reported, page 1 still written
    assert "no staff found" in err and "page 2" in err
    assert len(written) == 1 and validate_xsd(written[0].read_bytes()) == []
