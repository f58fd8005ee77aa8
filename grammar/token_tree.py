"""The one structural parser of model-token sequences: tokens -> events -> measure tree.

Two layers, so that no other module walks a token string to find what belongs together:

- **events** (``Item``): one human-form event each; ``note acc:sharp pitch:F5 dur:quarter dot`` is
  the one event ``<note:F#5-quarter.>``. grammar.human renders these; the metrics read which
  event a token belongs to (an ``n:*`` is a time's or a tuplet's number).
- **the tree**: ``MeasureBlock`` -> parts -> ``StaffBlock`` -> voices of ``Ev`` (a note with its
  chord notes and ties is one ``Ev``). The MusicXML writer, grammar.excerpt, grammar.assemble and
  the overlay read it.

Structural only (the syntax of docs/token-language.md); musical rules such as "the primary voice
fills the measure" belong to grammar.validate.

``parse_tree(tokens, strict=True)`` raises ``TokenSequenceError`` at the first break of the
syntax, naming the token position. ``strict=False`` never raises, because model output is read
by the human-form printer, the metrics and the overlay before anyone knows it is valid: every
event that can be lexed is kept in ``TokenTree.items``, what fits the structure goes into the
tree, and each break is listed in ``TokenTree.problems`` (the message strict mode would raise).
Recovery in that mode: a measure runs to its barline (a last one without a barline is kept,
``bar=None``); a measure mark anywhere in a measure counts for that measure; a token that cannot
stand where it is, or an event cut short, stays in ``items`` only; ``<bos>``/``<eos>``/``<pad>``
are skipped wherever they are (strict mode allows them between measures only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grammar.vocab import BARLINES, MEASURE_MARKS, SPECIAL, TIME_SYMBOLS, TOKENS, split_token

_TOKEN_SET = frozenset(TOKENS)
# Tokens that are a whole event by themselves (their argument, if any, is the event's value).
_SINGLE_KINDS = frozenset({"part", "staff", "voice", "bar", "clef", "key", "tie", "tuplet-end", *MEASURE_MARKS})
# Where a voice (and a staff) stops: the next structure token.
_VOICE_END = frozenset({"voice", "staff", "part", *BARLINES})


class TokenSequenceError(ValueError):
    """A token sequence that does not follow the score-language syntax."""


@dataclass(frozen=True)
class Problem:
    """One break of the syntax: the token position, the message, and what an event lacked.

    ``expected`` is "a pitch", "a duration" or "a number" for an event cut short, None for a token
    that cannot stand where it is.
    """

    index: int
    message: str
    expected: str | None = None


@dataclass
class Head:
    """One note head: printed accidental (or None), step, octave, tie start."""

    acc: str | None
    step: str
    octave: int
    tie: bool = False


@dataclass
class Item:
    """One event: the kind and argument of its first token (``split_token``), tokens [start, stop).

    ``head`` is set for note/grace/chord, ``dtype``/``dots`` for note/grace/rest/space,
    ``numbers`` for ``time n:* n:*`` and ``tuplet n:* n:*``. ``problem`` is set when the event is
    cut short or its first token cannot start one (then the fields hold what was read).
    """

    kind: str
    arg: str | None
    token: str
    start: int
    stop: int = 0
    head: Head | None = None
    dtype: str = ""
    dots: int = 0
    numbers: tuple[int, ...] = ()
    problem: Problem | None = None


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
    """One staff of a measure. ``index`` is its ``staff`` token, ``header`` its clef/key/time
    events, ``voice_starts`` the position of each voice's ``voice`` token, ``stop`` the position
    after its last token."""

    clef: str | None = None
    key: int | None = None
    time: tuple[int, int, str] | None = None  # (beats, beat_type, symbol "" | "C" | "C|")
    voices: list[list[Ev]] = field(default_factory=list)
    index: int = 0
    header: list[Item] = field(default_factory=list)
    voice_starts: list[int] = field(default_factory=list)
    stop: int = 0


@dataclass
class MeasureBlock:
    """One measure: marks, parts of staves, the barline (None: the sequence ends first).

    ``items`` are all its events in order (marks and barline included), so a measure's tokens are
    ``[t for it in items for t in tokens[it.start:it.stop]]`` (less the specials, which a tolerant
    reading skips even inside an event).
    """

    marks: list[str] = field(default_factory=list)
    parts: list[list[StaffBlock]] = field(default_factory=list)
    bar: str | None = None
    items: list[Item] = field(default_factory=list)


def positions(tokens: Sequence[str], items: Sequence[Item]) -> list[int]:
    """Positions in ``tokens`` of the tokens of ``items`` (specials skipped), in order."""
    return [j for it in items for j in range(it.start, it.stop) if tokens[j] not in SPECIAL]


@dataclass
class TokenTree:
    """What ``parse_tree`` read: the measures, every event in order, and the breaks found."""

    measures: list[MeasureBlock]
    items: list[Item]
    problems: list[Problem]


class _Cursor:
    """Reads ``toks`` (the tokens the parser sees) and reports positions in the caller's input."""

    def __init__(self, toks: Sequence[str], where: Sequence[int], end: int, strict: bool) -> None:
        self.toks, self.where, self.end, self.strict = toks, where, end, strict
        self.i = 0
        self.items: list[Item] = []
        self.problems: list[Problem] = []
        self.measure: MeasureBlock | None = None

    def index(self, i: int | None = None) -> int:
        """Input position of parser position ``i`` (default: the next token); the input length at the end."""
        i = self.i if i is None else i
        return self.where[i] if i < len(self.where) else self.end

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def problem(self, message: str, index: int | None = None, expected: str | None = None,
                *, positioned: bool = True) -> Problem:
        """Raise (strict) or record one break of the syntax; the message starts with its position."""
        at = self.index() if index is None else index
        text = f"token {at}: {message}" if positioned else message
        if self.strict:
            raise TokenSequenceError(text)
        found = Problem(at, text, expected)
        self.problems.append(found)
        return found

    # ------------------------------------------------------------------ events
    def item(self) -> Item:
        """Lex the event that starts at the next token and consume its tokens."""
        tok = self.toks[self.i]
        kind, arg = split_token(tok)
        it = Item(kind, arg, tok, self.index())
        self.i += 1
        if tok not in _TOKEN_SET or tok in SPECIAL:
            it.problem = self.problem(f"{tok!r} cannot start an event", it.start)
        elif tok in ("note", "grace"):
            if self._head(it):
                self._duration(it)
        elif tok in ("rest", "space"):
            self._duration(it)
        elif tok == "chord":
            self._head(it)
        elif tok in ("time", "tuplet"):
            self._numbers(it)
        elif kind not in _SINGLE_KINDS and tok not in TIME_SYMBOLS:
            it.problem = self.problem(f"{tok!r} cannot start an event", it.start)
        it.stop = self.where[self.i - 1] + 1  # just after its last token (specials may follow)
        self.items.append(it)
        if self.measure is not None:
            self.measure.items.append(it)
        return it

    def _arg(self, it: Item, kind: str, what: str, strict_what: str | None = None) -> str | None:
        """The argument of the next token if it is of ``kind``; else mark ``it`` cut short (the
        token is left for whatever comes next)."""
        tok = self.peek()
        if tok is not None and tok in _TOKEN_SET:
            found, arg = split_token(tok)
            if found == kind and arg is not None:
                self.i += 1
                return arg
        what_s = strict_what or what
        message = (f"sequence ends where {what_s} was expected" if tok is None
                   else f"expected {what_s}, got {tok!r}")
        it.problem = self.problem(message, expected=what)
        return None

    def _head(self, it: Item) -> bool:
        acc = None
        tok = self.peek()
        if tok is not None and split_token(tok)[0] == "acc":
            acc = self._arg(it, "acc", "an accidental")
        p = self._arg(it, "pitch", "a pitch")
        if p is None:
            return False
        it.head = Head(acc, p[0], int(p[1:]))
        return True

    def _duration(self, it: Item) -> bool:
        d = self._arg(it, "dur", "a duration")
        if d is None:
            return False
        it.dtype = d
        while self.peek() == "dot":
            self.i += 1
            it.dots += 1
        return True

    def _numbers(self, it: Item) -> None:
        for _ in range(2):
            n = self._arg(it, "n", "a number", "a number n:*")
            if n is None:
                return
            it.numbers += (int(n),)


