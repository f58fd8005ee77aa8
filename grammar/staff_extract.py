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

from grammar.excerpt import read_measures
from grammar.token_tree import MeasureBlock
from grammar.vocab import MEASURE_MARKS

_BREAKS = ("pagebreak", "sysbreak")


def score_layout(tokens: Sequence[str]) -> list[int]:
    """Staves per part, read from the first measure (e.g. ``[1, 2]``: a voice and a piano)."""
    tree, measures = read_measures(tokens)
    if not measures:
        raise ValueError("the sequence holds no measure")
    _, parts = _staff_positions(tree.measures[0], measures[0], 1)
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
    tree, measures = read_measures(tokens)
    if not measures:
        raise ValueError("the sequence holds no measure")
    out: list[int] = []
    for number, (m, pos) in enumerate(zip(tree.measures, measures, strict=True), 1):
        marks, parts = _staff_positions(m, pos, number)
        if not 0 <= part < len(parts):
            raise ValueError(f"measure {number} has {len(parts)} parts, no part {part + 1}")
        staves = parts[part]
        if not 0 <= staff < len(staves):
            raise ValueError(f"measure {number}, part {part + 1} has {len(staves)} staves, no staff {staff + 1}")
        out += [j for j in marks if keep_breaks or tokens[j] not in _BREAKS]
        out += [-1, *staves[staff], pos[-1]]
    return [tokens[i] if i >= 0 else "part" for i in out], out


def extract_all_staves(tokens: Sequence[str]) -> list[tuple[int, int, list[str]]]:
    """Every staff as ``(part, staff, tokens)``, in score order (top to bottom in a system)."""
    return [(p, s, extract_staff(tokens, p, s)) for p, count in enumerate(score_layout(tokens)) for s in range(count)]


def _staff_positions(m: MeasureBlock, pos: list[int], number: int) -> tuple[list[int], list[list[list[int]]]]:
    """Positions (in the sequence) of a closed measure's leading marks and, per part and staff,
    of the tokens from ``staff`` up to the next staff, part or barline (grammar.token_tree's
    staves)."""
    items = m.items[:-1]  # the barline is last
    lead = 0
    while lead < len(items) and items[lead].kind in MEASURE_MARKS:
        lead += 1
    if lead == len(items) or items[lead].kind != "part":
        got = [m.items[lead].token] if lead < len(m.items) else []
        raise ValueError(f"measure {number} does not start with a part (got {got})")
    # Each part must open with a staff: the tree keeps what stands between as events only.
    for k, it in enumerate(items[lead:], lead):
        after = items[k + 1] if k + 1 < len(items) else None
        if it.kind == "part" and (after is None or after.kind == "part"):
            raise ValueError(f"measure {number}: part {sum(i.kind == 'part' for i in items[: k + 1])} has no staff")
        if it.kind == "part" and after is not None and after.kind != "staff":
            raise ValueError(f"measure {number}: {after.token!r} before the part's first staff")
    parts = [[[j for j in pos if st.index <= j < st.stop] for st in staves] for staves in m.parts]
    return [j for it in items[:lead] for j in range(it.start, it.stop)], parts
