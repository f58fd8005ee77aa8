"""The rules of the score automaton, one phase at a time, gathered in ``PHASE_RULES``.

For every ``Phase`` (grammar/state.py) there is one ``PhaseRule``: what the phase wants (for
"expected X but found Y"), how a token steps the state, which tokens are allowed (exactly those
``step`` accepts), and the next token of the completion plan. They are plain functions of a
``ScoreState``; the transitions they share (opening and closing voices, staves, measures) come
first. A new phase is one ``Phase`` member and one entry of ``PHASE_RULES``.

Each transition tests its rules through ``ScoreState.check`` (raise when strict, record or skip
when lenient) and then applies the token, so lenient validation sees every later violation too.
Syntax errors (a token of the wrong kind for the phase) always raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from grammar import classes as C
from grammar.durations import DURATION_TYPES, format_quarters, measure_ticks
from grammar.fill import PLAIN
from grammar.lookahead import actual_ok, dots_state, event_fits, fillable_now, ratio_fits, tuplet_fits, valid_table
from grammar.state import DEFAULT_MEASURE, SKIP, Event, GrammarError, Phase, ScoreState, StaffAttrs, Voice
from grammar.vocab import TIME_SYMBOLS, split_token

StepFn = Callable[[ScoreState, int, int], None]  # (state, token id, token class)
MaskFn = Callable[[ScoreState], np.ndarray]
PlanFn = Callable[[ScoreState], int]


@dataclass(frozen=True)
class PhaseRule:
    """Everything the automaton does in one phase."""

    wants: str  # what the phase expects, for "expected X but found Y" messages
    step: StepFn  # apply a token (raise GrammarError for a syntax error)
    mask: MaskFn  # (V,) exactly the tokens ``step`` accepts; a fresh array the caller may change
    plan: PlanFn  # the next token of the "finish as soon as possible" plan


def syntax_error(s: ScoreState, tid: int) -> GrammarError:
    """``tid`` is of the wrong kind for the current phase."""
    return s.syntax(tid, PHASE_RULES[s.phase].wants)


def _ids_mask(s: ScoreState, ids: Iterable[int]) -> np.ndarray:
    m = np.zeros(len(s.classes.cls), dtype=bool)
    m[list(ids)] = True
    return m


def _class_mask(s: ScoreState, c: int) -> np.ndarray:
    return s.classes.masks[c].copy()


# =============================================================== shared transitions: the layout
def layout_allows(s: ScoreState, c: int) -> bool:
    """Whether ``voice``/``staff``/``part``/``bar`` (class ``c``) fits the layout here."""
    p = s.policy
    if c == C.VOICE:
        return s.voice + 1 < p.max_voices
    if s.measure == 1:
        if c == C.STAFF:
            return s.staff + 1 < p.max_staves
        if c == C.PART:
            return s.part + 1 < p.max_parts
        return True
    assert s.layout is not None
    if s.part >= len(s.layout):
        return c == C.BAR
    if c == C.STAFF:
        return s.staff + 1 < s.layout[s.part]
    if c == C.PART:
        return s.part + 1 < len(s.layout) and s.staff + 1 >= s.layout[s.part]
    return s.part + 1 >= len(s.layout) and s.staff + 1 >= s.layout[s.part]


def _layout_message(s: ScoreState, tid: int, c: int) -> str:
    if c == C.VOICE:
        return f"more than {s.policy.max_voices} voices on a staff"
    if s.measure == 1:
        what = "staves in a part" if c == C.STAFF else "parts"
        limit = s.policy.max_staves if c == C.STAFF else s.policy.max_parts
        return f"more than {limit} {what}"
    assert s.layout is not None
    shape = ", ".join(f"part {i + 1}: {n} staves" for i, n in enumerate(s.layout))
    return f"found {s.vocab.tokens[tid]} but measure 1 has {len(s.layout)} parts ({shape})"


def open_staff(s: ScoreState) -> None:
    s.staff += 1
    s.staff_index += 1
    s.voice = -1
    if s.measure == 1:
        s.check(s.staff < s.policy.max_staves, "layout", f"more than {s.policy.max_staves} staves in a part")
        if s.staff == 0:
            s.staves.append(1)
        else:
            s.staves[-1] += 1
    # Later measures reuse measure 1's staves; a staff beyond that layout (lenient mode only) was
    # reported where it opened and gets fresh attributes.
    while s.staff_index >= len(s.staff_attrs):
        s.staff_attrs.append(StaffAttrs())
    s.attr_level = 0
    s.phase = Phase.STAFF


def set_time(s: ScoreState, beats: int, beat_type: int, tokens: tuple[str, ...]) -> None:
    dens = s.policy.time_denominators
    s.check(
        beat_type in dens,
        "time-signature",
        lambda: f"time signature {beats}/{beat_type}: the lower number must be one of {', '.join(map(str, dens))}",
    )
    try:
        ticks = measure_ticks(beats, beat_type)
    except ValueError:  # lenient mode: an impossible time counts as 4/4 so reading can go on
        ticks = DEFAULT_MEASURE
    s.set_attrs(time=tokens, ticks=ticks)


def open_voice(s: ScoreState) -> None:
    s.voice += 1
    s.check(s.voice < s.policy.max_voices, "layout", f"more than {s.policy.max_voices} voices on a staff")
    s.current = Voice(ticks_left=s.attrs.ticks)
    s.event = Event()
    s.phase = Phase.BODY


def _underfull(s: ScoreState, suffix: str = "") -> str:
    v = s.current
    return f"{format_quarters(s.attrs.ticks - v.ticks_left)} in {s.time_name()} (underfull){suffix}"


def close_voice(s: ScoreState) -> None:
    """Checks when a voice ends (at voice/staff/part/bar)."""
    v = s.current
    if not s.check(v.tup is None, "tuplet-unclosed", "the tuplet is not closed before the voice ends"):
        v.tup = None
    s.check(v.events > 0, "empty-voice", "the voice has no note, rest or space")
    if v.ticks_left > 0:
        rule = "underfull-primary" if s.voice == 0 else "underfull-secondary"
        if s.check(s.short_ok(), rule, lambda: _underfull(s)) and s.voice == 0 and s.measure > 1:
            s.measure_short = True


def end_voice(s: ScoreState, tid: int, c: int) -> None:
    """``voice``/``staff``/``part``/``bar`` inside a voice: close the voice, then move on."""
    v = s.current
    rule = "underfull-primary" if s.voice == 0 else "underfull-secondary"
    # Strict mode reports these before the voice's own checks, with what is missing; lenient mode
    # records them from close_voice and below, in reading order.
    s.check(
        not (v.events and v.tup is None and v.ticks_left > 0 and not s.short_ok()),
        rule,
        lambda: _underfull(s, f": {format_quarters(v.ticks_left)} still missing"),
        SKIP,
    )
    fits_layout = layout_allows(s, c)
    s.check(fits_layout, "layout", lambda: _layout_message(s, tid, c), SKIP)
    close_voice(s)
    if c == C.VOICE:
        open_voice(s)  # checks the number of voices itself
        return
    s.check(fits_layout, "layout", lambda: _layout_message(s, tid, c))
    if c == C.STAFF:
        open_staff(s)
    elif c == C.PART:
        s.part += 1
        s.staff = -1
        if s.measure == 1:
            s.check(s.part < s.policy.max_parts, "layout", f"more than {s.policy.max_parts} parts")
        s.phase = Phase.PART
    else:
        _bar(s)


def _bar(s: ScoreState) -> None:
    if s.measure == 1:
        s.layout = list(s.staves)
    s.measure += 1
    if s.measure_short:
        s.must_end = True
    s.measure_short = False
    s.part = s.staff = s.voice = s.staff_index = -1
    s.mark_level = 0
    s.phase = Phase.MSTART


# =============================================================== START and MSTART: between measures
def _step_start(s: ScoreState, tid: int, c: int) -> None:
    s.phase = Phase.MSTART
    if c != C.BOSC:  # <bos> is optional
        _step_measure_start(s, tid, c)


def _step_measure_start(s: ScoreState, tid: int, c: int) -> None:
    if s.must_end and c != C.EOSC:
        s.check(
            False,
            "underfull-primary",
            f"measure {s.measure - 1} is short, so it must be the last; expected <eos> but found {s.vocab.tokens[tid]}",
        )
        s.must_end = False
    if c == C.EOSC:
        if s.measure == 1 or s.mark_level:
            raise syntax_error(s, tid)
        s.phase = Phase.DONE
    elif c == C.MARK:
        level = int(s.classes.arg[tid])
        if level <= s.mark_level:
            raise syntax_error(s, tid)
        s.check(
            s.measure > 1 or level >= 3, "break-at-start", "a page or system break cannot open the first measure"
        )
        s.mark_level = level
    elif c == C.PART:
        s.part, s.staff, s.staff_index = 0, -1, -1
        s.phase = Phase.PART
    else:
        raise syntax_error(s, tid)


def _mask_measure_start(s: ScoreState) -> np.ndarray:
    tc = s.classes
    m = np.zeros(len(tc.cls), dtype=bool)
    if s.must_end:
        m[tc.eos_id] = True
        return m
    m |= tc.masks[C.PART]
    for level in range(s.mark_level + 1, 4):
        if s.measure > 1 or level == 3:
            m[tc.mark_level[level]] = True
    if s.measure > 1 and s.mark_level == 0:
        m[tc.eos_id] = True
    return m


def _mask_start(s: ScoreState) -> np.ndarray:
    m = _mask_measure_start(s)
    m[s.classes.bos_id] = True
    return m


def _plan_measure_start(s: ScoreState) -> int:
    if s.must_end or (s.measure > 1 and s.mark_level == 0):
        return s.classes.eos_id
    return s.vocab.id("part")


# =============================================================== PART, STAFF, TNUM, TDEN: staff header
def _step_part(s: ScoreState, tid: int, c: int) -> None:
    if c != C.STAFF:
        raise syntax_error(s, tid)
    open_staff(s)


_HEADER_LEVEL = {C.CLEF: 1, C.KEY: 2, C.TIME: 3, C.TIMESYM: 3}
_HEADER_NAMES = ("clef", "key", "time")


def _step_staff(s: ScoreState, tid: int, c: int) -> None:
    level = _HEADER_LEVEL.get(c)
    if level is None:
        if c != C.VOICE:
            raise syntax_error(s, tid)
        s.check(
            s.measure > 1 or s.attr_level >= 3,
            "first-measure-attributes",
            lambda: f"measure 1 must state the {_HEADER_NAMES[s.attr_level]} on every staff",
        )
        open_voice(s)
        return
    if level <= s.attr_level:
        raise syntax_error(s, tid)
    s.check(
        s.measure > 1 or level == s.attr_level + 1,
        "first-measure-attributes",
        lambda: f"measure 1 must state the {_HEADER_NAMES[s.attr_level]} before {s.vocab.tokens[tid]}",
    )
    s.attr_level = level if c != C.TIME else 2  # ``time`` still needs its numbers (TNUM, TDEN)
    tok = s.vocab.tokens[tid]
    if c == C.CLEF:
        s.set_attrs(clef=tok)
    elif c == C.KEY:
        s.set_attrs(key=int(s.classes.arg[tid]))
    elif c == C.TIME:
        s.phase = Phase.TNUM
    else:
        set_time(s, *TIME_SYMBOLS[tok], (tok,))
        s.attr_level = 3


def _mask_staff(s: ScoreState) -> np.ndarray:
    lv = s.attr_level
    if s.measure == 1:  # clef, key, time in this order, then the voice
        m = _class_mask(s, (C.CLEF, C.KEY, C.TIME, C.VOICE)[lv])
        if lv == 2:
            m |= s.classes.masks[C.TIMESYM]
        return m
    m = _class_mask(s, C.VOICE)  # later measures: any of them, in order, then the voice
    for level, classes in ((1, (C.CLEF,)), (2, (C.KEY,)), (3, (C.TIME, C.TIMESYM))):
        if lv < level:
            for c in classes:
                m |= s.classes.masks[c]
    return m


def _plan_staff(s: ScoreState) -> int:
    if s.measure == 1 and s.attr_level < 3:
        return s.vocab.id(("clef:G2", "key:0", "time:C")[s.attr_level])
    return s.vocab.id("voice")


def _step_time_num(s: ScoreState, tid: int, c: int) -> None:
    if c != C.NUM:
        raise syntax_error(s, tid)
    s.time_num = int(s.classes.arg[tid])
    s.phase = Phase.TDEN


def _step_time_den(s: ScoreState, tid: int, c: int) -> None:
    if c != C.NUM:
        raise syntax_error(s, tid)
    den = int(s.classes.arg[tid])
    set_time(s, s.time_num, den, ("time", f"n:{s.time_num}", f"n:{den}"))
    s.attr_level = 3
    s.phase = Phase.STAFF


def _mask_time_den(s: ScoreState) -> np.ndarray:
    num_id = s.classes.num_id
    return _ids_mask(s, (num_id[d] for d in s.policy.time_denominators if d in num_id))


def _plan_time_den(s: ScoreState) -> int:
    dens = s.policy.time_denominators
    return s.classes.num_id[4 if 4 in dens else dens[0]]


# =============================================================== BODY: inside a voice
def _step_body(s: ScoreState, tid: int, c: int) -> None:
    if c == C.DOT:
        _dot(s, tid)
        return
    if s.event.dots_pending:
        _finish_duration(s)
    v = s.current
    if c in (C.NOTE, C.REST, C.SPACE, C.GRACE):
        _start_event(s, c)
    elif c == C.CHORD:
        if not v.can_chord:
            raise syntax_error(s, tid)
        s.event.kind = C.CHORD
        s.phase = Phase.PITCH
    elif c == C.TIE:
        if not v.can_tie:
            raise syntax_error(s, tid)
        v.can_tie = False
    elif c == C.CLEF:
        s.set_attrs(clef=s.vocab.tokens[tid])
        v.can_chord = v.can_tie = False
    elif c == C.TUPLET:
        if s.check(v.tup is None, "tuplet-nested", "a tuplet cannot open inside another tuplet"):
            s.check(lambda: tuplet_fits(s), "tuplet-range", "no tuplet note fits in what is left of the measure", SKIP)
        v.can_chord = v.can_tie = False
        s.phase = Phase.TUPA
    elif c == C.TUPEND:
        if v.tup is None:
            raise syntax_error(s, tid)
        if s.check(v.tup_events > 0, "tuplet-empty", "the tuplet has no note, rest or space"):
            s.check(
                lambda: fillable_now(s),
                "unfinishable",
                lambda: f"after this tuplet the {format_quarters(v.ticks_left)} left in {s.time_name()} "
                "cannot be filled",
                SKIP,
            )
        v.tup = None
        v.can_chord = v.can_tie = False
    elif c in (C.VOICE, C.STAFF, C.PART, C.BAR):
        end_voice(s, tid, c)
    else:
        raise syntax_error(s, tid)


def _start_event(s: ScoreState, c: int) -> None:
    v = s.current
    s.check(
        not v.full, "whole-measure-rest", "a whole-measure rest or space must be the only event of its voice"
    )
    if c != C.GRACE and not event_fits(s, c):  # grace notes take no time
        if v.ticks_left <= 0:
            s.check(False, "overfull", f"the measure is already full ({s.time_name()})", SKIP)
        else:
            left = format_quarters(v.ticks_left)
            s.check(False, "unfinishable", f"no duration fits the {left} left in {s.time_name()}", SKIP)
    s.event.kind = c
    s.event.ticks_before = v.ticks_left
    v.can_chord = v.can_tie = False
    s.phase = Phase.PITCH if c in (C.NOTE, C.GRACE) else Phase.DUR


def _dot(s: ScoreState, tid: int) -> None:
    e = s.event
    if not e.dots_pending or e.dots >= 3:
        raise syntax_error(s, tid)
    if e.valid is not None:
        valid = e.valid
        s.check(
            lambda: bool(valid[e.dur_type, e.dots + 1 :].any()),
            "unfinishable",
            "another dot would leave a length that cannot be filled",
            SKIP,
        )
    e.dots += 1
    if e.valid is not None:
        s.current.ticks_left = e.ticks_before - s.unit(e.dur_type, e.dots)


def _finish_duration(s: ScoreState) -> None:
    """A non-dot token ends the pending duration: check the chosen number of dots."""
    e, v = s.event, s.current
    e.dots_pending = False
    if e.valid is None:  # a grace note: takes no time
        return
    valid = e.valid
    s.check(
        lambda: bool(valid[e.dur_type, e.dots]),
        "unfinishable",
        lambda: f"{format_quarters(v.ticks_left)} left of {s.time_name()} cannot be filled; "
        "add a dot or choose another duration",
        SKIP,
    )
    if v.tup is not None:
        a, n = v.tup
        s.check(
            int(PLAIN[e.dur_type, e.dots]) * n % a == 0,
            "tuplet-ticks",
            lambda: f"a {DURATION_TYPES[e.dur_type]} in a {a}:{n} tuplet is not a whole number of ticks",
        )
    if v.ticks_left < 0 and not v.overfull_reported:
        v.overfull_reported = True
        s.check(
            False, "overfull", lambda: f"{format_quarters(s.attrs.ticks - v.ticks_left)} in {s.time_name()} (overfull)"
        )


def _mask_body(s: ScoreState) -> np.ndarray:
    M, v = s.classes.masks, s.current
    dot_ok, end_ok = dots_state(s)
    m = np.zeros(len(s.classes.cls), dtype=bool)
    if dot_ok:
        m |= M[C.DOT]
    if not end_ok:
        return m
    m |= M[C.CLEF]
    if not v.full:
        m |= M[C.GRACE]
        for c in (C.NOTE, C.REST, C.SPACE):
            if event_fits(s, c):
                m |= M[c]
        if tuplet_fits(s):
            m |= M[C.TUPLET]
    if v.tup is not None and v.tup_events and fillable_now(s):
        m |= M[C.TUPEND]
    if v.can_chord:
        m |= M[C.CHORD]
    if v.can_tie:
        m |= M[C.TIE]
    if v.events and v.tup is None and (v.ticks_left <= 0 or s.short_ok()):
        for c in (C.VOICE, C.STAFF, C.PART, C.BAR):
            if layout_allows(s, c):
                m |= M[c]
    return m


def _plan_body(s: ScoreState) -> int:
    tok, v = s.vocab.id, s.current
    if not dots_state(s)[1]:
        return tok("dot")
    if v.tup is not None:
        return tok("tuplet-end") if v.tup_events and fillable_now(s) else tok("rest")
    if v.events == 0:
        return tok("rest")
    if v.ticks_left > 0 and not s.short_ok():
        return tok("rest") if event_fits(s, C.REST) else tok("tuplet")
    if s.measure == 1:
        return tok("bar")
    for c, name in ((C.STAFF, "staff"), (C.PART, "part"), (C.BAR, "bar")):
        if layout_allows(s, c):
            return tok(name)
    raise AssertionError("no way to close the voice")  # pragma: no cover


# =============================================================== PITCH, PITCH2: a note's pitch
def _step_pitch(s: ScoreState, tid: int, c: int) -> None:
    if c == C.ACC and s.phase == Phase.PITCH:
        s.phase = Phase.PITCH2
        return
    if c != C.PITCH:
        raise syntax_error(s, tid)
    p = int(s.classes.arg[tid])
    v = s.current
    if s.event.kind == C.CHORD:
        s.check(
            not (s.policy.chord_ascending and p < v.last_pitch),
            "chord-order",
            lambda: f"chord notes go from low to high, but {split_token(s.vocab.tokens[tid])[1]} "
            "is below the note before it",
        )
        v.last_pitch = p
        v.can_chord = v.can_tie = True
        s.phase = Phase.BODY
        return
    v.last_pitch = p
    s.phase = Phase.DUR


def _mask_pitch(s: ScoreState) -> np.ndarray:
    tc = s.classes
    m = tc.masks[C.ACC].copy() if s.phase == Phase.PITCH else np.zeros(len(tc.cls), dtype=bool)
    if s.event.kind == C.CHORD and s.policy.chord_ascending:
        m[tc.pitch_ids[tc.pitch_arg >= s.current.last_pitch]] = True
    else:
        m |= tc.masks[C.PITCH]
    return m


def _plan_pitch(s: ScoreState) -> int:
    if s.event.kind == C.CHORD:  # the same pitch again is the lowest allowed
        return int(s.classes.pitch_ids[s.current.last_pitch])
    return s.vocab.id("pitch:C4")


# =============================================================== DUR: a duration
def _step_duration(s: ScoreState, tid: int, c: int) -> None:
    if c != C.DUR:
        raise syntax_error(s, tid)
    x = int(s.classes.arg[tid])
    e, v = s.event, s.current
    if x == C.MEASURE_DUR:
        if e.kind not in (C.REST, C.SPACE):
            raise s.error("syntax", "only rests and spaces can last a whole measure")
        if s.check(v.tup is None, "measure-rest-in-tuplet", "a whole-measure rest or space cannot be inside a tuplet"):
            s.check(
                not v.events and v.ticks_left == s.attrs.ticks,
                "whole-measure-rest",
                "a whole-measure rest or space must be the only event of its voice",
            )
        v.ticks_left = 0
        v.events += 1
        v.full = True
        s.phase = Phase.BODY
        return
    e.dur_type, e.dots = x, 0
    e.dots_pending = True
    s.phase = Phase.BODY
    if e.kind == C.GRACE:
        e.valid = None
        v.can_chord = v.can_tie = True
        return
    e.valid = valid_table(s)
    if not e.valid[x].any():
        s.check(False, *_duration_problem(s, x), SKIP)
    v.ticks_left = e.ticks_before - s.unit(x, 0)
    v.events += 1
    if v.tup is not None:
        v.tup_events += 1
    v.can_chord = v.can_tie = e.kind == C.NOTE


def _duration_problem(s: ScoreState, x: int) -> tuple[str, str]:
    """(rule, message) for a duration type that no number of dots makes acceptable here."""
    name, before, tup = DURATION_TYPES[x], s.event.ticks_before, s.current.tup
    if s.unit(x, 0) > before:
        return "overfull", f"a {name} does not fit in the {format_quarters(max(before, 0))} left of {s.time_name()}"
    if tup is not None and (s.fills.scaled[tup][x] <= 0).all():
        return "tuplet-ticks", f"a {name} in a {tup[0]}:{tup[1]} tuplet is not a whole number of ticks"
    return (
        "unfinishable",
        f"after a {name} the {format_quarters(before - s.unit(x, 0))} left of {s.time_name()} cannot be filled",
    )


def _mask_duration(s: ScoreState) -> np.ndarray:
    tc = s.classes
    m = np.zeros(len(tc.cls), dtype=bool)
    if s.event.kind == C.GRACE:
        m[[tc.dur_id[x] for x in range(C.MEASURE_DUR)]] = True
        return m
    ok = valid_table(s).any(axis=1)
    m[[tc.dur_id[int(x)] for x in np.flatnonzero(ok)]] = True
    if s.event.kind in (C.REST, C.SPACE) and s.measure_rest_ok():
        m[tc.dur_id[C.MEASURE_DUR]] = True
    return m


def _plan_duration(s: ScoreState) -> int:
    tc = s.classes
    if s.event.kind == C.GRACE:
        return tc.dur_id[3]  # an eighth, the usual grace value
    if s.event.kind in (C.REST, C.SPACE) and s.measure_rest_ok():
        return tc.dur_id[C.MEASURE_DUR]
    return tc.dur_id[int(np.flatnonzero(valid_table(s).any(axis=1))[0])]  # the longest that fits


# =============================================================== TUPA, TUPN: a tuplet's numbers
def _step_tuplet_actual(s: ScoreState, tid: int, c: int) -> None:
    if c != C.NUM:
        raise syntax_error(s, tid)
    a = s.event.tuplet_actual = int(s.classes.arg[tid])
    s.check(lambda: actual_ok(s, a), "tuplet-range", f"no tuplet with {a} notes fits here", SKIP)
    s.phase = Phase.TUPN


def _actuals(s: ScoreState) -> Iterator[int]:
    """The ``n:A`` ids that can open a fitting tuplet here, smallest first."""
    return (s.classes.num_id[a] for a in s.fills.actuals if actual_ok(s, a))


def _normals(s: ScoreState) -> Iterator[int]:
    """The ``n:N`` ids that complete a fitting ``A:N`` tuplet, smallest first."""
    a = s.event.tuplet_actual
    return (s.classes.num_id[n] for n in s.fills.normals.get(a, ()) if ratio_fits(s, a, n))


def _step_tuplet_normal(s: ScoreState, tid: int, c: int) -> None:
    if c != C.NUM:
        raise syntax_error(s, tid)
    a, n, v = s.event.tuplet_actual, int(s.classes.arg[tid]), s.current
    if s.check(
        s.policy.tuplet_ok(a, n) and (a, n) in s.fills.ratio_set,
        "tuplet-range",
        f"tuplet {a}:{n} is outside the allowed ratios",
    ):
        s.check(
            lambda: ratio_fits(s, a, n),
            "unfinishable",
            lambda: f"no {a}:{n} tuplet note fits in the {format_quarters(v.ticks_left)} left",
            SKIP,
        )
    v.tup = (a, n) if (a, n) in s.fills.ratio_set else None
    v.tup_events = 0
    s.phase = Phase.BODY


# =============================================================== DONE: after <eos>
def _step_done(s: ScoreState, tid: int, c: int) -> None:
    if c != C.PADC:
        raise syntax_error(s, tid)


def _plan_done(s: ScoreState) -> int:
    raise AssertionError("a finished sequence has no plan")


# =============================================================== the table
def _token(name: str) -> PlanFn:
    return lambda s: s.vocab.id(name)


PHASE_RULES: dict[Phase, PhaseRule] = {
    Phase.START: PhaseRule("<bos> or the start of a measure", _step_start, _mask_start, _token("part")),
    Phase.MSTART: PhaseRule(
        "the start of a measure or <eos>", _step_measure_start, _mask_measure_start, _plan_measure_start
    ),
    Phase.PART: PhaseRule("a staff", _step_part, lambda s: _class_mask(s, C.STAFF), _token("staff")),
    Phase.STAFF: PhaseRule("clef, key, time or a voice", _step_staff, _mask_staff, _plan_staff),
    Phase.TNUM: PhaseRule(
        "the upper number of the time signature",
        _step_time_num,
        lambda s: _class_mask(s, C.NUM),
        lambda s: s.classes.num_id[4],
    ),
    Phase.TDEN: PhaseRule(
        "the lower number of the time signature", _step_time_den, _mask_time_den, _plan_time_den
    ),
    Phase.BODY: PhaseRule("a note, rest, chord, tie or the end of the voice", _step_body, _mask_body, _plan_body),
    Phase.PITCH: PhaseRule("a pitch", _step_pitch, _mask_pitch, _plan_pitch),
    Phase.PITCH2: PhaseRule("a pitch", _step_pitch, _mask_pitch, _plan_pitch),
    Phase.DUR: PhaseRule("a duration", _step_duration, _mask_duration, _plan_duration),
    Phase.TUPA: PhaseRule(
        "the tuplet's first number",
        _step_tuplet_actual,
        lambda s: _ids_mask(s, _actuals(s)),
        lambda s: next(_actuals(s)),
    ),
    Phase.TUPN: PhaseRule(
        "the tuplet's second number",
        _step_tuplet_normal,
        lambda s: _ids_mask(s, _normals(s)),
        lambda s: next(_normals(s)),
    ),
    Phase.DONE: PhaseRule(
        "nothing (the sequence ended)", _step_done, lambda s: _ids_mask(s, [s.classes.pad_id]), _plan_done
    ),
}
assert set(PHASE_RULES) == set(Phase), "every phase needs its rule"
