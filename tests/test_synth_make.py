"""End-to-end synthesis runs: determinism, labels, geometry, crashes, resume, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grammar.musicxml import read_score
from grammar.validate import validate
from synth.config import ConfigError, load_config
from synth.make import make
from synth.shards import iter_samples, sha256_file
from synth.token_cache import CACHE_DIRNAME
from synth.workers import CRASH_ENV, HANG_ENV

FIXTURES = Path(__file__).parent / "fixtures" / "synth"
ROOT = Path(__file__).resolve().parents[1]


def _config(**kw):
    return load_config(None, level="system", samples_per_shard=2, raster={"staff_space_px": [6, 7]}, **kw)


def _run(out: Path, seed: int = 3, count: int = 5, **kw):
    return make(_config(), str(FIXTURES), out, count, seed, workers=1, progress=False, **kw)


@pytest.fixture(scope="module")
def run_a(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("a")
    summary = _run(out)
    assert summary.samples == 5 and summary.missing == 0 and summary.shards_made == 3
    return out


def _shas(out: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(out.glob("shard-*.tar"))}


def test_same_seed_same_bytes_and_resume_after_a_lost_shard(run_a, tmp_path):
    b = tmp_path / "b"
    _run(b)
    assert _shas(b) == _shas(run_a)
    (b / "shard-000001.tar").unlink()  # a killed run: shard 1 never finished
    (b / "shard-000002.tar").write_bytes(b"truncated")  # or finished half-written
    assert list((b / CACHE_DIRNAME).glob("*.json")), "scores were not cached on disk"
    summary = _run(b)  # this run reads the scores' tokens from the disk cache: same bytes
    assert summary.shards_kept == 1 and summary.shards_made == 2
    assert _shas(b) == _shas(run_a)
    manifest = json.loads((b / "manifest.json").read_text())
    assert manifest["samples"] == 5 and [s["sha256"] for s in manifest["shards"]] == list(
        _shas(run_a).values()
    )


def test_a_rerun_over_a_finished_folder_reports_the_folder_not_just_the_run(run_a, tmp_path):
    import shutil

    b = tmp_path / "b"
    shutil.copytree(run_a, b)
    side = b / "shard-000001.json"  # an earlier run that could not make 2 samples of this shard
    meta = json.loads(side.read_text())
    side.write_text(json.dumps({**meta, "missing": 2}))
    summary = _run(b)
    assert summary.shards_made == 0 and summary.missing == 0  # nothing new was made or lost now
    assert (summary.folder_samples, summary.folder_missing) == (5, 2)  # but the folder still lacks 2
    assert json.loads((b / "manifest.json").read_text())["missing"] == 2


def test_different_seeds_give_different_images(run_a, tmp_path):
    other = tmp_path / "c"
    make(_config(), str(FIXTURES), other, 2, seed=4, workers=1, progress=False)
    a = next(iter_samples(sorted(run_a.glob("*.tar"))))["image"]
    c = next(iter_samples(sorted(other.glob("*.tar"))))["image"]
    assert a.shape != c.shape or not np.array_equal(a, c)


PHOTOMETRIC = (
    "ink",
    "paper",
    "lighting",
    "bleed_through",
    "resolution",
    "blur",
    "noise",
    "salt_pepper",
    "jpeg",
)


def test_samples_read_back_with_valid_labels_and_geometry_on_staff_lines(tmp_path):
    # Geometric distortions only (photometric ones can fade 1-px lines at this tiny test scale).
    cfg = _config(presets={"photo": 1.0, "scan": 1.0}, distortions={n: {"p": 0.0} for n in PHOTOMETRIC})
    make(cfg, str(FIXTURES), tmp_path, 5, seed=3, workers=1, progress=False)
    samples = list(iter_samples(sorted(tmp_path.glob("*.tar"))))
    assert len(samples) == 5
    assert any(s["meta"]["distortions"] for s in samples)
    for s in samples:
        img, g = s["image"], s["geometry"]
        assert img.dtype == np.uint8 and img.shape == (g["height"], g["width"])
        tokens = read_score(s["label"]).tokens
        assert validate(tokens) == []
        assert s["meta"]["level"] == "system" and s["meta"]["source"].endswith(".musicxml")
        assert len(g["measures"]) == s["meta"]["measures"][1] - s["meta"]["measures"][0]
        paper = np.median(img)
        hits = []
        for staff in g["staves"]:
            for x, y in np.array(staff["lines"])[:, 1:-1].reshape(-1, 2):
                xi, yi = int(round(x)), int(round(y))
                if 1 <= xi < img.shape[1] - 1 and 1 <= yi < img.shape[0] - 1:
                    hits.append(img[yi - 1 : yi + 2, xi - 1 : xi + 2].min() < paper - 40)
        assert np.mean(hits) > 0.97, s["meta"]["distortions"]


def test_a_worker_crash_is_recorded_and_the_run_completes(tmp_path, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "1")  # the worker os._exit()s on sample 1, first attempt
    summary = _run(tmp_path, count=3)
    assert summary.samples == 3 and summary.missing == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (fail,) = manifest["failures"]
    assert fail["index"] == 1 and "worker died" in fail["reason"] and fail["source"].endswith(".musicxml")


def test_a_hang_is_recorded_with_its_reason_and_the_run_completes(tmp_path, monkeypatch):
    monkeypatch.setenv(HANG_ENV, "1")  # the worker sleeps for an hour on sample 1, first attempt
    cfg = _config(timeout_s=4.0)
    summary = make(cfg, str(FIXTURES), tmp_path, 3, 3, workers=1, progress=False)
    assert summary.samples == 3 and summary.missing == 0
    (fail,) = json.loads((tmp_path / "manifest.json").read_text())["failures"]
    assert fail["index"] == 1 and fail["attempt"] == 0 and fail["reason"] == "timed out after 4 s"
    assert fail["source"].endswith(".musicxml")
    got = {s["meta"]["index"]: s["meta"]["attempt"] for s in iter_samples(sorted(tmp_path.glob("*.tar")))}
    assert got == {0: 0, 1: 1, 2: 0}  # sample 1 was made by its retry on a fresh worker


def test_random_source_makes_valid_samples(tmp_path):
    cfg = load_config(
        None,
        level="system",
        samples_per_shard=2,
        raster={"staff_space_px": [6, 7]},
        generator={"measures": [2, 3], "difficulty": [0.0, 0.6]},
    )
    summary = make(cfg, "random", tmp_path, 2, seed=1, workers=1, progress=False)
    assert summary.samples + summary.missing == 2
    for s in iter_samples(sorted(tmp_path.glob("*.tar"))):
        assert validate(read_score(s["label"]).tokens) == []


def test_bad_config_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("style:\n  colour: red\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*colour"):
        load_config(bad)
    with pytest.raises(ConfigError, match="every font is excluded"):
        load_config(None, style={"exclude_fonts": ["Leipzig", "Bravura", "Gootville", "Leland", "Petaluma"]})


@pytest.mark.parametrize(
    "args", [["--source", "/no/such/dir"], ["--source", "random", "--config", "/no.yaml"]]
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args):
    r = subprocess.run(
        [sys.executable, "-m", "synth", "make", *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_page_level_label_is_page_one_with_sysbreaks(tmp_path):
    cfg = load_config(
        None,
        level="page",
        samples_per_shard=2,
        raster={"staff_space_px": [5, 6]},
        presets={"clean": 1.0},
        excerpt={"page_measures": [30, 40]},
        generator={"measures": [40, 40], "difficulty": [0.3, 0.5]},
    )
    make(cfg, "random", tmp_path, 2, seed=2, workers=1, progress=False)
    samples = list(iter_samples(sorted(tmp_path.glob("*.tar"))))
    assert samples
    for s in samples:
        tokens = read_score(s["label"]).tokens
        assert validate(tokens) == []
        systems = s["meta"]["systems"]
        assert tokens.count("sysbreak") == len(systems) - 1
        assert (
            len(s["geometry"]["measures"])
            == sum(systems)
            == s["meta"]["measures"][1] - s["meta"]["measures"][0]
        )
