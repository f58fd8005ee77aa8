"""The state of the score automaton: what it remembers about one token sequence, and nothing else.

This is the bottom of the automaton's three layers, read top-down:

1. grammar/state.py (this file): the syntax ``Phase``, small records for a staff's attributes, the
   current voice and the event being read, ``ScoreState`` that holds them, and the one strictness
   helper ``ScoreState.check``.
2. grammar/rules.py: per phase, how a token steps the state, which tokens are allowed and the next
   token of the completion plan, as plain functions of a ``ScoreState``; gathered in one table.
3. grammar/automaton.py: ``ScoreAutomaton``, the public API, which looks rules up in that table.

grammar/lookahead.py (fit queries on the state) sits between 1 and 2. Each file imports only
files before it in this order, never one after it (tests/test_layering.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum, IntEnum
from typing import Any

import numpy as np

from grammar import classes as C
from grammar.durations import measure_ticks
from grammar.fill import PLAIN, FillTable, fill_table
from grammar.policy import Policy
from grammar.vocab import VOCAB, Vocabulary, number_arg, split_token


class Phase(IntEnum):
    """Where in the token language the sequence stands (an ``IntEnum`` so it can index tables)."""

    START = 0  # before <bos> or the first measure
    MSTART = 1  # between measures: marks, ``part`` or <eos>
    PART = 2  # after ``part``: a staff must follow
    STAFF = 3  # staff header: clef, key, time, then a voice
    TNUM = 4  # after ``time``: the upper number
    TDEN = 5  # the lower number
    BODY = 6  # inside a voice, between items (and the dots after a duration)
    PITCH = 7  # after note/grace (an accidental or the pitch)
    PITCH2 = 8  # after chord, or after an accidental
    DUR = 9  # after the pitch: the duration
    TUPA = 10  # after ``tuplet``: its actual notes
    TUPN = 11  # the normal notes
    DONE = 12  # after <eos>: only padding


# Phases in which a voice is open (its ticks, events and tuplet mean something).
IN_VOICE = frozenset({Phase.BODY, Phase.PITCH, Phase.PITCH2, Phase.DUR, Phase.TUPA, Phase.TUPN})
# Phases in which the voice number is stale (the header of a staff, before its first voice).
_BEFORE_VOICE = frozenset({Phase.PART, Phase.STAFF, Phase.TNUM, Phase.TDEN})

DEFAULT_MEASURE = measure_ticks(4, 4)  # length of a staff whose time is not known yet


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


class Lenient(Enum):
    """What a broken rule does when the automaton is not strict (grammar/validate.py)."""

    RECORD = "record"  # append it to ``violations`` and apply the token anyway
    # Not even tested: the finishability look-ahead ("can this measure still be completed?")
    # steers generation; validation reports the concrete problem (overfull, underfull) later.
    SKIP = "skip"


RECORD, SKIP = Lenient.RECORD, Lenient.SKIP


@dataclass(frozen=True)
class StaffAttrs:
    """Clef, key and time in force on one staff, and the measure length they imply.

    Frozen and replaced on change: attributes change rarely, so copying a state for every row of a
    batch only copies the list of these records, not the records.
    """

    clef: str | None = None  # the clef token, e.g. "clef:G2"
    key: int | None = None  # fifths
    time: tuple[str, ...] | None = None  # the time tokens: ("time:C",) or ("time", "n:3", "n:4")
    ticks: int = DEFAULT_MEASURE  # measure length


@dataclass
class Voice:
    """The voice being read: what is left of its measure and what may follow."""

    ticks_left: int = 0  # ticks still missing to fill the measure
    events: int = 0  # notes, rests and spaces so far
    full: bool = False  # a whole-measure rest/space was used
    tup: tuple[int, int] | None = None  # the open tuplet (actual, normal)
    tup_events: int = 0  # events inside the open tuplet
    can_chord: bool = False  # a ``chord`` note may follow (after a note's duration or chord pitch)
    can_tie: bool = False
    last_pitch: int = 0  # of the last note or chord note (chord notes go up)
    overfull_reported: bool = False  # report an overfull voice once, not at every later event

    def clone(self) -> Voice:
        new = object.__new__(Voice)
        new.__dict__.update(self.__dict__)
        return new


@dataclass
class Event:
    """The event being read (from ``note``/``rest``/... to the end of its duration's dots)."""

    kind: int = -1  # token class: C.NOTE, C.REST, C.SPACE, C.GRACE, C.CHORD
    ticks_before: int = 0  # the voice's ticks left before this event
    dur_type: int = 0  # duration type index of the pending duration
    dots: int = 0  # dots so far
    dots_pending: bool = False  # a duration was read: dots may follow
    valid: np.ndarray | None = None  # (9, 4) which (type, dots) keep the voice finishable
    tuplet_actual: int = 0  # the first number of a ``tuplet`` being read

    def clone(self) -> Event:
        new = object.__new__(Event)
        new.__dict__.update(self.__dict__)
        return new


class ScoreState:
    """Everything the automaton knows about one sequence; the rules read and write it.

    Args:
        policy: the rule switches (grammar/policy.py).
        vocab: the vocabulary whose ids the rules use.
        strict: raise ``GrammarError`` on any violation (True) or record it in ``violations``
            and carry on (False; syntax errors always raise).
    """

    def __init__(self, policy: Policy | None = None, vocab: Vocabulary = VOCAB, strict: bool = True) -> None:
        # Shared tables, never written.
        self.policy = policy or Policy()
        self.vocab = vocab
        self.classes = C.token_classes(vocab)
        self.fills: FillTable = fill_table(self.policy)
        self.strict = strict
        self.violations: list[GrammarError] = []
        # Where the sequence stands.
        self.phase = Phase.START
        self.pos = 0
        self.measure = 1
        self.part = self.staff = self.voice = -1
        self.staff_index = -1  # staff index over all parts of the measure
        self.mark_level = 0  # highest measure mark so far (1 pagebreak .. 3 the plain start)
        self.attr_level = 0  # staff header so far: 0 none, 1 clef, 2 key, 3 time
        self.time_num = 0  # upper number of a ``time`` being read
        # The layout and the staves' attributes.
        self.layout: list[int] | None = None  # staves per part, fixed by measure 1
        self.staves: list[int] = []  # staves per part seen in measure 1
        self.staff_attrs: list[StaffAttrs] = []  # per staff index
        # Measure ends.
        self.measure_short = False  # the primary voice of this (later) measure was short
        self.must_end = False  # the last measure was short: only <eos> may follow
        self.current = Voice()
        self.event = Event()
        # (min_to_finish, pos) when last computed: lets the logits processor skip the plan while
        # max_length is far away (ScoreAutomaton.min_to_finish_bound).
        self.finish_known: tuple[int, int] | None = None

    def copy_state(self) -> ScoreState:
        """An independent copy of the same class (lists and records copied; tables shared)."""
        new = object.__new__(type(self))
        d = new.__dict__
        d.update(self.__dict__)
        d["staves"], d["staff_attrs"], d["violations"] = self.staves[:], self.staff_attrs[:], self.violations[:]
        d["current"], d["event"] = self.current.clone(), self.event.clone()
        if self.layout is not None:
            d["layout"] = self.layout[:]
        return new

    # ---------------------------------------------------------------- derived facts
    @property
    def attrs(self) -> StaffAttrs:
        """The current staff's attributes."""
        return self.staff_attrs[self.staff_index]

    def set_attrs(self, **changes: Any) -> None:
        """Replace fields of the current staff's attributes."""
        self.staff_attrs[self.staff_index] = replace(self.attrs, **changes)

    def short_ok(self) -> bool:
        """Whether the current voice may end before the measure is full."""
        p = self.policy
        if self.measure == 1 and p.allow_pickup:
            return True
        if self.voice > 0:
            return not p.strict_secondary
        return p.allow_short_last and self.measure > 1

    def unit(self, x: int, k: int) -> int:
        """Ticks of type x with k dots in the current tuplet (floor; exactness checked separately)."""
        tup = self.current.tup
        if tup is None:
            return int(PLAIN[x, k])
        a, n = tup
        return int(PLAIN[x, k]) * n // a

    def measure_rest_ok(self) -> bool:
        """A whole-measure rest/space may come now (the voice is still untouched)."""
        v = self.current
        return v.tup is None and v.events == 0 and not v.full and v.ticks_left == self.attrs.ticks

    # ---------------------------------------------------------------- messages and strictness
    def where(self) -> str:
        """Location prefix for messages: 'measure 3, part 1, staff 2, voice 1'."""
        bits = [f"measure {self.measure}"]
        if self.part >= 0:
            bits.append(f"part {self.part + 1}")
        if self.staff >= 0:
            bits.append(f"staff {self.staff + 1}")
        if self.voice >= 0 and self.phase not in _BEFORE_VOICE:
            bits.append(f"voice {self.voice + 1}")
        return ", ".join(bits)

    def time_name(self) -> str:
        """The current staff's time signature for messages: '3/4', 'C', or '?'."""
        attrs = self.staff_attrs[self.staff_index] if 0 <= self.staff_index < len(self.staff_attrs) else None
        t = attrs.time if attrs is not None else None
        if not t:
            return "?"
        if len(t) == 1:
            return split_token(t[0])[1] or "?"
        return f"{number_arg(t[1])}/{number_arg(t[2])}"

    def error(self, rule: str, detail: str) -> GrammarError:
        """A ``GrammarError`` located at the current token."""
        return GrammarError(
            rule,
            f"{self.where()}: {detail}",
            self.pos,
            self.measure,
            self.part + 1 if self.part >= 0 else None,
            self.staff + 1 if self.staff >= 0 else None,
            self.voice + 1 if self.voice >= 0 else None,
        )

    def syntax(self, tid: int, wants: str) -> GrammarError:
        """The error for a token that does not fit the syntax here (always raised)."""
        return self.error("syntax", f"expected {wants} but found {self.vocab.tokens[tid]}")

    def check(
        self,
        ok: bool | Callable[[], bool],
        rule: str,
        detail: str | Callable[[], str],
        lenient: Lenient = RECORD,
    ) -> bool:
        """Test one rule; the only place strict and lenient checking differ.

        ``ok`` and ``detail`` may be callables so that costly look-aheads and messages are only
        computed when needed. A broken rule raises ``GrammarError`` when strict; when lenient it is
        recorded (``RECORD``) or, for ``SKIP`` rules, not tested at all. Returns whether the rule
        holds (a skipped rule holds), so the caller can choose what to apply.
        """
        if lenient is SKIP and not self.strict:
            return True
        if ok() if callable(ok) else ok:
            return True
        err = self.error(rule, detail() if callable(detail) else detail)
        if self.strict:
            raise err
        self.violations.append(err)
        return False
