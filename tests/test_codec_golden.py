"""Golden pairs: tests/golden/<case>.musicxml <-> <case>.tokens (human form), one per phenomenon."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from grammar.human import from_human, to_human
from grammar.musicxml import read_score, validate_xsd, write_score

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.tokens"))


def test_every_phenomenon_has_a_golden_case():
    assert {"clefs", "keys_times", "accidentals", "durations", "ties_chords", "tuplets", "grace",
            "two_voices", "grand_staff", "two_parts_barlines", "pickup"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_read_matches_golden_tokens(case):
    got = read_score(GOLDEN / f"{case}.musicxml")
    assert to_human(got.tokens) == (GOLDEN / f"{case}.tokens").read_text()
    assert not {k for k in got.dropped if k not in ("pad-short-voice", "accidental-unsupported")}


@pytest.mark.parametrize("case", CASES)
def test_written_golden_is_xsd_valid_and_reads_back(case):
    tokens = from_human((GOLDEN / f"{case}.tokens").read_text())
    xml = write_score(tokens, title=case)
    assert validate_xsd(xml) == []
    assert read_score(xml).tokens == tokens


@pytest.mark.parametrize("case", ["accidentals", "two_voices", "grand_staff", "tuplets"])
def test_music21_parses_written_golden(case):
    music21 = pytest.importorskip("music21")
    xml = write_score((GOLDEN / f"{case}.tokens").read_text())
    score = music21.converter.parseData(xml.decode(), format="musicxml")
    assert len(score.recurse().notes) > 0


def _notes(xml: bytes) -> list[etree._Element]:
    return etree.fromstring(xml).findall(".//note")


def test_alter_follows_key_measure_accidentals_and_ties():
    # D major: F is sharp by key; a printed natural holds to the barline; a tie keeps its pitch.
    xml = write_score("<part> <staff> <clef:G2> <key:D-major> <time:4/4> <voice> <note:F5-quarter> "
                      "<note:Fn5-quarter> <note:F5-quarter> <note:Bb4-quarter> <tie> <bar> "
                      "<part> <staff> <voice> <note:B4-half> <note:B4-half> <bar>")
    alters = [n.findtext("pitch/alter") for n in _notes(xml)]
    assert alters == ["1", None, None, "-1", "-1", None]
    accidentals = [n.findtext("accidental") for n in _notes(xml)]
    assert accidentals == [None, "natural", None, "flat", None, None]
    tie_b = _notes(xml)[4]
    assert tie_b.find("tie").get("type") == "stop"


def test_octave_clef_tuplet_bracket_and_voices_in_xml():
    xml = write_score("<part> <staff> <clef:G2-8vb> <key:C-major> <time:2/4> <voice> <tuplet:3/2> "
                      "<note:C4-eighth> <note:D4-eighth> <note:E4-eighth> <tuplet-end> <note:F4-quarter> "
                      "<voice> <space:quarter> <note:A3-quarter> <bar:final>")
    root = etree.fromstring(xml)
    assert root.findtext(".//clef/clef-octave-change") == "-1"
    tuplets = [t.get("type") for t in root.iter("tuplet")]
    assert tuplets == ["start", "stop"]
    assert [n.findtext("voice") for n in root.iter("note")] == ["1", "1", "1", "1", "2"]
    assert root.find(".//forward/duration") is not None
    assert root.findtext(".//barline/bar-style") == "light-heavy"


def test_ids_map_notes_to_token_indices():
    tokens = from_human("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:C4-quarter> "
                        "<chord:E4> <rest:quarter> <bar>")
    root = etree.fromstring(write_score(tokens, ids=True))
    ids = [n.get("id") for n in root.iter("note")]
    assert [tokens[int(i[1:])] for i in ids] == ["note", "chord", "rest"]
    assert root.find(".//measure").get("id") == "p0m0"
    assert validate_xsd(etree.tostring(root)) == []


def test_write_accepts_bos_eos_and_human_text():
    text = (GOLDEN / "grace.tokens").read_text()
    assert write_score(["<bos>", *from_human(text), "<eos>"]) == write_score(text)


def test_verovio_renders_and_keeps_ids():
    verovio = pytest.importorskip("verovio")
    tokens = from_human((GOLDEN / "grand_staff.tokens").read_text())
    tk = verovio.toolkit()
    assert tk.loadData(write_score(tokens, ids=True).decode())
    svg = tk.renderToSVG(1)
    note_ids = etree.fromstring(write_score(tokens, ids=True)).xpath("//note/@id")
    assert all(f'id="{i}"' in svg for i in note_ids), "Verovio must keep the ids synth maps to tokens"
    assert 'id="p0m0"' in svg
