"""The transfer grid (experiments/transfer.py) and its MuseScore staff samples."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, rel: str):
    sys.path.insert(0, str(ROOT / "experiments"))
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_subsets_take_whole_leading_shards_and_refuse_too_few(tmp_path):
    transfer = _load("transfer", "experiments/transfer.py")
    train = tmp_path / "train"
    train.mkdir()
    shards = [{"shard": f"shard-{i:06d}.tar", "samples": 64} for i in range(3)]
    for s in shards:
        (train / s["shard"]).write_bytes(b"t")
        (train / s["shard"].replace(".tar", ".json")).write_text("{}")
    (train / "manifest.json").write_text(json.dumps({"shards": shards}))
    sub = transfer._subset(train, 128, tmp_path / "out")
    assert sorted(p.name for p in sub.glob("*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    assert all(p.is_symlink() for p in sub.iterdir())
    with pytest.raises(SystemExit, match="fewer than"):
        transfer._subset(train, 1000, tmp_path / "out")


def test_report_tables_each_setting_by_size(tmp_path, capsys, monkeypatch):
    transfer = _load("transfer", "experiments/transfer.py")
    row = {"minutes": 4.0, "ser": 0.5, "pitch_recall": 0.4}
    for name, ser in [("zero-shot", 0.9), ("all-n128", 0.6), ("all-n1024", 0.3), ("scratch-n128", 1.5)]:
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({**row, "ser": ser}) + "\n")
    monkeypatch.setattr(sys, "argv", ["transfer.py", "report", "--out", str(tmp_path),
                                      "--md", str(tmp_path / "t.md")])
    assert transfer.main() == 0
    lines = (tmp_path / "t.md").read_text().splitlines()
    assert lines[0].startswith("| setting | SER n=128 | SER n=1024 |")
    assert "| zero-shot (no fine-tuning) | 0.900 | 0.900 |" in lines[2]
    assert any(x.startswith("| all | 0.600 | 0.300 |") for x in lines)
    assert any(x.startswith("| scratch | 1.500 | - |") for x in lines)
    assert transfer._done(tmp_path / "all-n128.jsonl", 4.0) and not transfer._done(tmp_path / "all-n128.jsonl", 8.0)


@pytest.mark.skipif(shutil.which("mscore3") is None, reason="MuseScore 3 not installed (apt-get install musescore3)")
def test_musescore_staves_are_cut_by_detection_and_labelled_per_staff(tmp_path, monkeypatch):
    from grammar.musicxml import read_score
    from grammar.validate import validate
    from synth.shards import iter_samples

    staves = _load("musescore_staves", "experiments/musescore_staves.py")
    scores = tmp_path / "scores"
    scores.mkdir()
    shutil.copy(ROOT / "tests" / "golden" / "grand_staff.musicxml", scores)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    out = tmp_path / "out"
    argv = ["--scores", str(scores), "--out", str(out), "--count", "4", "--per-shard", "4", "--all-parts", "1"]
    assert staves.main(argv) == 0
    samples = list(iter_samples(sorted(out.glob("*.tar"))))
    assert len(samples) == 4 and json.loads((out / "manifest.json").read_text())["samples"] == 4
    for s in samples:
        tokens = read_score(s["label"]).tokens
        assert validate(tokens) == [] and tokens.count("staff") == tokens.count("part")  # one staff
        assert s["geometry"] == {} and s["image"].ndim == 2 and s["image"].shape[0] < 400
    first = (out / "shard-000000.tar").read_bytes()
    assert staves.main(argv) == 0 and (out / "shard-000000.tar").read_bytes() == first  # kept, not redone
