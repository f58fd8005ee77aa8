"""Callbacks: export the best checkpoint as a Hugging Face model folder when training ends."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_only

logger = logging.getLogger(__name__)


class HFExport(pl.Callback):
    """At the end of ``fit``, write the best model (by the checkpoint callback's monitor) as an HF folder.

    The folder holds ``config.json``, safetensors weights, ``vocab.json`` and the processor settings,
    i.e. what ``omrformer transcribe --model DIR`` and ``OmrformerModel.from_pretrained`` load. Without a
    best checkpoint (no validation, no monitor) the final weights are exported.

    Args:
        dirpath: Output folder; relative paths go under the trainer's log directory.
        max_shard_size: Passed to ``save_pretrained`` (e.g. ``"15MB"``).
    """

    def __init__(self, dirpath: str = "hf_best", max_shard_size: str = "500MB") -> None:
        self.dirpath = dirpath
        self.max_shard_size = max_shard_size

    def target(self, trainer: pl.Trainer) -> Path:
        path = Path(self.dirpath)
        return path if path.is_absolute() else Path(trainer.log_dir or trainer.default_root_dir) / path

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # trainer.log_dir is a collective under DDP: every rank must ask, only rank 0 writes.
        self._export(trainer, pl_module, self.target(trainer))

    @rank_zero_only
    def _export(self, trainer: pl.Trainer, pl_module: pl.LightningModule, out: Path) -> None:
        from transformers import PreTrainedModel

        model = pl_module.model
        if not isinstance(model, PreTrainedModel):  # nn.Module attributes type as Tensor | Module
            raise TypeError(f"HFExport needs a module whose .model is a PreTrainedModel, not {type(model)}")
        ckpt = getattr(trainer.checkpoint_callback, "best_model_path", "") or ""
        state = None
        if ckpt and Path(ckpt).is_file():
            # Checkpoints are our own files; weights_only keeps unpickling to tensors and plain types.
            blob = torch.load(ckpt, map_location="cpu", weights_only=True)
            state = {k.removeprefix("model."): v for k, v in blob["state_dict"].items()}
            logger.info("exporting best checkpoint %s", ckpt)
        else:
            logger.info("no best checkpoint: exporting the final weights")
        out.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and swap in, so a crash never leaves a half-written model folder.
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
        try:
            model.save_pretrained(tmp, state_dict=state, max_shard_size=self.max_shard_size)
            datamodule = getattr(trainer, "datamodule", None)
            processor = getattr(datamodule, "processor", None)
            if processor is None:
                from omrformer import OmrformerProcessor

                processor = OmrformerProcessor()
            processor.save_pretrained(tmp)
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("exported Hugging Face model folder %s", out)
