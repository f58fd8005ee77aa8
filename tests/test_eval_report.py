"""The evaluation report on a perfect page, a failed page and a corrupted page."""

from __future__ import annotations

import json

import pytest

from grammar.human import from_human
from grammar.musicxml import write_score
from omrformer.evaluation.report import EvaluationReport
from omrformer.evaluation.validity import count_measures, measure_consistency

REF = from_human(
    "<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:F#5-quarter> <rest:eighth> "
    "<note:A5-eighth> <note:D5-quarter> <bar> <part> <staff> <voice> <note:E5-half.> <bar:final>"
)


def test_measure_consistency_counts_the_broken_measure():
    assert count_measures(REF) == 2
    ok = measure_consistency(REF)
    assert (ok.measures, ok.clean, ok.rate) == (2, 2, 1.0)
    # Second measure overfull: 4 quarters in 3/4.
    bad = REF[: REF.index("bar") + 1] + from_human(
        "<part> <staff> <voice> <note:E5-half.> <note:E5-quarter> <bar:final>")
    r = measure_consistency(bad)
    assert (r.measures, r.clean) == (2, 1) and r.violations


def test_report_scores_a_perfect_and_a_failed_page(tmp_path):
    xml = write_score(REF)
    report = EvaluationReport(with_omr_ned=True, with_render=True)
    good = report.add_page("good", REF, REF, xml, xml, seconds=0.5)
    assert good.ser == 0.0 and good.omr_ned == 0.0
    assert good.xsd_valid and good.music21_ok and good.verovio_ok and good.clean_measures == 2
    failed = report.add_page("failed", None, REF, None, xml, seconds=0.5, error="failed: no staff found")
    assert failed.ser == 1.0 and failed.omr_ned == 1.0 and not failed.xsd_valid
    s = report.summary()
    assert s["pages"] == 2 and s["ser"] == pytest.approx(0.5) and s["omr_ned"] == pytest.approx(0.5)
    assert s["xsd_valid_rate"] == 0.5 and s["measure_consistency_rate"] == 1.0
    assert s["pages_per_second"] == pytest.approx(2.0)
    report.write(tmp_path / "r.json", tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["classes"]["pitch"]["recall"] == pytest.approx(0.5)
    md = (tmp_path / "r.md").read_text()
    assert "| ser | 0.5000 |" in md and "failed: no staff found" in md
