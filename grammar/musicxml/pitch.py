"""Pitch spelling: printed accidentals <-> MusicXML ``<accidental>``/``<alter>`` (spec rule 7).

The score language records what is *printed* (step, octave, engraved accidental); MusicXML records
what *sounds* (``<alter>``). ``AlterState`` turns the first into the second the way a musician
reads a page: a printed accidental holds for its staff position until the barline, otherwise the
key signature applies, and a note tied from the previous one keeps its pitch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STEPS = "CDEFGAB"
# MusicXML <accidental> values we can express -> language accidental names.
ACC_FROM_XML: dict[str, str] = {
    "sharp": "sharp", "flat": "flat", "natural": "natural",
    "double-sharp": "double-sharp", "sharp-sharp": "double-sharp",
    "flat-flat": "double-flat", "double-flat": "double-flat",
}
ACC_TO_XML: dict[str, str] = {
    "sharp": "sharp", "flat": "flat", "natural": "natural",
    "double-sharp": "double-sharp", "double-flat": "flat-flat",
}
ACC_ALTER: dict[str, int] = {"sharp": 1, "flat": -1, "natural": 0, "double-sharp": 2, "double-flat": -2}
_SHARP_ORDER = "FCGDAEB"  # order in which a key signature adds sharps (flats: reversed)


def key_alters(fifths: int) -> dict[str, int]:
    """Alter of each step under a key signature of ``fifths`` (-7..7)."""
    alters = dict.fromkeys(STEPS, 0)
    if fifths > 0:
        for step in _SHARP_ORDER[:fifths]:
            alters[step] = 1
    elif fifths < 0:
        for step in _SHARP_ORDER[::-1][:-fifths]:
            alters[step] = -1
    return alters


def diatonic_index(step: str, octave: int) -> int:
    """Staff position of a pitch, for ordering chord notes low -> high."""
    return octave * 7 + STEPS.index(step)


@dataclass
class AlterState:
    """Sounding alter of printed notes on one staff within one measure."""

    fifths: int = 0
    measure: dict[tuple[str, int], int] = field(default_factory=dict)

    def new_measure(self, fifths: int) -> None:
        self.fifths = fifths
        self.measure.clear()

    def alter(self, step: str, octave: int, printed: str | None, tied_alter: int | None = None) -> int:
        """The ``<alter>`` of a note: printed accidental, else tie, else measure state, else key."""
        if printed is not None:
            value = ACC_ALTER[printed]
            self.measure[(step, octave)] = value
            return value
        if tied_alter is not None:
            return tied_alter
        if (step, octave) in self.measure:
            return self.measure[(step, octave)]
        return key_alters(self.fifths)[step]
