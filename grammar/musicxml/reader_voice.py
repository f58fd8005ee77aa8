"""Turn one voice's timed events (reader_measure.py) into canonical token items.

The voice's own clock ``t`` advances by printed lengths only; wherever the MusicXML cursor says the
next event starts later than ``t``, the gap becomes ``space`` events, spelled exactly (with spaces
inside a tuplet where plain values cannot; reader_gaps.py). Tuplet brackets are inferred: a group
is a maximal run of notes/rests/typed spaces with the same ``actual:normal``, split at an explicit
``<tuplet type="start">`` and closed after ``<tuplet type="stop">``; ``tuplet-end`` follows the
group's last member directly (grace notes after it are outside).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from grammar.durations import decompose, note_ticks
from grammar.musicxml.pitch import diatonic_index
from grammar.musicxml.reader_gaps import plain, spell_with_tuplet, tuplet_split
from grammar.musicxml.reader_measure import Event


@dataclass
class Item:
    """A run of tokens that belongs together (one event), with its start in the voice."""

    start: Fraction
    kind: str  # note rest grace space clef tuplet tuplet-end
    tokens: list[str]
    ticks: int = 0


def _dur(dtype: str, dots: int) -> list[str]:
    return [f"dur:{dtype}"] + ["dot"] * dots


def _pitch(p) -> list[str]:
    return ([f"acc:{p.acc}"] if p.acc else []) + [f"pitch:{p.step}{p.octave}"]


def event_tokens(ev: Event, dropped: Counter) -> list[str]:
    """Tokens of a note/grace (chord notes low -> high) or rest."""
    if ev.kind == "rest":
        return ["rest", "dur:measure"] if ev.measure_rest else ["rest", *_dur(ev.dtype, ev.dots)]
    pitches = sorted(ev.pitches, key=lambda p: diatonic_index(p.step, p.octave))
    out = [ev.kind, *_pitch(pitches[0]), *_dur(ev.dtype, ev.dots)] + (["tie"] if pitches[0].tie else [])
    seen = {(pitches[0].step, pitches[0].octave)}
    for p in pitches[1:]:
        if (p.step, p.octave) in seen:
            dropped["unison-chord-note"] += 1  # the language has one head per staff position
            continue
        seen.add((p.step, p.octave))
        out += ["chord", *_pitch(p)] + (["tie"] if p.tie else [])
    return out


def _resolve_untyped_rests(events: list[Event], measure_len: int, dropped: Counter) -> list[Event]:
    """Whole-measure rests stay ``rest dur:measure`` only when alone in their voice."""
    timed = [e for e in events if e.kind in ("note", "rest", "grace")]
    out: list[Event] = []
    for ev in events:
        if ev.kind == "rest" and (ev.measure_rest or ev.untyped):
            alone = len(timed) == 1
            if alone and (ev.measure_rest or ev.ticks == measure_len):
                ev.measure_rest, ev.ticks = True, measure_len
                out.append(ev)
                continue
            ticks = measure_len if ev.measure_rest else ev.ticks
            try:
                parts = decompose(ticks)
            except ValueError:
                dropped["rest-unspellable"] += 1
                continue
            if ev.measure_rest:
                dropped["measure-rest-not-alone"] += 1
            t = ev.start
            for dtype, dots in parts:
                n = note_ticks(dtype, dots)
                out.append(Event("rest", t, ticks=n, dtype=dtype, dots=dots))
                t += n
            continue
        out.append(ev)
    return out


class _VoiceBuilder:
    """Events of one voice -> items. ``t`` is the voice's own clock (printed lengths, int ticks);
    silence (cursor gaps and ``<forward>``s) is collected and spelled when the next event or the
    end of the voice shows where it ends."""

    def __init__(self, measure_len: int, dropped: Counter) -> None:
        self.mlen, self.dropped = measure_len, dropped
        self.items: list[Item] = []
        self.t = 0
        self.open_ratio: tuple[int, int] | None = None
        self.keep_open = False  # a tuplet opened by a gap must take the next event even at its <tuplet start>
        self.last_ratio: tuple[int, int] | None = None  # the voice's latest tuplet: a hint for gaps
        self.marks: list[Fraction] = []  # forward boundaries in the pending silence

    # -------------------------------------------------------------- tuplets
    def open(self, ratio: tuple[int, int]) -> None:
        self.open_ratio = self.last_ratio = ratio
        self.items.append(Item(Fraction(self.t), "tuplet", ["tuplet", f"n:{ratio[0]}", f"n:{ratio[1]}"]))

    def close(self) -> None:
        """``tuplet-end`` right after the tuplet's last note/rest/space: grace notes that follow
        it belong to what comes next (as the writer's ``<tuplet type="stop">`` says)."""
        if self.open_ratio is None:
            return
        idx = len(self.items)
        while idx > 0 and self.items[idx - 1].kind not in ("note", "rest", "space", "tuplet"):
            idx -= 1
        last = self.items[idx - 1]
        self.items.insert(idx, Item(last.start + last.ticks, "tuplet-end", ["tuplet-end"]))
        self.open_ratio = None

    def spaces(self, values: list[tuple[str, int]], ratio: tuple[int, int] = (1, 1)) -> None:
        for dtype, dots in values:
            n = note_ticks(dtype, dots, *ratio)
            self.items.append(Item(Fraction(self.t), "space", ["space", *_dur(dtype, dots)], n))
            self.t += n

    # -------------------------------------------------------------- silence
    def silence(self, start: Fraction, length: Fraction) -> None:
        """A ``<forward>`` of this voice: its ends are places where the spelling may cut."""
        self.marks += [start, start + length]

    def flush(self, end: Fraction, nxt: Event | None) -> None:
        """Spell the silence from ``t`` to ``end`` (before ``nxt``, or at the end of the voice)."""
        marks, self.marks = self.marks, []
        end = min(end, Fraction(self.mlen))
        if end <= self.t:
            return
        gap = end - self.t
        ratio = nxt.ratio if nxt is not None else None
        if nxt is not None and self.open_ratio is not None and ratio == self.open_ratio and not nxt.tuplet_start:
            a, n = self.open_ratio
            inside = plain(int(gap) * a // n) if gap.denominator == 1 and (int(gap) * a) % n == 0 else None
            if inside is not None:
                self.spaces(inside, self.open_ratio)  # a rest-like hole inside the running tuplet
                return
        self.close()
        # Cut at forward boundaries where what came before is spellable on its own.
        for b in sorted({m for m in marks if self.t < m < end} | {end}):
            seg = b - self.t
            values = plain(int(seg)) if seg.denominator == 1 else None
            if values is not None:
                self.spaces(values)
        gap = end - self.t
        if gap <= 0:
            return
        if gap.denominator != 1:
            self.dropped["unspellable-gap"] += 1
            return
        if ratio is not None:
            # The voice enters inside a tuplet: plain spaces, then spaces in the note's tuplet,
            # which the note then continues ("space:half <tuplet:3/2> space:eighth <note...>").
            split = tuplet_split(int(gap), ratio, tuplet_first=False, start=self.t)
            if split is not None:
                self.spaces(split[0])
                self.open(ratio)
                self.keep_open = True
                self.spaces(split[1], ratio)
                return
        hints = [self.last_ratio] if self.last_ratio else []
        spelled = spell_with_tuplet(int(gap), hints, tuplet_first=True, start=self.t)
        if spelled is None:
            self.dropped["unspellable-gap"] += 1
            return
        self.open(spelled[0])
        self.spaces(spelled[2], spelled[0])
        self.close()
        self.spaces(spelled[1])

    # -------------------------------------------------------------- events
    def member(self, ev: Event) -> bool:
        """A note, rest or typed space; False when it no longer fits (the voice is truncated)."""
        ticks = ev.ticks
        if self.t + ticks > self.mlen:
            return False
        if not self.keep_open and (ev.ratio is None or (self.open_ratio is not None and (
                ev.ratio != self.open_ratio or ev.tuplet_start))):
            self.close()
        self.keep_open = False
        if ev.ratio is not None and self.open_ratio is None:
            self.open(ev.ratio)
        tokens = ["space", *_dur(ev.dtype, ev.dots)] if ev.kind == "space" else event_tokens(ev, self.dropped)
        self.items.append(Item(Fraction(self.t), ev.kind, tokens, ticks))
        self.t += ticks
        if ev.tuplet_stop:
            self.close()
        return True


def _typed(ev: Event) -> bool:
    """A note, rest or invisible tuplet rest (a space with a printed value), not a forward."""
    return ev.kind in ("note", "rest") or (ev.kind == "space" and bool(ev.dtype))


def build_voice(events: list[Event], measure_len: int, dropped: Counter,
                fill_to: int | None = None) -> tuple[list[Item], int]:
    """Events of one voice -> (items, length filled in ticks), truncated at ``measure_len``.

    With ``fill_to`` the silence after the last event is spelled up to that length (the pad of a
    primary voice that ends early), together with any trailing ``<forward>``.
    """
    events = _resolve_untyped_rests(events, measure_len, dropped)
    b = _VoiceBuilder(measure_len, dropped)
    full = False
    next_member: list[Event | None] = [None] * len(events)
    upcoming = None
    for i in range(len(events) - 1, -1, -1):
        if _typed(events[i]):
            upcoming = events[i]
        next_member[i] = upcoming
    for i, ev in enumerate(events):
        if full:
            if _typed(ev) or ev.kind == "grace":
                dropped["overfull-truncated"] += 1
            continue
        if ev.kind == "space" and not ev.dtype:
            b.silence(ev.start, ev.length)
            continue
        if ev.start > b.t:
            b.flush(ev.start, next_member[i])
        elif ev.start < b.t and ev.kind in ("note", "rest"):
            dropped["voice-overlap"] += 1
        b.marks = []
        if ev.kind == "grace":
            b.items.append(Item(Fraction(b.t), "grace", event_tokens(ev, dropped)))
            continue
        if not b.member(ev):
            dropped["overfull-truncated"] += 1
            full = True
    if full:
        b.marks = []  # forwards after a truncated event are dropped with it; a pad still applies
    b.flush(max([*b.marks, Fraction(fill_to or 0)]), None)
    b.close()
    return b.items, b.t


def has_music(items: list[Item]) -> bool:
    """A voice needs a note or rest: spaces and grace notes alone do not make one."""
    return any(i.kind in ("note", "rest") for i in items)


def insert_clef(items: list[Item], pos: Fraction, clef: str) -> None:
    """Put a mid-measure clef into a voice at ``pos``.

    The clef goes before the first note/rest/space starting at or after ``pos`` (a clef in the
    middle of a note waits for the next one), after any ``tuplet-end`` and earlier clefs at that
    instant and before grace notes there; at or after the voice's end it goes last. This is where
    the writer puts it back, so reading the result again gives the same tokens.
    """
    end = max((i.start + i.ticks for i in items), default=Fraction(0))
    at = min((i.start for i in items if i.kind in ("note", "rest", "space") and i.start >= pos), default=end)
    if at < end:
        for idx, item in enumerate(items):
            if item.start >= at and item.kind not in ("tuplet-end", "clef"):
                items.insert(idx, Item(at, "clef", [f"clef:{clef}"]))
                return
    items.append(Item(pos, "clef", [f"clef:{clef}"]))
