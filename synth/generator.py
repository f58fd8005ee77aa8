"""Procedural scores: random but plausible model-token sequences that cover the whole language.

``generate(rng, difficulty, measures)`` returns canonical model tokens (no ``<bos>``/``<eos>``).
Difficulty 0 gives one monophonic treble staff of simple values; 1 gives up to 4 parts of grand
staves with 4 voices, chords, tuplets, grace notes, ties, clef/key/time changes and every
clef, key and duration. Tuplets are mostly triplets (3:2), and duplets (2:3) in compound time;
quintuplets (5:4), sextuplets (6:4), septuplets (7:4, 7:8) and quadruplets (4:3, compound time)
grow more frequent with difficulty. Every measure's primary voice fills its time signature exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grammar.durations import DURATION_TYPES, measure_ticks, note_ticks, type_ticks
from grammar.vocab import ACCIDENTALS, CLEFS, KEY_FIFTHS, STEPS

TIMES: tuple[tuple[int, int] | str, ...] = (
    (4, 4),
    (3, 4),
    (2, 4),
    (6, 8),
    (9, 8),
    (12, 8),
    (2, 2),
    (3, 8),
    (5, 4),
    (7, 8),
    (3, 2),
    (4, 2),
    "C",
    "C|",
)
GRAIN = type_ticks("128th")  # every generated value is a whole number of 128ths
# (type index, type, dots, ticks) of every value a whole number of 128ths long; computed once.
VALUES = tuple(
    (i, t, dots, note_ticks(t, dots))
    for i, t in enumerate(DURATION_TYPES)
    for dots in range(4)
    if note_ticks(t, dots) % GRAIN == 0
)
COMPOUND = {(6, 8), (9, 8), (12, 8), (3, 8)}
# Tuplet kinds: (actual, normal, unit types, compound time only, weight). A tuplet spans ``normal``
# units and holds ``actual`` units of notes/rests; duplets and quadruplets appear in compound time
# as in real scores. Every unit stays a whole number of ticks in its ratio (checked at import).
TUPLETS: tuple[tuple[int, int, tuple[str, ...], bool, float], ...] = (
    (3, 2, ("quarter", "eighth", "16th"), False, 6.0),
    (5, 4, ("eighth", "16th", "32nd"), False, 1.0),
    (6, 4, ("16th", "32nd"), False, 1.0),
    (7, 4, ("16th", "32nd"), False, 0.7),
    (7, 8, ("16th", "32nd"), False, 0.5),
    (2, 3, ("quarter", "eighth"), True, 2.0),
    (4, 3, ("eighth", "16th"), True, 1.0),
)
for _a, _n, _units, _compound, _weight in TUPLETS:
    for _u in _units:
        note_ticks(_u, 0, _a, _n)  # raises ValueError if a unit is not a whole number of ticks
_BASE = {"G": ("G", 4), "F": ("F", 3), "C": ("C", 4), "p": ("B", 4)}  # clef sign -> pitch on its line
_SHIFT = {"8vb": -7, "8va": 7, "15mb": -14, "15ma": 14}


def _centre(clef: str) -> int:
    """Diatonic index (C0 = 0) of the middle staff line under ``clef``."""
    name = clef.split(":")[1]
    if name == "percussion":
        return 4 * 7 + 6  # B4 as in treble
    sign, *octave = name.split("-")
    step, oct_ = _BASE[sign[0]]
    line = int(sign[1])
    return 7 * oct_ + STEPS.index(step) + 2 * (3 - line) + (_SHIFT[octave[0]] if octave else 0)


def _time_tokens(t: tuple[int, int] | str) -> list[str]:
    return [f"time:{t}"] if isinstance(t, str) else ["time", f"n:{t[0]}", f"n:{t[1]}"]


def _measure_len(t: tuple[int, int] | str) -> int:
    return measure_ticks(*{"C": (4, 4), "C|": (2, 2)}.get(t, t))  # type: ignore[arg-type]


@dataclass
class _Voice:
    centre: int
    spread: int


class _Gen:
    def __init__(self, rng: np.random.Generator, difficulty: float) -> None:
        self.rng, self.d = rng, difficulty

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p * self.d)

    def pitch(self, v: _Voice, lo_off: int = 0) -> tuple[list[str], int]:
        idx = int(np.clip(v.centre + lo_off + self.rng.integers(-v.spread, v.spread + 1), 0, 69))
        acc = []
        if self.rng.random() < 0.1 + 0.2 * self.d:
            weights = np.array([4, 4, 3, self.d, self.d]) + 1e-9
            acc = [f"acc:{ACCIDENTALS[int(self.rng.choice(5, p=weights / weights.sum()))]}"]
        return [*acc, f"pitch:{STEPS[idx % 7]}{idx // 7}"], idx

    def value(self, remaining: int) -> tuple[str, int, int]:
        """A (type, dots, ticks) that fits ``remaining`` and leaves a whole number of 128ths."""
        lo = 3 + int(self.d * 5)  # shortest type index: eighth at 0 ... 128th at 1
        options, weights = [], []
        max_dots = int(self.d * 3.99)
        for i, t, dots, v in VALUES:
            if i <= lo and dots <= max_dots and v <= remaining:
                options.append((t, dots, v))
                weights.append((1.0 / (1 + abs(i - 3))) * (0.35**dots))
        if not options:  # only 128ths fit
            return "128th", 0, GRAIN
        w = np.array(weights)
        return options[int(self.rng.choice(len(options), p=w / w.sum()))]

    def event(
        self, v: _Voice, dtype: str, dots: int, tie_pitch: list[str] | None, rest_ok: bool
    ) -> list[str]:
        dur = [f"dur:{dtype}"] + ["dot"] * dots
        if tie_pitch is None and rest_ok and self.rng.random() < 0.15:
            return ["rest", *dur]
        p, idx = (tie_pitch, -1) if tie_pitch else self.pitch(v)
        out = ["note", *p, *dur]
        if tie_pitch is None and self.chance(0.35):
            top = idx if idx >= 0 else v.centre
            for _ in range(int(self.rng.integers(1, 4))):
                top += int(self.rng.integers(1, 4))
                if top >= 69:
                    break
                out += ["chord", f"pitch:{STEPS[top % 7]}{top // 7}"]
        return out

    def tuplet(self, v: _Voice, remaining: int, compound: bool) -> tuple[list[str], int] | None:
        """A whole tuplet that fits ``remaining`` ticks (tokens, ticks it spans), or None."""
        shortest = 3 + int(self.d * 5)  # as in ``value``: no shorter type than the difficulty allows
        kinds, weights = [], []
        for a, n, units, compound_only, w in TUPLETS:
            if compound_only and not compound:
                continue
            for u in units:
                if DURATION_TYPES.index(u) <= shortest and n * type_ticks(u) <= remaining:
                    kinds.append((a, n, u))
                    # 3:2 from the start; the rarer ratios grow with difficulty.
                    weights.append(w if (a, n) in ((3, 2), (2, 3)) else w * self.d)
        if not kinds:
            return None
        p = np.array(weights) / sum(weights)
        a, n, unit = kinds[int(self.rng.choice(len(kinds), p=p))]
        longer = DURATION_TYPES[DURATION_TYPES.index(unit) - 1]
        out, filled = ["tuplet", f"n:{a}", f"n:{n}"], 0
        while filled < a:  # ``a`` units of notes/rests, some of them two units long
            two = a - filled >= 2 and self.rng.random() < 0.25 * self.d
            out += self.event(v, longer if two else unit, 0, None, True)
            filled += 2 if two else 1
        out.append("tuplet-end")
        return out, n * type_ticks(unit)

    def voice(self, v: _Voice, length: int, clefs: list[str], compound: bool = False) -> list[str]:
        """One voice filling ``length`` ticks; ``clefs`` empty forbids mid-measure clef changes."""
        if self.rng.random() < 0.04:
            return ["voice", "rest", "dur:measure"]
        out, remaining, tie = ["voice"], length, None
        while remaining > 0:
            if self.chance(0.06):
                out += ["grace", *self.pitch(v)[0], f"dur:{self.rng.choice(['eighth', '16th'])}"]
            if tie is None and self.chance(0.12):
                tup = self.tuplet(v, remaining, compound)
                if tup is not None:
                    out += tup[0]
                    remaining -= tup[1]
                    continue
            dtype, dots, ticks = self.value(remaining)
            ev = self.event(v, dtype, dots, tie, True)
            out += ev
            tie = None
            remaining -= ticks
            if ev[0] == "note" and remaining > 0 and "chord" not in ev and self.chance(0.15):
                out.append("tie")
                tie = [t for t in ev[1:] if t.startswith("pitch:")]
            if remaining > 0 and clefs and self.chance(0.02):
                out.append(str(self.rng.choice(clefs)))
                clefs = []  # at most one change per measure: a second could restate the first
        return out


def generate(rng: np.random.Generator, difficulty: float = 0.5, measures: int = 8) -> list[str]:
    """A random valid score of ``measures`` measures (see module docstring)."""
    g = _Gen(rng, float(np.clip(difficulty, 0.0, 1.0)))
    d = g.d
    n_parts = 1 + int(rng.integers(0, 1 + int(d * 3.99)))
    staves = [1 + int(rng.random() < d) for _ in range(n_parts)]
    clefs = [f"clef:{c}" for c in CLEFS]
    staff_clefs = []
    for n in staves:
        if n == 2 and rng.random() < 0.7:
            staff_clefs += ["clef:G2", "clef:F4"]
        else:
            staff_clefs += ["clef:G2" if rng.random() > d else str(rng.choice(clefs)) for _ in range(n)]
    key = int(rng.choice(KEY_FIFTHS)) if rng.random() < 0.3 + 0.7 * d else 0
    time = TIMES[int(rng.integers(len(TIMES)))] if rng.random() < 0.4 + 0.6 * d else (4, 4)
    n_voices = [1 + int(rng.integers(0, 1 + int(d * 3.99))) for _ in staff_clefs]
    out: list[str] = []
    for m in range(measures):
        new_key = new_time = None
        if m == 0:
            new_key, new_time = key, time
        elif g.chance(0.06):  # a change restates nothing: the new key differs from the old
            new_key = key = int(rng.choice([k for k in KEY_FIFTHS if k != key]))
        elif g.chance(0.05):
            new_time = time = TIMES[int(rng.choice([i for i, t in enumerate(TIMES) if t != time]))]
        length = _measure_len(time)
        if m > 0 and g.chance(0.04):
            out.append("repeat-start")
        s = 0
        for n in staves:
            out.append("part")
            for _ in range(n):
                out.append("staff")
                if m == 0 or g.chance(0.03):
                    if m > 0:  # a restated clef would be dropped by the reader: change it
                        staff_clefs[s] = str(rng.choice([c for c in clefs if c != staff_clefs[s]]))
                    out.append(staff_clefs[s])
                if new_key is not None:
                    out.append(f"key:{new_key}")
                if new_time is not None:
                    out += _time_tokens(new_time)
                centre = _centre(staff_clefs[s])
                for vi in range(n_voices[s]):
                    offset = (4 - 8 * vi // max(1, n_voices[s] - 1)) if n_voices[s] > 1 else 0
                    # A clef change belongs to the staff; canonically it sits in the primary voice.
                    others = [c for c in clefs if c != staff_clefs[s]] if vi == 0 else []
                    voice = g.voice(_Voice(centre + offset, 3 + int(4 * d)), length, others, time in COMPOUND)
                    staff_clefs[s] = next(
                        (t for t in reversed(voice) if t.startswith("clef:")), staff_clefs[s]
                    )
                    out += voice
                s += 1
        if m == measures - 1:
            out.append("bar:final")
        else:
            out.append(
                str(rng.choice(["bar", "bar:double", "bar:repeat-end"], p=[0.9, 0.05, 0.05])) if d else "bar"
            )
    return out
