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


def build_voice(events: list[Event], measure_len: int, dropped: Counter) -> tuple[list[Item], int]:
    """Events of one voice -> (items, length filled in ticks), truncated at ``measure_len``."""
    events = _resolve_untyped_rests(events, measure_len, dropped)
    items: list[Item] = []
    t = 0
    open_ratio: tuple[int, int] | None = None
    full = False

    def close() -> None:
        nonlocal open_ratio
        if open_ratio is not None:
            items.append(Item(Fraction(t), "tuplet-end", ["tuplet-end"]))
            open_ratio = None

    for ev in events:
        if full:
            if ev.kind != "space":
                dropped["overfull-truncated"] += 1
            continue
        gap = ev.start - t
        if gap > 0:
            close()
            gap_items = spaces(Fraction(t), min(gap, Fraction(measure_len - t)), dropped, "unspellable-gap")
            items += gap_items
            t += sum(i.ticks for i in gap_items)
        elif gap < 0 and ev.kind != "space" and not (ev.kind == "grace"):
            dropped["voice-overlap"] += 1
        if ev.kind == "space":
            close()
            room = Fraction(measure_len - t)
            gap_items = spaces(Fraction(t), min(ev.length, room), dropped, "unspellable-gap")
            items += gap_items
            t += sum(i.ticks for i in gap_items)
            continue
        if ev.kind == "grace":
            items.append(Item(Fraction(t), "grace", event_tokens(ev, dropped)))
            continue
        if t + ev.ticks > measure_len:
            dropped["overfull-truncated"] += 1
            full = True
            continue
        if ev.ratio is None or (open_ratio is not None and (ev.ratio != open_ratio or ev.tuplet_start)):
            close()
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
    """A voice made only of spaces (or nothing) is not a voice."""
    return any(i.kind in ("note", "rest", "grace") for i in items)


def insert_clef(items: list[Item], pos: Fraction, clef: str) -> None:
    """Put a mid-measure clef before the first event starting at or after ``pos``."""
    for idx, item in enumerate(items):
        if item.start >= pos and item.kind != "tuplet-end":
            items.insert(idx, Item(pos, "clef", [f"clef:{clef}"]))
            return
    items.append(Item(pos, "clef", [f"clef:{clef}"]))
