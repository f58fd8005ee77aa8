"""experiments/export_checkpoint.py: checked copies, half-size weights, float32 at inference."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _export():
    spec = importlib.util.spec_from_file_location("export_checkpoint", ROOT / "experiments/export_checkpoint.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    import torch

    from omrformer import OmrformerConfig, OmrformerModel, OmrformerProcessor

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("src")
    OmrformerModel(OmrformerConfig.from_preset("tiny", stem="conv")).save_pretrained(path)
    OmrformerProcessor().save_pretrained(path)
    return path


def test_bf16_export_halves_the_file_and_loads_as_float32(source, tmp_path):
    import torch

    from omrformer.transcribe import load_model

    torch.set_num_threads(1)
    full, half = tmp_path / "fp32", tmp_path / "bf16"
    assert _export()([str(source), str(full)]) == 0
    assert _export()([str(source), str(half), "--dtype", "bfloat16"]) == 0
    size = lambda p: (p / "model.safetensors").stat().st_size  # noqa: E731
    assert size(half) < 0.6 * size(full)
    net, _ = load_model(half, "cpu")
    assert {p.dtype for p in net.parameters()} == {torch.float32}


def test_export_refuses_what_is_not_a_model(tmp_path, capsys):
    assert _export()([str(tmp_path), str(tmp_path / "out")]) == 2
    assert "neither a model folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
