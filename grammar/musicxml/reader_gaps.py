"""Spell a silent stretch of a voice (a gap, a ``<forward>``, a pad) exactly with ``space`` values.

Plain values (type + 0-3 dots) spell every multiple of a 128th but not a gap left by a tuplet: a
voice that stops after one triplet eighth misses 5/3 quarters of a 4/4 measure. Such a gap is
split into plain spaces plus spaces inside a tuplet (``<tuplet:3/2> <space:quarter> <tuplet-end>
<space:quarter>``), so the measure stays exact instead of short. Which ratio: the one the context
suggests (the voice's last tuplet, the next note's tuplet), else the simplest one that works
(``RATIO_PREFERENCE``); within a ratio, the split with the fewest space tokens.
"""

from __future__ import annotations

import math

from grammar.durations import decompose

GRID = 2520  # ticks of a 128th: every multiple is spelled by plain values
BEAT = 32  # a quarter in 128ths: a boundary on any beat is as good as one on the bar line
MAX_NUMBER = 16  # ratios tried: numbers up to the default policy's tuplet limit
CANDIDATES = 16  # tuplet-part lengths tried per ratio besides the whole gap


def plain(ticks: int) -> list[tuple[str, int]] | None:
    """Plain (type, dots) values spelling ``ticks`` (greedy), [] for 0, None when impossible."""
    if ticks == 0:
        return []
    try:
        return decompose(ticks) if ticks > 0 else None
    except ValueError:
        return None


def _preference() -> list[tuple[int, int]]:
    """Common tuplets first (3:2, 5:4, 6:4, 7:4, 9:8 ..., then 2:3 and 4:3), then every other
    ratio in the policy range by size, so the choice is deterministic and musically plain."""
    common = []
    for a in range(3, MAX_NUMBER + 1):
        if a & (a - 1):  # not a power of two: a in the time of the power of two below it
            common.append((a, 1 << (a.bit_length() - 1)))
    common += [(2, 3), (4, 3)]
    others = sorted(
        ((a, n) for a in range(2, MAX_NUMBER + 1) for n in range(1, MAX_NUMBER + 1)
         if a != n and (a, n) not in common),
        key=lambda r: (r[0] + r[1], r[0]),
    )
    return common + others


RATIO_PREFERENCE: tuple[tuple[int, int], ...] = tuple(_preference())


def _alignment(pos: int) -> int:
    """How coarse a grid ``pos`` (ticks from the measure start) lies on: the largest power of two
    times a 128th dividing it (0 counts as the coarsest)."""
    if pos == 0:
        return 1 << 30
    if pos % GRID:
        return 0
    k = pos // GRID
    return k & -k


def _multipliers(gap: int, step: int) -> list[int]:
    """Candidate tuplet parts ``k * step``: the whole gap, and the first few k whose remainder
    ``gap - k * step`` lies on the 128th grid (solving k * step = gap mod GRID; a plain remainder
    off that grid, such as a lone dotted 128th, is not tried). Few candidates keep a long gap cheap."""
    ks = [gap // step] if gap % step == 0 else []
    g = math.gcd(step, GRID)
    r = gap % GRID
    if r % g == 0:
        period = GRID // g
        k0 = (r // g) * pow(step // g, -1, period) % period if period > 1 else 0
        k0 = k0 or period
        ks += range(k0, min(gap // step, k0 + CANDIDATES * period) + 1, period)
    return sorted(set(ks))


def tuplet_split(
    gap: int, ratio: tuple[int, int], tuplet_first: bool, start: int = 0
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]] | None:
    """Split ``gap`` ticks into plain values and printed values inside an ``actual:normal`` tuplet.

    Args:
        gap: length to spell, in ticks.
        ratio: (actual, normal) of the tuplet.
        tuplet_first: the tuplet part comes first (the gap starts inside a tuplet rhythm, e.g. a
            pad after a triplet) or last (the gap ends where a tuplet note continues).
        start: where the gap starts, in ticks from the measure start.

    Returns:
        (plain values, in-tuplet values) with the fewest tokens, then the boundary between the
        two parts on a beat if possible (a triplet is completed to the beat), then the shortest
        tuplet part; None when this ratio cannot spell the gap.
    """
    a, n = ratio
    if (GRID * n) % a:
        return None
    step = GRID * n // a
    best = None
    for q in (k * step for k in _multipliers(gap, step)):
        outside, inside = plain(gap - q), plain(q * a // n)
        if outside is None or inside is None:
            continue
        boundary = start + (q if tuplet_first else gap - q)
        cost = (len(outside) + len(inside), -min(_alignment(boundary), BEAT), q)
        if best is None or cost < best[0]:
            best = (cost, outside, inside)
    return None if best is None else (best[1], best[2])


def spell_with_tuplet(
    gap: int, hints: list[tuple[int, int]], tuplet_first: bool, start: int = 0
) -> tuple[tuple[int, int], list[tuple[str, int]], list[tuple[str, int]]] | None:
    """The first ratio of ``hints`` then ``RATIO_PREFERENCE`` that spells ``gap``.

    Returns (ratio, plain values, in-tuplet values) or None when no ratio can.
    """
    seen = set()
    for ratio in [*hints, *RATIO_PREFERENCE]:
        if ratio in seen:
            continue
        seen.add(ratio)
        split = tuplet_split(gap, ratio, tuplet_first, start)
        if split is not None:
            return ratio, split[0], split[1]
    return None
