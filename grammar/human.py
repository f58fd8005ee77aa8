"""The human-readable form of the score language and its 1:1 mapping to model tokens.

Human form (one measure per line)::

    <part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:F#5-quarter> <rest:eighth> ... <bar>

Each ``<...>`` event expands to one or more factorized model tokens (see grammar/vocab.py).
Pitches are spelled as printed: the accidental in ``F#5`` is the one engraved before the note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from grammar.token_tree import Item, parse_tree
from grammar.vocab import (
    ACC_SYMBOL,
    BARLINES,
    DURATIONS,
    KEY_NAMES,
    MEASURE_MARKS,
    SPECIAL,
    STRUCTURE,
    TOKENS,
)

_SINGLE = {*STRUCTURE, *BARLINES, *MEASURE_MARKS, "tie", "tuplet-end"}
_SYMBOL_ACC = {v: k for k, v in ACC_SYMBOL.items()}
_KEY_BY_NAME = {name: fifths for fifths, name in KEY_NAMES.items()}
_PITCH_RE = re.compile(r"^([A-G])(##|bb|#|b|n)?([0-9])$")
_DUR_RE = re.compile(r"^([a-z0-9]+)(\.{0,3})$")
_TOKEN_SET = set(TOKENS)


class HumanFormError(ValueError):
    """A human-readable sequence that does not follow docs/token-language.md."""


def _pitch_tokens(text: str) -> list[str]:
    m = _PITCH_RE.match(text)
    if not m:
        raise HumanFormError(f"bad pitch {text!r} (expected step, printed accidental, octave: 'F#5', 'Bb3', 'E4')")
    step, acc, octave = m.groups()
    return ([f"acc:{_SYMBOL_ACC[acc]}"] if acc else []) + [f"pitch:{step}{octave}"]


def _dur_tokens(text: str) -> list[str]:
    m = _DUR_RE.match(text)
    if not m or m.group(1) not in DURATIONS:
        raise HumanFormError(f"bad duration {text!r} (expected one of {', '.join(DURATIONS)} plus up to 3 dots)")
    if m.group(1) == "measure" and m.group(2):
        raise HumanFormError("a whole-measure rest cannot be dotted")
    return [f"dur:{m.group(1)}"] + ["dot"] * len(m.group(2))


def _ratio(text: str, what: str) -> list[str]:
    try:
        a, b = (int(x) for x in text.split("/"))
    except ValueError:
        raise HumanFormError(f"bad {what} {text!r} (expected two numbers like 3/4)") from None
    toks = [f"n:{a}", f"n:{b}"]
    for t in toks:
        if t not in _TOKEN_SET:
            raise HumanFormError(f"{what} {text!r}: number {t[2:]} is out of range")
    return toks


def event_to_tokens(event: str) -> list[str]:
    """One human event like ``<note:F#5-quarter.>`` -> its model tokens."""
    if not (event.startswith("<") and event.endswith(">")):
        raise HumanFormError(f"{event!r} is not an event (events look like <note:C4-quarter>)")
    body = event[1:-1]
    if body in _SINGLE:
        return [body]
    kind, _, arg = body.partition(":")
    if not arg:
        raise HumanFormError(f"unknown event {event!r}")
    if kind == "clef":
        if f"clef:{arg}" not in _TOKEN_SET:
            raise HumanFormError(f"unknown clef {arg!r}")
        return [f"clef:{arg}"]
    if kind == "key":
        name = arg.removesuffix("-major")
        if name not in _KEY_BY_NAME or not arg.endswith("-major"):
            raise HumanFormError(f"unknown key {arg!r} (keys are named by their major tonic: 'D-major', 'Bb-major')")
        return [f"key:{_KEY_BY_NAME[name]}"]
    if kind == "time":
        if arg in ("C", "C|"):
            return [f"time:{arg}"]
        return ["time", *_ratio(arg, "time signature")]
    if kind == "tuplet":
        return ["tuplet", *_ratio(arg, "tuplet ratio")]
    if kind in ("note", "grace"):
        pitch, sep, dur = arg.partition("-")
        if not sep:
            raise HumanFormError(f"{event!r}: expected PITCH-DURATION like F#5-quarter")
        if dur.startswith("measure"):
            raise HumanFormError(f"{event!r}: only rests and spaces can last a whole measure")
        return [kind, *_pitch_tokens(pitch), *_dur_tokens(dur)]
    if kind in ("rest", "space"):
        return [kind, *_dur_tokens(arg)]
    if kind == "chord":
        return ["chord", *_pitch_tokens(arg)]
    if f"{kind}:{arg}" in BARLINES:
        return [body]
    raise HumanFormError(f"unknown event {event!r}")


def from_human(text: str) -> list[str]:
    """Parse human-readable text (any whitespace between events) into model tokens."""
    out: list[str] = []
    for i, event in enumerate(text.split()):
        try:
            out += event_to_tokens(event)
        except HumanFormError as err:
            raise HumanFormError(f"event {i + 1}: {err}") from None
    return out


def _pitch_text(it: Item) -> str:
    assert it.head is not None
    acc = ACC_SYMBOL[it.head.acc] if it.head.acc else ""
    return f"{it.head.step}{acc}{it.head.octave}"


def _event_text(it: Item) -> str:
    """One event of the token tree in human form."""
    if it.kind == "key":
        return f"<key:{KEY_NAMES[int(it.arg or 0)]}-major>"
    if it.token in ("time", "tuplet"):
        return f"<{it.token}:{it.numbers[0]}/{it.numbers[1]}>"
    if it.kind in ("note", "grace"):
        return f"<{it.kind}:{_pitch_text(it)}-{it.dtype}{'.' * it.dots}>"
    if it.kind in ("rest", "space"):
        return f"<{it.kind}:{it.dtype}{'.' * it.dots}>"
    if it.kind == "chord":
        return f"<chord:{_pitch_text(it)}>"
    return f"<{it.token}>"


def to_events(tokens: Iterable[str]) -> list[str]:
    """Model tokens -> human events (the inverse of ``from_human``). Special tokens are skipped.

    The events are those of the token tree (grammar/token_tree.py), read tolerantly: the layout
    need not be valid, but an event cut short or a token no event starts with raises.
    """
    toks = [t for t in tokens if t not in SPECIAL]  # positions in messages count without them
    out: list[str] = []
    for it in parse_tree(toks, strict=False).items:
        if it.problem is not None:
            what = it.problem.expected
            if what is None:
                raise HumanFormError(f"token {it.start + 1}: {it.token!r} cannot start an event here")
            raise HumanFormError(f"token {it.problem.index + 1}: expected {what}")
        out.append(_event_text(it))
    return out


def to_human(tokens: Iterable[str]) -> str:
    """Model tokens -> human-readable text, one measure per line."""
    lines: list[str] = []
    line: list[str] = []
    for ev in to_events(tokens):
        line.append(ev)
        if ev[1:-1] in BARLINES:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines) + ("\n" if lines else "")
