"""Hugging Face packaging: save_pretrained / from_pretrained round trips, sharding, Auto classes, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from grammar.vocab import VOCAB
from omrformer.configuration import OmrformerConfig
from omrformer.modeling.model import OmrformerModel
from omrformer.processor import OmrformerProcessor

ROOT = Path(__file__).resolve().parents[1]


def _inputs():
    g = torch.Generator().manual_seed(3)
    return {
        "pixel_values": torch.rand(2, 1, 48, 96, generator=g),
        "decoder_input_ids": torch.tensor([[VOCAB.bos_id, 11, 12], [VOCAB.bos_id, 30, 31]]),
    }


def _saved(tmp_path: Path, **overrides) -> tuple[OmrformerModel, Path]:
    torch.manual_seed(0)
    model = OmrformerModel(OmrformerConfig.from_preset("tiny", **overrides)).eval()
    out = tmp_path / "ckpt"
    model.save_pretrained(out, max_shard_size="200KB")
    OmrformerProcessor().save_pretrained(out)
    return model, out


def test_round_trip_restores_identical_logits_from_shards(tmp_path):
    model, out = _saved(tmp_path, num_experts=2)
    shards = sorted(out.glob("*.safetensors"))
    assert len(shards) > 1, "max_shard_size must split the weights"
    assert (out / "model.safetensors.index.json").is_file()
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt")), "no pickle files"
    loaded = OmrformerModel.from_pretrained(out).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**_inputs()).logits, model(**_inputs()).logits, rtol=0, atol=0)
    assert loaded.config.num_experts == 2
    assert json.loads((out / "config.json").read_text())["model_type"] == "omrformer"


def test_vocabulary_and_processor_settings_are_saved_beside_the_weights(tmp_path):
    _, out = _saved(tmp_path)
    assert json.loads((out / "vocab.json").read_text())["sha256"] == VOCAB.sha256()
    assert "tokens" not in json.loads((out / "config.json").read_text())  # vocabulary is not in the config
    OmrformerProcessor(target_staff_space=12.0).save_pretrained(out)
    assert OmrformerProcessor.from_pretrained(out).settings.target_staff_space == 12.0


def test_auto_classes_load_offline_in_a_fresh_process(tmp_path):
    """One fresh interpreter (imports cost seconds here): lazy package, Auto classes, HF_HUB_OFFLINE=1.

    Both processes compute on one thread, set here and in the child: float sums depend on the
    thread count, and this test is about loading, not about the caller's OMP_NUM_THREADS.
    """
    model, out = _saved(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            expected = model(**_inputs()).logits
    finally:
        torch.set_num_threads(threads)
    torch.save(expected, tmp_path / "expected.pt")
    code = (
        "import sys, omrformer\n"
        "assert 'torch' not in sys.modules, 'import omrformer must stay light'\n"
        "import torch\n"
        "torch.set_num_threads(1)\n"
        "from transformers import AutoModel\n"
        "omrformer.register_auto_classes()\n"
        f"m = AutoModel.from_pretrained({str(out)!r}).eval()\n"
        "g = torch.Generator().manual_seed(3)\n"
        "x = {'pixel_values': torch.rand(2, 1, 48, 96, generator=g),\n"
        f"     'decoder_input_ids': torch.tensor([[{VOCAB.bos_id}, 11, 12], [{VOCAB.bos_id}, 30, 31]])}}\n"
        f"exp = torch.load({str(tmp_path / 'expected.pt')!r})\n"
        "with torch.no_grad():\n"
        "    assert torch.equal(m(**x).logits, exp), 'logits differ'\n"
        "print(type(m).__name__, omrformer.OmrformerConfig.model_type)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", code]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "OmrformerModel omrformer"
