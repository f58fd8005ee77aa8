"""The score automaton: which token may come next in one sequence (docs/token-language.md).

``ScoreAutomaton`` keeps the state of one sequence (layout, clef/key/time per staff, the ticks
left in the current voice, open chord/tie/tuplet, syntax phase). ``allowed_mask()`` is exactly the
set of tokens ``step`` accepts, and every accepted state can still be completed: a duration is
only allowed if what is left of the measure can still be spelled (grammar/fill.py), a tuplet only
opens if one of its notes fits, and so on. The work is split by responsibility: voice-level
transitions in grammar/events.py, measure/part/staff/voice structure in grammar/structure.py,
masks and the completion plan in grammar/masks.py, the phases in grammar/phases.py.

With ``strict=False`` (used by grammar/validate.py) rule violations are recorded instead of
raised and the token is applied anyway, so one pass reports every violation.
"""

from __future__ import annotations

import numpy as np

from grammar import classes as C
from grammar.events import EventMixin
from grammar.fill import PLAIN, fill_table
from grammar.masks import MaskMixin
from grammar.phases import (
    BODY,
    DONE,
    DUR,
    MSTART,
    PART,
    PHASE_WANTS,
    PITCH,
    PITCH2,
    STAFF,
    START,
    TDEN,
    TNUM,
    TUPA,
    TUPN,
)
from grammar.policy import Policy
from grammar.structure import StructureMixin
from grammar.vocab import VOCAB, Vocabulary, number_arg, split_token


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


class ScoreAutomaton(EventMixin, StructureMixin, MaskMixin):
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
        self.classes = C.token_classes(vocab)
        self.fills = fill_table(self.policy)
        self.strict = strict
        self.violations: list[GrammarError] = []
        self.phase = START
        self.pos = 0
        self.measure = 1
        self.layout: list[int] | None = None  # staves per part, fixed by measure 1
        self.part = self.staff = self.voice = self.staff_index = -1
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
        # (min_to_finish, pos) when last computed: lets the logits processor skip the plan while
        # max_length is far away (grammar/masks.py, min_to_finish_bound).
        self.finish_known: tuple[int, int] | None = None

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
        return max(self.ticks_left, 0)

    def allowed_tokens(self) -> list[str]:
        """The tokens ``step`` would accept now."""
        return [self.vocab.tokens[i] for i in np.flatnonzero(self.allowed_mask())]

    # ----------------------------------------------------------------- helpers
    def _reset_voice(self) -> None:
        self.ticks_left = 0  # ticks left in the current voice
        self.events = 0  # notes, rests, spaces in the voice
        self.full = False  # a whole-measure rest/space was used
        self.tup: tuple[int, int] | None = None
        self.tup_events = 0
        self.tup_a = 0
        self.event_class = -1  # class of the event being read (NOTE, REST, ...)
        self.dur_type = 0  # duration type index of the pending duration
        self.dots = 0  # dots so far
        self.ticks_before_event = 0  # ticks left before the pending event
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
        return self._error("syntax", f"expected {PHASE_WANTS[self.phase]} but found {found}")

    def _time_name(self) -> str:
        t = self.time[self.staff_index] if 0 <= self.staff_index < len(self.time) else None
        if not t:
            return "?"
        if len(t) == 1:
            return split_token(t[0])[1] or "?"
        return f"{number_arg(t[1])}/{number_arg(t[2])}"

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
        c = int(self.classes.cls[tid])
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
            self.time_num = int(self.classes.arg[tid])
            self.phase = TDEN
        elif ph == TDEN:
            if c != C.NUM:
                raise self._syntax(tid)
            self._set_time(
                self.time_num, int(self.classes.arg[tid]), ("time", f"n:{self.time_num}", f"n:{self.classes.arg[tid]}")
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
            self.tup_a = int(self.classes.arg[tid])
            if self.strict and not self._actual_ok(self.tup_a):
                raise self._error("tuplet-range", f"no tuplet with {self.tup_a} notes fits here")
            self.phase = TUPN
        elif ph == TUPN:
            if c != C.NUM:
                raise self._syntax(tid)
            self._open_tuplet(self.tup_a, int(self.classes.arg[tid]))
        elif ph == DONE:
            if c != C.PADC:
                raise self._syntax(tid)
        else:  # pragma: no cover - phases are exhaustive
            raise AssertionError(ph)

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
