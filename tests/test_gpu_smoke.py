"""The GPU pre-training script (experiments/gpu): its feeder, augmentation, render pool and smoke run."""

from __future__ import annotations

import json
import os
import pickle
import queue
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from experiments.gpu.run import Feeder, augment

ROOT = Path(__file__).resolve().parents[1]
VAL = 1000  # task indices from here are held out in these tests


class FakeStream:
    """The part of ``synth.stream.PooledStream`` the feeder uses."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.done = threading.Event()
        self.error = None

    def add(self, index: int, width: int = 64) -> None:
        self.queue.put({"key": f"00000001-{index:09d}-s00", "prepared": SimpleNamespace(ink=np.zeros((16, width)))})

    def take(self, n: int, timeout: float) -> list:
        out = []
        while len(out) < n and not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


def keys_of(items: list) -> list[str]:
    return [it["key"] for it in items]


def make_feeder(stream: FakeStream, reuse: int = 2) -> Feeder:
    return Feeder(stream, lambda items: {"keys": keys_of(items)}, batch_size=2, reuse=reuse, pool=64,
                  val_from=VAL, seed=0)


def test_feeder_uses_fresh_items_while_rendering_keeps_up() -> None:
    stream = FakeStream()
    feeder = make_feeder(stream)
    for i in range(8):
        stream.add(i)
    stream.add(VAL + 1)
    seen: list[str] = []
    for _ in range(2):  # 8 fresh items: two batches of fresh items only
        batch = feeder.draw()
        assert not batch["reused"].any()
        seen += batch["keys"]
    assert len(set(seen)) == 4
    assert keys_of(feeder.val) == [f"00000001-{VAL + 1:09d}-s00"]  # held out, never in a batch
    assert feeder.fresh_seen == feeder.samples_trained == 4


def test_feeder_reuses_each_item_at_most_reuse_times_when_rendering_falls_behind() -> None:
    stream = FakeStream()
    feeder = make_feeder(stream, reuse=3)
    for i in range(3):
        stream.add(i)
    counts: dict[str, int] = {}
    reused_rows = 0
    for _ in range(4):  # 3 items x 3 uses = 9 slots: four batches of 2 fit, without new renders
        batch = feeder.draw()
        reused_rows += int(batch["reused"].sum())
        for k in batch["keys"]:
            counts[k] = counts.get(k, 0) + 1
    assert max(counts.values()) <= 3
    assert reused_rows == 8 - 3  # every use after the first is marked for augmentation
    stream.done.set()
    with pytest.raises(RuntimeError, match="render pool stopped"):
        for _ in range(2):
            feeder.draw()


def test_augment_changes_only_reused_rows_and_keeps_padding_blank() -> None:
    pixels = torch.zeros(3, 1, 8, 16)  # (B, 1, H, W)
    pixels[:, :, :, :8] = 0.8
    mask = torch.zeros(3, 8, 16, dtype=torch.bool)
    mask[:, :, :12] = True
    before = pixels.clone()
    augment(pixels, mask, torch.tensor([False, True, False]), torch.Generator().manual_seed(0))
    assert torch.equal(pixels[[0, 2]], before[[0, 2]])
    assert not torch.equal(pixels[1], before[1])
    assert (pixels[1, :, :, 12:] == 0).all()  # padding: blank paper
    assert pixels.min() >= 0 and pixels.max() <= 1


def test_sample_encoder_pickles_without_its_processor() -> None:
    from omrformer.training.data import SampleEncoder

    enc = SampleEncoder(512, crop=True, geometry=True)
    _ = enc.stream  # built here ...
    copy = pickle.loads(pickle.dumps(enc))
    assert copy._stream is None and copy.crop and copy.max_length == 512  # ... rebuilt where it runs


def test_the_gpu_model_exports_in_the_files_the_tool_returns(tmp_path: Path) -> None:
    """MODEL's weights, in two <= 15 MB shards, plus config, vocab, processor, log and summary: <= 8 files."""
    from experiments.gpu.pretrain import MODEL
    from experiments.gpu.run import export
    from omrformer import OmrformerConfig, OmrformerModel, OmrformerProcessor

    model = OmrformerModel(OmrformerConfig.from_preset("small", **MODEL, max_target_length=512))
    names = export(SimpleNamespace(model=model), OmrformerProcessor(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # nothing left behind
    assert "generation_config.json" not in names and "config.json" in names
    assert len(names) + 2 <= 8  # + train_log.csv, summary.json
    assert all((tmp_path / n).stat().st_size <= 16 * 2**20 for n in names)
    assert all((tmp_path / n).stat().st_mode & 0o044 for n in names)  # readable once copied back


def run_script(args: list[str], out: Path, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(["nice", "-n", "19", "bash", "experiments/gpu/pretrain.sh", "--out", str(out), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # pretrain.sh's import check loads torch, Lightning and Verovio in a fresh process
def test_bad_settings_exit_2_with_one_line(tmp_path: Path) -> None:
    res = run_script(["--smoke", "--source", str(tmp_path / "no-scores")], tmp_path / "out", 600)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("pretrain: ")


@pytest.mark.slow  # two worker processes start (torch + Verovio each) and render staves
def test_pooled_stream_renders_prepared_staves_in_workers() -> None:
    from omrformer.training.data import SampleEncoder
    from synth.config import load_config
    from synth.stream import PooledStream

    cfg = load_config(ROOT / "experiments/gpu/staff_gpu.yaml", level="staff")
    enc = SampleEncoder(512, crop=True, crop_jitter=0.5, geometry=True)
    with PooledStream(cfg, "random", 5, workers=2, capacity=2, transform=enc, indices=range(3)) as stream:
        assert stream.queue.maxsize == 2
        items = []
        while not (stream.done.is_set() and stream.queue.empty()):
            items += stream.take(8, timeout=5.0)
    assert stream.error is None and items
    assert {int(it["key"].split("-")[1]) for it in items} <= {0, 1, 2}
    from grammar.vocab import VOCAB

    for it in items:
        assert it["prepared"].ink.dtype == np.float32 and it["labels"][-1] == VOCAB.eos_id
        assert "anchors" in it and "points" in it
    assert stream.rendered == len(items)


def test_render_stream_yields_prepared_staff_items() -> None:
    from omrformer.training.data import RenderStream, SampleEncoder

    enc = SampleEncoder(512, crop=True, geometry=True)
    ds = RenderStream("random", level="staff", config=str(ROOT / "experiments/gpu/staff_gpu.yaml"), seed=3,
                      encoder=enc)
    it = iter(ds)
    first, second = next(it), next(it)
    assert first["key"] != second["key"]
    assert first["prepared"].ink.ndim == 2 and "anchors" in first


@pytest.mark.slow  # the whole script on the CPU: 2 workers, 20 steps of a tiny model (~1-3 min)
def test_smoke_run_writes_the_files_the_gpu_run_returns(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_script(["--smoke"], out, 900)
    assert res.returncode == 0, res.stderr[-4000:]
    files = sorted(p.name for p in out.iterdir() if p.is_file())
    assert len(files) <= 8
    assert {"config.json", "vocab.json", "processor_config.json", "train_log.csv", "summary.json"} <= set(files)
    assert any(f.endswith(".safetensors") for f in files)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stage"] == "done" and summary["steps"] == 20
    assert summary["images_seen"] == 20 * 4 and summary["images_rendered"] >= summary["distinct_images"] > 0
    assert summary["val_ser"] is not None and summary["val_staves"] > 0
    header = (out / "train_log.csv").read_text().splitlines()[0].split(",")
    assert "speed/rendered_per_s" in header and "train/loss" in header
    from omrformer import OmrformerModel

    model = OmrformerModel.from_pretrained(out)
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"]


@pytest.mark.slow  # starts the script's imports and workers (~15-30 s on a loaded 2-core machine)
def test_watchdog_ends_the_run_at_the_hard_limit_with_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_script(["--smoke", "--hard-limit-minutes", "0.15"], out, 300)
    assert res.returncode == 3, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["error"].startswith("watchdog: hard limit of 9 s")
