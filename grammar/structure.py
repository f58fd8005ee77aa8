"""Transitions between voices, staves, parts and measures: layout, attributes, barlines.

Split from grammar/automaton.py (which owns the state, the public API and the dispatch). Each
method checks its rule through ``self._fail`` (raises when strict, records otherwise) and then
applies the token, so lenient validation sees every later violation too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grammar import classes as C
from grammar.automaton_state import AutomatonState
from grammar.durations import format_quarters, measure_ticks
from grammar.phases import BODY, DONE, MSTART, PART, STAFF, TNUM
from grammar.vocab import TIME_SYMBOLS

if TYPE_CHECKING:
    from grammar.automaton import GrammarError


class StructureMixin(AutomatonState):
    """Measure / part / staff / voice transitions; mixed into ScoreAutomaton."""

    def _measure_start(self, tid: int, c: int) -> None:
        if self.must_end and c != C.EOSC:
            self._fail(
                "underfull-primary",
                f"measure {self.measure - 1} is short, so it must be the last; "
                f"expected <eos> but found {self.vocab.tokens[tid]}",
            )
            self.must_end = False
        if c == C.EOSC:
            if self.measure == 1 or self.mark_level:
                raise self._syntax(tid)
            self.phase = DONE
        elif c == C.MARK:
            level = int(self.classes.arg[tid])
            if level <= self.mark_level:
                raise self._syntax(tid)
            if self.measure == 1 and level < 3:
                self._fail("break-at-start", "a page or system break cannot open the first measure")
            self.mark_level = level
        elif c == C.PART:
            self.part, self.staff, self.staff_index = 0, -1, -1
            self.phase = PART
        else:
            raise self._syntax(tid)

    def _open_staff(self) -> None:
        self.staff += 1
        self.staff_index += 1
        self.voice = -1
        if self.measure == 1:
            if self.staff >= self.policy.max_staves:
                self._fail("layout", f"more than {self.policy.max_staves} staves in a part")
            if self.staff == 0:
                self.staves.append(1)
            else:
                self.staves[-1] += 1
            self.clef.append(None)
            self.key.append(None)
            self.time.append(None)
            self.mlen.append(measure_ticks(4, 4))
        else:
            # A staff beyond measure 1's layout was already reported where it opened (_structure).
            self._grow_staff_lists()
        self.attr_level = 0
        self.phase = STAFF

    def _grow_staff_lists(self) -> None:
        """Lenient mode: keep per-staff lists long enough for an extra staff."""
        while self.staff_index >= len(self.mlen):
            self.clef.append(None)
            self.key.append(None)
            self.time.append(None)
            self.mlen.append(measure_ticks(4, 4))

    def _staff_header(self, tid: int, c: int) -> None:
        level = {C.CLEF: 1, C.KEY: 2, C.TIME: 3, C.TIMESYM: 3}.get(c)
        if level is not None:
            if level <= self.attr_level:
                raise self._syntax(tid)
            if self.measure == 1 and level != self.attr_level + 1:
                missing = ("clef", "key", "time")[self.attr_level]
                self._fail(
                    "first-measure-attributes",
                    f"measure 1 must state the {missing} before {self.vocab.tokens[tid]}",
                )
            self.attr_level = level if c != C.TIME else 2
            if c == C.CLEF:
                self.clef[self.staff_index] = self.vocab.tokens[tid]
            elif c == C.KEY:
                self.key[self.staff_index] = int(self.classes.arg[tid])
            elif c == C.TIME:
                self.phase = TNUM
            else:
                tok = self.vocab.tokens[tid]
                self._set_time(*TIME_SYMBOLS[tok], (tok,))
                self.attr_level = 3
            return
        if c != C.VOICE:
            raise self._syntax(tid)
        if self.measure == 1 and self.attr_level < 3:
            missing = ("clef", "key", "time")[self.attr_level]
            self._fail("first-measure-attributes", f"measure 1 must state the {missing} on every staff")
        self._open_voice()

    def _set_time(self, beats: int, beat_type: int, tokens: tuple[str, ...]) -> None:
        if beat_type not in self.policy.time_denominators:
            self._fail(
                "time-signature",
                f"time signature {beats}/{beat_type}: the lower number must be one of "
                f"{', '.join(map(str, self.policy.time_denominators))}",
            )
        try:
            self.mlen[self.staff_index] = measure_ticks(beats, beat_type)
        except ValueError:
            self.mlen[self.staff_index] = measure_ticks(4, 4)
        self.time[self.staff_index] = tokens

    def _open_voice(self) -> None:
        self.voice += 1
        if self.voice >= self.policy.max_voices:
            self._fail("layout", f"more than {self.policy.max_voices} voices on a staff")
        self._reset_voice()
        self.ticks_left = self.mlen[self.staff_index]
        self.phase = BODY

    def _close_voice(self) -> None:
        """Checks when a voice ends (at voice/staff/part/bar)."""
        if self.tup is not None:
            self._fail("tuplet-unclosed", "the tuplet is not closed before the voice ends")
            self.tup = None
        if self.events == 0:
            self._fail("empty-voice", "the voice has no note, rest or space")
        if self.ticks_left > 0:
            if not self.short_ok():
                rule = "underfull-primary" if self.voice == 0 else "underfull-secondary"
                self._fail(
                    rule,
                    f"{format_quarters(self.mlen[self.staff_index] - self.ticks_left)} in {self._time_name()}"
                    " (underfull)",
                )
            elif self.voice == 0 and self.measure > 1:
                self.measure_short = True

    def _structure(self, tid: int, c: int) -> None:
        """voice / staff / part / bar inside a voice: close the voice, then move on."""
        if self.strict and self.events and self.tup is None and self.ticks_left > 0 and not self.short_ok():
            raise self._error(
                "underfull-primary" if self.voice == 0 else "underfull-secondary",
                f"{format_quarters(self.mlen[self.staff_index] - self.ticks_left)} in {self._time_name()}"
                f" (underfull): {format_quarters(self.ticks_left)} still missing",
            )
        if self.strict and not self._layout_allows(c):
            raise self._layout_error(tid, c)
        self._close_voice()
        if c == C.VOICE:
            self._open_voice()
            return
        if not self.strict and not self._layout_allows(c):
            self.violations.append(self._layout_error(tid, c))
        if c == C.STAFF:
            self._open_staff()
        elif c == C.PART:
            self.part += 1
            self.staff = -1
            if self.measure == 1 and self.part >= self.policy.max_parts:
                self._fail("layout", f"more than {self.policy.max_parts} parts")
            self.phase = PART
        else:
            self._bar()

    def _layout_allows(self, c: int) -> bool:
        p = self.policy
        if c == C.VOICE:
            return self.voice + 1 < p.max_voices
        if self.measure == 1:
            if c == C.STAFF:
                return self.staff + 1 < p.max_staves
            if c == C.PART:
                return self.part + 1 < p.max_parts
            return True
        assert self.layout is not None
        if self.part >= len(self.layout):
            return c == C.BAR
        if c == C.STAFF:
            return self.staff + 1 < self.layout[self.part]
        if c == C.PART:
            return self.part + 1 < len(self.layout) and self.staff + 1 >= self.layout[self.part]
        return self.part + 1 >= len(self.layout) and self.staff + 1 >= self.layout[self.part]

    def _layout_error(self, tid: int, c: int) -> GrammarError:
        tok = self.vocab.tokens[tid]
        if c == C.VOICE:
            return self._error("layout", f"more than {self.policy.max_voices} voices on a staff")
        if self.measure == 1:
            what = "staves in a part" if c == C.STAFF else "parts"
            limit = self.policy.max_staves if c == C.STAFF else self.policy.max_parts
            return self._error("layout", f"more than {limit} {what}")
        assert self.layout is not None
        shape = ", ".join(f"part {i + 1}: {n} staves" for i, n in enumerate(self.layout))
        return self._error("layout", f"found {tok} but measure 1 has {len(self.layout)} parts ({shape})")

    def _bar(self) -> None:
        if self.measure == 1:
            self.layout = list(self.staves)
        self.measure += 1
        if self.measure_short:
            self.must_end = True
        self.measure_short = False
        self.part = self.staff = self.voice = self.staff_index = -1
        self.mark_level = 0
        self.phase = MSTART
