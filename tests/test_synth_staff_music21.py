"""music21 sources: converted once through music21 (worker processes), counted, cached, sampled."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from synth.config import ConfigError, load_config
from synth.make import make
from synth.music21_source import MUSIC21_DIRNAME, collection_files, convert_file, converted_scores, parse_name
from synth.shards import iter_samples
from synth.sources import SourceError

pytest.importorskip("music21", reason="music21 sources need the music21 package")

from test_synth_staff import check_staff_sample  # noqa: E402


def test_names_and_collections():
    assert parse_name("music21:bach") == ("bach", None)
    assert parse_name("music21:bach:3") == ("bach", 3)
    with pytest.raises(SourceError, match="LIMIT"):
        parse_name("music21:bach:x")
    files = collection_files("music21:bach:5")
    assert len(files) == 5 and all(f.suffix in (".mxl", ".krn", ".xml") for f in files)
    with pytest.raises(SourceError, match="known: .*bach"):
        collection_files("music21:nope")


def test_bach_chorales_at_staff_level(tmp_path):
    cfg = load_config(None, level="staff", samples_per_shard=4, raster={"staff_space_px": [7, 8]})
    s = make(cfg, "music21:bach:2", tmp_path, 2, seed=0, workers=1, progress=False)
    assert s.missing == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    report = manifest["music21"]["music21:bach:2"]
    assert report["files"] == 2 and report["scores"] == 2 and report["converted"] == 2
    assert (tmp_path / MUSIC21_DIRNAME / "bach" / "report-first2.json").is_file()
    assert len(converted_scores("music21:bach:2", tmp_path / MUSIC21_DIRNAME)) == 2
    samples = list(iter_samples(sorted(tmp_path.glob("shard-*.tar"))))
    assert len(samples) + manifest["staves_dropped"] >= 2 * 2  # four voices on 2 or 4 staves
    for smp in samples:
        check_staff_sample(smp["image"], smp["label"], smp["geometry"], smp["meta"])
        assert "bach" in smp["meta"]["source"]
    # A second run converts nothing again (the records are reused) and makes the same bytes.
    again = tmp_path / "again"
    again.mkdir()
    for p in (tmp_path / MUSIC21_DIRNAME).rglob("*"):
        if p.is_file():
            dest = again / MUSIC21_DIRNAME / p.relative_to(tmp_path / MUSIC21_DIRNAME)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(p.read_bytes())
    make(cfg, "music21:bach:2", again, 2, seed=0, workers=1, progress=False)
    a = [cv2.imencode(".png", x["image"])[1].tobytes() for x in samples]
    b = [cv2.imencode(".png", x["image"])[1].tobytes() for x in iter_samples(sorted(again.glob("shard-*.tar")))]
    assert a == b


def test_a_file_music21_cannot_read_is_counted_with_its_reason(tmp_path):
    bad = tmp_path / "bad.mxl"
    bad.write_bytes(b"not a zip archive")
    rec = convert_file(bad, "bad.mxl", tmp_path, None)
    assert len(rec["scores"]) == 1 and not rec["scores"][0]["ok"]
    assert rec["scores"][0]["reason"].startswith("music21 parse: ")
    assert not list(tmp_path.glob("*.musicxml"))


def test_mix_config_is_valid_and_bad_sources_are_named():
    root = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "synth"
    cfg = load_config(root / "staff_mix.yaml")
    assert cfg.level == "staff" and "random" in cfg.sources and "music21:bach" in cfg.sources
    assert np.isclose(sum(cfg.sources.values()), 1.0)
    with pytest.raises(ConfigError, match="sources"):
        load_config(None, sources={"random": -1})


def test_a_hung_conversion_is_killed_counted_and_the_rest_converted(tmp_path, monkeypatch):
    from synth.music21_source import HANG_ENV, convert_collection

    first, second = collection_files("music21:bach:2")
    monkeypatch.setenv(HANG_ENV, second.name)  # the second task: past the first task's start-up grace
    report = convert_collection("music21:bach:2", tmp_path, None, workers=1, timeout_s=3)
    assert report["files"] == 2 and report["converted"] == 1
    assert report["failures_by_reason"] == {"timed out after 3 s": 1}
    assert [p.name for p in converted_scores("music21:bach:2", tmp_path)] == [first.stem + "-0000.musicxml"]