def _stray(c: _Cursor, message: str | None) -> None:
    """Lex an event that has no place here: it stays in ``items``; a measure mark still counts
    for its measure (a break read late is still a break). ``message`` None: already reported."""
    if message is not None:
        c.problem(message)
    it = c.item()
    if it.kind in MEASURE_MARKS and c.measure is not None:
        c.measure.marks.append(it.token)


def _event(c: _Cursor, ratio: tuple[int, int]) -> Ev | None:
    """The voice item at the cursor; None (tolerant mode) when it is broken or has no place here."""
    start = c.index()
    tok = c.peek()
    if tok in ("note", "grace"):
        it = c.item()
        if it.problem is not None or it.head is None:
            return None
        ev = Ev(it.kind, start, dtype=it.dtype, dots=it.dots, ratio=ratio if tok == "note" else (1, 1))
        ev.heads.append(Head(it.head.acc, it.head.step, it.head.octave))
        ev.head_index.append(start)
        while True:
            if c.peek() == "tie":
                c.item()
                ev.heads[-1].tie = True
            if c.peek() != "chord":
                return ev
            chord = c.item()
            if chord.problem is not None or chord.head is None:
                return ev
            ev.heads.append(Head(chord.head.acc, chord.head.step, chord.head.octave))
            ev.head_index.append(chord.start)
    if tok in ("rest", "space"):
        it = c.item()
        return None if it.problem is not None else Ev(it.kind, start, dtype=it.dtype, dots=it.dots, ratio=ratio)
    if tok is not None and tok in _TOKEN_SET and split_token(tok)[0] == "clef":
        return Ev("clef", start, clef=c.item().arg or "")
    if tok == "tuplet":
        it = c.item()
        if it.problem is not None:
            return None
        return Ev("tuplet", start, ratio=(it.numbers[0], it.numbers[1]))
    if tok == "tuplet-end":
        c.item()
        return Ev("tuplet-end", start)
    _stray(c, f"{tok!r} cannot appear inside a voice")
    return None


