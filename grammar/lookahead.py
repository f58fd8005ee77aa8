"""Look-ahead queries on a ``ScoreState``: can the current voice still end well if this comes now?

These keep the automaton free of dead ends: a duration, event or tuplet is only allowed if what is
left of the measure can still be spelled afterwards (grammar/fill.py). They never change the state.
Answers depend only on the ticks left, the open tuplet and whether the voice may end short, so they
are memoised on exactly that in the policy's shared ``FillTable.cache``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import numpy as np

from grammar import classes as C
from grammar.fill import PLAIN
from grammar.state import ScoreState

T = TypeVar("T")

_CACHE_LIMIT = 200_000  # entries; a few MB, and real scores use a few thousand


def _cached(s: ScoreState, key: str, ticks: int, tup: tuple[int, int] | None, fn: Callable[[], T]) -> T:
    """``fn()`` memoised on what it depends on: ``ticks`` left, the tuplet and may-be-short."""
    cache = s.fills.cache
    full = (key, ticks, tup, s.short_ok())
    if full not in cache:
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        cache[full] = fn()
    return cast(T, cache[full])  # the key names the fn that filled the entry


def _fin_out(s: ScoreState, r: np.ndarray) -> np.ndarray:
    """Outside a tuplet, can the voice still end well with r ticks left?"""
    if s.short_ok():
        return r >= 0
    return s.fills.fillable_vec(r)


def _fin_tup(s: ScoreState, r: np.ndarray, ratio: tuple[int, int]) -> np.ndarray:
    """Inside a tuplet that already has a note: close it now or after one more note."""
    r = np.asarray(r, dtype=np.int64)
    if s.short_ok():
        return r >= 0
    units = s.fills.unit_arrays[ratio]
    more = s.fills.fillable_vec(r[..., None] - units).any(axis=-1)
    return s.fills.fillable_vec(r) | more


def valid_table(s: ScoreState) -> np.ndarray:
    """(9, 4): which (type, dots) keep the voice finishable if taken now (from the ticks left
    before the pending event)."""
    tup, before = s.current.tup, s.event.ticks_before

    def compute() -> np.ndarray:
        units = PLAIN if tup is None else s.fills.scaled[tup]
        r = before - units
        fin = _fin_out(s, r) if tup is None else _fin_tup(s, r, tup)
        return (units > 0) & fin

    return _cached(s, "valid", before, tup, compute)


def event_fits(s: ScoreState, c: int) -> bool:
    """Can a note/rest/space start here and still leave a finishable voice?"""
    if c in (C.REST, C.SPACE) and s.measure_rest_ok():
        return True
    left, tup = s.current.ticks_left, s.current.tup

    def compute() -> bool:
        if left <= 0:
            return False
        if tup is None:
            return bool(_fin_out(s, left - PLAIN).any())
        return bool(_fin_tup(s, left - s.fills.unit_arrays[tup], tup).any())

    return _cached(s, "event", left, tup, compute)


def ratio_fits(s: ScoreState, a: int, n: int) -> bool:
    """Can an ``a:n`` tuplet open here with at least one note that leaves the voice finishable?"""
    left = s.current.ticks_left
    if (a, n) not in s.fills.ratio_set or left <= 0:
        return False
    units = s.fills.unit_arrays[(a, n)]
    return _cached(s, "ratio", left, (a, n), lambda: bool(_fin_tup(s, left - units, (a, n)).any()))


def actual_ok(s: ScoreState, a: int) -> bool:
    """Some tuplet with ``a`` actual notes fits here."""
    return any(ratio_fits(s, a, n) for n in s.fills.normals.get(a, ()))


def tuplet_fits(s: ScoreState) -> bool:
    """Some tuplet may open here."""
    v = s.current
    if v.tup is not None or v.full or v.ticks_left <= 0:
        return False
    return _cached(s, "tuplet", v.ticks_left, None, lambda: any(ratio_fits(s, a, n) for a, n in s.fills.ratios))


def fillable_now(s: ScoreState) -> bool:
    """The voice could end (or close its tuplet) with what it has now."""
    return s.short_ok() or s.fills.fillable(s.current.ticks_left)


def dots_state(s: ScoreState) -> tuple[bool, bool]:
    """(a dot may follow, the pending duration may end here)."""
    e = s.event
    if not e.dots_pending:
        return False, True
    if e.valid is None:
        return e.dots < 3, True
    row = e.valid[e.dur_type]  # (4,) which dot counts keep the measure finishable
    return bool(e.dots < 3 and row[e.dots + 1 :].any()), bool(row[e.dots])
