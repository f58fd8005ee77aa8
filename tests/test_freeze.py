"""model.freeze: frozen modules keep their weights through training; bad names are clear errors."""

from __future__ import annotations

import pytest
import torch
from test_training_cli import _train, shards  # noqa: F401  (the shards fixture)


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    from omrformer import OmrformerConfig, OmrformerModel, OmrformerProcessor

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("start")
    config = OmrformerConfig.from_preset("tiny", grammar_losses=False, max_target_length=1024)
    OmrformerModel(config).save_pretrained(path)
    OmrformerProcessor().save_pretrained(path)
    return path


def test_unknown_or_total_freeze_is_an_error(start):
    from omrformer.training.module import OmrformerLightning

    with pytest.raises(ValueError, match=r"no module named 'encodr'.*top-level modules: .*encoder"):
        OmrformerLightning(init_from=str(start), max_target_length=1024, freeze=["encodr"])
    from omrformer import OmrformerModel

    everything = [name for name, _ in OmrformerModel.from_pretrained(start).named_children()]
    with pytest.raises(ValueError, match="freezes every parameter"):
        OmrformerLightning(init_from=str(start), max_target_length=1024, freeze=everything)


def test_frozen_encoder_keeps_its_weights_through_the_cli(tmp_path, shards, start):  # noqa: F811
    from omrformer import OmrformerModel

    done = _train(tmp_path, shards, "--model.init_from", str(start), "--model.freeze", "[encoder]")
    assert done.returncode == 0, done.stderr[-3000:]
    before = OmrformerModel.from_pretrained(start).state_dict()
    after = OmrformerModel.from_pretrained(tmp_path / "csv" / "version_0" / "hf_best").state_dict()
    enc = [k for k in before if k.startswith("encoder.")]
    dec = [k for k in before if k.startswith("decoder.")]
    assert enc and dec
    assert all(torch.equal(before[k], after[k]) for k in enc)
    assert any(not torch.equal(before[k], after[k]) for k in dec)
