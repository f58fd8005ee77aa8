"""Canonical tokens -> MusicXML 4.0 partwise (valid against the XSD, readable by music21/Verovio).

Voices are numbered ``(staff - 1) * 4 + k`` (k = 1..4 in token order) so that a reader sorting
voices by number gets them back in the same order; each voice after the first in a measure starts
with a ``<backup>`` to the measure start. ``<alter>`` follows spec rule 7 (pitch.AlterState).
With ``ids=True`` every ``<measure>`` gets ``id="p{part}m{measure}"`` and every ``<note>`` gets
``id="t{i}"`` where ``i`` is the index in the input sequence of its ``note``/``chord``/``grace``/
``rest`` token (0-based, counting ``<bos>`` if it was passed), so rendered SVG maps back to tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from grammar.durations import TICKS_PER_QUARTER, measure_ticks, note_ticks
from grammar.human import from_human
from grammar.musicxml.pitch import AlterState
from grammar.musicxml.writer_notes import (
    E,
    backup_el,
    clef_el,
    forward_el,
    key_el,
    note_el,
    text_el,
    time_el,
)
from grammar.token_tree import Ev, MeasureBlock, StaffBlock, TokenSequenceError, parse_tokens

DOCTYPE = ('<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
           '"http://www.musicxml.org/dtds/partwise.dtd">')
_MEMBERS = ("note", "rest", "space")
_BARLINE_XML = {"bar:double": ("light-light", False), "bar:final": ("light-heavy", False),
                "bar:repeat-end": ("light-heavy", True)}


@dataclass
class _StaffState:
    clef: str
    key: int
    time: tuple[int, int, str]


def _ticks(ev: Ev, mlen: int) -> int:
    if ev.kind not in ("note", "rest", "space"):
        return 0
    if ev.dtype == "measure":
        return mlen
    try:
        return note_ticks(ev.dtype, ev.dots, *ev.ratio)
    except ValueError as err:
        raise TokenSequenceError(f"token {ev.index}: {err}") from None


def _states(measures: list[MeasureBlock]) -> list[list[list[_StaffState]]]:
    """Clef/key/time in effect on every staff of every measure (after its header)."""
    layout = [len(p) for p in measures[0].parts]
    out, current = [], None
    for mi, m in enumerate(measures):
        if [len(p) for p in m.parts] != layout:
            raise TokenSequenceError(f"measure {mi + 1}: layout {[len(p) for p in m.parts]} differs from "
                                     f"measure 1 {layout} (parts x staves must not change)")
        if current is None:
            current = []
            for pi, part in enumerate(m.parts):
                row = []
                for si, st in enumerate(part):
                    if st.clef is None or st.key is None or st.time is None:
                        raise TokenSequenceError(f"measure 1 part {pi + 1} staff {si + 1}: clef, key and "
                                                 "time must all be stated in the first measure")
                    row.append(_StaffState(st.clef, st.key, st.time))
                current.append(row)
        else:
            current = [[_StaffState(s.clef, s.key, s.time) for s in row] for row in current]
        for pi, part in enumerate(m.parts):
            for si, st in enumerate(part):
                s = current[pi][si]
                s.key = st.key if st.key is not None else s.key
                s.time = st.time or s.time
                s.clef = st.clef or s.clef
        out.append(current)
        # Mid-measure clefs carry over to the next measure.
        current = [[_StaffState(s.clef, s.key, s.time) for s in row] for row in current]
        for pi, part in enumerate(m.parts):
            for si, st in enumerate(part):
                for voice in st.voices:
                    for ev in voice:
                        if ev.kind == "clef":
                            current[pi][si].clef = ev.clef
    return out


def _divisions(measures: list[MeasureBlock], states) -> int:
    g = TICKS_PER_QUARTER
    for mi, m in enumerate(measures):
        for pi, part in enumerate(m.parts):
            for si, st in enumerate(part):
                mlen = measure_ticks(*states[mi][pi][si].time[:2])
                g = math.gcd(g, mlen)
                for voice in st.voices:
                    for ev in voice:
                        g = math.gcd(g, _ticks(ev, mlen))
    return TICKS_PER_QUARTER // g


class _PartWriter:
    def __init__(self, part_el, pi: int, nstaves: int, unit: int, ids: bool) -> None:
        self.el, self.pi, self.nstaves, self.unit, self.ids = part_el, pi, nstaves, unit, ids
        self.alters = [AlterState() for _ in range(nstaves)]
        self.ties: dict[tuple[int, int], dict[tuple[str, int], int]] = {}  # (staff, k) -> open ties

    def staff_no(self, si: int) -> int | None:
        return si + 1 if self.nstaves > 1 else None

    def measure(self, mi: int, m: MeasureBlock, staves: list[StaffBlock], states: list[_StaffState]) -> None:
        mel = E(self.el, "measure", number=str(mi + 1), **({"id": f"p{self.pi}m{mi}"} if self.ids else {}))
        if mi > 0 and ("pagebreak" in m.marks or "sysbreak" in m.marks):
            attrs = {"new-system": "yes"} if "sysbreak" in m.marks else {}
            if "pagebreak" in m.marks:
                attrs["new-page"] = "yes"
            E(mel, "print", **attrs)
        if "repeat-start" in m.marks:
            bl = E(mel, "barline", location="left")
            text_el(bl, "bar-style", "heavy-light")
            E(bl, "repeat", direction="forward")
        self._attributes(mel, mi, staves)
        cursor = longest = 0
        for si, st in enumerate(staves):
            mlen = measure_ticks(*states[si].time[:2])
            self.alters[si].new_measure(states[si].key)
            for k, voice in enumerate(st.voices):
                if cursor:
                    backup_el(mel, cursor // self.unit)
                cursor = self._voice(mel, voice, si, k, mlen)
                longest = max(longest, cursor)
        if mi == 0 and longest < measure_ticks(*states[0].time[:2]):
            mel.set("implicit", "yes")  # pickup
        if m.bar in _BARLINE_XML:
            style, repeat = _BARLINE_XML[m.bar]
            bl = E(mel, "barline", location="right")
            text_el(bl, "bar-style", style)
            if repeat:
                E(bl, "repeat", direction="backward")

    def _attributes(self, mel, mi: int, staves: list[StaffBlock]) -> None:
        if mi > 0 and not any(st.clef or st.key is not None or st.time for st in staves):
            return
        att = E(mel, "attributes")
        if mi == 0:
            text_el(att, "divisions", TICKS_PER_QUARTER // self.unit)
        for what, build in (("key", key_el), ("time", time_el)):
            values = [getattr(st, what) for st in staves]
            if all(v is not None for v in values) and len(set(values)) == 1:
                build(att, values[0], None)
            else:
                for si, v in enumerate(values):
                    if v is not None:
                        build(att, v, si + 1)
        if mi == 0 and self.nstaves > 1:
            text_el(att, "staves", self.nstaves)
        for si, st in enumerate(staves):
            if st.clef:
                clef_el(att, st.clef, self.staff_no(si))

    def _voice(self, mel, voice: list[Ev], si: int, k: int, mlen: int) -> int:
        vno, staff = si * 4 + k + 1, self.staff_no(si)
        # Bracket start/stop go on the first and last member (note, rest, space) of each tuplet;
        # a tuplet of spaces only gets no visible bracket.
        starts: dict[int, bool] = {}  # index -> bracket visible
        stops: set[int] = set()
        inside: list[int] | None = None
        for i, ev in enumerate(voice):
            if ev.kind == "tuplet":
                inside = []
            elif ev.kind == "tuplet-end" or (inside is not None and i == len(voice) - 1):
                if ev.kind in _MEMBERS and inside is not None:
                    inside.append(i)
                if inside:
                    starts[inside[0]] = any(voice[j].kind != "space" for j in inside)
                    stops.add(inside[-1])
                inside = None
            elif ev.kind in _MEMBERS and inside is not None:
                inside.append(i)
        t = 0
        for i, ev in enumerate(voice):
            n = _ticks(ev, mlen)
            if ev.kind == "space" and ev.ratio != (1, 1):
                # A <forward> has no printed value, so a space inside a tuplet is an invisible
                # rest with its type and time-modification: the reader reads it back exactly.
                tuplet = (["start"] if i in starts else []) + (["stop"] if i in stops else [])
                note_el(mel, kind="rest", duration=n // self.unit, voice=vno, staff=staff, dtype=ev.dtype,
                        dots=ev.dots, ratio=ev.ratio, tuplet=tuplet, invisible=True,
                        bracket=starts.get(i, True))
            elif ev.kind == "space":
                forward_el(mel, n // self.unit, vno, staff)
            elif ev.kind == "clef":
                clef_el(E(mel, "attributes"), ev.clef, staff)
            elif ev.kind in ("note", "rest", "grace"):
                tuplet = (["start"] if i in starts else []) + (["stop"] if i in stops else [])
                self._event(mel, ev, n, vno, si, k, tuplet, starts.get(i, True))
            t += n
        return t

    def _event(self, mel, ev: Ev, n: int, vno: int, si: int, k: int, tuplet: list[str], bracket: bool) -> None:
        common: dict[str, Any] = dict(duration=n // self.unit, voice=vno, staff=self.staff_no(si),
                                      ratio=ev.ratio, dtype=None if ev.dtype == "measure" else ev.dtype,
                                      dots=ev.dots, bracket=bracket)
        if ev.kind == "rest":
            note_el(mel, kind="rest", measure_rest=ev.dtype == "measure", tuplet=tuplet,
                    note_id=f"t{ev.index}" if self.ids else None, **common)
            return
        open_ties = self.ties.get((si, k), {})
        new_ties: dict[tuple[str, int], int] = {}
        for h, (head, index) in enumerate(zip(ev.heads, ev.head_index, strict=True)):
            tied = open_ties.get((head.step, head.octave))
            alter = self.alters[si].alter(head.step, head.octave, head.acc, tied)
            if head.tie:
                new_ties[(head.step, head.octave)] = alter
            note_el(mel, kind=ev.kind, pitch=(head.step, alter, head.octave), printed=head.acc, chord=h > 0,
                    tie_stop=tied is not None, tie_start=head.tie, tuplet=tuplet if h == 0 else None,
                    note_id=f"t{index}" if self.ids else None, **common)
        self.ties[(si, k)] = new_ties


def write_score(tokens: Sequence[str] | str, *, title: str | None = None, ids: bool = False) -> bytes:
    """Write canonical tokens (model form, or human-form text) as MusicXML 4.0 partwise.

    Args:
        tokens: model tokens (``<bos>``/``<eos>`` allowed), or a human-form string.
        title: work title to put in the header.
        ids: give every measure and note a deterministic ``id`` (see module docstring).

    Returns:
        The document as UTF-8 bytes.

    Raises:
        TokenSequenceError: the sequence does not follow the language's syntax.
        grammar.human.HumanFormError: the human-form text is malformed.
    """
    if isinstance(tokens, str):
        tokens = from_human(tokens)
    measures = parse_tokens(tokens)
    states = _states(measures)
    unit = TICKS_PER_QUARTER // _divisions(measures, states)
    root = etree.Element("score-partwise", version="4.0")
    if title:
        text_el(E(root, "work"), "work-title", title)
    ident = E(root, "identification")
    text_el(E(ident, "encoding"), "software", "omrformer")
    plist = E(root, "part-list")
    for pi in range(len(measures[0].parts)):
        sp = E(plist, "score-part", id=f"P{pi + 1}")
        text_el(sp, "part-name", f"Part {pi + 1}", **{"print-object": "no"})
    for pi, staves in enumerate(measures[0].parts):
        pw = _PartWriter(E(root, "part", id=f"P{pi + 1}"), pi, len(staves), unit, ids)
        for mi, m in enumerate(measures):
            pw.measure(mi, m, m.parts[pi], states[mi][pi])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True, doctype=DOCTYPE)


def write_human(text: str, *, title: str | None = None, ids: bool = False) -> bytes:
    """``write_score`` for human-form text (``<part> <staff> <clef:G2> ... <bar>``)."""
    return write_score(from_human(text), title=title, ids=ids)
