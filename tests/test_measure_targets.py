"""experiments/measure_targets.py: the targets table from evaluate.py reports."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _mod():
    spec = importlib.util.spec_from_file_location("measure_targets", ROOT / "experiments/measure_targets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _report(pages, ser, ned, pitch, duration, valid=1.0, pps=0.5):
    return {"summary": {"pages": pages, "ser": ser, "omr_ned": ned, "xsd_valid_rate": valid,
                        "pages_per_second": pps},
            "classes": [["pitch", {"support": 10, "recall": pitch}],
                        ["duration", {"support": 10, "recall": duration}]]}


def test_table_says_which_targets_are_met():
    rows = _mod().table({"generated_staves": _report(96, 0.12, 0.2, 0.9, 0.8),
                         "musescore_voice": _report(43, 0.5, 0.35, 0.5, 0.5, valid=0.5, pps=0.2)})
    text = "\n".join(rows)
    assert "| SER, held-out generated staves (96, scan, greedy) | <= 0.15 | 0.120 | yes |" in text
    assert "| duration recall, generated staves | >= 0.85 | 0.800 | no |" in text
    assert "| OMR-NED, MuseScore voice-part pages (43, beam 4) | <= 0.30 | 0.350 | no |" in text
    # Validity is pooled over all sets, weighted by their sizes: (96 * 1 + 43 * 0.5) / 139.
    assert f"| valid MusicXML (XSD), all 139 pages/staves | 100% | {(96 + 21.5) / 139:.3f} | no |" in text
    assert "| CPU seconds per page (voice, beam 4) | <= 10 | 5.0 | yes |" in text


def test_reuse_without_reports_is_a_clear_error(tmp_path, capsys):
    assert _mod().main(["--model", "x", "--out", str(tmp_path / "r"), "--reuse"]) == 2
    assert "nothing measured" in capsys.readouterr().err


def test_reuse_reads_written_reports(tmp_path, capsys):
    (tmp_path / "r_musescore_voice_piano.json").write_text(json.dumps(_report(41, 0.6, 0.55, 0.4, 0.4)))
    assert _mod().main(["--model", "x", "--out", str(tmp_path / "r"), "--reuse"]) == 0
    assert "| OMR-NED, MuseScore voice + piano pages (41, beam 4) | < 0.60 | 0.550 | yes |" in capsys.readouterr().out


def test_lilypond_rows_mirror_the_musescore_ones():
    rows = _mod().table({"musescore_voice": _report(43, 0.5, 0.25, 0.5, 0.5, pps=0.2),
                         "lilypond_voice": _report(41, 0.5, 0.45, 0.5, 0.5, pps=0.25),
                         "lilypond_voice_piano": _report(39, 0.7, 0.58, 0.4, 0.4, pps=0.1)})
    text = "\n".join(rows)
    assert "| OMR-NED, MuseScore voice-part pages (43, beam 4) | <= 0.30 | 0.250 | yes |" in text
    assert "| OMR-NED, LilyPond voice-part pages (41, beam 4) | <= 0.30 | 0.450 | no |" in text
    assert "| OMR-NED, LilyPond voice + piano pages (39, beam 4) | < 0.60 | 0.580 | yes |" in text
    assert "| CPU seconds per page (voice, beam 4) | <= 10 | 5.0 | yes |" in text
    assert "| CPU seconds per page (voice, LilyPond, beam 4) | <= 10 | 4.0 | yes |" in text
    assert "| CPU seconds per page (voice + piano, LilyPond, beam 4) | <= 10 | 10.0 | yes |" in text


def test_missing_lilypond_data_is_skipped_with_the_command_that_makes_it(tmp_path, capsys):
    mod = _mod()
    mod.ROOT = tmp_path  # no data/ here
    assert mod.main(["--model", "x", "--out", str(tmp_path / "r"), "--sets", "lilypond_voice",
                     "lilypond_voice_piano"]) == 2
    err = capsys.readouterr().err
    assert "skip lilypond_voice: no data/lilypond_dev/voice (make it: python experiments/lilypond_pages.py" in err
    assert "skip lilypond_voice_piano: no data/lilypond_dev/voice_piano" in err
