"""Silence that plain values cannot spell (after a triplet, ...) is spelled exactly with tuplet
spaces; mid-measure clefs keep their order; what cannot be spelled is dropped and counted."""

from __future__ import annotations

from lxml import etree

from grammar import validate
from grammar.durations import TICKS_PER_QUARTER as Q
from grammar.human import from_human, to_human
from grammar.musicxml import read_score, reader_voice, validate_xsd, write_score
from grammar.musicxml.reader_gaps import RATIO_PREFERENCE, spell_with_tuplet, tuplet_split

HEAD = ('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="4.0"><part-list>'
        '<score-part id="P1"><part-name>P</part-name></score-part></part-list><part id="P1">')
ATTRS = ('<attributes><divisions>6</divisions><key><fifths>0</fifths></key><time><beats>4</beats>'
         '<beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>')
TRIPLET = '<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification>'
T_START = TRIPLET + '<notations><tuplet type="start"/></notations>'
T_STOP = TRIPLET + '<notations><tuplet type="stop"/></notations>'


def note(step: str, dur: int, dtype: str, extra: str = "", voice: int = 1) -> str:
    return (f'<note><pitch><step>{step}</step><octave>4</octave></pitch><duration>{dur}</duration>'
            f'<voice>{voice}</voice><type>{dtype}</type>{extra}</note>')


def whole_measure(n: int) -> str:
    return f'<measure number="{n}">{note("C", 24, "whole")}</measure>'


def score(*measures: str) -> bytes:
    return (HEAD + "".join(measures) + "</part></score-partwise>").encode()


def measure_tokens(tokens: list[str], index: int) -> str:
    return to_human(tokens).splitlines()[index]


def assert_exact_round_trip(tokens: list[str]) -> bytes:
    assert validate(tokens) == [], [str(v) for v in validate(tokens)[:3]]
    xml = write_score(tokens)
    assert validate_xsd(xml) == []
    assert read_score(xml).tokens == tokens
    return xml


