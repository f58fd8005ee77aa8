"""``omrformer tokenize/detokenize/check``: outputs, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grammar.musicxml import read_score, validate_xsd
from omrformer.cli import main

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[1]


def test_tokenize_prints_human_form(capsys):
    assert main(["tokenize", str(GOLDEN / "ties_chords.musicxml")]) == 0
    assert capsys.readouterr().out == (GOLDEN / "ties_chords.tokens").read_text()


def test_tokenize_then_detokenize_files(tmp_path):
    toks, xml = tmp_path / "a.tokens", tmp_path / "a.musicxml"
    assert main(["tokenize", str(GOLDEN / "grand_staff.musicxml"), "-o", str(toks)]) == 0
    assert main(["detokenize", str(toks), "-o", str(xml), "--ids", "--title", "Song"]) == 0
    assert validate_xsd(xml.read_bytes()) == []
    assert read_score(xml).tokens == read_score(GOLDEN / "grand_staff.musicxml").tokens
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.musicxml"
    bad.write_text("<score-timewise/>")
    assert main(["tokenize", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "timewise" in err and "Traceback" not in err
    junk = tmp_path / "junk.tokens"
    junk.write_text("<note:H4-quarter>")
    assert main(["detokenize", str(junk)]) == 2
    assert "bad pitch" in capsys.readouterr().err


def test_check_exit_codes(tmp_path, capsys):
    pytest.importorskip("grammar.validate")
    assert main(["check", str(GOLDEN / "tuplets.tokens")]) == 0
    assert main(["check", str(GOLDEN / "tuplets.musicxml")]) == 0
    short = tmp_path / "short.tokens"
    short.write_text("<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> "
                     "<note:C4-whole> <note:C4-whole> <bar>")
    assert main(["check", str(short)]) == 1
    out = capsys.readouterr().out
    assert out.strip() and "short.tokens" in out
    assert main(["check", str(tmp_path / "missing.tokens")]) == 2


def test_module_entry_point_runs_without_torch():
    code = ("import sys, runpy; sys.argv=['omrformer','tokenize',sys.argv[1]]\n"
            "try:\n    runpy.run_module('omrformer', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code, str(GOLDEN / "pickup.musicxml")], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("<part> <staff> <clef:G2>")
