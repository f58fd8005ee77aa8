"""experiments/lilypond_pages.py: LilyPond-engraved Lieder pages (a third engraver) with truth."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

TINY = b"""<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0">
  <part-list><score-part id="P1"><part-name>Voice</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>1</divisions><key><fifths>0</fifths></key>
        <time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>
      <note><rest/><duration>4</duration><type>whole</type></note>
    </measure>
    <measure number="2">
      <note><pitch><step>C</step><octave>5</octave></pitch><duration>1</duration><type>quarter</type></note>
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>1</duration><type>quarter</type></note>
      <note><pitch><step>E</step><octave>5</octave></pitch><duration>2</duration><type>half</type></note>
    </measure>
    <measure number="3">
      <note><pitch><step>G</step><octave>4</octave></pitch><duration>4</duration><type>whole</type></note>
    </measure>
  </part>
</score-partwise>
"""


def _mod():
    sys.path.insert(0, str(ROOT / "experiments"))
    spec = importlib.util.spec_from_file_location("lilypond_pages", ROOT / "experiments/lilypond_pages.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_commands_convert_then_engrave_png_at_the_resolution(tmp_path):
    to_ly, to_png = _mod().commands(("/bin/musicxml2ly", "/bin/lilypond"), tmp_path / "x.musicxml", 150)
    assert to_ly == ["/bin/musicxml2ly", "--no-page-layout", "-o", str(tmp_path / "x.ly"), str(tmp_path / "x.musicxml")]
    assert to_png == ["/bin/lilypond", "-dbackend=eps", "-dresolution=150", "--png", "-o", str(tmp_path / "page"),
                      str(tmp_path / "x.ly")]


def test_page_files_single_numbered_and_none(tmp_path):
    mod = _mod()
    assert mod.page_files(tmp_path) == []
    assert mod.pages_problem([]) == "LilyPond wrote no page"
    (tmp_path / "page.png").write_bytes(b"")
    assert mod.page_files(tmp_path) == [tmp_path / "page.png"]
    assert mod.pages_problem(mod.page_files(tmp_path)) is None
    # Several pages: numbered, in numeric (not name) order; a stray name does not count.
    for n in (1, 2, 10):
        (tmp_path / f"page-page{n}.png").write_bytes(b"")
    (tmp_path / "page-pageX.png").write_bytes(b"")
    assert [p.name for p in mod.page_files(tmp_path)] == ["page-page1.png", "page-page2.png", "page-page10.png"]
    assert mod.pages_problem(mod.page_files(tmp_path)) == "excerpt spread over 3 pages"


def _fake_lilypond(mod, monkeypatch, pages: int, fail: str | None = None):
    """Stand in for the two subprocesses: lilypond 'writes' ``pages`` half-transparent pages."""

    def run(cmd, cwd, timeout, what):
        if what == "lilypond" and not fail:
            rgba = np.zeros((40, 30, 4), np.uint8)
            rgba[10:12, :, 3] = 255  # a black line on a transparent page
            names = ["page.png"] if pages == 1 else [f"page-page{i + 1}.png" for i in range(pages)]
            for name in names:
                Image.fromarray(rgba, "RGBA").save(cwd / name)
        return fail if what == "lilypond" else None

    monkeypatch.setattr(mod, "_run", run)


def test_engrave_flattens_transparency_onto_white_paper(tmp_path, monkeypatch):
    mod = _mod()
    _fake_lilypond(mod, monkeypatch, pages=1)
    out = tmp_path / "a.png"
    assert mod.engrave(TINY, out, 150, 10, tools=("musicxml2ly", "lilypond")) is None
    img = Image.open(out)
    assert img.mode == "L"
    arr = np.asarray(img)
    assert arr[0, 0] == 255 and arr[10, 5] == 0

    from omrformer.vision.image_io import load_image

    gray = load_image(out)
    assert gray[0, 0] == 1.0 and gray[11, 0] == 0.0


def test_engrave_skips_multi_page_and_reports_failures(tmp_path, monkeypatch):
    mod = _mod()
    out = tmp_path / "a.png"
    _fake_lilypond(mod, monkeypatch, pages=2)
    assert mod.engrave(TINY, out, 150, 10, tools=("musicxml2ly", "lilypond")) == "excerpt spread over 2 pages"
    _fake_lilypond(mod, monkeypatch, pages=1, fail="lilypond failed (exit 1)")
    assert mod.engrave(TINY, out, 150, 10, tools=("musicxml2ly", "lilypond")) == "lilypond failed (exit 1)"
    assert not out.exists()


def test_run_reports_timeouts_and_missing_programs(tmp_path):
    mod = _mod()
    assert mod._run([sys.executable, "-c", "import time; time.sleep(5)"], tmp_path, 0.2, "lilypond") == \
        "lilypond timed out after 0 s"
    assert mod._run([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, 10, "musicxml2ly") == \
        "musicxml2ly failed (exit 3)"
    assert mod._run([str(tmp_path / "nope")], tmp_path, 10, "lilypond").startswith("lilypond could not run")


def test_main_writes_pairs_counts_and_drops_stale_ones(tmp_path, monkeypatch):
    mod = _mod()
    scores = tmp_path / "scores"
    scores.mkdir()
    (scores / "a.musicxml").write_bytes(TINY)
    (scores / "b.musicxml").write_bytes(b"<not-music/>")
    (scores / "c.musicxml").write_bytes(TINY)
    out = tmp_path / "out"
    (out / "voice").mkdir(parents=True)
    (out / "voice" / "c.png").write_bytes(b"stale")
    (out / "voice" / "c.musicxml").write_bytes(b"stale")
    monkeypatch.setattr(mod, "find_tools", lambda: ("musicxml2ly", "lilypond"))
    monkeypatch.setattr(mod, "lilypond_version", lambda lily: "GNU LilyPond test")

    def engrave(xml, out_png, dpi, timeout, tools=None):
        if out_png.stem == "c":
            return "excerpt spread over 2 pages"
        Image.new("L", (8, 8), 255).save(out_png)
        return None

    monkeypatch.setattr(mod, "engrave", engrave)
    checked = []
    monkeypatch.setattr(mod, "staff_problem", lambda png, per_system: checked.append((png.name, per_system)))
    assert mod.main(["--scores", str(scores), "--out", str(out), "--sets", "voice"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engraver"] == "GNU LilyPond test"
    assert manifest["voice"]["written"] == 1
    assert manifest["voice"]["excerpt spread over 2 pages"] == 1
    assert sum(v for k, v in manifest["voice"].items() if k.startswith("unreadable")) == 1
    assert sorted(p.name for p in (out / "voice").iterdir()) == ["a.musicxml", "a.png"]
    assert "voice_piano" not in manifest and not (out / "voice_piano").exists()
    assert checked == [("a.png", 1)]  # an engraved page's staves are checked: one staff a system
    # The truth is the codec's reading of the excerpt: the voice from where it enters (measure 2).
    from grammar.musicxml import read_score

    truth = read_score((out / "voice" / "a.musicxml").read_bytes(), name="a")
    assert len(read_score(TINY, name="full").tokens) > len(truth.tokens)


def _staff_page(tops: list[int]) -> Image.Image:
    page = np.full((400, 300), 255, np.uint8)
    for top in tops:
        for line in range(5):
            page[top + 10 * line: top + 10 * line + 2, 20:280] = 0
    return Image.fromarray(page, "L")


def test_staff_check_wants_whole_systems_of_the_scores_staves(tmp_path):
    mod = _mod()
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 400), 255).save(blank)
    assert mod.staff_problem(blank, 1) == "no staff detected"
    two = tmp_path / "two.png"
    _staff_page([60, 220]).save(two)  # two staves far apart: two one-staff systems
    assert mod.staff_problem(two, 1) is None
    assert mod.staff_problem(two, 2) == "systems not of 2 staves"


def test_staves_per_system_counts_each_parts_staves():
    from lxml import etree

    root = etree.fromstring(b"""<score-partwise><part id="P1"><measure/></part>
      <part id="P2"><measure><attributes><staves>2</staves></attributes></measure></part></score-partwise>""")
    assert _mod().staves_per_system(root) == 3


def test_main_refuses_bad_input_clearly(tmp_path, monkeypatch, caplog):
    mod = _mod()
    caplog.set_level(logging.ERROR, logger="lilypond_pages")
    assert mod.main(["--scores", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in caplog.text
    monkeypatch.setattr(mod, "find_tools", lambda: None)
    assert mod.main(["--scores", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "apt-get install lilypond" in caplog.text
    monkeypatch.setattr(mod, "find_tools", lambda: ("musicxml2ly", "lilypond"))
    assert mod.main(["--scores", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no .mxl/.musicxml/.xml scores" in caplog.text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("lilypond") is None or shutil.which("musicxml2ly") is None,
                    reason="LilyPond not installed (apt-get install lilypond gives lilypond and musicxml2ly)")
def test_lilypond_engraves_a_tiny_score_whose_staff_is_detected(tmp_path):
    from omrformer.vision.image_io import load_image
    from omrformer.vision.staff_detection import detect_staves

    mod = _mod()
    out = tmp_path / "tiny.png"
    assert mod.engrave(TINY, out, 150, 120) is None
    gray = load_image(out)
    assert gray.shape == (1754, 1240)  # A4 at 150 dpi
    assert gray[0, 0] == 1.0 and gray.min() == 0.0  # white paper, black ink
    assert len(detect_staves(gray).staves) == 1
    assert mod.staff_problem(out, 1) is None


def test_other_dynamics_that_lilypond_refuses_become_words():
    from lxml import etree

    xml = b"""<score-partwise><part id="P1"><measure number="1">
      <direction><direction-type><dynamics><f/><other-dynamics> con anima</other-dynamics></dynamics>
        </direction-type><sound dynamics="100"/></direction>
      <direction><direction-type><dynamics><other-dynamics>(freshly)</other-dynamics></dynamics>
        </direction-type></direction>
      <note><notations><dynamics><other-dynamics> sfp </other-dynamics></dynamics></notations></note>
      <note><notations><dynamics><other-dynamics>very softly</other-dynamics></dynamics></notations></note>
    </measure></part></score-partwise>"""
    root = etree.fromstring(_mod().for_lilypond(xml))
    first, second = root.findall(".//direction")
    assert [t[0].tag for t in first.findall("direction-type")] == ["dynamics", "words"]
    assert first.find("direction-type/dynamics/f") is not None and first.find(".//words").text == "con anima"
    assert first[-1].tag == "sound"  # the direction-types stay before sound
    assert [t.tag for t in second] == ["direction-type"] and second.find(".//words").text == "(freshly)"
    a, b = root.findall(".//note")
    assert a.find(".//other-dynamics").text == "sfp"
    assert len(b) == 0  # an untrimmable note dynamic goes, and its emptied notations with it
