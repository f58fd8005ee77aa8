"""The score automaton: which token may come next in one sequence (docs/token-language.md).

``ScoreAutomaton`` keeps the state of one sequence (layout, clef/key/time per staff, the ticks
left in the current voice, open chord/tie/tuplet, syntax phase). ``allowed_mask()`` is exactly the
set of tokens ``step`` accepts, and every accepted state can still be completed: a duration is
only allowed if what is left of the measure can still be spelled (grammar/fill.py), a tuplet only
opens if one of its notes fits, and so on. Masks and the completion plan live in grammar/masks.py.

With ``strict=False`` (used by grammar/validate.py) rule violations are recorded instead of
raised and the token is applied anyway, so one pass reports every violation.
"""

from __future__ import annotations

import numpy as np

from grammar import classes as C
from grammar.durations import format_quarters, measure_ticks
from grammar.events import EventMixin
from grammar.fill import PLAIN, fill_table
from grammar.masks import MaskMixin
from grammar.policy import Policy
from grammar.vocab import VOCAB, Vocabulary

# Syntax phases. BODY covers "inside a voice, between items" and the optional dots after a
# duration (``dots_pending``).
START, MSTART, PART, STAFF, TNUM, TDEN, BODY, PITCH, PITCH2, DUR, TUPA, TUPN, DONE = range(13)
_PHASE_WANTS = {
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
_TIME_SYMBOL = {"time:C": (4, 4), "time:C|": (2, 2)}


class GrammarError(ValueError):
    """A token the language does not allow at this point, with where and which rule."""

    def __init__(
        self,
        rule: str,
        message: str,
        position: int | None = None,
        measure: int | None = None,
        part: int | None = None,
        staff: int | None = None,
        voice: int | None = None,
    ) -> None:
        super().__init__(message)
        self.rule, self.message, self.position = rule, message, position
        self.measure, self.part, self.staff, self.voice = measure, part, staff, voice


class ScoreAutomaton(EventMixin, MaskMixin):
    """Incremental grammar state for one token sequence.

    Args:
        policy: the rule switches (grammar/policy.py).
        vocab: the vocabulary whose ids ``step`` and ``allowed_mask`` use.
        strict: raise ``GrammarError`` on any violation (True) or record it in ``violations``
            and carry on (False; syntax errors always raise).
    """

    def __init__(self, policy: Policy | None = None, vocab: Vocabulary = VOCAB, strict: bool = True) -> None:
        self.policy = policy or Policy()
        self.vocab = vocab
        self.tc = C.token_classes(vocab)
        self.ft = fill_table(self.policy)
        self.strict = strict
        self.violations: list[GrammarError] = []
        self.phase = START
        self.pos = 0
        self.measure = 1
        self.layout: list[int] | None = None  # staves per part, fixed by measure 1
        self.part = self.staff = self.voice = self.flat = -1
        self.staves: list[int] = []  # staves per part seen in measure 1
        self.clef: list[str | None] = []
        self.key: list[int | None] = []
        self.time: list[tuple[str, ...] | None] = []
        self.mlen: list[int] = []
        self.mark_level = 0
        self.attr_level = 0
        self.time_num = 0
        self._reset_voice()
        self.measure_short = False
        self.must_end = False

    # ----------------------------------------------------------------- public API
    def copy(self) -> ScoreAutomaton:
        """An independent copy (lists are copied; tables are shared)."""
        new = object.__new__(ScoreAutomaton)
        d = new.__dict__
        d.update(self.__dict__)
        d["staves"], d["clef"], d["key"] = self.staves[:], self.clef[:], self.key[:]
        d["time"], d["mlen"], d["violations"] = self.time[:], self.mlen[:], self.violations[:]
        if self.layout is not None:
            d["layout"] = self.layout[:]
        return new

    @property
    def is_complete(self) -> bool:
        """True once ``<eos>`` closed a complete sequence."""
        return self.phase == DONE

    def step(self, token: str | int) -> ScoreAutomaton:
        """Consume one token (string or id). Raises GrammarError if it is not allowed here."""
        tid = self.vocab.id(token) if isinstance(token, str) else int(token)
        if not 0 <= tid < len(self.vocab):
            raise GrammarError("syntax", f"token id {tid} is outside the vocabulary", self.pos)
        self._dispatch(tid)
        self.pos += 1
        return self

    def remaining_ticks(self) -> int:
        """Ticks that must still come to fill the current voice's measure (0 outside a voice)."""
        if self.phase not in (BODY, PITCH, PITCH2, DUR, TUPA, TUPN):
            return 0
        return max(self.R, 0)

    def allowed_tokens(self) -> list[str]:
        """The tokens ``step`` would accept now."""
        return [self.vocab.tokens[i] for i in np.flatnonzero(self.allowed_mask())]

    # ----------------------------------------------------------------- helpers
    def _reset_voice(self) -> None:
        self.R = 0  # ticks left in the current voice
        self.events = 0  # notes, rests, spaces in the voice
        self.full = False  # a whole-measure rest/space was used
        self.tup: tuple[int, int] | None = None
        self.tup_events = 0
        self.tup_a = 0
        self.ev = -1  # class of the event being read (NOTE, REST, ...)
        self.x = 0  # duration type index of the pending duration
        self.j = 0  # dots so far
        self.R0 = 0  # ticks left before the pending event
        self.dots_pending = False
        self.valid: np.ndarray | None = None  # (9, 4) which (type, dots) keep the measure finishable
        self.can_chord = self.can_tie = False
        self.last_pitch = 0
        self.overfull_reported = False

    def where(self) -> str:
        """Location prefix for messages: 'measure 3, part 1, staff 2, voice 1'."""
        bits = [f"measure {self.measure}"]
        if self.part >= 0:
            bits.append(f"part {self.part + 1}")
        if self.staff >= 0:
            bits.append(f"staff {self.staff + 1}")
        if self.voice >= 0 and self.phase not in (PART, STAFF, TNUM, TDEN):
            bits.append(f"voice {self.voice + 1}")
        return ", ".join(bits)

    def _error(self, rule: str, detail: str) -> GrammarError:
        return GrammarError(
            rule,
            f"{self.where()}: {detail}",
            self.pos,
            self.measure,
            self.part + 1 if self.part >= 0 else None,
            self.staff + 1 if self.staff >= 0 else None,
            self.voice + 1 if self.voice >= 0 else None,
        )

    def _fail(self, rule: str, detail: str) -> None:
        """A rule violation: raise when strict, else record it and let the caller carry on."""
        err = self._error(rule, detail)
        if self.strict:
            raise err
        self.violations.append(err)

    def _syntax(self, tid: int) -> GrammarError:
        found = self.vocab.tokens[tid]
        return self._error("syntax", f"expected {_PHASE_WANTS[self.phase]} but found {found}")

    def _time_name(self) -> str:
        t = self.time[self.flat] if 0 <= self.flat < len(self.time) else None
        if not t:
            return "?"
        return t[0][5:] if len(t) == 1 else f"{t[1][2:]}/{t[2][2:]}"

    def short_ok(self) -> bool:
        """Whether the current voice may end before the measure is full."""
        p = self.policy
        if self.measure == 1 and p.allow_pickup:
            return True
        if self.voice > 0:
            return not p.strict_secondary
        return p.allow_short_last and self.measure > 1

    def _unit(self, x: int, k: int) -> int:
        """Ticks of type x with k dots in the current tuplet (floor; exactness checked separately)."""
        if self.tup is None:
            return int(PLAIN[x, k])
        a, n = self.tup
        return int(PLAIN[x, k]) * n // a

    def _layout_done(self) -> bool:
        """All staves of all parts of the fixed layout have been opened."""
        assert self.layout is not None
        return self.part + 1 == len(self.layout) and self.staff + 1 == self.layout[self.part]

    # ----------------------------------------------------------------- transitions
    def _dispatch(self, tid: int) -> None:
        c = int(self.tc.cls[tid])
        ph = self.phase
        if ph == BODY and self.dots_pending and c != C.DOT:
            self._finish_duration()
        if ph == START:
            if c == C.BOSC:
                self.phase = MSTART
                return
            self.phase = MSTART
            ph = MSTART
        if ph == MSTART:
            self._measure_start(tid, c)
        elif ph == PART:
            if c != C.STAFF:
                raise self._syntax(tid)
            self._open_staff()
        elif ph == STAFF:
            self._staff_header(tid, c)
        elif ph == TNUM:
            if c != C.NUM:
                raise self._syntax(tid)
            self.time_num = int(self.tc.arg[tid])
            self.phase = TDEN
        elif ph == TDEN:
            if c != C.NUM:
                raise self._syntax(tid)
            self._set_time(
                self.time_num, int(self.tc.arg[tid]), ("time", f"n:{self.time_num}", f"n:{self.tc.arg[tid]}")
            )
            self.attr_level = 3
            self.phase = STAFF
        elif ph == BODY:
            self._body(tid, c)
        elif ph in (PITCH, PITCH2):
            self._pitch(tid, c)
        elif ph == DUR:
            self._duration(tid, c)
        elif ph == TUPA:
            if c != C.NUM:
                raise self._syntax(tid)
            self.tup_a = int(self.tc.arg[tid])
            if self.strict and not self._actual_ok(self.tup_a):
                raise self._error("tuplet-range", f"no tuplet with {self.tup_a} notes fits here")
            self.phase = TUPN
        elif ph == TUPN:
            if c != C.NUM:
                raise self._syntax(tid)
            self._open_tuplet(self.tup_a, int(self.tc.arg[tid]))
        elif ph == DONE:
            if c != C.PADC:
                raise self._syntax(tid)
        else:  # pragma: no cover - phases are exhaustive
            raise AssertionError(ph)

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
            level = int(self.tc.arg[tid])
            if level <= self.mark_level:
                raise self._syntax(tid)
            if self.measure == 1 and level < 3:
                self._fail("break-at-start", "a page or system break cannot open the first measure")
            self.mark_level = level
        elif c == C.PART:
            self.part, self.staff, self.flat = 0, -1, -1
            self.phase = PART
        else:
            raise self._syntax(tid)

    def _open_staff(self) -> None:
        self.staff += 1
        self.flat += 1
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
        while self.flat >= len(self.mlen):
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
                self.clef[self.flat] = self.vocab.tokens[tid]
            elif c == C.KEY:
                self.key[self.flat] = int(self.tc.arg[tid])
            elif c == C.TIME:
                self.phase = TNUM
            else:
                tok = self.vocab.tokens[tid]
                self._set_time(*_TIME_SYMBOL[tok], (tok,))
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
            self.mlen[self.flat] = measure_ticks(beats, beat_type)
        except ValueError:
            self.mlen[self.flat] = measure_ticks(4, 4)
        self.time[self.flat] = tokens

    def _open_voice(self) -> None:
        self.voice += 1
        if self.voice >= self.policy.max_voices:
            self._fail("layout", f"more than {self.policy.max_voices} voices on a staff")
        self._reset_voice()
        self.R = self.mlen[self.flat]
        self.phase = BODY

    def _close_voice(self) -> None:
        """Checks when a voice ends (at voice/staff/part/bar)."""
        if self.tup is not None:
            self._fail("tuplet-unclosed", "the tuplet is not closed before the voice ends")
            self.tup = None
        if self.events == 0:
            self._fail("empty-voice", "the voice has no note, rest or space")
        if self.R > 0:
            if not self.short_ok():
                rule = "underfull-primary" if self.voice == 0 else "underfull-secondary"
                self._fail(
                    rule,
                    f"{format_quarters(self.mlen[self.flat] - self.R)} in {self._time_name()} (underfull)",
                )
            elif self.voice == 0 and self.measure > 1:
                self.measure_short = True

    def _structure(self, tid: int, c: int) -> None:
        """voice / staff / part / bar inside a voice: close the voice, then move on."""
        if self.strict and self.events and self.tup is None and self.R > 0 and not self.short_ok():
            raise self._error(
                "underfull-primary" if self.voice == 0 else "underfull-secondary",
                f"{format_quarters(self.mlen[self.flat] - self.R)} in {self._time_name()}"
                f" (underfull): {format_quarters(self.R)} still missing",
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
        self.part = self.staff = self.voice = self.flat = -1
        self.mark_level = 0
        self.phase = MSTART

    def finish(self) -> None:
        """End of input: in lenient mode record what is missing (no <eos>, open measure)."""
        if self.phase == DONE:
            return
        if self.phase == MSTART and self.measure > 1 and not self.mark_level:
            self.phase = DONE
            return
        self._fail(
            "unterminated", f"the sequence stops inside measure {self.measure} (missing <bar> or <eos>)"
        )
