"""Cut a score's token sequence into measures and into standalone excerpts (for synth pages).

An excerpt of measures [start, stop) must be a valid sequence on its own: its first measure
re-states the clef, key and time in force on every staff, and page/system breaks (which cannot
open a sequence) are dropped from its start.
"""

from __future__ import annotations

from collections.abc import Sequence

from grammar.automaton import GrammarError, ScoreAutomaton
from grammar.state import StaffAttrs
from grammar.vocab import BARLINES, SPECIAL, split_token

_HEADER_KINDS = ("clef", "key", "time")


def measure_indices(tokens: Sequence[str]) -> list[list[int]]:
    """Indices into ``tokens`` of each measure's tokens (specials skipped), barline last.

    Raises ValueError if tokens follow the last barline (an unterminated measure).
    """
    measures: list[list[int]] = []
    cur: list[int] = []
    for i, t in enumerate(tokens):
        if t in SPECIAL:
            continue
        cur.append(i)
        if t in BARLINES:
            measures.append(cur)
            cur = []
    if cur:
        raise ValueError(f"{len(cur)} tokens after the last barline (the last measure is not closed)")
    return measures


def split_measures(tokens: Sequence[str]) -> list[list[str]]:
    """Measures of a model-form sequence, each ending with its barline (specials dropped).

    Raises ValueError if tokens follow the last barline (an unterminated measure).
    """
    return [[tokens[i] for i in m] for m in measure_indices(tokens)]


def _take_header(measure: list[str], i: int) -> tuple[dict[str, list[str]], int]:
    """Read the optional clef/key/time after a ``staff`` token at ``i``."""
    found: dict[str, list[str]] = {}
    while i < len(measure) and (kind := split_token(measure[i])[0]) in _HEADER_KINDS:
        t = measure[i]
        if t == "time":
            found["time"] = measure[i : i + 3]
            i += 3
        else:
            found[kind] = [t]
            i += 1
    return found, i


def excerpt(tokens: Sequence[str], start: int, stop: int) -> list[str]:
    """Measures [start, stop) (0-based) of ``tokens`` as a standalone sequence (no bos/eos).

    Raises ValueError for an empty or out-of-range slice, or when the prefix is not valid enough
    to know the clef, key and time in force.
    """
    measures = split_measures(tokens)
    if not 0 <= start < stop <= len(measures):
        raise ValueError(f"excerpt [{start}, {stop}) is outside the score's {len(measures)} measures")
    auto = ScoreAutomaton(strict=False)
    try:
        for t in (t for m in measures[:start] for t in m):
            auto.step(t)
    except GrammarError as err:
        raise ValueError(
            f"cannot cut an excerpt: the score before measure {start + 1} is invalid: {err}"
        ) from None
    first = [t for t in measures[start] if t not in ("pagebreak", "sysbreak")]
    out: list[str] = []
    flat = -1
    i = 0
    while i < len(first):
        t = first[i]
        out.append(t)
        i += 1
        if t != "staff":
            continue
        flat += 1
        header, i = _take_header(first, i)
        attrs = auto.staff_attrs[flat] if flat < len(auto.staff_attrs) else StaffAttrs()
        in_force: dict[str, list[str] | None] = {
            "clef": [attrs.clef] if attrs.clef is not None else None,
            "key": [f"key:{attrs.key}"] if attrs.key is not None else None,
            "time": list(attrs.time) if attrs.time is not None else None,
        }
        for name in _HEADER_KINDS:
            found = header.get(name) or in_force[name]
            if found is None:
                raise ValueError(
                    f"cannot cut an excerpt at measure {start + 1}: staff {flat + 1} has no {name}"
                )
            out += found
    for m in measures[start + 1 : stop]:
        out += m
    return out
