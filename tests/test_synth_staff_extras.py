"""synth.extras: the engraving shows the source's lyrics, dynamics, slurs, ...; the label does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from grammar.human import from_human
from grammar.musicxml import read_score, write_score
from synth.config import load_config
from synth.extras import SourceExtras
from synth.sample import SampleError, SampleMaker

LIEDER_DEV = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "lieder" / "dev"
SCORE = (
    "<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:C5-quarter> <note:D5-quarter> <bar> "
    "<part> <staff> <voice> <note:E5-quarter> <note:F5-quarter> <bar>"
)


def _source() -> bytes:
    """The score's MusicXML with a lyric, a slur, an accent and a dynamic added by hand."""
    root = etree.fromstring(write_score(from_human(SCORE)))
    m2 = root.findall("part/measure")[1]
    notes = m2.findall("note")
    lyric = etree.SubElement(notes[1], "lyric")
    etree.SubElement(lyric, "text").text = "la"
    nt = etree.SubElement(notes[0], "notations")
    etree.SubElement(nt, "slur", type="start")
    etree.SubElement(etree.SubElement(nt, "articulations"), "accent")
    d = etree.Element("direction", placement="below")
    etree.SubElement(etree.SubElement(etree.SubElement(d, "direction-type"), "dynamics"), "p")
    notes[1].addprevious(d)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_extras_land_on_the_aligned_notes_and_the_label_is_untouched():
    # An excerpt of measure 2 only: the label's measure 0 is the source's measure 1.
    ex = from_human(
        "<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:E5-quarter> <note:F5-quarter> <bar>"
    )
    label = write_score(ex, ids=True)
    drawn, counts = SourceExtras(_source()).decorate(label, start=1)
    assert counts == {"articulations": 1, "dynamics": 1, "lyrics": 1, "slurs": 1}
    root = etree.fromstring(drawn)
    notes = root.findall("part/measure/note")
    assert notes[1].findtext("lyric/text") == "la" and notes[0].find("notations/slur") is not None
    assert notes[1].getprevious().tag == "direction"  # the dynamic sits at its note's instant
    assert read_score(drawn).tokens == read_score(label).tokens  # nothing the language says changed
    assert b"<lyric" not in label


def test_a_source_that_does_not_match_is_left_undecorated():
    label = write_score(from_human(SCORE), ids=True)
    drawn, counts = SourceExtras(_source()).decorate(label, start=1)  # 2 label measures from 1: too many
    assert drawn == label and counts == {"skipped_measures_differ": 1}


def test_lieder_staff_samples_record_what_was_drawn():
    if not LIEDER_DEV.is_dir():
        pytest.skip(f"Lieder corpus not found at {LIEDER_DEV} (shared corpus absent on this machine)")
    cfg = load_config(None, level="staff", raster={"staff_space_px": [7, 8]}, extras={"prob": 1.0})
    maker = SampleMaker(cfg, str(LIEDER_DEV))
    seen: dict[str, int] = {}
    for i in range(4):
        try:
            g = maker.make_samples(1, i)
        except SampleError:
            continue
        for s in g.samples:
            assert b"<lyric" not in s.label and b"<dynamics" not in s.label
            for k, v in s.meta["extras"].items():
                seen[k] = seen.get(k, 0) + v
    assert seen.get("lyrics", 0) > 0  # songs have words
    off = SampleMaker(load_config(None, level="staff", extras={"prob": 0.0}), str(LIEDER_DEV))
    assert "extras" not in off.make_samples(1, 0).samples[0].meta
