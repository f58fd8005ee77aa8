"""MusicXML element builders for the writer: notes, rests, forwards, clefs, keys, times.

Child order follows the MusicXML 4.0 XSD sequences exactly (the XSD rejects any other order).
"""

from __future__ import annotations

from lxml import etree

from grammar.musicxml.pitch import ACC_TO_XML

E = etree.SubElement


def text_el(parent: etree._Element, tag: str, text: object, **attrs: str) -> etree._Element:
    el = E(parent, tag, **attrs)
    el.text = str(text)
    return el


def clef_el(parent: etree._Element, clef: str, staff: int | None) -> etree._Element:
    """``G2-8vb`` -> ``<clef><sign>G</sign><line>2</line><clef-octave-change>-1</...></clef>``."""
    el = E(parent, "clef", **({"number": str(staff)} if staff else {}))
    if clef == "percussion":
        text_el(el, "sign", "percussion")
        return el
    base, _, shift = clef.partition("-")
    text_el(el, "sign", base[0])
    text_el(el, "line", base[1:])
    if shift:
        change = {"8vb": -1, "8va": 1, "15mb": -2, "15ma": 2}[shift]
        text_el(el, "clef-octave-change", change)
    return el


def key_el(parent: etree._Element, fifths: int, staff: int | None) -> None:
    el = E(parent, "key", **({"number": str(staff)} if staff else {}))
    text_el(el, "fifths", fifths)


def time_el(parent: etree._Element, time: tuple[int, int, str], staff: int | None) -> None:
    beats, btype, symbol = time
    attrs = {"number": str(staff)} if staff else {}
    if symbol:
        attrs["symbol"] = "common" if symbol == "C" else "cut"
    el = E(parent, "time", **attrs)
    text_el(el, "beats", beats)
    text_el(el, "beat-type", btype)


def note_el(
    parent: etree._Element,
    *,
    kind: str,
    duration: int,
    voice: int,
    staff: int | None,
    dtype: str | None,
    dots: int,
    pitch: tuple[str, int, int] | None = None,
    printed: str | None = None,
    chord: bool = False,
    tie_stop: bool = False,
    tie_start: bool = False,
    ratio: tuple[int, int] = (1, 1),
    tuplet: list[str] | None = None,
    measure_rest: bool = False,
    note_id: str | None = None,
    invisible: bool = False,
    bracket: bool = True,
) -> etree._Element:
    """One ``<note>``: ``kind`` is note, grace or rest; ``pitch`` is (step, alter, octave).

    ``invisible`` writes ``print-object="no"`` (a space inside a tuplet); ``bracket=False`` hides
    the bracket and number of a tuplet that starts here (a tuplet of spaces only).
    """
    attrs = {"id": note_id} if note_id else {}
    if invisible:
        attrs["print-object"] = "no"
    el = E(parent, "note", **attrs)
    if kind == "grace":
        E(el, "grace")
    if chord:
        E(el, "chord")
    if kind == "rest":
        E(el, "rest", **({"measure": "yes"} if measure_rest else {}))
    else:
        assert pitch is not None, "a note or grace needs a pitch"
        step, alter, octave = pitch
        p = E(el, "pitch")
        text_el(p, "step", step)
        if alter:
            text_el(p, "alter", alter)
        text_el(p, "octave", octave)
    if kind != "grace":
        text_el(el, "duration", duration)
    if tie_stop:
        E(el, "tie", type="stop")
    if tie_start:
        E(el, "tie", type="start")
    text_el(el, "voice", voice)
    if dtype:
        text_el(el, "type", dtype)
    for _ in range(dots):
        E(el, "dot")
    if printed:
        text_el(el, "accidental", ACC_TO_XML[printed])
    if ratio != (1, 1):
        tm = E(el, "time-modification")
        text_el(tm, "actual-notes", ratio[0])
        text_el(tm, "normal-notes", ratio[1])
    if staff:
        text_el(el, "staff", staff)
    if tie_stop or tie_start or tuplet:
        n = E(el, "notations")
        if tie_stop:
            E(n, "tied", type="stop")
        if tie_start:
            E(n, "tied", type="start")
        for t in tuplet or []:
            if t != "start":
                E(n, "tuplet", type=t)
            elif bracket:
                E(n, "tuplet", type=t, bracket="yes")
            else:
                E(n, "tuplet", type=t, bracket="no", **{"show-number": "none"})
    return el


def forward_el(parent: etree._Element, duration: int, voice: int, staff: int | None) -> None:
    el = E(parent, "forward")
    text_el(el, "duration", duration)
    text_el(el, "voice", voice)
    if staff:
        text_el(el, "staff", staff)


def backup_el(parent: etree._Element, duration: int) -> None:
    text_el(E(parent, "backup"), "duration", duration)
