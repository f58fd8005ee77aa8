"""The procedural generator: valid scores that cover the language, controllable difficulty."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from grammar.musicxml import read_score, write_score
from grammar.validate import validate
from grammar.vocab import CLEFS, DURATION_TYPES, KEY_FIFTHS
from synth.generator import TUPLETS, generate

N = 120


@pytest.fixture(scope="module")
def scores() -> list[list[str]]:
    return [generate(np.random.default_rng(i), difficulty=(i % 40) / 39, measures=8) for i in range(N)]


def test_every_generated_score_passes_validate(scores):
    for i, tokens in enumerate(scores):
        assert validate(tokens) == [], f"seed {i}: {validate(tokens)[:3]}"


def test_generator_covers_the_language(scores):
    seen = collections.Counter(t for s in scores for t in s)
    missing = [f"clef:{c}" for c in CLEFS if f"clef:{c}" not in seen]
    missing += [f"key:{k}" for k in KEY_FIFTHS if f"key:{k}" not in seen]
    missing += [f"dur:{d}" for d in (*DURATION_TYPES, "measure") if f"dur:{d}" not in seen]
    for tok in (
        "dot",
        "tie",
        "chord",
        "grace",
        "tuplet",
        "tuplet-end",
        "rest",
        "time:C",
        "time:C|",
        "acc:sharp",
        "acc:flat",
        "acc:natural",
        "acc:double-sharp",
        "acc:double-flat",
        "bar:final",
        "bar:double",
        "bar:repeat-end",
        "repeat-start",
    ):
        if tok not in seen:
            missing.append(tok)
    assert not missing, f"never generated in {N} scores: {missing}"
    dots = max(
        max((len(r) for r in "".join("d" if t == "dot" else " " for t in s).split()), default=0)
        for s in scores
    )
    assert dots == 3, "triple dots never generated"


def _layout(tokens: list[str]) -> tuple[int, int, int]:
    first = tokens[: tokens.index(next(t for t in tokens if t.startswith("bar")))]
    return first.count("part"), first.count("staff"), max(1, first.count("voice"))


def test_difficulty_scales_from_one_staff_to_full_scores():
    easy = [_layout(generate(np.random.default_rng(i), 0.0, 4)) for i in range(20)]
    assert all(e == (1, 1, 1) for e in easy), easy
    hard = [_layout(generate(np.random.default_rng(i), 1.0, 4)) for i in range(40)]
    assert max(h[0] for h in hard) == 4 and max(h[1] for h in hard) >= 5
    assert any(h[2] >= 3 * h[1] for h in hard), "several voices per staff never generated"


def test_same_generator_state_same_score():
    a = generate(np.random.default_rng(5), 0.7, 6)
    b = generate(np.random.default_rng(5), 0.7, 6)
    c = generate(np.random.default_rng(6), 0.7, 6)
    assert a == b and a != c


def _ratios(tokens: list[str]) -> set[tuple[int, int]]:
    return {(int(tokens[i + 1][2:]), int(tokens[i + 2][2:])) for i, t in enumerate(tokens) if t == "tuplet"}


def test_generator_writes_every_tuplet_ratio_and_duplets_only_in_compound_time(scores):
    seen = set().union(*(_ratios(s) for s in scores))
    assert seen == {(a, n) for a, n, *_ in TUPLETS}
    compound = {"n:6 n:8", "n:9 n:8", "n:12 n:8", "n:3 n:8"}
    for s in scores:
        time = ""
        for i, t in enumerate(s):
            if t.startswith("time"):
                time = " ".join(s[i + 1 : i + 3]) if t == "time" else t
            elif t == "tuplet" and s[i + 2] == "n:3":
                assert time in compound, (s[i : i + 3], time)


def _round_trip_ok(tokens: list[str]) -> bool:
    return list(read_score(write_score(tokens)).tokens) == tokens


def test_generated_tuplets_survive_the_codec(scores):
    # The label is write_score(tokens) and the model learns read_score of it: they must agree.
    # One score per tuplet ratio keeps this fast; the slow variant checks every score.
    firsts = {}
    for s in scores:
        for r in _ratios(s):
            firsts.setdefault(r, s)
    assert len(firsts) == len(TUPLETS)
    for r, s in firsts.items():
        assert _round_trip_ok(s), r


@pytest.mark.slow
def test_every_generated_score_survives_the_codec(scores):
    bad = [i for i, s in enumerate(scores) if not _round_trip_ok(s)]
    assert not bad, f"seeds {bad} change through write_score/read_score"
