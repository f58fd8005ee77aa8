"""The CRNN-CTC baseline: shapes, greedy CTC decoding, a falling loss, and the harness's rows."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _crnn():
    spec = importlib.util.spec_from_file_location("crnn_ctc", ROOT / "experiments/baselines/crnn_ctc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_greedy_ctc_merges_repeats_and_drops_blanks():
    from grammar.vocab import VOCAB

    crnn = _crnn()
    blank, a, b = VOCAB.pad_id, 5, 7
    path = [blank, a, a, blank, a, b, b, blank, b]
    logp = torch.full((len(path), 1, len(VOCAB)), -10.0)
    for t, i in enumerate(path):
        logp[t, 0, i] = 0.0
    assert crnn.greedy_decode(logp, torch.tensor([len(path)])) == [[a, a, b, b]]
    assert crnn.greedy_decode(logp, torch.tensor([3])) == [[a]]  # only the valid columns


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("staves")
    cmd = [sys.executable, "-m", "synth", "make", "--source", "random", "--level", "system", "--count", "4",
           "--out", str(out), "--seed", "5", "--workers", "1", "--samples-per-shard", "4",
           "--config", str(ROOT / "experiments/configs/synth/system_staff.yaml")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_ctc_loss_falls_on_a_tiny_overfit(shards):
    from grammar.vocab import VOCAB
    from omrformer.training.data import resolve_shards

    crnn = _crnn()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    items = list(crnn.samples(resolve_shards([str(shards)]), loop=False, seed=0))
    assert items and all(im.shape[0] == crnn.HEIGHT for im, _ in items)
    batch = crnn.collate(items)
    model = crnn.CRNN(len(VOCAB), hidden=64, channels=(8, 16, 32, 32))
    assert model(batch["images"]).shape[1:] == (len(items), len(VOCAB))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(25):
        loss = crnn.ctc_loss(model, batch)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert torch.isfinite(loss) and float(loss) < 0.7 * first


def test_the_harness_rows_carry_the_repair_rate(shards, tmp_path):
    crnn = _crnn()
    code = crnn.main(["--train", str(shards), "--heldout", str(shards), "--minutes", "0.05",
                      "--eval-every", "0.05", "--heldout-batches", "1", "--batch", "2", "--out", str(tmp_path)])
    assert code == 0
    rows = [json.loads(x) for x in (tmp_path / "crnn.jsonl").read_text().splitlines()]
    assert rows[0]["variant"] == "crnn" and rows[-1]["step"] > 0
    assert 0.0 <= rows[-1]["repair_rate"] <= 1.0 and rows[-1]["ser"] >= 0.0
