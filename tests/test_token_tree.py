"""grammar.token_tree: the one structural parser, strict for the writer and tolerant for model output."""

from __future__ import annotations

import numpy as np
import pytest

from grammar.human import from_human
from grammar.token_tree import TokenSequenceError, parse_tokens, parse_tree
from grammar.vocab import SPECIAL, TOKENS
from tests.grammar_walks import random_walk

SCORE = from_human(
    "<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:F#5-quarter> <chord:A5> <tie> "
    "<rest:eighth> <tuplet:3/2> <note:A5-16th> <note:B5-16th> <note:C6-16th> <tuplet-end> <note:D5-quarter> <bar> "
    "<sysbreak> <part> <staff> <voice> <note:E5-half.> <bar:final>"
)


def _covered(tokens: list[str], tree) -> list[str]:
    """The tokens the tree's events span, in order (a tolerant event may span a special token)."""
    return [t for it in tree.items for t in tokens[it.start : it.stop] if t not in SPECIAL]


def _events(tree) -> list[list[tuple]]:
    """Per measure, what its events say (positions left out: inserted tokens shift them)."""
    return [[(ev.kind, ev.dtype, ev.dots, ev.ratio, [(h.acc, h.step, h.octave, h.tie) for h in ev.heads])
             for part in m.parts for staff in part for voice in staff.voices for ev in voice]
            for m in tree.measures]


def test_a_valid_sequence_reads_the_same_in_both_modes() -> None:
    seq = ["<bos>", *SCORE, "<eos>"]
    strict, tolerant = parse_tree(seq), parse_tree(seq, strict=False)
    assert tolerant.problems == [] and strict.problems == []
    assert strict.measures == tolerant.measures
    first, second = strict.measures
    assert (first.bar, second.bar, second.marks) == ("bar", "bar:final", ["sysbreak"])
    staff = first.parts[0][0]
    assert (staff.clef, staff.key, staff.time) == ("G2", 2, (3, 4, ""))
    voice = staff.voices[0]
    assert [ev.kind for ev in voice] == ["note", "rest", "tuplet", "note", "note", "note", "tuplet-end", "note"]
    assert [h.step for h in voice[0].heads] == ["F", "A"] and voice[0].heads[1].tie
    assert voice[3].ratio == (3, 2) and voice[7].ratio == (1, 1)
    assert _covered(seq, strict) == SCORE  # every token but the specials belongs to one event


def test_a_truncated_sequence_keeps_its_closed_measures() -> None:
    cut = SCORE[:-3]  # stops after the last note's pitch
    with pytest.raises(TokenSequenceError, match=rf"token {len(cut)}: sequence ends where a duration"):
        parse_tree(cut)
    tree = parse_tree(cut, strict=False)
    assert [m.bar for m in tree.measures] == ["bar", None]
    assert tree.measures[1].parts[0][0].voices == [[]]  # the cut note is no event
    assert tree.items[-1].token == "note" and tree.items[-1].problem is not None
    assert tree.items[-1].problem.expected == "a duration"
    messages = [p.message for p in tree.problems]
    assert messages[0] == f"token {len(cut)}: sequence ends where a duration was expected"
    assert any("barline" in m for m in messages)


def test_a_stray_token_is_reported_and_the_rest_is_read() -> None:
    at = SCORE.index("rest")
    seq = [*SCORE[:at], "n:5", "pitch:C4", *SCORE[at:]]
    with pytest.raises(TokenSequenceError, match=rf"token {at}: 'n:5' cannot appear inside a voice"):
        parse_tokens(seq)
    tree = parse_tree(seq, strict=False)
    assert _events(tree) == _events(parse_tree(SCORE))
    assert [p.index for p in tree.problems] == [at, at, at + 1, at + 1]  # structure, then lexing
    assert _covered(seq, tree) == seq


def test_a_missing_eos_is_no_problem_and_specials_anywhere_are_skipped_when_tolerant() -> None:
    assert parse_tree(["<bos>", *SCORE]).problems == []
    inside = [*SCORE[:8], "<eos>", "<pad>", *SCORE[8:]]
    with pytest.raises(TokenSequenceError, match="token 8: '<eos>' cannot appear inside a voice"):
        parse_tree(inside)
    tree = parse_tree(inside, strict=False)
    assert tree.problems == [] and _events(tree) == _events(parse_tree(SCORE))
    assert tree.measures[0].parts[0][0].voices[0][0].index == 10  # the input's position, after the specials


def test_breaks_in_the_layout_are_recovered_up_to_the_barline() -> None:
    seq = [*from_human("<voice> <note:C4-quarter> <sysbreak> <part> <staff> <clef:G2> <bar>"),
           "part", "bar", "part", "staff", "bar:final"]
    with pytest.raises(TokenSequenceError, match="token 0: expected 'part', got 'voice'"):
        parse_tree(seq)
    tree = parse_tree(seq, strict=False)
    first, second, third = tree.measures
    assert first.marks == ["sysbreak"]  # a mark read late still counts for its measure
    assert first.bar == "bar" and len(first.parts) == 1 and first.parts[0][0].clef == "G2"
    assert second.parts == [[]] and second.bar == "bar"
    assert len(third.parts[0]) == 1 and third.bar == "bar:final"
    assert [p.message for p in tree.problems] == [
        "token 0: expected 'part', got 'voice'",
        "token 8: staff without a voice",
        "token 10: part without a staff",
        "token 13: staff without a voice",
    ]
    assert [it.token for it in tree.items[:2]] == ["voice", "note"]  # kept as events, not in the tree


def test_garbage_never_raises_when_tolerant_and_always_raises_when_strict() -> None:
    rng = np.random.default_rng(3)
    junk = [*TOKENS, "foo", "", "pitch:Z9", "clef:", "n:x", "dur:longa", "key:99"]
    for _ in range(300):
        seq = [junk[int(i)] for i in rng.integers(0, len(junk), int(rng.integers(0, 30)))]
        tree = parse_tree(seq, strict=False)
        assert _covered(seq, tree) == [t for t in seq if t not in SPECIAL]
        assert all(p.message.startswith(("token ", "empty")) for p in tree.problems)
        if tree.problems:
            with pytest.raises(TokenSequenceError):
                parse_tree(seq)
    with pytest.raises(TokenSequenceError, match="empty token sequence"):
        parse_tree(["<bos>", "<eos>"])
    assert [p.message for p in parse_tree([], strict=False).problems] == ["empty token sequence: no measure"]
    assert parse_tree(["foo"], strict=False).items[0].problem is not None


@pytest.mark.parametrize("seed", range(8))
def test_random_walks_and_their_mutations(seed: int) -> None:
    """A valid walk has no problems in either mode; a damaged one raises strictly exactly when the
    tolerant reading found a problem, at that problem's position."""
    rng = np.random.default_rng(seed)
    walk = random_walk(rng, 150)
    assert parse_tree(walk, strict=False).problems == []
    assert parse_tree(walk, strict=False).measures == parse_tokens(walk)
    for _ in range(20):
        seq = list(walk)
        i = int(rng.integers(0, len(seq)))
        if rng.integers(0, 2):
            del seq[i]
        else:
            seq.insert(i, TOKENS[int(rng.integers(3, len(TOKENS)))])
        tree = parse_tree(seq, strict=False)
        assert _covered(seq, tree) == [t for t in seq if t not in SPECIAL]
        if not tree.problems:
            assert parse_tokens(seq) == tree.measures
            continue
        with pytest.raises(TokenSequenceError) as err:
            parse_tree(seq)
        assert str(err.value) == tree.problems[0].message
