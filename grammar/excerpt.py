"""Cut a score's token sequence into measures and into standalone excerpts (for synth pages).

An excerpt of measures [start, stop) must be a valid sequence on its own: its first measure
re-states the clef, key and time in force on every staff, and page/system breaks (which cannot
open a sequence) are dropped from its start.
"""

from __future__ import annotations

from collections.abc import Sequence

from grammar.automaton import GrammarError, ScoreAutomaton
from grammar.state import StaffAttrs
from grammar.token_tree import TokenTree, parse_tree, positions

_HEADER_KINDS = ("clef", "key", "time")


def read_measures(tokens: Sequence[str]) -> tuple[TokenTree, list[list[int]]]:
    """The token tree of ``tokens`` (read tolerantly) and the positions of each measure's tokens
    (specials skipped), barline last.

    Raises ValueError if tokens follow the last barline (an unterminated measure).
    """
    tree = parse_tree(tokens, strict=False)
    measures = [positions(tokens, m.items) for m in tree.measures]
    if tree.measures and tree.measures[-1].bar is None:
        raise ValueError(f"{len(measures[-1])} tokens after the last barline (the last measure is not closed)")
    return tree, measures


def measure_indices(tokens: Sequence[str]) -> list[list[int]]:
    """Indices into ``tokens`` of each measure's tokens (specials skipped), barline last.

    Raises ValueError if tokens follow the last barline (an unterminated measure).
    """
    return read_measures(tokens)[1]


def split_measures(tokens: Sequence[str]) -> list[list[str]]:
    """Measures of a model-form sequence, each ending with its barline (specials dropped).

    Raises ValueError if tokens follow the last barline (an unterminated measure).
    """
    return [[tokens[i] for i in m] for m in measure_indices(tokens)]


def excerpt(tokens: Sequence[str], start: int, stop: int) -> list[str]:
    """Measures [start, stop) (0-based) of ``tokens`` as a standalone sequence (no bos/eos).

    Raises ValueError for an empty or out-of-range slice, or when the prefix is not valid enough
    to know the clef, key and time in force.
    """
    tree, indices = read_measures(tokens)
    measures = [[tokens[i] for i in m] for m in indices]
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
    # The first measure as it stands, except that each staff states clef, key and time: its own
    # where it has them, else those in force.
    staves = {st.index: st for part in tree.measures[start].parts for st in part}
    out: list[str] = []
    skip: set[int] = set()
    flat = -1
    for i in indices[start]:
        t = tokens[i]
        if i in skip or t in ("pagebreak", "sysbreak"):
            continue
        out.append(t)
        if i not in staves:
            continue
        flat += 1
        header = {it.kind: [tokens[j] for j in positions(tokens, [it])] for it in staves[i].header}
        skip.update(positions(tokens, staves[i].header))
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
