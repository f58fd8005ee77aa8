"""Exact musical durations as integer ticks.

Why integer ticks: durations are summed per measure and compared for equality; floats would make
"is this measure full?" depend on rounding. ``TICKS_PER_QUARTER`` = 2**8 * 3**2 * 5 * 7 = 80640 is
divisible by every note value from breve to a triple-dotted 128th and by the tuplet ratios in
scope (3, 5, 6, 7, 9, 10, 12, ... over any power-of-two normal count), so every in-scope duration
is an exact integer.
"""

from __future__ import annotations

from fractions import Fraction

TICKS_PER_QUARTER = 80640
MAX_DOTS = 3

# Printed note types, longest first, and their length in quarters.
DURATION_TYPES: tuple[str, ...] = (
    "breve", "whole", "half", "quarter", "eighth", "16th", "32nd", "64th", "128th",
)
_QUARTERS: dict[str, Fraction] = {
    t: Fraction(8) / (2**i) for i, t in enumerate(DURATION_TYPES)
}


def type_ticks(dtype: str) -> int:
    """Undotted length of a printed note type in ticks."""
    if dtype not in _QUARTERS:
        raise ValueError(f"unknown duration type {dtype!r}")
    return int(_QUARTERS[dtype] * TICKS_PER_QUARTER)


def note_ticks(dtype: str, dots: int = 0, actual: int = 1, normal: int = 1) -> int:
    """Sounding length in ticks of a note of ``dtype`` with ``dots`` inside an ``actual:normal`` tuplet.

    Raises ValueError when the result is not a whole number of ticks (out of scope).
    """
    if not 0 <= dots <= MAX_DOTS:
        raise ValueError(f"dots must be 0..{MAX_DOTS}, got {dots}")
    base = Fraction(type_ticks(dtype))
    dotted = base * (2 - Fraction(1, 2**dots))
    value = dotted * normal / actual
    if value.denominator != 1:
        raise ValueError(f"{dtype} with {dots} dots in tuplet {actual}:{normal} is not a whole number of ticks")
    return int(value)


def measure_ticks(beats: int, beat_type: int) -> int:
    """Length of a measure of time signature ``beats/beat_type`` in ticks."""
    value = Fraction(4 * beats, beat_type) * TICKS_PER_QUARTER
    if value.denominator != 1:
        raise ValueError(f"time signature {beats}/{beat_type} is not a whole number of ticks")
    return int(value)


def decompose(ticks: int) -> list[tuple[str, int]]:
    """Split a length into printed (type, dots) values, longest first, greedily.

    Used for invisible spaces (MusicXML ``<forward>``) whose length must be spelled with the
    duration tokens. Raises ValueError when ``ticks`` cannot be spelled without tuplets.
    """
    if ticks <= 0:
        raise ValueError(f"cannot decompose non-positive length {ticks}")
    out: list[tuple[str, int]] = []
    rest = ticks
    for dtype in DURATION_TYPES:
        t = type_ticks(dtype)
        if t > rest:
            continue
        dots = 0
        total = t
        while dots < MAX_DOTS and total + t // 2 ** (dots + 1) <= rest and (t % 2 ** (dots + 1) == 0):
            dots += 1
            total += t // 2**dots
        out.append((dtype, dots))
        rest -= total
        if rest == 0:
            return out
    quarters = Fraction(ticks, TICKS_PER_QUARTER)
    raise ValueError(f"length {ticks} ticks ({quarters} quarters) cannot be spelled without tuplets")


def format_quarters(ticks: int) -> str:
    """A length as a musician reads it: as a fraction of a whole note ("7/8")."""
    f = Fraction(ticks, TICKS_PER_QUARTER * 4)
    return f"{f.numerator}/{f.denominator}"
