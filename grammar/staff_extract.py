"""One staff of a score as a score of its own: staff k of part p, one part with one staff.

A staff-level training sample shows one staff cut from an engraved system; its label is that
staff alone. Every staff block of a canonical sequence already carries what a one-staff score
needs: the first measure states each staff's clef, key and time, later measures state changes
per staff, mid-measure clefs live in that staff's voices, and the staff's primary voice fills
every measure. So the extraction keeps, per measure, the measure marks, ``part staff``, that
staff's block (attributes and voices) and the barline, and drops every other staff.
"""

from __future__ import annotations

from collections.abc import Sequence

from grammar.excerpt import measure_indices

# Measure marks that come before the first part of a measure (docs/token-language.md, Syntax).
_MARKS = ("pagebreak", "sysbreak", "repeat-start")
_BREAKS = ("pagebreak", "sysbreak")


def score_layout(tokens: Sequence[str]) -> list[int]:
    """Staves per part, read from the first measure (e.g. ``[1, 2]``: a voice and a piano)."""
    measures = measure_indices(tokens)
    if not measures:
        raise ValueError("the sequence holds no measure")
    _, parts, _ = _parse_measure([tokens[i] for i in measures[0]], 1)
    return [len(p) for p in parts]


def extract_staff(tokens: Sequence[str], part: int, staff: int, *, keep_breaks: bool = False) -> list[str]:
    """Staff ``staff`` of part ``part`` (both 0-based) of a model-form sequence, as a one-part
    one-staff sequence (no ``<bos>``/``<eos>``).

    ``repeat-start`` is kept (it is drawn on every staff); ``pagebreak``/``sysbreak`` are kept
    only with ``keep_breaks`` (a cut-out staff has no systems of its own). Raises ValueError when
    the sequence is not measure-structured (a measure without parts, tokens after the last
    barline) or the score has no such part or staff.
    """
    out, _ = extract_staff_indexed(tokens, part, staff, keep_breaks=keep_breaks)
    return out


def extract_staff_indexed(
    tokens: Sequence[str], part: int, staff: int, *, keep_breaks: bool = False
) -> tuple[list[str], list[int]]:
    """``extract_staff`` plus, per output token, its index in ``tokens`` (-1 for the ``part``
    token each measure gets anew). With ``write_score(ids=True)`` a note's id is ``t{index}``, so
    this maps the staff label's ids to the ids of the full score's engraving."""
    measures = measure_indices(tokens)
    if not measures:
        raise ValueError("the sequence holds no measure")
    out: list[int] = []
    for number, m in enumerate(measures, 1):
        marks, parts, barline = _parse_measure([tokens[i] for i in m], number)
        if not 0 <= part < len(parts):
            raise ValueError(f"measure {number} has {len(parts)} parts, no part {part + 1}")
        staves = parts[part]
        if not 0 <= staff < len(staves):
            raise ValueError(f"measure {number}, part {part + 1} has {len(staves)} staves, no staff {staff + 1}")
        out += [m[j] for j in marks if keep_breaks or tokens[m[j]] not in _BREAKS]
        out += [-1, *(m[j] for j in staves[staff]), m[barline]]
    return [tokens[i] if i >= 0 else "part" for i in out], out


def extract_all_staves(tokens: Sequence[str]) -> list[tuple[int, int, list[str]]]:
    """Every staff as ``(part, staff, tokens)``, in score order (top to bottom in a system)."""
    return [(p, s, extract_staff(tokens, p, s)) for p, count in enumerate(score_layout(tokens)) for s in range(count)]


def _parse_measure(m: list[str], number: int) -> tuple[list[int], list[list[list[int]]], int]:
    """Positions in ``m`` of (marks, parts -> staves -> tokens from ``staff`` up to the next
    staff/part, barline)."""
    i = 0
    while i < len(m) and m[i] in _MARKS:
        i += 1
    if i >= len(m) - 1 or m[i] != "part":
        raise ValueError(f"measure {number} does not start with a part (got {m[i : i + 1]})")
    parts: list[list[list[int]]] = []
    for j in range(i, len(m) - 1):
        t = m[j]
        if t == "part":
            parts.append([])
        elif t == "staff":
            parts[-1].append([j])
        elif not parts[-1]:
            raise ValueError(f"measure {number}: {t!r} before the part's first staff")
        else:
            parts[-1][-1].append(j)
    for p, staves in enumerate(parts, 1):
        if not staves:
            raise ValueError(f"measure {number}: part {p} has no staff")
    return list(range(i)), parts, len(m) - 1
