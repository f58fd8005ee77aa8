"""Repair of unconstrained decoder output: keep the grammatical prefix, close it, say what was done."""

from __future__ import annotations

from grammar.automaton import ScoreAutomaton
from grammar.human import from_human
from grammar.musicxml import validate_xsd, write_score
from grammar.repair import repair

TWO_BARS = from_human(
    "<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:F#5-quarter> <rest:eighth> "
    "<note:A5-eighth> <note:D5-quarter> <bar> <part> <staff> <voice> <note:E5-half.> <bar:final>"
)


def _accepted(tokens):
    a = ScoreAutomaton()
    for t in [*tokens, "<eos>"]:
        a.step(t)
    return a.is_complete


def test_valid_output_is_left_alone():
    r = repair(["<bos>", *TWO_BARS, "<eos>", "<pad>"])
    assert r.tokens == TWO_BARS and not r.changed


def test_output_cut_mid_measure_is_closed_into_a_valid_score():
    cut = TWO_BARS[: TWO_BARS.index("pitch:E5")]  # `... <voice> note` and then nothing
    r = repair(cut)
    assert r.tokens[: r.kept] == cut and r.dropped == 0 and r.added > 0
    assert _accepted(r.tokens)
    assert "stopped before" in r.describe()
    assert validate_xsd(write_score(r.tokens)) == []


def test_overfull_measure_keeps_the_prefix_before_the_mistake():
    # A fourth quarter in 3/4: everything from the offending note on is dropped.
    bad = TWO_BARS[:TWO_BARS.index("bar")] + ["note", "pitch:C5", "dur:quarter", "bar"] + ["<eos>"]
    r = repair(bad)
    assert r.dropped >= 1 and r.kept < len(bad) - 1
    assert _accepted(r.tokens)
    assert "token" in r.reason


def test_empty_output_becomes_a_minimal_valid_score():
    r = repair(["<bos>", "<eos>"])
    assert r.kept == 0 and r.added > 0
    assert _accepted(r.tokens)
