"""``omrformer check --repair``: the repaired sequence is valid, violations go to stderr."""

from __future__ import annotations

from pathlib import Path

from grammar.human import from_human
from grammar.validate import validate
from omrformer.cli import main

GOLDEN = Path(__file__).parent / "golden"

OVERFULL = ("<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> "
            "<note:C4-whole> <note:C4-whole> <bar>")


def test_repair_writes_a_valid_sequence(tmp_path, caplog):
    src, out = tmp_path / "bad.tokens", tmp_path / "fixed.tokens"
    src.write_text(OVERFULL)
    assert validate(from_human(OVERFULL))  # the input really is invalid
    assert main(["check", "--repair", str(src), "-o", str(out)]) == 1
    fixed = from_human(out.read_text())
    assert validate(fixed) == []
    assert fixed[:7] == ["part", "staff", "clef:G2", "key:0", "time", "n:4", "n:4"]
    assert "repaired: kept the first" in caplog.text


def test_repair_of_a_valid_file_is_the_file(capsys):
    path = GOLDEN / "tuplets.tokens"
    assert main(["check", "--repair", str(path)]) == 0
    assert from_human(capsys.readouterr().out) == from_human(path.read_text())
