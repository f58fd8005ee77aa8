"""`omrformer-train` on a tiny config: logs, saved config, HF export, kill/resume, DDP on CPU (gloo)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "experiments" / "configs" / "tiny_cpu.yaml"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    cmd = [sys.executable, "-m", "synth", "make", "--source", "random", "--level", "system", "--count", "6",
           "--out", str(out), "--seed", "3", "--workers", "1", "--samples-per-shard", "3"]
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _train(tmp_path: Path, shards: Path, *extra: str, wait: bool = True) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "omrformer.training.cli", "fit", "--config", str(TINY),
           "--data.train", str(shards), "--data.val", str(shards), "--data.max_length", "1024",
           "--trainer.default_root_dir", str(tmp_path),
           "--trainer.logger.init_args.save_dir", str(tmp_path), *extra]
    if wait:
        return subprocess.run(cmd, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(cmd, cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _ckpt_step(path: Path) -> int:
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])


def test_fit_logs_every_loss_saves_config_and_exports_hf(tmp_path, shards):
    done = _train(tmp_path, shards)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "csv" / "version_0"
    assert (run / "config.yaml").is_file()
    rows = _rows(run)
    columns = set(rows[0])
    logged = {f"train/{n}" for n in ("loss", "loss_ce", "loss_measure", "loss_forbidden")}
    logged |= {"val/loss", "val/ser"}
    assert logged <= columns
    assert any(c.startswith("lr-") for c in columns)
    assert max(int(r["step"]) for r in rows if r["train/loss"]) == 3

    from omrformer import OmrformerModel, OmrformerProcessor

    model = OmrformerModel.from_pretrained(run / "hf_best")
    OmrformerProcessor.from_pretrained(run / "hf_best")
    assert model.config.max_target_length >= 1024  # linked from data.max_length


@pytest.mark.slow
def test_killed_run_resumes_at_its_global_step(tmp_path, shards):
    proc = _train(tmp_path, shards, "--trainer.max_steps", "200", wait=False)
    last = tmp_path / "csv" / "version_0" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    killed_at = 0
    while time.time() < deadline and proc.poll() is None:
        if last.is_file():
            time.sleep(0.5)  # let the atomic checkpoint write finish
            try:
                killed_at = _ckpt_step(last)
            except Exception:
                continue
            if killed_at >= 2:
                break
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert killed_at >= 2, "no checkpoint before the deadline"
    target = killed_at + 3
    done = _train(tmp_path, shards, "--trainer.max_steps", str(target), "--ckpt_path", str(last))
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = tmp_path / "csv" / "version_1"
    steps = [int(r["step"]) for r in _rows(resumed) if r.get("train/loss")]
    assert min(steps) >= killed_at and max(steps) == target - 1
    assert _ckpt_step(resumed / "checkpoints" / "last.ckpt") == target


@pytest.mark.slow
def test_ddp_two_cpu_processes_with_gloo(tmp_path, shards):
    done = _train(tmp_path, shards, "--trainer.strategy", "ddp", "--trainer.devices", "2",
                  "--trainer.max_steps", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "csv" / "version_0" / "hf_best" / "config.json").is_file()
