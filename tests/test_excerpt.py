import numpy as np
import pytest

from grammar import excerpt, split_measures, validate
from grammar.human import from_human
from tests.grammar_walks import random_walk

SCORE = from_human(
    "<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:D5-half.> "
    "<staff> <clef:F4> <key:D-major> <time:3/4> <voice> <rest:measure> <bar> "
    "<sysbreak> <part> <staff> <voice> <note:D5-quarter> <clef:G1> <note:E5-half> "
    "<staff> <key:A-major> <time:2/4> <voice> <note:A2-half> <bar> "
    "<part> <staff> <voice> <note:C#5-half.> <staff> <voice> <note:A2-half> <bar:final>")


def test_split_measures():
    ms = split_measures(["<bos>", *SCORE, "<eos>"])
    assert len(ms) == 3 and ms[0][-1] == "bar" and ms[2][-1] == "bar:final"
    with pytest.raises(ValueError, match="not closed"):
        split_measures(SCORE[:-1])


def test_excerpt_restates_attributes_and_drops_breaks():
    ex = excerpt(SCORE, 1, 3)
    assert ex[:8] == ["part", "staff", "clef:G2", "key:2", "time", "n:3", "n:4", "voice"]
    assert "sysbreak" not in ex
    assert validate(ex) == []
    third = excerpt(SCORE, 2, 3)  # the mid-measure clef change and the new key/time carry over
    assert third[:7] == ["part", "staff", "clef:G1", "key:2", "time", "n:3", "n:4"]
    assert "key:3" in third and validate(third) == []


def test_excerpt_range_errors():
    with pytest.raises(ValueError, match="outside"):
        excerpt(SCORE, 2, 5)


@pytest.mark.parametrize("seed", range(10))
def test_random_excerpts_validate(seed):
    rng = np.random.default_rng(seed)
    seq = random_walk(rng, 150)
    n = len(split_measures(seq))
    start = int(rng.integers(0, n))
    stop = int(rng.integers(start + 1, n + 1))
    ex = excerpt(seq, start, stop)
    problems = validate(ex)
    # A short measure in the middle of an excerpt cannot happen: only the source's last may be short.
    assert problems == [], (problems, start, stop, n)