def _voice(c: _Cursor) -> list[Ev]:
    c.item()  # voice
    voice: list[Ev] = []
    ratio = (1, 1)
    while c.peek() is not None and c.peek() not in _VOICE_END:
        ev = _event(c, ratio)
        if ev is None:
            continue
        if ev.kind == "tuplet":
            ratio = ev.ratio
        elif ev.kind == "tuplet-end":
            ratio = (1, 1)
        voice.append(ev)
    if not voice:
        c.problem("empty voice")
    return voice


def _staff(c: _Cursor) -> StaffBlock:
    st = StaffBlock(index=c.index())
    c.item()  # staff
    for kind in ("clef", "key", "time"):
        tok = c.peek()
        if tok is None or tok not in _TOKEN_SET or split_token(tok)[0] != kind:
            continue
        it = c.item()
        if it.problem is not None:
            continue
        st.header.append(it)
        if kind == "clef":
            st.clef = it.arg
        elif kind == "key":
            st.key = int(it.arg or 0)
        elif it.arg is None:
            st.time = (it.numbers[0], it.numbers[1], "")
        else:
            st.time = (*TIME_SYMBOLS[it.token], it.arg)
    reported = False
    while c.peek() is not None and c.peek() not in ("staff", "part", *BARLINES):
        if c.peek() == "voice":
            st.voice_starts.append(c.index())
            st.voices.append(_voice(c))
        else:  # only before the first voice: a voice takes everything up to the next structure token
            _stray(c, None if reported else "staff without a voice")
            reported = True
    if not st.voices and not reported:
        c.problem("staff without a voice")
    st.stop = c.index()
    return st


def _part(c: _Cursor) -> list[StaffBlock]:
    c.item()  # part
    staves: list[StaffBlock] = []
    reported = False
    while c.peek() is not None and c.peek() not in ("part", *BARLINES):
        if c.peek() == "staff":
            staves.append(_staff(c))
        else:  # only before the first staff: a staff runs up to the next staff, part or barline
            _stray(c, None if reported else "part without a staff")
            reported = True
    if not staves and not reported:
        c.problem("part without a staff")
    return staves


def _measure(c: _Cursor) -> MeasureBlock:
    m = c.measure = MeasureBlock()
    while c.peek() in MEASURE_MARKS:
        m.marks.append(c.item().token)
    reported = False
    while c.peek() is not None and c.peek() not in BARLINES:
        if c.peek() == "part":
            m.parts.append(_part(c))
        else:  # only before the first part: a part runs up to the next part or barline
            _stray(c, None if reported else f"expected 'part', got {c.peek()!r}")
            reported = True
    if not m.parts and not reported:
        c.problem(f"expected 'part', got {c.peek()!r}")
    if c.peek() is None:
        c.problem("sequence ends where a barline was expected")
    else:
        m.bar = c.item().token
    c.measure = None
    return m


def parse_tree(tokens: Sequence[str], *, strict: bool = True) -> TokenTree:
    """Model tokens -> the events and measure tree of the sequence.

    Args:
        tokens: model tokens; ``<bos>``/``<eos>``/``<pad>`` are ignored (strict: between measures).
        strict: raise at the first break of the syntax (True), or record every break in
            ``problems`` and keep what can be read (False; never raises).

    Raises:
        TokenSequenceError: (strict only) the sequence breaks the syntax; the message names the
            token index.
    """
    if strict:
        toks: Sequence[str] = tokens
        where: Sequence[int] = range(len(tokens))
    else:
        where = [i for i, t in enumerate(tokens) if t not in SPECIAL]
        toks = [tokens[i] for i in where]
    c = _Cursor(toks, where, len(tokens), strict)
    measures: list[MeasureBlock] = []
    while True:
        while c.peek() in SPECIAL:
            c.i += 1
        if c.peek() is None:
            break
        measures.append(_measure(c))
    if not measures:
        c.problem("empty token sequence: no measure", positioned=False)
    return TokenTree(measures, c.items, c.problems)


def parse_tokens(tokens: Sequence[str]) -> list[MeasureBlock]:
    """Model tokens -> measure blocks, strictly (what the MusicXML writer reads).

    Raises:
        TokenSequenceError: the sequence breaks the syntax; the message names the token index.
    """
    return parse_tree(tokens, strict=True).measures
