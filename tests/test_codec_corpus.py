"""Round trip over the OpenScore Lieder dev scores (../shared/corpus/lieder/dev).

The default run checks 3 files; the whole dev set runs under ``-m slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grammar.musicxml import read_score, validate_xsd, write_score

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "lieder" / "dev"
FILES = sorted(DEV.glob("*.mxl")) if DEV.is_dir() else []
needs_corpus = pytest.mark.skipif(not FILES, reason=f"Lieder dev corpus not found at {DEV}")


def _check(path: Path, music21: bool) -> None:
    first = read_score(path)
    assert first.tokens and first.stats["notes_out"] > 0.95 * first.stats["notes_in"]
    xml = write_score(first.tokens)
    assert validate_xsd(xml) == [], path.name
    assert read_score(xml).tokens == first.tokens, f"{path.name}: round trip changed the tokens"
    if music21:
        m21 = pytest.importorskip("music21")
        score = m21.converter.parseData(xml.decode(), format="musicxml")
        assert len(score.parts) == first.stats["staves"]  # music21 splits a grand staff into PartStaffs


def _grammar_accepts(path: Path) -> None:
    validate = pytest.importorskip("grammar.validate").validate
    tokens = read_score(path).tokens
    violations = validate(tokens)
    assert not violations, f"{path.name}: {violations[:3]}"


@needs_corpus
@pytest.mark.parametrize("path", FILES[:3], ids=lambda p: p.name)
def test_round_trip_sample(path):
    _check(path, music21=False)


@needs_corpus
def test_music21_parses_one_written_score():
    _check(FILES[0], music21=True)


@needs_corpus
@pytest.mark.parametrize("path", FILES[:3], ids=lambda p: p.name)
def test_grammar_accepts_sample(path):
    _grammar_accepts(path)


@pytest.mark.slow
@needs_corpus
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_round_trip_all_dev(path):
    _check(path, music21=True)
    _grammar_accepts(path)
