"""One score from staves read one by one: the inverse of ``grammar.staff_extract``.

A page read staff by staff gives, per system, one one-part one-staff sequence per staff. A score
needs more: staff i of every system continues the same part, a brace makes two staves one part,
every staff of a system has the same number of measures and the same time signature, and the
attributes a staff restates at each system start (clef, key; the decoder also states a time,
which the language requires in a first measure) are courtesy signs that ``sysbreak`` implies.

The reconciliation is done after decoding, joint over the staves of a system:

- **Measure count**: the most common count among the system's staves (ties: the larger); a staff
  with fewer measures is padded with whole-measure rests, one with more loses its last measures.
- **Time signature**: the most common time among the staves at the system start (ties: the top
  staff's); a staff that read another time keeps its notes when the two measure lengths are equal
  (``C`` vs ``4/4``), otherwise its measures in that system become whole-measure rests.
- **Barlines and measure marks** (``repeat-start``) come from the system's top staff.
- **Short measures**: a staff's decode may end (or begin) its system with a short measure, which
  a sequence allows only at its very end (or start); inside the score the primary voice of such a
  measure is filled up with invisible ``space``.
- **Attributes**: each staff's clef/key/time are tracked over the whole score and stated only
  where they change (in the first measure always).

Every change is listed in :attr:`Assembly.changes`, so a caller can report it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from grammar.durations import decompose, measure_ticks, note_ticks
from grammar.excerpt import read_measures
from grammar.token_tree import Ev, MeasureBlock, positions
from grammar.vocab import MEASURE_MARKS, TIME_SYMBOLS, number_arg, split_token

WHOLE_MEASURE_REST = ("voice", "rest", "dur:measure")


@dataclass
class StaffMeasure:
    """One measure of a one-staff sequence, split into its parts.

    Attributes:
        marks: ``repeat-start`` etc. before ``part`` (breaks are dropped: the page decides them).
        clef, key: The ``clef:*`` / ``key:*`` token stated at the measure start, or None.
        time: The time tokens stated (``("time", "n:3", "n:4")`` or ``("time:C",)``), or None.
        voices: Everything from the first ``voice`` to the barline (exclusive).
        barline: The closing barline token.
        primary_ticks: Length in ticks of the first voice; None for ``dur:measure`` (or no voice).
        primary_end: Where in ``voices`` the first voice ends.
    """

    marks: list[str]
    clef: str | None
    key: str | None
    time: tuple[str, ...] | None
    voices: list[str]
    barline: str
    primary_ticks: int | None = None
    primary_end: int = 0


@dataclass
class Assembly:
    """The assembled score (model tokens, no ``<bos>``/``<eos>``) and what reconciliation changed."""

    tokens: list[str]
    measures_per_system: list[int]
    changes: list[str] = field(default_factory=list)


def parse_staff(tokens: Sequence[str]) -> list[StaffMeasure]:
    """Split a one-part one-staff sequence into measures; raises ValueError when it is not one.

    The measures are grammar.token_tree's, read tolerantly: a decoded staff may hold broken
    events, which stay in its voices' tokens for the automaton to judge.
    """
    tree, indices = read_measures(tokens)
    return [_staff_measure(tokens, m, pos, n) for n, (m, pos) in enumerate(zip(tree.measures, indices, strict=True), 1)]


def _staff_measure(tokens: Sequence[str], m: MeasureBlock, pos: list[int], number: int) -> StaffMeasure:
    opening = [it.token for it in m.items if it.kind not in MEASURE_MARKS][:2]
    if opening != ["part", "staff"] or not m.parts or not m.parts[0]:
        raise ValueError(f"measure {number} does not start with `part staff`")
    layout = [it.token for it in m.items if it.kind in ("part", "staff")]
    if layout.count("part") > 1 or layout.count("staff") > 1:
        raise ValueError(f"measure {number} has more than one part or staff")
    st = m.parts[0][0]
    header = {it.kind: tuple(tokens[j] for j in positions(tokens, [it])) for it in st.header}
    clef, key = header.get("clef"), header.get("key")
    voice_pos = [j for j in pos[:-1] if st.voice_starts and j >= st.voice_starts[0]]
    ticks: int | None = None
    if st.voices:
        ticks = primary_voice_ticks(st.voices[0])
    end = voice_pos.index(st.voice_starts[1]) if len(st.voice_starts) > 1 else len(voice_pos)
    return StaffMeasure(
        [k for k in m.marks if k == "repeat-start"], clef[0] if clef else None, key[0] if key else None,
        header.get("time"), [tokens[j] for j in voice_pos], str(m.bar), ticks, end,
    )


def time_ticks(time: tuple[str, ...]) -> int:
    """Measure length in ticks of a time signature's tokens."""
    if time[0] in TIME_SYMBOLS:
        return measure_ticks(*TIME_SYMBOLS[time[0]])
    return measure_ticks(number_arg(time[1]), number_arg(time[2]))


def primary_voice_ticks(voice: Sequence[Ev]) -> int | None:
    """Length in ticks of a voice of the token tree; None for ``dur:measure``."""
    ticks = 0
    for ev in voice:
        if ev.kind in ("note", "rest", "space"):
            if ev.dtype == "measure":
                return None
            ticks += note_ticks(ev.dtype, ev.dots, *ev.ratio)
    return ticks


