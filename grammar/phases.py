"""Syntax phases of the score automaton, shared by the automaton and its mixins.

BODY covers "inside a voice, between items" and the optional dots after a duration
(``ScoreAutomaton.dots_pending``).
"""

START, MSTART, PART, STAFF, TNUM, TDEN, BODY, PITCH, PITCH2, DUR, TUPA, TUPN, DONE = range(13)

# What each phase expects, for "expected X but found Y" messages.
PHASE_WANTS = {
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
