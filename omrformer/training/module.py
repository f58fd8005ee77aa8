"""The LightningModule: its ``__init__`` signature is the model section of a training config.

Generation knobs (beams, max length) are deliberately absent: ``--ckpt_path`` restores the
hyperparameters saved in a checkpoint over the command line, so a decoding setting stored
here could not be changed at test time. Validation decodes greedily, bounded by the label length.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig

from grammar.vocab import VOCAB
from omrformer.evaluation.metrics import TokenMetrics

logger = logging.getLogger(__name__)


def freeze_modules(model: torch.nn.Module, names: list[str]) -> int:
    """Stop training the parameters of the named modules (and their children); returns how many
    parameters were frozen. Raises ``ValueError`` for a name that is not a module of ``model``."""
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or not n]
    if unknown:
        top = sorted({n.split(".")[0] for n in modules if n})
        raise ValueError(f"freeze: no module named {', '.join(map(repr, unknown))} "
                         f"(top-level modules: {', '.join(top)})")
    frozen = 0
    for name in names:
        for p in modules[name].parameters():
            if p.requires_grad:
                p.requires_grad_(False)
                frozen += p.numel()
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"freeze: {names} freezes every parameter; nothing would train")
    logger.info("froze %d parameters in %s", frozen, ", ".join(names))
    return frozen


class OmrformerLightning(pl.LightningModule):
    """Trains an :class:`OmrformerModel` with AdamW and a warm-up + cosine learning-rate schedule.

    Args:
        preset: Model size preset of ``OmrformerConfig.from_preset`` (``tiny``, ``small``, ``base``).
        config_overrides: Config fields that replace the preset's (e.g. ``{"num_experts": 4}``).
        init_from: A Hugging Face model folder to start from (the previous curriculum stage's export);
            its config wins over ``preset``/``config_overrides``.
        max_target_length: Longest label sequence (linked from ``data.max_length`` by the CLI).
        lr: Peak learning rate.
        weight_decay: AdamW weight decay (not applied to norms, biases and embeddings).
        warmup_steps: Linear warm-up length in optimizer steps.
        total_steps: Steps of the cosine decay; ``None`` uses the trainer's ``max_steps``.
        min_lr_ratio: Floor of the cosine decay as a fraction of ``lr``.
        val_ser_batches: Validation batches decoded greedily per epoch to log ``val/ser`` (0: none).
        schedule: ``"auto"``: with the trainer's ``max_time`` set, the cosine runs over that time
            budget (progress = elapsed training time / max_time, so it ends when the run ends);
            otherwise over ``total_steps``. ``"steps"`` forces the step schedule.
        freeze: Module names whose parameters are not trained (``[encoder]``, ``[decoder]``,
            ``[encoder.patch_embed]``: a name and everything below it), for fine-tuning a
            checkpoint on few samples. A name that matches no module is an error.
    """

    def __init__(
        self,
        preset: str = "small",
        config_overrides: dict[str, Any] | None = None,
        init_from: str | None = None,
        max_target_length: int = 2048,
        lr: float = 3e-4,
        weight_decay: float = 0.05,
        warmup_steps: int = 1000,
        total_steps: int | None = None,
        min_lr_ratio: float = 0.05,
        val_ser_batches: int = 4,
        schedule: str = "auto",
        freeze: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        from omrformer import OmrformerConfig, OmrformerModel

        if init_from:
            # Training runs in fp32 whatever the stored weights are (the bundled export is bf16).
            self.model = OmrformerModel.from_pretrained(init_from, dtype=torch.float32)
            self.model.train()  # from_pretrained returns eval mode; Lightning keeps modes as found
        else:
            overrides = dict(config_overrides or {})
            overrides.setdefault("max_target_length", max_target_length)
            self.model = OmrformerModel(OmrformerConfig.from_preset(preset, **overrides))
        if self.model.config.vocab_size != len(VOCAB):
            raise ValueError(
                f"model vocabulary has {self.model.config.vocab_size} tokens, grammar.vocab {len(VOCAB)}"
            )
        if self.model.config.max_target_length < max_target_length:
            raise ValueError(
                f"labels may be {max_target_length} tokens long but the model's position table holds "
                f"{self.model.config.max_target_length}"
            )
        if freeze:
            freeze_modules(self.model, freeze)
        if schedule not in ("auto", "steps"):
            raise ValueError(f"schedule must be 'auto' or 'steps', got {schedule!r}")
        self._val_tokens = TokenMetrics()

    def forward(self, **batch: torch.Tensor) -> Any:
        return self.model(**batch)

    def _step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Model forward with the geometry losses (omrformer.modeling.geometry) where configured
        and where the batch carries anchors/points; returns every loss term by name."""
        from omrformer.modeling.geometry import dense_losses, guided_attention_loss, record_cross_attention

        batch = dict(batch)
        anchors = batch.pop("token_anchors", None)
        points = batch.pop("symbol_points", None)
        cfg = self.model.config
        guided = bool(cfg.guided_attention_weight) and anchors is not None and self.training
        dense = self.model.encoder.dense_heads is not None and points is not None
        if not (guided or dense):
            return dict(self.model(**batch).items())
        labels = batch.pop("labels")
        enc = self.model.encode(batch["pixel_values"], batch.get("pixel_mask"), batch.get("patch_coords"))
        if guided:
            with record_cross_attention(self.model, cfg) as rec:
                out = dict(self.model(encoder_outputs=enc, labels=labels).items())
                attention = rec.mean_attention()
        else:
            out = dict(self.model(encoder_outputs=enc, labels=labels).items())
            attention = None
        out.pop("encoder_last_hidden_state", None)
        total = out["loss"]
        if guided:
            terms = guided_attention_loss(attention, anchors, enc.memory_positions, enc.memory_mask,
                                          cfg.guided_sigma)
            if "loss_guided_attention" in terms:
                total = total + cfg.guided_attention_weight * terms["loss_guided_attention"]
            out.update(terms)
        if dense:
            terms = dense_losses(self.model.encoder.dense_heads, enc.last_hidden_state, points,
                                 enc.memory_positions, enc.memory_mask)
            if "loss_dense" in terms:
                total = total + cfg.dense_loss_weight * terms["loss_dense"]
            out.update(terms)
        out["loss"] = total
        return out

    def _log_losses(self, out: Any, stage: str, batch_size: int) -> torch.Tensor:
        on_step = stage == "train"
        for name, value in out.items():
            if name.startswith(("loss", "acc_")) and value is not None and torch.isfinite(value).all():
                self.log(f"{stage}/{name}", value.detach().float(), on_step=on_step, on_epoch=not on_step,
                         prog_bar=name == "loss", batch_size=batch_size, sync_dist=not on_step)
        return out["loss"]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self._step(batch)
        return self._log_losses(out, "train", batch["labels"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self._step(batch)
        self._log_losses(out, "val", batch["labels"].shape[0])
        if batch_idx < self.hparams["val_ser_batches"]:
            self._accumulate_ser(batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self._step(batch)
        self._log_losses(out, "test", batch["labels"].shape[0])
        self._accumulate_ser(batch)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> list[list[str]]:
        """Greedy model tokens per sample (the product's decoding is ``omrformer transcribe``)."""
        return [VOCAB.decode(row) for row in self._greedy(batch)]

    def _greedy(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "token_anchors", "symbol_points")}
        # Bounded by the longest label in the batch so a babbling model cannot stall validation.
        limit = batch["labels"].shape[1] + 8 if "labels" in batch else self.hparams["max_target_length"]
        limit = min(limit, self.model.config.max_target_length)
        return self.model.generate(**inputs, max_length=limit, do_sample=False, num_beams=1)

    def _accumulate_ser(self, batch: dict[str, torch.Tensor]) -> None:
        pred = self._greedy(batch)
        for p, ref in zip(pred.tolist(), batch["labels"].tolist(), strict=True):
            self._val_tokens.update(VOCAB.decode(p), VOCAB.decode([i for i in ref if i >= 0]))

    def _log_ser(self, stage: str) -> None:
        m, self._val_tokens = self._val_tokens, TokenMetrics()
        # Sum edits and reference lengths over ranks before dividing: a corpus SER, not a mean of means.
        counts = torch.tensor([m.edits, m.ref_tokens], dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            gathered = self.all_gather(counts)
            assert isinstance(gathered, torch.Tensor)  # a tensor in gives a tensor out
            counts = gathered.reshape(-1, 2).sum(0)
        if counts[1] > 0:
            self.log(f"{stage}/ser", (counts[0] / counts[1]).float(), prog_bar=True, rank_zero_only=True)

    def on_validation_epoch_end(self) -> None:
        self._log_ser("val")

    def on_test_epoch_end(self) -> None:
        self._log_ser("test")

    def _time_budget(self) -> Any:
        """The trainer's ``Timer`` callback when ``max_time`` is set and ``schedule`` is auto."""
        from lightning.pytorch.callbacks import Timer

        if self.hparams.get("schedule", "auto") != "auto" or self._trainer is None:
            return None
        for cb in self.trainer.callbacks:  # type: ignore[attr-defined]
            if isinstance(cb, Timer) and cb._duration:
                return cb
        return None

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            # Norm weights, biases and embeddings are not regularised (standard transformer practice).
            (no_decay if p.ndim < 2 or "embed" in name or "norm" in name else decay).append(p)
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.hparams["weight_decay"]},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams["lr"], betas=(0.9, 0.98),
            # The fused kernel: one pass over all tensors, ~5x faster than the default on CPU for
            # this model's 144 tensors (70 -> 15 ms per step, 1 thread); cuda has it too.
            fused=all(p.device.type in ("cpu", "cuda") for p in decay + no_decay),
        )
        total = self.hparams["total_steps"] or max(int(self.trainer.max_steps), 1)
        warm, floor = self.hparams["warmup_steps"], self.hparams["min_lr_ratio"]
        timer = self._time_budget()

        def schedule(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            if timer is not None:
                # Cosine over the time budget: ends when the run ends, whatever the step rate.
                progress = min(timer.time_elapsed("train") / max(timer._duration or 1.0, 1.0), 1.0)
            else:
                progress = min((step - warm) / max(total - warm, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
