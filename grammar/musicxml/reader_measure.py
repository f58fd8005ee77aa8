"""Parse one ``<measure>`` of one part into timed events per voice (no tokens yet).

Positions are kept as exact ``Fraction`` ticks from the measure start, following the MusicXML
cursor (``<duration>``, ``<backup>``, ``<forward>``); each note's *printed* length (type, dots,
tuplet) is computed separately in integer ticks. reader_voice.py reconciles the two: the cursor
says where an event starts, the printed value says how much of the voice it fills.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from lxml import etree

from grammar.durations import DURATION_TYPES, TICKS_PER_QUARTER, note_ticks
from grammar.musicxml.pitch import ACC_FROM_XML
from grammar.musicxml.safe_xml import MusicXMLError
from grammar.vocab import NUMBERS

_OCTAVE_SUFFIX = {-1: "-8vb", 1: "-8va", -2: "-15mb", 2: "-15ma"}
_DEFAULT_LINE = {"G": 2, "F": 4, "C": 3}


@dataclass
class Pitch:
    step: str
    octave: int
    acc: str | None  # printed accidental (language name) or None
    tie: bool  # a tie starts here


@dataclass
class Event:
    """One note/rest/grace (with its chord notes), a forward-space, or a clef, in one voice."""

    kind: str  # "note" | "rest" | "grace" | "space"
    start: Fraction  # ticks from the measure start (MusicXML cursor)
    ticks: int = 0  # printed length; 0 for grace
    dtype: str = ""
    dots: int = 0
    pitches: list[Pitch] = field(default_factory=list)
    ratio: tuple[int, int] | None = None  # tuplet actual:normal
    tuplet_start: bool = False
    tuplet_stop: bool = False
    measure_rest: bool = False  # <rest measure="yes"> or an untyped rest (resolved later)
    untyped: bool = False
    length: Fraction = Fraction(0)  # a forward's length (kind "space"), spelled later


@dataclass
class Attr:
    """A clef/key/time/staves statement at a position; ``staff`` None means every staff."""

    pos: Fraction
    kind: str  # "clef" | "key" | "time"
    staff: int | None
    value: object


@dataclass
class RawMeasure:
    voices: dict[tuple[int, str], list[Event]] = field(default_factory=dict)
    attrs: list[Attr] = field(default_factory=list)
    right_bar: str = "bar"
    repeat_start: bool = False
    new_system: bool = False
    new_page: bool = False
    notes_in: int = 0  # pitched note heads in the source (incl. chord, grace, cue)
    dropped: Counter = field(default_factory=Counter)


def _text(el: etree._Element | None, default: str = "") -> str:
    return el.text.strip() if el is not None and el.text else default


def _int(el: etree._Element | None, what: str, where: str) -> int:
    try:
        return int(_text(el))
    except ValueError:
        raise MusicXMLError(f"{where}: bad {what} {_text(el)!r}") from None


def parse_clef(el: etree._Element) -> str | None:
    """``<clef>`` -> language clef name (``G2-8vb``), or None when the language has no such clef."""
    sign = _text(el.find("sign")).upper()
    if sign == "PERCUSSION":
        return "percussion"
    if sign not in _DEFAULT_LINE:
        return None
    line = _text(el.find("line"), str(_DEFAULT_LINE[sign]))
    shift = _text(el.find("clef-octave-change"), "0")
    name = f"{sign}{line}"
    if shift not in ("0", ""):
        try:
            name += _OCTAVE_SUFFIX[int(shift)]
        except (ValueError, KeyError):
            return None
    return name


def parse_time(el: etree._Element) -> tuple[int, int, str] | None:
    """``<time>`` -> (beats, beat_type, symbol) or None when not expressible."""
    beats, btype = _text(el.find("beats")), _text(el.find("beat-type"))
    if not beats.isdigit() or not btype.isdigit():
        return None
    b, t = int(beats), int(btype)
    if b not in NUMBERS or t not in NUMBERS:
        return None
    symbol = el.get("symbol", "")
    if symbol == "common" and (b, t) == (4, 4):
        return b, t, "C"
    if symbol == "cut" and (b, t) == (2, 2):
        return b, t, "C|"
    return b, t, ""


def _infer_type(ticks: Fraction, ratio: tuple[int, int]) -> tuple[str, int] | None:
    for dtype in DURATION_TYPES:
        for dots in range(4):
            try:
                if note_ticks(dtype, dots, *ratio) == ticks:
                    return dtype, dots
            except ValueError:
                continue
    return None


class MeasureParser:
    """Walks one part's measures in order, keeping ``divisions`` across measures."""

    def __init__(self, part_id: str, name: str) -> None:
        self.part_id = part_id
        self.name = name
        self.divisions: Fraction | None = None

    def _ticks(self, el: etree._Element | None, where: str) -> Fraction:
        if el is None:
            return Fraction(0)
        if self.divisions is None:
            raise MusicXMLError(f"{where}: missing <divisions> before the first <duration>")
        try:
            value = Fraction(_text(el))
        except ValueError:
            raise MusicXMLError(f"{where}: bad duration {_text(el)!r}") from None
        return value * TICKS_PER_QUARTER / self.divisions

    def parse(self, measure: etree._Element) -> RawMeasure:
        where = f"{self.name}: part {self.part_id} measure {measure.get('number', '?')}"
        raw = RawMeasure()
        pos = Fraction(0)
        last: Event | None = None  # the event chord notes attach to
        last_start = Fraction(0)
        for el in measure:
            if not isinstance(el.tag, str):
                continue
            tag = el.tag
            if tag == "note":
                is_chord = el.find("chord") is not None
                if el.find("pitch") is not None or el.find("unpitched") is not None:
                    raw.notes_in += 1
                start = last_start if is_chord else pos
                dur = self._ticks(el.find("duration"), where)
                if not is_chord and el.find("grace") is None:
                    pos += dur
                if is_chord:
                    if last is not None:
                        self._chord_note(el, last, raw)
                    continue
                last_start = start
                last = self._note(el, start, dur, raw, where)
            elif tag == "backup":
                pos -= self._ticks(el.find("duration"), where)
                pos = max(pos, Fraction(0))
                last = None
            elif tag == "forward":
                dur = self._ticks(el.find("duration"), where)
                if el.find("voice") is not None and dur > 0:
                    key = (int(_text(el.find("staff"), "1")), _text(el.find("voice"), "1"))
                    raw.voices.setdefault(key, []).append(Event("space", pos, length=dur))
                pos += dur
                last = None
            elif tag == "attributes":
                self._attributes(el, pos, raw, where)
            elif tag == "barline":
                self._barline(el, raw)
            elif tag == "print":
                raw.new_system |= el.get("new-system") == "yes"
                raw.new_page |= el.get("new-page") == "yes"
            elif tag == "direction":
                for dt in el.iterfind("direction-type/*"):
                    raw.dropped[f"marking:{dt.tag}"] += 1
            elif tag in ("harmony", "figured-bass"):
                raw.dropped[f"marking:{tag}"] += 1
        return raw

    def _note(self, el: etree._Element, start: Fraction, dur: Fraction, raw: RawMeasure,
              where: str) -> Event | None:
        if el.find("cue") is not None:
            raw.dropped["cue-note"] += 1
            return None
        visible = el.get("print-object", "yes") != "no"
        is_rest = el.find("rest") is not None
        if not visible:
            # An invisible note/rest is a gap: the voice gets a space there. Inside a tuplet it
            # keeps its printed value, so the space is spelled exactly as written (the writer
            # puts spaces inside tuplets this way).
            return self._invisible(el, start, raw, where)
        for child in el:
            if child.tag == "lyric":
                raw.dropped["marking:lyric"] += 1
            elif child.tag == "notations":
                for n in child:
                    if isinstance(n.tag, str) and n.tag not in ("tied", "tuplet"):
                        raw.dropped[f"marking:{n.tag}"] += 1
        staff = int(_text(el.find("staff"), "1") or 1)
        voice = _text(el.find("voice"), "1")
        ratio = (1, 1)
        tm = el.find("time-modification")
        if tm is not None:
            ratio = (_int(tm.find("actual-notes"), "actual-notes", where),
                     _int(tm.find("normal-notes"), "normal-notes", where))
            if ratio[0] <= 0 or ratio[1] <= 0:
                raise MusicXMLError(f"{where}: bad time-modification {ratio[0]}:{ratio[1]}")
        if ratio != (1, 1) and (ratio[0] not in NUMBERS or ratio[1] not in NUMBERS):
            raw.dropped["tuplet-ratio-out-of-range"] += 1
            return None
        grace = el.find("grace") is not None
        dtype = _text(el.find("type"))
        dots = len(el.findall("dot"))
        ev = Event("grace" if grace else ("rest" if is_rest else "note"), start)
        rest_el = el.find("rest")
        if is_rest and (rest_el.get("measure") == "yes" or not dtype):
            ev.measure_rest = rest_el.get("measure") == "yes"
            ev.untyped = not dtype
            ev.ticks = int(dur) if dur.denominator == 1 else 0
        if not ev.measure_rest and not ev.untyped:
            if dtype == "long" or dtype == "maxima":
                raw.dropped["duration-longer-than-breve"] += 1
                return None
            if grace and not dtype:
                dtype = "eighth"
            if dtype not in DURATION_TYPES:
                guess = _infer_type(dur, ratio) if dur > 0 else None
                if guess is None:
                    raw.dropped["note-without-type"] += 1
                    return None
                dtype, dots = guess
            if dots > 3:
                raw.dropped["more-than-3-dots"] += 1
                return None
            try:
                ev.ticks = 0 if grace else note_ticks(dtype, dots, *ratio)
            except ValueError:
                raw.dropped["tuplet-not-whole-ticks"] += 1
                return None
            ev.dtype, ev.dots = dtype, dots
        ev.ratio = None if ratio == (1, 1) or grace else ratio
        for t in el.iterfind("notations/tuplet"):
            ev.tuplet_start |= t.get("type") == "start"
            ev.tuplet_stop |= t.get("type") == "stop"
        if not is_rest:
            p = self._pitch(el, raw)
            if p is None:
                return None
            ev.pitches.append(p)
        raw.voices.setdefault((staff, voice), []).append(ev)
        return ev

    def _invisible(self, el: etree._Element, start: Fraction, raw: RawMeasure, where: str) -> Event | None:
        tm = el.find("time-modification")
        dtype, dots = _text(el.find("type")), len(el.findall("dot"))
        if tm is None or el.find("grace") is not None or dtype not in DURATION_TYPES or dots > 3:
            return None
        ratio = (_int(tm.find("actual-notes"), "actual-notes", where),
                 _int(tm.find("normal-notes"), "normal-notes", where))
        if ratio[0] not in NUMBERS or ratio[1] not in NUMBERS or ratio[0] == ratio[1]:
            return None
        try:
            ticks = note_ticks(dtype, dots, *ratio)
        except ValueError:
            return None
        ev = Event("space", start, ticks=ticks, dtype=dtype, dots=dots, ratio=ratio)
        for t in el.iterfind("notations/tuplet"):
            ev.tuplet_start |= t.get("type") == "start"
            ev.tuplet_stop |= t.get("type") == "stop"
        staff = int(_text(el.find("staff"), "1") or 1)
        raw.voices.setdefault((staff, _text(el.find("voice"), "1")), []).append(ev)
        return ev

    def _chord_note(self, el: etree._Element, last: Event, raw: RawMeasure) -> None:
        if last.kind == "space":
            return  # invisible chord notes of an invisible note
        if last.kind not in ("note", "grace"):
            raw.dropped["chord-on-rest"] += 1
            return
        p = self._pitch(el, raw)
        if p is not None:
            last.pitches.append(p)

    @staticmethod
    def _pitch(el: etree._Element, raw: RawMeasure) -> Pitch | None:
        pe = el.find("pitch")
        if pe is not None:
            step, octave = _text(pe.find("step")), _text(pe.find("octave"))
        else:
            up = el.find("unpitched")
            step, octave = _text(up.find("display-step"), "B"), _text(up.find("display-octave"), "4")
        if step not in "CDEFGAB" or len(step) != 1 or not octave.isdigit() or not 0 <= int(octave) <= 9:
            raw.dropped["pitch-out-of-range"] += 1
            return None
        acc = None
        acc_el = el.find("accidental")
        if acc_el is not None and acc_el.get("print-object", "yes") != "no":
            acc = ACC_FROM_XML.get(_text(acc_el))
            if acc is None:
                raw.dropped["accidental-unsupported"] += 1
        tie = any(t.get("type") == "start" for t in el.iterfind("tie"))
        tie |= any(t.get("type") == "start" for t in el.iterfind("notations/tied"))
        return Pitch(step, int(octave), acc, tie)

    def _attributes(self, el: etree._Element, pos: Fraction, raw: RawMeasure, where: str) -> None:
        div = el.find("divisions")
        if div is not None:
            try:
                value = Fraction(_text(div))
            except ValueError:
                raise MusicXMLError(f"{where}: bad <divisions> {_text(div)!r}") from None
            if value <= 0:
                raise MusicXMLError(f"{where}: <divisions> must be positive, got {value}")
            self.divisions = value
        for k in el.iterfind("key"):
            number = int(k.get("number")) if k.get("number") else None
            fifths = _text(k.find("fifths"))
            if fifths.lstrip("-").isdigit() and -7 <= int(fifths) <= 7:
                raw.attrs.append(Attr(pos, "key", number, int(fifths)))
            else:
                raw.dropped["key-unsupported"] += 1
        for t in el.iterfind("time"):
            number = int(t.get("number")) if t.get("number") else None
            time = parse_time(t)
            if time is None:
                raw.dropped["time-unsupported"] += 1
            else:
                raw.attrs.append(Attr(pos, "time", number, time))
        for c in el.iterfind("clef"):
            if c.get("print-object") == "no" or c.get("additional") == "yes":
                continue
            number = int(c.get("number", "1"))
            name = parse_clef(c)
            if name is None:
                raw.dropped["clef-unsupported"] += 1
            else:
                raw.attrs.append(Attr(pos, "clef", number, name))
        if el.find("measure-style/multiple-rest") is not None:
            raw.dropped["multi-measure-rest"] += 1

    @staticmethod
    def _barline(el: etree._Element, raw: RawMeasure) -> None:
        loc = el.get("location", "right")
        style = _text(el.find("bar-style"))
        repeat = el.find("repeat")
        if el.find("ending") is not None:
            raw.dropped["volta"] += 1
        if loc == "left":
            if repeat is not None and repeat.get("direction") == "forward":
                raw.repeat_start = True
            return
        if loc != "right":
            raw.dropped["mid-measure-barline"] += 1
            return
        if repeat is not None and repeat.get("direction") == "backward":
            raw.right_bar = "bar:repeat-end"
        elif style == "light-heavy":
            raw.right_bar = "bar:final"
        elif style == "light-light":
            raw.right_bar = "bar:double"