def _fill_primary_voice(voices: list[str], have: int | None, end: int, length: int) -> list[str]:
    """``voices`` with the first voice (``voices[:end]``, ``have`` ticks long) filled up to
    ``length`` ticks with ``space`` events."""
    if have is None or have >= length:
        return voices
    try:
        pad = [tok for dtype, dots in decompose(length - have) for tok in ("space", f"dur:{dtype}", *["dot"] * dots)]
    except ValueError:  # a gap that needs a tuplet to spell: the whole measure becomes a rest
        return list(WHOLE_MEASURE_REST)
    return voices[:end] + pad + voices[end:]


def _mode(values: list, prefer_first: bool) -> object:
    counts = Counter(values)
    top = max(counts.values())
    tied = [v for v in values if counts[v] == top]
    return tied[0] if prefer_first else max(tied)


def assemble_staves(systems: Sequence[Sequence[Sequence[str]]], parts: Sequence[int]) -> Assembly:
    """One score from per-system lists of one-staff sequences (top staff first).

    Args:
        systems: ``systems[s][i]`` is the decoded sequence of staff i of system s.
        parts: Staves per part, top to bottom (e.g. ``[1, 2]`` for voice + piano); their sum is the
            number of staves every system must have. A system with fewer staves gets
            whole-measure rests for the missing ones, extra staves are dropped (both reported).

    Raises:
        ValueError: no systems, a layout that does not add up, or a staff that is not a
            one-part one-staff sequence.
    """
    n_staves = sum(parts)
    if not systems or n_staves < 1 or min(parts, default=0) < 1:
        raise ValueError(f"nothing to assemble ({len(systems)} systems, parts {list(parts)})")
    changes: list[str] = []
    state: list[dict[str, object]] = [{} for _ in range(n_staves)]  # clef/key/time per staff
    out: list[str] = []
    counts: list[int] = []
    for s, staves in enumerate(systems):
        parsed = [parse_staff(seq) for seq in staves[:n_staves]]
        if len(staves) != n_staves:
            changes.append(f"system {s + 1}: {len(staves)} staves read, the score has {n_staves}")
        have = [len(p) for p in parsed if p]
        n_measures = int(_mode(have, prefer_first=False)) if have else 1  # type: ignore[call-overload]
        for i, p in enumerate(parsed):
            if len(p) != n_measures:
                changes.append(f"system {s + 1}, staff {i + 1}: {len(p)} measures read, {n_measures} kept")
        # Times each staff states at the system start (or carries from before).
        times = [(p[0].time if p and p[0].time else state[i].get("time")) for i, p in enumerate(parsed)]
        known = [t for t in times if t]
        system_time = _mode(known, prefer_first=True) if known else ("time", "n:4", "n:4")
        assert isinstance(system_time, tuple)
        for j in range(n_measures):
            measure: list[str] = ["sysbreak"] if s and j == 0 else []
            top = parsed[0][j] if parsed and j < len(parsed[0]) else None
            if j and top is not None and top.time:
                system_time = top.time  # a time change inside the system: the top staff's
            measure += top.marks if top else []
            staff_no = 0
            for count in parts:
                measure.append("part")
                for _ in range(count):
                    # Only the score's first and last measures may be short.
                    inner = (s, j) != (0, 0) and (s, j) != (len(systems) - 1, n_measures - 1)
                    measure += _staff_block(parsed, staff_no, j, s, system_time, state, changes, inner)
                    staff_no += 1
            measure.append(top.barline if top else "bar")
            out += measure
        counts.append(n_measures)
    # The decoder closes every staff with its own last barline; the score's last one is the top's.
    return Assembly(out, counts, changes)


def _staff_block(parsed: list[list[StaffMeasure]], i: int, j: int, s: int, system_time: tuple[str, ...],
                 state: list[dict[str, object]], changes: list[str], inner: bool) -> list[str]:
    """``staff [clef] [key] [time] voices`` of staff i, measure j of system s; updates ``state``."""
    staff = parsed[i] if i < len(parsed) else []
    m = staff[j] if j < len(staff) else None
    st = state[i]
    first_of_score = "time" not in st
    clef = (m.clef if m and m.clef else None) or st.get("clef") or "clef:G2"
    key = (m.key if m and m.key else None) or st.get("key") or "key:0"
    block = ["staff"]
    if first_of_score or clef != st.get("clef"):
        block.append(str(clef))
    if first_of_score or key != st.get("key"):
        block.append(str(key))
    time = system_time
    if j == 0 and staff and staff[0].time and staff[0].time != system_time:
        if time_ticks(staff[0].time) != time_ticks(system_time):
            changes.append(f"system {s + 1}, staff {i + 1}: read {' '.join(staff[0].time)}, "
                           f"the system's time is {' '.join(system_time)}; its measures became rests")
            st["mismatch"] = s
        else:
            st.pop("mismatch", None)
    elif j == 0:
        st.pop("mismatch", None)
    if first_of_score or time != st.get("time"):
        block += list(time)
    if m is not None and st.get("mismatch") != s and m.voices:
        voices, have, end = list(m.voices), m.primary_ticks, m.primary_end
    else:
        voices, have, end = list(WHOLE_MEASURE_REST), None, len(WHOLE_MEASURE_REST)
    if inner:
        voices = _fill_primary_voice(voices, have, end, time_ticks(time))
    st.update(clef=clef, key=key, time=time)
    # A clef change inside a voice is the staff's clef from then on.
    mid = [t for t in voices if split_token(t)[0] == "clef"]
    if mid:
        st["clef"] = mid[-1]
    return block + voices
