"""The human-readable form of the score language and its 1:1 mapping to model tokens.

Human form (one measure per line)::

    <part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:F#5-quarter> <rest:eighth> ... <bar>

Each ``<...>`` event expands to one or more factorized model tokens (see grammar/vocab.py).
Pitches are spelled as printed: the accidental in ``F#5`` is the one engraved before the note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from grammar.vocab import (
    ACC_SYMBOL,
    BARLINES,
    DURATIONS,
    KEY_NAMES,
    MEASURE_MARKS,
    STRUCTURE,
    TIME_SYMBOLS,
    TOKENS,
    split_token,
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


def _take_pitch(toks: Sequence[str], i: int) -> tuple[str, int]:
    acc = ""
    kind, arg = split_token(toks[i]) if i < len(toks) else ("", None)
    if kind == "acc" and arg is not None:
        acc = ACC_SYMBOL[arg]
        i += 1
        kind, arg = split_token(toks[i]) if i < len(toks) else ("", None)
    if kind != "pitch" or arg is None:
        raise HumanFormError(f"token {i + 1}: expected a pitch")
    p = arg
    return f"{p[0]}{acc}{p[1:]}", i + 1


def _take_dur(toks: Sequence[str], i: int) -> tuple[str, int]:
    kind, arg = split_token(toks[i]) if i < len(toks) else ("", None)
    if kind != "dur" or arg is None:
        raise HumanFormError(f"token {i + 1}: expected a duration")
    d = arg
    i += 1
    while i < len(toks) and toks[i] == "dot":
        d += "."
        i += 1
    return d, i


def _take_number(toks: Sequence[str], i: int) -> tuple[int, int]:
    kind, arg = split_token(toks[i]) if i < len(toks) else ("", None)
    if kind != "n" or arg is None:
        raise HumanFormError(f"token {i + 1}: expected a number")
    return int(arg), i + 1


def to_events(tokens: Iterable[str]) -> list[str]:
    """Model tokens -> human events (the inverse of ``from_human``). Special tokens are skipped."""
    toks = [t for t in tokens if t not in ("<pad>", "<bos>", "<eos>")]
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        kind, arg = split_token(t)
        if t in _SINGLE:
            out.append(f"<{t}>")
            i += 1
        elif kind == "clef":
            out.append(f"<{t}>")
            i += 1
        elif kind == "key" and arg is not None:
            out.append(f"<key:{KEY_NAMES[int(arg)]}-major>")
            i += 1
        elif t in TIME_SYMBOLS:
            out.append(f"<{t}>")
            i += 1
        elif t in ("time", "tuplet"):
            a, i = _take_number(toks, i + 1)
            b, i = _take_number(toks, i)
            out.append(f"<{t}:{a}/{b}>")
        elif t in ("note", "grace"):
            pitch, i = _take_pitch(toks, i + 1)
            dur, i = _take_dur(toks, i)
            out.append(f"<{t}:{pitch}-{dur}>")
        elif t in ("rest", "space"):
            dur, i = _take_dur(toks, i + 1)
            out.append(f"<{t}:{dur}>")
        elif t == "chord":
            pitch, i = _take_pitch(toks, i + 1)
            out.append(f"<chord:{pitch}>")
        else:
            raise HumanFormError(f"token {i + 1}: {t!r} cannot start an event here")
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
