"""What real pages show beyond the label: lyrics, dynamics, slurs, articulations, fermatas, ...

The score language does not cover these yet, but every real page shows them and the model must
not be thrown by them. So the MusicXML given to Verovio gets them back from the source score,
while the label stays the codec's ``write_score`` of the tokens: the label is exactly what the
language can say about the image, the image is what a real page looks like.

How: the label's measure ``i`` of part ``p`` is the source's measure ``start + i`` of part ``p``
(the codec reads measures one to one; a score where the counts differ is left undecorated). In
each measure and staff the label's pitched notes and the source's are aligned by pitch in
document order (both list voices in the same order), and an aligned label note gets the source
note's ``<lyric>`` elements and the ``<notations>`` children the label lacks (slurs,
articulations, fermatas, fingering and other technical marks, ornaments). A ``<direction>``
(dynamics, wedges, words, tempo) is inserted before the label note aligned with the first
source note after it in that staff, i.e. at the same instant.
"""

from __future__ import annotations

import difflib
from collections import Counter
from pathlib import Path

from lxml import etree

from grammar.musicxml.safe_xml import MusicXMLError, load_partwise, parse_xml

# <notations> children copied from the source, by the name recorded in the sample's metadata.
NOTATIONS = {
    "slur": "slurs",
    "articulations": "articulations",
    "fermata": "fermatas",
    "technical": "fingering",  # fingering, bowing, string numbers, ...
    "ornaments": "ornaments",
    "arpeggiate": "ornaments",
    "dynamics": "dynamics",
}


def _direction_kind(d: etree._Element) -> str | None:
    kinds = [c.tag for dt in d.findall("direction-type") for c in dt]
    if "dynamics" in kinds:
        return "dynamics"
    if "wedge" in kinds:
        return "wedges"
    if "metronome" in kinds:
        return "tempo"
    if "words" in kinds:
        return "words"
    return None


def _staff_of(el: etree._Element) -> int:
    s = el.findtext("staff")
    return int(s) if s and s.strip().isdigit() else 1


def _key(note: etree._Element) -> tuple[str, str] | None:
    """Pitch of a main (non-chord, non-grace) pitched note; None for anything else."""
    if note.find("chord") is not None or note.find("grace") is not None or note.find("cue") is not None:
        return None
    p = note.find("pitch")
    if p is None:
        return None
    return (p.findtext("step") or "", p.findtext("octave") or "")


class SourceExtras:
    """The parsed source score, kept per worker (parsing costs more than decorating)."""

    def __init__(self, source: str | Path | bytes) -> None:
        self.root, _ = load_partwise(source)
        self.parts = [p.findall("measure") for p in self.root.findall("part")]

    def decorate(self, label: bytes, start: int) -> tuple[bytes, dict[str, int]]:
        """The label's MusicXML with the source's extras for its measures; returns (xml, counts)."""
        root = parse_xml(label, "label")
        counts: Counter[str] = Counter()
        parts = root.findall("part")
        if len(parts) != len(self.parts):
            return label, {"skipped_parts_differ": 1}
        for part, src_measures in zip(parts, self.parts, strict=True):
            measures = part.findall("measure")
            if start + len(measures) > len(src_measures):
                return label, {"skipped_measures_differ": 1}
            for m, sm in zip(measures, src_measures[start : start + len(measures)], strict=True):
                self._measure(m, sm, counts)
        if not counts:
            return label, {}
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return xml, dict(sorted(counts.items()))

    @staticmethod
    def _measure(m: etree._Element, sm: etree._Element, counts: Counter[str]) -> None:
        label_notes: dict[int, list[etree._Element]] = {}
        for n in m.iter("note"):
            if _key(n) is not None:
                label_notes.setdefault(_staff_of(n), []).append(n)
        src_notes: dict[int, list[etree._Element]] = {}
        directions: list[tuple[etree._Element, etree._Element | None]] = []
        pending: list[etree._Element] = []
        for el in sm:
            if el.tag == "direction" and _direction_kind(el):
                pending.append(el)
            elif el.tag == "note" and _key(el) is not None:
                src_notes.setdefault(_staff_of(el), []).append(el)
                for d in [d for d in pending if _staff_of(d) == _staff_of(el)]:
                    directions.append((d, el))
                    pending.remove(d)
        match: dict[int, etree._Element] = {}  # id(source note) -> label note
        for staff, notes in src_notes.items():
            mine = label_notes.get(staff, [])
            sm_ = difflib.SequenceMatcher(a=[_key(n) for n in notes], b=[_key(n) for n in mine], autojunk=False)
            for a, b, size in sm_.get_matching_blocks():
                for k in range(size):
                    match[id(notes[a + k])] = mine[b + k]
        for notes in src_notes.values():
            for src in notes:
                dst = match.get(id(src))
                if dst is not None:
                    _copy_note_extras(src, dst, counts)
        for d, src in directions:
            dst = match.get(id(src)) if src is not None else None
            if dst is None:
                continue
            new = _clone(d)
            for off in new.findall("offset"):
                new.remove(off)  # the direction now sits at its note's instant
            dst.addprevious(new)
            counts[_direction_kind(d) or "words"] += 1


def _clone(el: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(el))


def _copy_note_extras(src: etree._Element, dst: etree._Element, counts: Counter[str]) -> None:
    extra = [c for nt in src.findall("notations") for c in nt if c.tag in NOTATIONS]
    if extra:
        nt = dst.find("notations")
        if nt is None:
            nt = etree.SubElement(dst, "notations")
        for c in extra:
            nt.append(_clone(c))
            counts[NOTATIONS[c.tag]] += 1
    for lyr in src.findall("lyric"):
        dst.append(_clone(lyr))  # <lyric> follows <notations> in a note (XSD order)
        counts["lyrics"] += 1


def load_extras(path: Path) -> SourceExtras | None:
    """The source's extras, or None when the source cannot be parsed again (then undecorated)."""
    try:
        return SourceExtras(path)
    except (MusicXMLError, OSError):
        return None
