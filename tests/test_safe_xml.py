"""Hostile or broken input gives a MusicXMLError naming the file and the problem."""

from __future__ import annotations

import io
import zipfile

import pytest

from grammar.musicxml import MusicXMLError, read_score, validate_xsd
from grammar.musicxml.safe_xml import MAX_ZIP_TOTAL

MINIMAL = b"""<?xml version="1.0"?>
<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>x</part-name></score-part></part-list>
<part id="P1"><measure number="1"><attributes><divisions>1</divisions><key><fifths>0</fifths></key>
<time><beats>1</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>
<note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration><voice>1</voice><type>quarter</type></note>
</measure></part></score-partwise>"""


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _container(path: str) -> bytes:
    return (f'<container><rootfiles><rootfile full-path="{path}"/></rootfiles></container>').encode()


def _error(data: bytes) -> str:
    with pytest.raises(MusicXMLError) as info:
        read_score(data, name="song.mxl")
    assert str(info.value).startswith("song.mxl: ")
    return str(info.value)


def test_minimal_score_reads():
    assert read_score(MINIMAL).tokens[-3:] == ["pitch:C4", "dur:quarter", "bar"]


def test_not_xml_truncated_and_not_musicxml():
    assert "not well-formed" in _error(b"hello, not xml")
    assert "truncated" in _error(MINIMAL[: len(MINIMAL) // 2])
    assert "not MusicXML" in _error(b"<html><body/></html>")
    assert "empty" in _error(b"  ")


def test_timewise_is_refused_with_advice():
    assert "timewise MusicXML is not supported: convert to partwise" in _error(b"<score-timewise/>")


def test_missing_divisions():
    assert "missing <divisions>" in _error(MINIMAL.replace(b"<divisions>1</divisions>", b""))


def test_entities_are_not_expanded_and_dtd_not_fetched():
    evil = (b'<?xml version="1.0"?><!DOCTYPE score-partwise [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + MINIMAL.split(b"?>", 1)[1].replace(b"<part-name>x", b"<part-name>&b;&x;"))
    result = read_score(evil)  # parses without expanding or reading anything
    assert result.tokens[-1] == "bar"


def test_mxl_reads_rootfile_from_container():
    data = _zip({"META-INF/container.xml": _container("music/score.xml"), "music/score.xml": MINIMAL})
    assert read_score(data).tokens == read_score(MINIMAL).tokens


def test_mxl_without_container_or_rootfile():
    assert "META-INF/container.xml" in _error(_zip({"score.xml": MINIMAL}))
    assert "missing from the archive" in _error(_zip({"META-INF/container.xml": _container("other.xml")}))


def test_mxl_unsafe_rootfile_path():
    for path in ("../score.xml", "/etc/score.xml"):
        assert "unsafe rootfile path" in _error(_zip({"META-INF/container.xml": _container(path)}))


def test_zip_bomb_is_refused():
    big = b"\0" * (8 * 1024 * 1024)  # compresses ~1000:1
    msg = _error(_zip({"META-INF/container.xml": _container("s.xml"), "s.xml": big}))
    assert "zip bomb" in msg
    assert MAX_ZIP_TOTAL >= 16 * 1024 * 1024


def test_broken_zip():
    assert "not a valid .mxl" in _error(b"PK\x03\x04garbage")


def test_missing_file_names_it(tmp_path):
    with pytest.raises(MusicXMLError, match="nothere.musicxml: cannot read"):
        read_score(tmp_path / "nothere.musicxml")


def test_validate_xsd_reports_errors_offline():
    assert validate_xsd(MINIMAL) == []
    errors = validate_xsd(MINIMAL.replace(b"<voice>1</voice>", b"<voice>1</voice><bogus/>"))
    assert errors and "bogus" in errors[0]
    assert validate_xsd(b"<not xml") and "not well-formed" in validate_xsd(b"<not xml")[0]
