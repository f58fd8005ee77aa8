"""grammar.staff_extract: every staff of a valid score is a valid one-part one-staff score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grammar.human import from_human
from grammar.staff_extract import extract_all_staves, extract_staff, score_layout
from grammar.validate import validate
from synth.generator import generate

LIEDER = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "lieder"

GRAND = (
    "<part> <staff> <clef:G2> <key:G-major> <time:2/4> <voice> <note:B4-half> "
    "<staff> <clef:F4> <key:G-major> <time:2/4> <voice> <note:G2-quarter> <note:D3-quarter> <bar> "
    "<sysbreak> <part> <staff> <voice> <note:A4-quarter> <space:quarter> "
    "<staff> <clef:G2> <voice> <note:G4-half> <voice> <space:quarter> <note:G3-quarter> <bar>"
)


def _one_part_one_staff(tokens: list[str]) -> bool:
    return all(tokens[i : i + 2] == ["part", "staff"] for i, t in enumerate(tokens) if t == "part") and tokens.count(
        "part"
    ) == tokens.count("staff")


def _check_all(tokens: list[str], where: str) -> int:
    layout = score_layout(tokens)
    staves = extract_all_staves(tokens)
    assert len(staves) == sum(layout), where
    measures = tokens.count("part") // len(layout)
    for p, s, staff in staves:
        assert validate(staff) == [], f"{where} part {p + 1} staff {s + 1}: {validate(staff)[:3]}"
        assert _one_part_one_staff(staff), where
        assert staff.count("part") == measures, where
    return len(staves)


def test_grand_staff_gives_two_valid_staves():
    tokens = from_human(GRAND)
    assert score_layout(tokens) == [2]
    upper, lower = extract_staff(tokens, 0, 0), extract_staff(tokens, 0, 1)
    assert validate(upper) == [] and validate(lower) == []
    assert upper == from_human(
        "<part> <staff> <clef:G2> <key:G-major> <time:2/4> <voice> <note:B4-half> <bar> "
        "<part> <staff> <voice> <note:A4-quarter> <space:quarter> <bar>"
    )
    assert lower[:8] == ["part", "staff", "clef:F4", "key:1", "time", "n:2", "n:4", "voice"]
    assert "clef:G2" in lower  # the lower staff's own clef change stays with it
    assert "sysbreak" in extract_staff(tokens, 0, 1, keep_breaks=True)


def test_every_staff_of_generated_scores_validates():
    total = 0
    for i in range(80):
        tokens = generate(np.random.default_rng(i), difficulty=(i % 20) / 19, measures=6)
        assert validate(tokens) == []
        total += _check_all(tokens, f"seed {i}")
    assert total > 80  # difficulty reaches several parts and grand staves


@pytest.mark.parametrize(("part", "staff", "match"), [(1, 0, "no part 2"), (0, 2, "no staff 3"), (-1, 0, "no part 0")])
def test_missing_part_or_staff_is_a_clear_error(part, staff, match):
    with pytest.raises(ValueError, match=match):
        extract_staff(from_human(GRAND), part, staff)


def test_unstructured_input_is_a_clear_error():
    with pytest.raises(ValueError, match="not closed"):
        extract_staff(["part", "staff", "voice", "rest", "dur:measure"], 0, 0)
    with pytest.raises(ValueError, match="does not start with a part"):
        extract_staff(["staff", "voice", "rest", "dur:measure", "bar"], 0, 0)
    with pytest.raises(ValueError, match="no measure"):
        extract_staff([], 0, 0)


def _lieder(split: str) -> list[Path]:
    d = LIEDER / split
    if not d.is_dir():
        pytest.skip(f"Lieder corpus not found at {d} (shared corpus absent on this machine)")
    return sorted(d.glob("*.mxl"))


def _check_corpus(files: list[Path]) -> int:
    from grammar.musicxml import MusicXMLError, read_score

    checked = 0
    for path in files:
        try:
            tokens = list(read_score(path).tokens)
        except MusicXMLError:
            continue  # the codec's own coverage is tested elsewhere; here: what it reads
        assert validate(tokens) == [], path.name
        checked += _check_all(tokens, path.name)
    return checked


def test_every_staff_of_lieder_dev_validates():
    files = _lieder("dev")
    assert _check_corpus(files) >= 2 * len(files) * 0.9  # voice + piano staves: about 3 per song


@pytest.mark.slow
def test_every_staff_of_lieder_train_validates():
    files = _lieder("train")
    assert _check_corpus(files) >= 2 * len(files) * 0.9


def test_indexed_extraction_maps_back_to_the_source_tokens():
    from grammar.staff_extract import extract_staff_indexed

    tokens = ["<bos>", *from_human(GRAND), "<eos>"]
    out, src = extract_staff_indexed(tokens, 0, 1)
    assert out == extract_staff(tokens, 0, 1) and len(src) == len(out)
    assert all(out[j] == (tokens[i] if i >= 0 else "part") for j, i in enumerate(src))
    assert src.count(-1) == 2  # one new part token per measure
