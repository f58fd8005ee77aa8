"""Syntax phases of the score automaton: where in the token language the sequence stands.

BODY covers "inside a voice, between items" and the optional dots after a duration
(``ScoreAutomaton.dots_pending``). ``Phase`` is an ``IntEnum`` so a phase can index tables and
compare with the plain names below, which the automaton's modules import.
"""

from __future__ import annotations

from enum import IntEnum


class Phase(IntEnum):
    START = 0  # before <bos> or the first measure
    MSTART = 1  # between measures: marks, ``part`` or <eos>
    PART = 2  # after ``part``: a staff must follow
    STAFF = 3  # staff header: clef, key, time, then a voice
    TNUM = 4  # after ``time``: the upper number
    TDEN = 5  # the lower number
    BODY = 6  # inside a voice, between items (and the dots after a duration)
    PITCH = 7  # after note/grace (an accidental or the pitch)
    PITCH2 = 8  # after chord
    DUR = 9  # after the pitch: the duration
    TUPA = 10  # after ``tuplet``: its actual notes
    TUPN = 11  # the normal notes
    DONE = 12  # after <eos>: only padding


START, MSTART, PART, STAFF, TNUM, TDEN, BODY, PITCH, PITCH2, DUR, TUPA, TUPN, DONE = Phase

# What each phase expects, for "expected X but found Y" messages.
PHASE_WANTS: dict[Phase, str] = {
    START: "<bos> or the start of a measure",
    MSTART: "the start of a measure or <eos>",
    PART: "a staff",
    STAFF: "clef, key, time or a voice",
    TNUM: "the upper number of the time signature",
    TDEN: "the lower number of the time signature",
    BODY: "a note, rest, chord, tie or the end of the voice",
    PITCH: "a pitch",
    PITCH2: "a pitch",
    DUR: "a duration",
    TUPA: "the tuplet's first number",
    TUPN: "the tuplet's second number",
    DONE: "nothing (the sequence ended)",
}
