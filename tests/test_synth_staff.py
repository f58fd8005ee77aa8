"""Staff level: one sample per staff, cut as the transcriber cuts, labelled with that staff alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from grammar.musicxml import read_score
from grammar.staff_extract import score_layout
from grammar.validate import validate
from synth.config import load_config
from synth.make import make
from synth.sample import SampleError, SampleMaker
from synth.shards import iter_samples, sha256_file
from synth.staff_crop import box_contains

FIXTURES = Path(__file__).parent / "fixtures" / "synth"
ROOT = Path(__file__).resolve().parents[1]
LIEDER_DEV = ROOT.parent / "shared" / "corpus" / "lieder" / "dev"


def _config(**kw):
    kw.setdefault("raster", {"staff_space_px": [7, 8]})
    return load_config(None, level="staff", samples_per_shard=2, **kw)


def check_staff_sample(image: np.ndarray, label: bytes, geometry: dict, meta: dict) -> None:
    """What every staff sample must satisfy (the issue's checks)."""
    tokens = list(read_score(label).tokens)
    assert validate(tokens) == [], meta["source"]
    assert score_layout(tokens) == [1], "one part with one staff"
    assert image.shape == (geometry["height"], geometry["width"])
    whole = (0, 0, geometry["width"], geometry["height"])
    assert len(geometry["staves"]) == 1
    assert box_contains(whole, np.array(geometry["staves"][0]["lines"])), "all five lines in the crop"
    ids = {f"t{i}" for i, t in enumerate(tokens) if t in ("note", "chord", "grace", "rest")}
    assert set(geometry["anchors"]) <= ids, "anchors are the label's notes"
    for p in geometry["anchors"].values():
        assert box_contains(whole, np.array(p)), "every anchor inside the crop"
    measures = tokens.count("part")
    assert len(geometry["measures"]) == measures == meta["measures"][1] - meta["measures"][0]
    assert meta["level"] == "staff" and 0 <= meta["staff"]["index"] < meta["staff"]["of"]


@pytest.fixture(scope="module")
def run_a(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("staff")
    s = make(_config(), str(FIXTURES), out, 3, seed=5, workers=1, progress=False)
    assert s.missing == 0 and s.shards_made == 2
    return out


def test_two_staff_fixture_gives_a_sample_per_staff_and_each_passes_the_checks(run_a):
    samples = list(iter_samples(sorted(run_a.glob("shard-*.tar"))))
    manifest = json.loads((run_a / "manifest.json").read_text())
    # two_staves.musicxml has two staves: 3 tasks -> 6 staves, each kept or dropped with a reason
    assert len(samples) + manifest["staves_dropped"] == 6 and manifest["samples"] == len(samples)
    assert len(samples) >= 4
    for s in samples:
        check_staff_sample(s["image"], s["label"], s["geometry"], s["meta"])
    assert {s["meta"]["staff"]["index"] for s in samples} == {0, 1}


def test_same_seed_same_bytes_and_resume(run_a, tmp_path):
    b = tmp_path / "b"
    make(_config(), str(FIXTURES), b, 3, seed=5, workers=2, progress=False)  # worker count changes nothing
    shas = {p.name: sha256_file(p) for p in sorted(b.glob("shard-*.tar"))}
    assert shas == {p.name: sha256_file(p) for p in sorted(run_a.glob("shard-*.tar"))}
    (b / "shard-000001.tar").unlink()  # a killed run
    s = make(_config(), str(FIXTURES), b, 3, seed=5, workers=1, progress=False)
    assert s.shards_kept == 1 and s.shards_made == 1
    assert {p.name: sha256_file(p) for p in sorted(b.glob("shard-*.tar"))} == shas


def test_generated_scores_at_staff_level_with_short_excerpts():
    cfg = _config(excerpt={"system_measures": [1, 2]}, generator={"measures": [2, 4], "difficulty": [0.0, 0.7]})
    maker = SampleMaker(cfg, "random")
    kept = dropped = 0
    for i in range(8):
        try:
            g = maker.make_samples(2, i)
        except SampleError as err:
            assert "no staff could be kept" in err.reason or "system" in err.reason
            continue
        dropped += len(g.dropped)
        assert all(d["reason"] for d in g.dropped)
        for s in g.samples:
            image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
            check_staff_sample(image, s.label, s.geometry, s.meta)
            assert s.meta["measures"][1] - s.meta["measures"][0] <= 2
            kept += 1
    assert kept >= 6


def test_lieder_staves_pass_the_checks():
    if not LIEDER_DEV.is_dir():
        pytest.skip(f"Lieder corpus not found at {LIEDER_DEV} (shared corpus absent on this machine)")

    maker = SampleMaker(_config(), str(LIEDER_DEV))
    kept = 0
    for i in range(4):
        try:
            g = maker.make_samples(0, i)
        except SampleError:
            continue
        for s in g.samples:
            image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
            check_staff_sample(image, s.label, s.geometry, s.meta)
            kept += 1
    assert kept >= 6  # songs: a voice staff and a piano grand staff each


def test_mix_draws_sources_by_weight(tmp_path):
    cfg = _config(sources={str(FIXTURES): 1.0, "random": 1.0}, generator={"measures": [2, 3], "difficulty": [0, 0.2]})
    maker = SampleMaker(cfg, None)
    picks = [maker.sources.names[maker.sources.pick(0, i, 0)] for i in range(40)]
    assert set(picks) == {str(FIXTURES), "random"}
    # A single source never draws: its samples are those made before mixes existed.
    assert SampleMaker(_config(), str(FIXTURES)).sources.pick(0, 3, 0) == 0


def test_cli_staff_level_and_bad_music21_name(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "synth", "make", "--source", "music21:noSuchCollection", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "no such music21 collection" in r.stderr and "bach" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "synth", "make", "--level", "staff", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "no --source" in r.stderr


@pytest.mark.slow
def test_many_lieder_train_systems_pass_the_staff_checks():
    train = LIEDER_DEV.parent / "train"
    if not train.is_dir():
        pytest.skip(f"Lieder corpus not found at {train} (shared corpus absent on this machine)")
    maker = SampleMaker(_config(), str(train))
    kept = dropped = 0
    for i in range(60):
        try:
            g = maker.make_samples(7, i)
        except SampleError:
            continue
        dropped += len(g.dropped)
        for s in g.samples:
            image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
            check_staff_sample(image, s.label, s.geometry, s.meta)
            kept += 1
    assert kept >= 120 and dropped <= 0.15 * (kept + dropped)
