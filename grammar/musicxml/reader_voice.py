"""Turn one voice's timed events (reader_measure.py) into canonical token items.

The voice's own clock ``t`` advances by printed lengths only; wherever the MusicXML cursor says the
next event starts later than ``t``, the gap becomes ``space`` events. Tuplet brackets are inferred:
a group is a maximal run of notes/rests with the same ``actual:normal``, split at an explicit
``<tuplet type="start">`` and closed after ``<tuplet type="stop">``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from grammar.durations import decompose, note_ticks
from grammar.musicxml.pitch import diatonic_index
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


def spaces(start: Fraction, ticks: Fraction, dropped: Counter, reason: str) -> list[Item]:
    """``space`` items spelling a gap, or none (counted) when it cannot be spelled."""
    if ticks <= 0:
        return []
    if ticks.denominator != 1:
        dropped[reason] += 1
        return []
    try:
        parts = decompose(int(ticks))
    except ValueError:
        dropped[reason] += 1
        return []
    out, t = [], start
    for dtype, dots in parts:
        n = note_ticks(dtype, dots)
        out.append(Item(t, "space", ["space", *_dur(dtype, dots)], n))
        t += n
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


def _plain(ticks: int) -> list[tuple[str, int]] | None:
    try:
        return decompose(ticks) if ticks > 0 else []
    except ValueError:
        return None


def tuplet_gap(gap: int, ratio: tuple[int, int]) -> tuple[int, list[tuple[str, int]]] | None:
    """Split a gap that plain values cannot spell into ``p`` plain ticks + spaces inside a tuplet.

    A voice that enters in the middle of a triplet leaves a gap such as 7/3 quarters; spelled as
    ``space:half <tuplet:3/2> space:eighth`` (then the voice's own triplet notes) it is exact.
    Returns (p, printed values of the in-tuplet part), choosing the fewest space tokens and then
    the longest in-tuplet part, or None when no split exists.
    """
    a, n = ratio
    grid = 2520  # a 128th: every multiple of it is spelled by plain values
    if (grid * n) % a:
        return None
    step = grid * n // a
    best = None
    for q in range(step, gap + 1, step):
        plain, inner = _plain(gap - q), _plain(q * a // n)
        if plain is None or inner is None:
            continue
        cost = (len(plain) + len(inner), -q)
        if best is None or cost < best[0]:
            best = (cost, gap - q, inner)
    return None if best is None else (best[1], best[2])


def build_voice(events: list[Event], measure_len: int, dropped: Counter) -> tuple[list[Item], int]:
    """Events of one voice -> (items, length filled in ticks), truncated at ``measure_len``."""
    events = _resolve_untyped_rests(events, measure_len, dropped)
    items: list[Item] = []
    t = 0
    open_ratio: tuple[int, int] | None = None
    keep_open = False  # a tuplet opened by a gap must take the next event even at its <tuplet start>
    full = False
    next_ratio: list[tuple[int, int] | None] = [None] * len(events)
    upcoming = None
    for i in range(len(events) - 1, -1, -1):
        if events[i].kind in ("note", "rest"):
            upcoming = events[i].ratio
        next_ratio[i] = upcoming

    def close() -> None:
        nonlocal open_ratio
        if open_ratio is not None:
            items.append(Item(Fraction(t), "tuplet-end", ["tuplet-end"]))
            open_ratio = None

    def fill(amount: Fraction, ratio: tuple[int, int] | None, count: bool) -> None:
        nonlocal t, open_ratio, keep_open
        amount = min(amount, Fraction(measure_len - t))
        if amount <= 0:
            return
        close()
        plain = _plain(int(amount)) if amount.denominator == 1 else None
        if plain is not None:
            for dtype, dots in plain:
                n = note_ticks(dtype, dots)
                items.append(Item(Fraction(t), "space", ["space", *_dur(dtype, dots)], n))
                t += n
            return
        split = tuplet_gap(int(amount), ratio) if ratio and amount.denominator == 1 else None
        if split is None:
            if count:
                dropped["unspellable-gap"] += 1
            return
        assert ratio is not None  # tuplet_gap only splits when a ratio was given
        fill(Fraction(split[0]), None, count)
        open_ratio, keep_open = ratio, True
        items.append(Item(Fraction(t), "tuplet", ["tuplet", f"n:{ratio[0]}", f"n:{ratio[1]}"]))
        for dtype, dots in split[1]:
            n = note_ticks(dtype, dots, *ratio)
            items.append(Item(Fraction(t), "space", ["space", *_dur(dtype, dots)], n))
            t += n

    for i, ev in enumerate(events):
        if full:
            if ev.kind != "space":
                dropped["overfull-truncated"] += 1
            continue
        gap = ev.start - t
        if gap > 0:
            # Before a forward, an unspellable gap waits: it merges with the gap before the next note.
            timed = ev.kind != "space"
            fill(gap, next_ratio[i] if timed else None, count=timed)
        elif gap < 0 and ev.kind not in ("space", "grace"):
            dropped["voice-overlap"] += 1
        if ev.kind == "space":
            # An unspellable forward is left to the gap before the next event (maybe in a tuplet).
            fill(ev.length, None, count=i == len(events) - 1)
            continue
        if ev.kind == "grace":
            items.append(Item(Fraction(t), "grace", event_tokens(ev, dropped)))
            continue
        if t + ev.ticks > measure_len:
            dropped["overfull-truncated"] += 1
            full = True
            continue
        if not keep_open and (ev.ratio is None or (open_ratio is not None and (ev.ratio != open_ratio
                                                                               or ev.tuplet_start))):
            close()
        keep_open = False
        if ev.ratio is not None and open_ratio is None:
            open_ratio = ev.ratio
            items.append(Item(Fraction(t), "tuplet", ["tuplet", f"n:{ev.ratio[0]}", f"n:{ev.ratio[1]}"]))
        items.append(Item(Fraction(t), ev.kind, event_tokens(ev, dropped), ev.ticks))
        t += ev.ticks
        if ev.tuplet_stop:
            close()
    close()
    return items, t


def has_music(items: list[Item]) -> bool:
    """A voice needs a note or rest: spaces and grace notes alone do not make one."""
    return any(i.kind in ("note", "rest") for i in items)


def insert_clef(items: list[Item], pos: Fraction, clef: str) -> None:
    """Put a mid-measure clef before the first event starting at or after ``pos``."""
    for idx, item in enumerate(items):
        if item.start >= pos and item.kind != "tuplet-end":
            items.insert(idx, Item(pos, "clef", [f"clef:{clef}"]))
            return
    items.append(Item(pos, "clef", [f"clef:{clef}"]))
