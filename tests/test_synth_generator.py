"""The procedural generator: valid scores that cover the language, controllable difficulty."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from grammar.validate import validate
from grammar.vocab import CLEFS, DURATION_TYPES, KEY_FIFTHS
from synth.generator import generate

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
