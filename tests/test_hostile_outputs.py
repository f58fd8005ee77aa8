"""Careless and hostile outputs: device files written through, clashing names, damaged weights."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grammar.atomic import write_atomic


def test_a_named_pipe_is_written_through_not_replaced(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"<score/>")
    reader.join(10)
    assert got == [b"<score/>"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe


def test_dev_null_stays_a_device(tmp_path):
    write_atomic("/dev/null", b"x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_private_file_stays_private(tmp_path):
    f = tmp_path / "out.musicxml"
    f.write_text("old")
    f.chmod(0o600)
    write_atomic(f, "new")
    assert f.read_text() == "new" and stat.S_IMODE(f.stat().st_mode) == 0o600
    g = tmp_path / "fresh.musicxml"
    write_atomic(g, "x")
    assert stat.S_IMODE(g.stat().st_mode) == 0o644


def test_clashing_output_names_keep_their_suffix_or_are_refused(tmp_path):
    from omrformer.cli import CommandError
    from omrformer.cli_transcribe import output_stems

    a, b, c = tmp_path / "page.png", tmp_path / "page.jpg", tmp_path / "other.png"
    assert output_stems([a, b, c], None) == {a: "page.png", b: "page.jpg", c: "other"}
    x, y = tmp_path / "x" / "page.png", tmp_path / "y" / "page.png"
    assert output_stems([x, y], None) == {x: "page", y: "page"}  # beside each input: no clash
    with pytest.raises(CommandError, match="would write the same output file"):
        output_stems([x, y], str(tmp_path / "out"))




def test_half_the_weights_missing_is_one_clear_error(model_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from omrformer.transcribe import TranscriptionError, load_model

    damaged = tmp_path / "damaged"
    shutil.copytree(model_dir, damaged)
    weights = load_file(damaged / "model.safetensors")
    keep = dict(list(weights.items())[: len(weights) // 2])
    save_file(keep, damaged / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(TranscriptionError, match=r"damaged.*do not match.*missing"):
        load_model(damaged, "cpu")
    net, _ = load_model(model_dir, "cpu")  # the intact folder still loads
    assert net is not None


def test_stdout_output_and_its_limits(model_dir, tmp_path, capsysbinary):
    from omrformer.cli import main

    page = Path(__file__).parent / "fixtures" / "staff" / "single_staff.png"
    opts = ["--model", str(model_dir), "--max-length", "16", "--layout", "page", "-o", "-"]
    assert main(["transcribe", str(page), *opts]) in (0, 1)
    out = capsysbinary.readouterr().out
    assert out.startswith(b"<?xml") and not (Path.cwd() / "-").exists()
    assert main(["transcribe", str(page), str(page), *opts]) == 2
    assert b"-o - writes one page" in capsysbinary.readouterr().err


@pytest.mark.parametrize("argv", [
    ["--device", "potato"], ["--device", "cuda:x"], ["--beams", "1000"], ["--batch-size", "0"],
])
def test_bad_settings_are_one_line_exit_2(argv, tmp_path, capsys):
    from omrformer.cli import main

    page = Path(__file__).parent / "fixtures" / "staff" / "single_staff.png"
    assert main(["transcribe", str(page), "-o", str(tmp_path / "x.musicxml"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("omrformer: ") and "Traceback" not in err[0]


def test_endless_inputs_and_control_characters_are_refused(tmp_path, capsys):
    from omrformer.cli import main

    assert main(["tokenize", "/dev/zero"]) == 2
    assert "larger than" in capsys.readouterr().err
    assert main(["check", "/dev/zero"]) == 2
    assert "not a token file" in capsys.readouterr().err
    tokens = tmp_path / "t.tokens"
    tokens.write_text("<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> <rest:whole> <bar>")
    assert main(["detokenize", str(tokens), "--title", "a\x01b", "-o", str(tmp_path / "o.musicxml")]) == 2
    assert "control characters" in capsys.readouterr().err
    assert not (tmp_path / "o.musicxml").exists()


def test_a_rerun_skips_finished_pages_and_overwrite_redoes_them(model_dir, tmp_path, capsys):
    import shutil

    from omrformer.cli import main

    src = Path(__file__).parent / "fixtures" / "staff" / "single_staff.png"
    pages = tmp_path / "in"
    pages.mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(src, pages / name)
    out = tmp_path / "out"
    opts = ["--model", str(model_dir), "--max-length", "16", "--layout", "page", "-o", str(out)]
    assert main(["transcribe", str(pages), *opts]) == 0
    first = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert set(first) == {"a.musicxml", "b.musicxml"}
    capsys.readouterr()
    assert main(["transcribe", str(pages), *opts]) == 0
    assert "2 input(s) skipped" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == first
    os.utime(pages / "b.png")  # a changed input is read again; the other stays skipped
    (out / "a.musicxml").touch()
    assert main(["transcribe", str(pages), *opts]) == 0
    assert "1 input(s) skipped" in capsys.readouterr().err
    assert main(["transcribe", str(pages), *opts, "--overwrite"]) == 0
    assert "skipped" not in capsys.readouterr().err


def test_a_giant_pdf_page_is_refused_before_it_is_rendered(tmp_path):
    pytest.importorskip("pypdfium2")
    import pypdfium2 as pdfium

    from omrformer.vision.image_io import ImageLoadError, iter_pages

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(72 * 8.5, 72 * 11)
    pdf.new_page(72 * 200, 72 * 200)  # 200 x 200 inches: 6e9 pixels at 300 dpi
    path = tmp_path / "giant.pdf"
    pdf.save(str(path))
    count, pages = iter_pages(path)
    assert count == 2
    first = next(pages)  # the normal page renders; nothing else has been decoded yet
    assert first.ndim == 2
    with pytest.raises(ImageLoadError, match="page 2 of 200x200 inches"):
        next(pages)


def test_stdout_on_a_full_disk_is_one_line(tmp_path):
    import subprocess
    import sys

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    score = Path(__file__).parent / "golden" / "clefs.musicxml"
    with open("/dev/full", "wb") as full:
        res = subprocess.run([sys.executable, "-m", "omrformer", "tokenize", str(score)], stdout=full,
                             stderr=subprocess.PIPE, text=True, timeout=120,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == ["omrformer: cannot write output (No space left on device)"]


def test_a_corrupt_mxl_container_is_exit_2_for_tokenize_and_check(tmp_path, capsys):
    import zipfile

    from omrformer.cli import main

    bad = tmp_path / "bad.mxl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("META-INF/container.xml", "<container><rootfiles><rootfile full-path=")
        z.writestr("s.xml", "<score-partwise/>")
    for command in ("tokenize", "check"):
        assert main([command, str(bad)]) == 2  # not check's 1 ("violations found")
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "container.xml: not well-formed XML" in err[0]


def test_a_missing_relative_model_path_is_local_not_a_hub_lookup(tmp_path, monkeypatch):
    from omrformer.transcribe import TranscriptionError, load_model

    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TranscriptionError, match="no such model folder"):
        load_model("models/omr-typo", "cpu")


def test_a_newline_in_a_file_name_cannot_forge_a_message(tmp_path, capsys):
    from omrformer.cli import main

    forged = tmp_path / "a\nomrformer: all pages transcribed.tokens"
    forged.write_text("not a token\n")
    assert main(["detokenize", str(forged)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "a\\nomrformer: all pages" in err
    assert main(["check", str(forged)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_detokenize_never_writes_what_tokenize_would_refuse(tmp_path, monkeypatch, capsys):
    import grammar.musicxml.safe_xml as safe_xml
    from omrformer.cli import main

    tokens = Path(__file__).parent / "golden" / "clefs.tokens"
    out = tmp_path / "s.musicxml"
    assert main(["detokenize", str(tokens), "-o", str(out)]) == 0
    size = out.stat().st_size
    out.unlink()
    monkeypatch.setattr(safe_xml, "MAX_XML_BYTES", size - 1)  # the same limit, made small
    assert main(["detokenize", str(tokens), "-o", str(out)]) == 2
    assert "more than the" in capsys.readouterr().err and not out.exists()
    assert main(["tokenize", str(tmp_path / "missing.musicxml")]) == 2  # still a clear error


def test_out_of_memory_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    import omrformer.cli as cli

    def exhausted(args):
        raise MemoryError

    monkeypatch.setattr(cli, "cmd_tokenize", exhausted)
    assert cli.main(["tokenize", str(tmp_path / "x.musicxml")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "omrformer: out of memory (try --batch-size 1, fewer --beams, or a smaller page)"]


def test_an_unwritable_overlay_is_one_line_and_the_score_is_kept(model_dir, tmp_path, capsys):
    from omrformer.cli import main

    page = Path(__file__).parent / "fixtures" / "staff" / "single_staff.png"
    out = tmp_path / "p.musicxml"
    (tmp_path / "a-file").write_text("")
    bad = tmp_path / "a-file" / "p.png"  # its "folder" is a file: cannot be written
    opts = ["--model", str(model_dir), "--max-length", "16", "--layout", "page"]
    assert main(["transcribe", str(page), *opts, "-o", str(out), "--overlay", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert any("overlay" in line and "cannot write" in line for line in err)
    assert all(line.startswith("omrformer: ") for line in err), err  # one line each, no traceback
    assert err[-1] == "omrformer: 1 of 1 pages transcribed (1 overlay(s) not written)"
    assert out.read_bytes().startswith(b"<?xml")
