"""Transitions inside a voice: events, pitches, durations, dots, ties, chords, tuplets.

Split from grammar/automaton.py (which owns the state and the error helpers; grammar/structure.py
has the measure/part/staff/voice transitions).
Each method checks its rule through ``self._fail`` (raises when strict, records otherwise) and
then applies the token, so lenient validation sees every later violation too.
"""

from __future__ import annotations

from grammar import classes as C
from grammar.automaton_state import AutomatonState
from grammar.durations import DURATION_TYPES, format_quarters
from grammar.fill import PLAIN
from grammar.phases import BODY, DUR, PITCH, PITCH2, TUPA
from grammar.vocab import split_token


class EventMixin(AutomatonState):
    """Voice-level transitions; mixed into ScoreAutomaton."""

    def _body(self, tid: int, c: int) -> None:
        if c == C.DOT:
            self._dot(tid)
            return
        if c in (C.NOTE, C.REST, C.SPACE, C.GRACE):
            self._start_event(tid, c)
        elif c == C.CHORD:
            if not self.can_chord:
                raise self._syntax(tid)
            self.event_class = C.CHORD
            self.phase = PITCH
        elif c == C.TIE:
            if not self.can_tie:
                raise self._syntax(tid)
            self.can_tie = False
        elif c == C.CLEF:
            self.clef[self.staff_index] = self.vocab.tokens[tid]
            self.can_chord = self.can_tie = False
        elif c == C.TUPLET:
            if self.tup is not None:
                self._fail("tuplet-nested", "a tuplet cannot open inside another tuplet")
            elif self.strict and not self._tuplet_fits():
                raise self._error("tuplet-range", "no tuplet note fits in what is left of the measure")
            self.can_chord = self.can_tie = False
            self.phase = TUPA
        elif c == C.TUPEND:
            if self.tup is None:
                raise self._syntax(tid)
            if self.tup_events == 0:
                self._fail("tuplet-empty", "the tuplet has no note, rest or space")
            elif self.strict and not (self.short_ok() or self.fills.fillable(self.ticks_left)):
                raise self._error(
                    "unfinishable",
                    f"after this tuplet the {format_quarters(self.ticks_left)} left in "
                    f"{self._time_name()} cannot be filled",
                )
            self.tup = None
            self.can_chord = self.can_tie = False
        elif c in (C.VOICE, C.STAFF, C.PART, C.BAR):
            self._structure(tid, c)
        else:
            raise self._syntax(tid)

    def _start_event(self, tid: int, c: int) -> None:
        if self.full:
            self._fail(
                "whole-measure-rest", "a whole-measure rest or space must be the only event of its voice"
            )
        if self.strict and c != C.GRACE and not self._event_fits(c):
            if self.ticks_left <= 0:
                raise self._error("overfull", f"the measure is already full ({self._time_name()})")
            raise self._error(
                "unfinishable", f"no duration fits the {format_quarters(self.ticks_left)} left in {self._time_name()}"
            )
        self.event_class = c
        self.ticks_before_event = self.ticks_left
        self.can_chord = self.can_tie = False
        self.phase = PITCH if c in (C.NOTE, C.GRACE) else DUR

    def _pitch(self, tid: int, c: int) -> None:
        if c == C.ACC and self.phase == PITCH:
            self.phase = PITCH2
            return
        if c != C.PITCH:
            raise self._syntax(tid)
        p = int(self.classes.arg[tid])
        if self.event_class == C.CHORD:
            if self.policy.chord_ascending and p < self.last_pitch:
                self._fail(
                    "chord-order",
                    f"chord notes go from low to high, but {split_token(self.vocab.tokens[tid])[1]} "
                    "is below the note before it",
                )
            self.last_pitch = p
            self.can_chord = self.can_tie = True
            self.phase = BODY
            return
        self.last_pitch = p
        self.phase = DUR

    def _duration(self, tid: int, c: int) -> None:
        if c != C.DUR:
            raise self._syntax(tid)
        x = int(self.classes.arg[tid])
        if x == C.MEASURE_DUR:
            if self.event_class not in (C.REST, C.SPACE):
                raise self._error("syntax", "only rests and spaces can last a whole measure")
            if self.tup is not None:
                self._fail("measure-rest-in-tuplet", "a whole-measure rest or space cannot be inside a tuplet")
            elif self.events or self.ticks_left != self.mlen[self.staff_index]:
                self._fail(
                    "whole-measure-rest", "a whole-measure rest or space must be the only event of its voice"
                )
            self.ticks_left = 0
            self.events += 1
            self.full = True
            self.phase = BODY
            return
        self.dur_type, self.dots = x, 0
        self.dots_pending = True
        self.phase = BODY
        if self.event_class == C.GRACE:
            self.valid = None
            self.can_chord = self.can_tie = True
            return
        self.valid = self._valid_table()
        if self.strict and not self.valid[x].any():
            self._duration_error(x)
        self.ticks_left = self.ticks_before_event - self._unit(x, 0)
        self.events += 1
        if self.tup is not None:
            self.tup_events += 1
        self.can_chord = self.can_tie = self.event_class == C.NOTE

    def _duration_error(self, x: int) -> None:
        name = DURATION_TYPES[x]
        if self._unit(x, 0) > self.ticks_before_event:
            raise self._error(
                "overfull",
                f"a {name} does not fit in the {format_quarters(max(self.ticks_before_event, 0))} left "
                f"of {self._time_name()}",
            )
        if self.tup is not None and (self.fills.scaled[self.tup][x] <= 0).all():
            raise self._error(
                "tuplet-ticks",
                f"a {name} in a {self.tup[0]}:{self.tup[1]} tuplet is not a whole number of ticks",
            )
        raise self._error(
            "unfinishable",
            f"after a {name} the {format_quarters(self.ticks_before_event - self._unit(x, 0))} "
            f"left of {self._time_name()} cannot be filled",
        )

    def _dot(self, tid: int) -> None:
        if not self.dots_pending or self.dots >= 3:
            raise self._syntax(tid)
        if self.valid is not None and self.strict and not self.valid[self.dur_type, self.dots + 1 :].any():
            raise self._error("unfinishable", "another dot would leave a length that cannot be filled")
        self.dots += 1
        if self.valid is not None:
            self.ticks_left = self.ticks_before_event - self._unit(self.dur_type, self.dots)

    def _finish_duration(self) -> None:
        """A non-dot token ends the pending duration: check the chosen number of dots."""
        self.dots_pending = False
        if self.valid is None:
            return
        if self.strict and not self.valid[self.dur_type, self.dots]:
            raise self._error(
                "unfinishable",
                f"{format_quarters(self.ticks_left)} left of {self._time_name()} cannot be "
                "filled; add a dot or choose another duration",
            )
        if self.tup is not None:
            a, n = self.tup
            if int(PLAIN[self.dur_type, self.dots]) * n % a:
                self._fail(
                    "tuplet-ticks",
                    f"a {DURATION_TYPES[self.dur_type]} in a {a}:{n} tuplet is not a whole number of ticks",
                )
        if self.ticks_left < 0 and not self.overfull_reported:
            self.overfull_reported = True
            self._fail(
                "overfull",
                f"{format_quarters(self.mlen[self.staff_index] - self.ticks_left)} in {self._time_name()} (overfull)",
            )

    def _open_tuplet(self, a: int, n: int) -> None:
        if not self.policy.tuplet_ok(a, n) or (a, n) not in self.fills.ratio_set:
            self._fail("tuplet-range", f"tuplet {a}:{n} is outside the allowed ratios")
        elif self.strict and not self._ratio_fits(a, n):
            raise self._error(
                "unfinishable", f"no {a}:{n} tuplet note fits in the {format_quarters(self.ticks_left)} left"
            )
        self.tup = (a, n) if (a, n) in self.fills.ratio_set else None
        self.tup_events = 0
        self.phase = BODY
