"""Parse a model-token sequence into measures/parts/staves/voices for the writer.

This is a structural parser only (the syntax of docs/token-language.md); musical rules such as
"the primary voice fills the measure" belong to grammar.validate. A sequence that does not follow
the syntax raises ``TokenSequenceError`` naming the token position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grammar.vocab import BARLINES, BOS, EOS, MEASURE_MARKS, PAD, TIME_SYMBOLS, TIME_TOKENS, split_token


class TokenSequenceError(ValueError):
    """A token sequence that does not follow the score-language syntax."""


@dataclass
class Head:
    """One note head: printed accidental (or None), step, octave, tie start."""

    acc: str | None
    step: str
    octave: int
    tie: bool = False


@dataclass
class Ev:
    """One voice item. ``index`` is the position of its first token in the input sequence."""

    kind: str  # note rest space grace clef tuplet tuplet-end
    index: int
    heads: list[Head] = field(default_factory=list)
    head_index: list[int] = field(default_factory=list)  # token index of each head (note/chord)
    dtype: str = ""
    dots: int = 0
    clef: str = ""
    ratio: tuple[int, int] = (1, 1)


@dataclass
class StaffBlock:
    clef: str | None = None
    key: int | None = None
    time: tuple[int, int, str] | None = None  # (beats, beat_type, symbol "" | "C" | "C|")
    voices: list[list[Ev]] = field(default_factory=list)


@dataclass
class MeasureBlock:
    marks: list[str] = field(default_factory=list)
    parts: list[list[StaffBlock]] = field(default_factory=list)
    bar: str = "bar"


class _Cursor:
    def __init__(self, toks: Sequence[str]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, what: str) -> str:
        tok = self.peek()
        if tok is None:
            raise TokenSequenceError(f"token {self.i}: sequence ends where {what} was expected")
        self.i += 1
        return tok

    def peek_kind(self) -> str | None:
        """The kind of the next token (``split_token``), None at the end."""
        tok = self.peek()
        return None if tok is None else split_token(tok)[0]

    def expect(self, kind: str, what: str) -> str:
        """The argument of the next token, which must be of ``kind`` (``pitch``, ``dur``, ``n``)."""
        tok = self.take(what)
        found, arg = split_token(tok)
        if found != kind or arg is None:
            raise TokenSequenceError(f"token {self.i - 1}: expected {what}, got {tok!r}")
        return arg

    def number(self) -> int:
        return int(self.expect("n", "a number n:*"))


def _head(c: _Cursor) -> Head:
    acc = None
    if c.peek_kind() == "acc":
        acc = c.expect("acc", "accidental")
    p = c.expect("pitch", "a pitch")
    return Head(acc, p[0], int(p[1:]))


def _duration(c: _Cursor, ev: Ev) -> None:
    ev.dtype = c.expect("dur", "a duration")
    while c.peek() == "dot":
        c.take("dot")
        ev.dots += 1


def _event(c: _Cursor, ratio: tuple[int, int]) -> Ev:
    start = c.i
    tok = c.take("a voice item")
    if tok in ("note", "grace"):
        ev = Ev(tok, start, ratio=ratio if tok == "note" else (1, 1))
        ev.head_index.append(start)
        ev.heads.append(_head(c))
        _duration(c, ev)
        if c.peek() == "tie":
            c.take("tie")
            ev.heads[-1].tie = True
        while c.peek() == "chord":
            ev.head_index.append(c.i)
            c.take("chord")
            ev.heads.append(_head(c))
            if c.peek() == "tie":
                c.take("tie")
                ev.heads[-1].tie = True
        return ev
    if tok in ("rest", "space"):
        ev = Ev(tok, start, ratio=ratio)
        _duration(c, ev)
        return ev
    kind, arg = split_token(tok)
    if kind == "clef" and arg is not None:
        return Ev("clef", start, clef=arg)
    if tok == "tuplet":
        a, n = c.number(), c.number()
        return Ev("tuplet", start, ratio=(a, n))
    if tok == "tuplet-end":
        return Ev("tuplet-end", start)
    raise TokenSequenceError(f"token {start}: {tok!r} cannot appear inside a voice")


def _staff(c: _Cursor) -> StaffBlock:
    st = StaffBlock()
    if c.peek_kind() == "clef":
        st.clef = c.expect("clef", "clef")
    if c.peek_kind() == "key":
        st.key = int(c.expect("key", "key"))
    if c.peek() in TIME_TOKENS:
        tok = c.take("time")
        if tok == "time":
            st.time = (c.number(), c.number(), "")
        else:
            st.time = (*TIME_SYMBOLS[tok], split_token(tok)[1] or "")
    while c.peek() == "voice":
        c.take("voice")
        voice: list[Ev] = []
        ratio = (1, 1)
        while c.peek() not in (None, "voice", "staff", "part") and c.peek() not in BARLINES:
            ev = _event(c, ratio)
            if ev.kind == "tuplet":
                ratio = ev.ratio
            elif ev.kind == "tuplet-end":
                ratio = (1, 1)
            voice.append(ev)
        if not voice:
            raise TokenSequenceError(f"token {c.i}: empty voice")
        st.voices.append(voice)
    if not st.voices:
        raise TokenSequenceError(f"token {c.i}: staff without a voice")
    return st


def parse_tokens(tokens: Sequence[str]) -> list[MeasureBlock]:
    """Model tokens (``<bos>``/``<eos>``/``<pad>`` allowed and ignored) -> measure blocks.

    Raises:
        TokenSequenceError: the sequence breaks the syntax; the message names the token index.
    """
    toks = [t if t not in (BOS, EOS, PAD) else "" for t in tokens]
    c = _Cursor(toks)
    out: list[MeasureBlock] = []
    while True:
        while c.peek() == "":
            c.i += 1
        if c.peek() is None:
            break
        m = MeasureBlock()
        while c.peek() in MEASURE_MARKS:
            m.marks.append(c.take("mark"))
        while c.peek() == "part":
            c.take("part")
            staves = []
            while c.peek() == "staff":
                c.take("staff")
                staves.append(_staff(c))
            if not staves:
                raise TokenSequenceError(f"token {c.i}: part without a staff")
            m.parts.append(staves)
        if not m.parts:
            raise TokenSequenceError(f"token {c.i}: expected 'part', got {c.peek()!r}")
        bar = c.take("a barline")
        if bar not in BARLINES:
            raise TokenSequenceError(f"token {c.i - 1}: expected a barline, got {bar!r}")
        m.bar = bar
        out.append(m)
    if not out:
        raise TokenSequenceError("empty token sequence: no measure")
    return out
