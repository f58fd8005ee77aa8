"""`omrformer transcribe` end to end with a tiny random model: outputs are valid, errors are one line."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from grammar.human import from_human
from grammar.musicxml import read_score, validate_xsd
from omrformer.cli import main

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "staff"
FAST = ["--device", "cpu", "--max-length", "48", "--threads", "1"]




@pytest.fixture()
def blank_png(tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 300), 255, np.uint8)).save(path)
    return path


def test_unconstrained_output_is_repaired_into_valid_musicxml(model_dir, tmp_path, capsys):
    out = tmp_path / "out.musicxml"
    rc = main(["transcribe", str(FIXTURES / "single_staff.png"), "-o", str(out), "--model", str(model_dir),
               "--no-grammar", *FAST])
    err = capsys.readouterr().err
    assert rc == 0, err
    xml = out.read_bytes()
    assert validate_xsd(xml) == []
    assert read_score(xml).tokens  # re-reads into a non-empty token sequence
    music21 = pytest.importorskip("music21")
    assert list(music21.converter.parseData(xml, format="musicxml").parts)


NO_LOGITS = importlib.util.find_spec("grammar.logits") is None


@pytest.mark.skipif(NO_LOGITS, reason="GrammarLogitsProcessor not landed")
def test_grammar_constrained_output_needs_no_repair(model_dir, tmp_path, capsys):
    rc = main(["transcribe", str(FIXTURES / "single_staff.png"), "-o", str(tmp_path),
               "--model", str(model_dir), "--beams", "2", *FAST])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "repaired" not in err or "stopped before" in err
    assert validate_xsd((tmp_path / "single_staff.musicxml").read_bytes()) == []


def test_bad_pages_fail_alone_with_one_line_each(model_dir, tmp_path, blank_png, capsys):
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not a picture")
    missing = tmp_path / "missing.png"
    good = FIXTURES / "grand_staff.png"
    rc = main(["transcribe", str(missing), str(not_image), str(blank_png), str(good),
               "-o", str(tmp_path / "o"), "--model", str(model_dir), "--no-grammar",
               "--format", "tokens", *FAST])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert any(str(missing) in x and "no such file" in x for x in lines)
    assert any(str(not_image) in x and "not a readable image" in x for x in lines)
    assert any(str(blank_png) in x and "no staff found: is this sheet music?" in x for x in lines)
    assert lines[-1].endswith("1 of 4 pages transcribed")
    tokens = (tmp_path / "o" / "grand_staff.tokens").read_text()
    assert from_human(tokens)  # the human form parses back


def test_no_bundled_checkpoint_is_a_clear_error(capsys, monkeypatch):
    import omrformer.transcribe as tr

    monkeypatch.setattr(tr, "bundled_model", lambda: None)  # as in a build without pretrained/
    rc = main(["transcribe", str(FIXTURES / "single_staff.png"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and "no bundled checkpoint" in err and len(err.strip().splitlines()) == 1


def test_bundled_checkpoint_is_the_default_and_gives_valid_musicxml(tmp_path):
    from omrformer.transcribe import bundled_model

    assert bundled_model() is not None, "omrformer/pretrained/omrformer-small is missing"
    rc = main(["transcribe", str(FIXTURES / "single_staff.png"), "-o", str(tmp_path), "--device", "cpu",
               "--max-length", "256"])
    out = tmp_path / "single_staff.musicxml"
    assert rc == 0 and out.is_file()
    from grammar.musicxml import validate_xsd

    assert validate_xsd(out.read_bytes()) == []


def test_corrupt_model_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{not json")
    rc = main(["transcribe", str(FIXTURES / "single_staff.png"), "--model", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and str(tmp_path) in err and "cannot load the model" in err
    assert len(err.strip().splitlines()) == 1
    rc = main(["transcribe", str(FIXTURES / "single_staff.png"), "--model", str(tmp_path / "nope"),
               "--device", "cpu"])
    assert rc == 2 and "no such model folder" in capsys.readouterr().err


def test_overlay_is_drawn(model_dir, tmp_path, capsys):
    overlay = tmp_path / "seen.png"
    rc = main(["transcribe", str(FIXTURES / "page_two_parts.png"), "-o", str(tmp_path),
               "--model", str(model_dir), "--no-grammar", "--overlay", str(overlay), *FAST])
    assert rc == 0, capsys.readouterr().err
    img = np.asarray(Image.open(overlay).convert("RGB"))
    red = (img[..., 0] > 180) & (img[..., 1] < 80) & (img[..., 2] < 80)
    assert red.sum() > 500  # staff lines were drawn


def test_bad_arguments_exit_2(capsys):
    assert main(["transcribe", "x.png", "--beams", "0"]) == 2
    assert "--beams must be between 1 and 64" in capsys.readouterr().err
