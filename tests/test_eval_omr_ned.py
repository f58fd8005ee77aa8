"""OMR-NED through musicdiff on small hand-written MusicXML scores."""

from __future__ import annotations

import pytest

from omrformer.evaluation.omr_ned import GroundTruthError, omr_ned

pytest.importorskip("musicdiff")


def _score(notes: list[tuple[str, int]], title: str = "t") -> bytes:
    """One 4/4 measure of quarter notes (step, octave) in treble clef."""
    body = "".join(
        f"<note><pitch><step>{s}</step><octave>{o}</octave></pitch><duration>1</duration>"
        f"<voice>1</voice><type>quarter</type></note>"
        for s, o in notes
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<score-partwise version="4.0">'
        f"<work><work-title>{title}</work-title></work>"
        '<part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>'
        '<part id="P1"><measure number="1"><attributes><divisions>1</divisions><key><fifths>0</fifths></key>'
        "<time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef>"
        f"</attributes>{body}</measure></part></score-partwise>"
    ).encode()


GT = _score([("C", 4), ("D", 4), ("E", 4), ("F", 4)])


def test_identical_scores_score_zero_even_with_another_title():
    r = omr_ned(_score([("C", 4), ("D", 4), ("E", 4), ("F", 4)], title="other"), GT)
    assert r.omr_ned == 0.0 and r.edit_distance == 0 and r.error is None
    assert r.symbols_gt == r.symbols_pred > 0


def test_one_wrong_pitch_costs_a_little(tmp_path):
    gt_path = tmp_path / "gt.musicxml"
    gt_path.write_bytes(GT)
    r = omr_ned(_score([("C", 4), ("D", 4), ("G", 4), ("F", 4)]), gt_path)
    assert 0 < r.omr_ned < 0.2
    assert r.edit_distance >= 1


def test_missing_or_garbage_prediction_scores_one():
    assert omr_ned(None, GT).omr_ned == 1.0
    bad = omr_ned(b"<not-music/>", GT)
    assert bad.omr_ned == 1.0 and bad.error


def test_unreadable_ground_truth_is_an_error(tmp_path):
    with pytest.raises(GroundTruthError, match="gt.musicxml"):
        p = tmp_path / "gt.musicxml"
        p.write_text("<score-partwise")
        omr_ned(GT, p)
