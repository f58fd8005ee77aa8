"""grammar.assemble: staves read one by one become one valid score whose systems line up."""

from __future__ import annotations

import numpy as np

from grammar.assemble import assemble_staves, parse_staff
from grammar.human import from_human
from grammar.staff_extract import extract_staff, score_layout
from grammar.validate import validate
from synth.generator import generate


def test_extracted_staves_reassemble_to_the_original_score():
    checked = 0
    for i in range(60):
        tokens = [t for t in generate(np.random.default_rng(i), difficulty=(i % 10) / 9, measures=5)
                  if t not in ("<bos>", "<eos>", "sysbreak", "pagebreak")]
        if validate(tokens):
            continue  # dropping breaks can only matter for layout; keep to scores that stay valid
        layout = score_layout(tokens)
        staves = [extract_staff(tokens, p, s) for p, n in enumerate(layout) for s in range(n)]
        result = assemble_staves([staves], layout)
        assert result.changes == [], (i, result.changes)
        assert result.tokens == tokens, i
        checked += 1
    assert checked >= 40


def test_two_systems_state_courtesy_attributes_once_and_break_between():
    first = from_human("<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <rest:measure> <bar>")
    # A staff cut from the second system restates clef, key and time, as the decoder must.
    second = from_human("<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:D5-half.> <bar:final>")
    result = assemble_staves([[first], [second]], [1])
    assert result.tokens == from_human(
        "<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <rest:measure> <bar> "
        "<sysbreak> <part> <staff> <voice> <note:D5-half.> <bar:final>"
    )
    assert validate(result.tokens) == []
    assert result.measures_per_system == [1, 1]


def test_staves_of_a_system_get_the_same_measure_count_and_time():
    voice = from_human("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:C5-half> <bar> "
                       "<part> <staff> <voice> <note:D5-half> <bar>")
    upper = from_human("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:E4-half> <bar> "
                       "<part> <staff> <voice> <note:F4-half> <bar>")
    # The lower piano staff lost a measure and misread the time as 3/4.
    lower = from_human("<part> <staff> <clef:F4> <key:C-major> <time:3/4> <voice> <note:C3-half.> <bar>")
    result = assemble_staves([[voice, upper, lower]], [1, 2])
    assert validate(result.tokens) == [], validate(result.tokens)[:3]
    assert result.measures_per_system == [2]
    assert any("1 measures read, 2 kept" in c for c in result.changes)
    assert any("measures became rests" in c for c in result.changes)
    assert score_layout(result.tokens) == [1, 2]
    assert len(parse_staff(extract_staff(result.tokens, 1, 1))) == 2


def test_a_staff_with_extra_measures_is_cut_to_the_system_count():
    a = from_human("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:C5-half> <bar>")
    b = from_human("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:C5-half> <bar> "
                   "<part> <staff> <voice> <note:D5-half> <bar>")
    result = assemble_staves([[a, b, a]], [1, 1, 1])
    assert result.measures_per_system == [1]
    assert validate(result.tokens) == []


def test_short_measures_at_system_ends_are_filled_inside_the_score():
    # Each staff alone may start with a pickup and end short; joined, only the score's ends may.
    first = from_human("<part> <staff> <clef:G2> <key:C-major> <time:3/4> <voice> <note:C5-quarter> <bar> "
                       "<part> <staff> <voice> <note:D5-half> <bar>")
    second = from_human("<part> <staff> <clef:G2> <key:C-major> <time:3/4> <voice> <note:E5-quarter> <bar> "
                        "<part> <staff> <voice> <note:F5-half> <bar:final>")
    result = assemble_staves([[first], [second]], [1])
    assert validate(result.tokens) == [], validate(result.tokens)[:3]
    human = " ".join(result.tokens)
    assert human.startswith("part staff clef:G2 key:0 time n:3 n:4 voice note pitch:C5 dur:quarter bar")
    assert human.endswith("note pitch:F5 dur:half bar:final")
    assert result.tokens.count("space") == 2
