"""The one token surface: ``split_token``, ``number_arg`` and the time symbols in grammar/vocab.py."""

from __future__ import annotations

import pytest

from grammar.durations import measure_ticks
from grammar.token_tree import parse_tokens
from grammar.vocab import TIME_SYMBOLS, TIME_TOKENS, TOKENS, number_arg, split_token
from omrformer.evaluation.metrics import classify


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("pitch:F5", ("pitch", "F5")),
        ("time:C|", ("time", "C|")),
        ("bar:final", ("bar", "final")),
        ("bar", ("bar", None)),
        ("tuplet-end", ("tuplet-end", None)),
        ("<eos>", ("<eos>", None)),
        ("dur:measure", ("dur", "measure")),
    ],
)
def test_split_token(token: str, expected: tuple[str, str | None]) -> None:
    assert split_token(token) == expected


def test_split_token_round_trips_every_vocabulary_token() -> None:
    for t in TOKENS:
        kind, arg = split_token(t)
        assert (kind if arg is None else f"{kind}:{arg}") == t


def test_number_arg() -> None:
    assert number_arg("n:12") == 12
    with pytest.raises(ValueError, match="not a number token"):
        number_arg("pitch:C4")


def test_time_symbols_are_the_time_tokens_with_an_argument() -> None:
    assert TIME_SYMBOLS == {"time:C": (4, 4), "time:C|": (2, 2)}
    assert set(TIME_TOKENS) == {"time", *TIME_SYMBOLS}


def test_consumers_agree_on_cut_time() -> None:
    """token_tree, assemble and the automaton read ``time:C|`` as 2/2 from the one table."""
    from grammar.assemble import time_ticks
    from grammar.automaton import ScoreAutomaton

    seq = ["part", "staff", "clef:G2", "key:0", "time:C|", "voice", "note", "pitch:C4", "dur:whole", "bar"]
    tree = parse_tokens(seq)
    assert tree[0].parts[0][0].time == (2, 2, "C|")
    assert time_ticks(("time:C|",)) == measure_ticks(2, 2)
    auto = ScoreAutomaton()
    for t in seq:
        auto.step(t)
    assert [a.ticks for a in auto.staff_attrs] == [measure_ticks(2, 2)]
    assert classify(["time:C|", "time", "n:3", "n:4"]) == ["time"] * 4


def test_every_phase_says_what_it_wants() -> None:
    from grammar.rules import PHASE_RULES
    from grammar.state import Phase

    assert set(PHASE_RULES) == set(Phase)
    assert all(rule.wants for rule in PHASE_RULES.values())