def test_tuplet_split_completes_the_triplet_to_the_beat():
    # After one triplet eighth on beat 3 of 4/4 (7/3 quarters), 5/3 quarters are missing.
    split = tuplet_split(5 * Q // 3, (3, 2), tuplet_first=True, start=7 * Q // 3)
    assert split == ([("quarter", 0)], [("quarter", 0)])  # 2 triplet eighths, then a quarter
    ratio, outside, inside = spell_with_tuplet(Q // 5, [], tuplet_first=True)
    assert (ratio, outside, inside) == ((5, 4), [], [("16th", 0)])
    assert spell_with_tuplet(1, [], tuplet_first=True) is None  # one tick: no ratio spells it
    assert RATIO_PREFERENCE[:4] == ((3, 2), (5, 4), (6, 4), (7, 4))


def test_short_primary_voice_after_a_triplet_is_padded_exactly():
    # Measure 2 stops after two triplet eighths (4/3 quarters missing), measure 3 after one (5/3).
    m2 = (f'<measure number="2">{note("C", 12, "half")}'
          f'{note("D", 2, "eighth", T_START)}{note("E", 2, "eighth", T_STOP)}</measure>')
    m3 = f'<measure number="3">{note("C", 12, "half")}{note("D", 2, "eighth", TRIPLET)}</measure>'
    result = read_score(score(f'<measure number="1">{ATTRS}{note("C", 24, "whole")}</measure>', m2, m3,
                              whole_measure(4)))
    assert measure_tokens(result.tokens, 1) == (
        "<part> <staff> <voice> <note:C4-half> <tuplet:3/2> <note:D4-eighth> <note:E4-eighth> <tuplet-end> "
        "<tuplet:3/2> <space:half> <tuplet-end> <bar>")
    assert measure_tokens(result.tokens, 2) == (
        "<part> <staff> <voice> <note:C4-half> <tuplet:3/2> <note:D4-eighth> <tuplet-end> "
        "<tuplet:3/2> <space:quarter> <tuplet-end> <space:quarter> <bar>")
    assert result.dropped["pad-short-voice"] == 2
    assert "unspellable-pad" not in result.dropped and "unspellable-gap" not in result.dropped
    xml = assert_exact_round_trip(result.tokens)
    # The tuplet space is an invisible rest with its printed value; a tuplet of spaces only shows
    # no bracket or number.
    hidden = etree.fromstring(xml).findall(".//note[@print-object='no']")
    assert [h.findtext("type") for h in hidden] == ["half", "quarter"]
    assert hidden[0].find("time-modification") is not None
    start = hidden[0].find("notations/tuplet")
    assert (start.get("type"), start.get("bracket"), start.get("show-number")) == ("start", "no", "none")


def test_secondary_voice_ending_with_an_unspellable_forward_is_spelled():
    fwd = '<forward><duration>{}</duration><voice>2</voice></forward>'
    m1 = (f'<measure number="1">{ATTRS}{note("C", 24, "whole")}<backup><duration>24</duration></backup>'
          f'{note("E", 2, "eighth", TRIPLET, voice=2)}{fwd.format(22)}</measure>')
    result = read_score(score(m1, whole_measure(2)))
    line = measure_tokens(result.tokens, 0)
    assert line.endswith("<voice> <tuplet:3/2> <note:E4-eighth> <tuplet-end> <tuplet:3/2> <space:quarter> "
                         "<tuplet-end> <space:half.> <bar>"), line
    assert "unspellable-gap" not in result.dropped
    assert_exact_round_trip(result.tokens)


def test_clefs_at_one_instant_keep_their_order_and_follow_trailing_grace_notes():
    tokens = from_human(
        "<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> <note:C4-half> <clef:F4> <clef:C3> "
        "<note:D4-half> <bar>\n"
        "<part> <staff> <voice> <note:E4-whole> <grace:F4-eighth> <clef:G2> <clef:F4> <bar>")
    assert_exact_round_trip(tokens)


def test_clef_or_grace_before_tuplet_end_is_read_after_it():
    written = from_human(
        "<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <tuplet:3/2> <note:C4-eighth> "
        "<note:D4-eighth> <note:E4-eighth> <grace:F4-eighth> <clef:F4> <tuplet-end> <note:G3-quarter> <bar>")
    got = read_score(write_score(written)).tokens
    assert to_human(got).strip() == (
        "<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <tuplet:3/2> <note:C4-eighth> "
        "<note:D4-eighth> <note:E4-eighth> <tuplet-end> <clef:F4> <grace:F4-eighth> <note:G3-quarter> <bar>")
    assert_exact_round_trip(got)


def test_unspellable_pad_blanks_the_staff_measure_and_counts_it(monkeypatch):
    # Force "no tuplet can spell it" to exercise the deterministic fallback.
    monkeypatch.setattr(reader_voice, "spell_with_tuplet", lambda *a, **k: None)
    monkeypatch.setattr(reader_voice, "tuplet_split", lambda *a, **k: None)
    m2 = (f'<measure number="2">{note("C", 12, "half")}'
          f'{note("D", 2, "eighth", TRIPLET)}</measure>')
    result = read_score(score(f'<measure number="1">{ATTRS}{note("C", 24, "whole")}</measure>', m2,
                              whole_measure(3)))
    assert measure_tokens(result.tokens, 1) == "<part> <staff> <voice> <space:measure> <bar>"
    assert result.dropped["staff-measure-blanked"] == 1 and result.dropped["blanked-voice-events"] == 2
    assert validate(result.tokens) == []


def test_a_truncated_primary_voice_is_still_padded():
    # Measure 2: a half, then a whole note that overflows 4/4: the whole is dropped (counted) and
    # the measure is padded with a half space instead of being left short.
    m2 = f'<measure number="2">{note("C", 12, "half")}{note("D", 24, "whole")}</measure>'
    result = read_score(score(f'<measure number="1">{ATTRS}{note("C", 24, "whole")}</measure>', m2,
                              whole_measure(3)))
    assert measure_tokens(result.tokens, 1) == "<part> <staff> <voice> <note:C4-half> <space:half> <bar>"
    assert result.dropped["overfull-truncated"] == 1 and result.dropped["pad-short-voice"] == 1
    assert "staff-measure-blanked" not in result.dropped
    assert_exact_round_trip(result.tokens)
