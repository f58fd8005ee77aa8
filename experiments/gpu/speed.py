"""Throughput logging and the feeder as a dataset, for experiments/gpu/run.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import lightning.pytorch as pl
from torch.utils.data import DataLoader, IterableDataset

log = logging.getLogger("pretrain")


class _FeedStream(IterableDataset):
    def __init__(self, feeder: Any) -> None:
        super().__init__()
        self.feeder = feeder

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            yield self.feeder.draw()


def feed_dataset(feeder: Any) -> DataLoader:
    """Whole batches from the feeder, in this process (the rendering already runs in workers)."""
    return DataLoader(_FeedStream(feeder), batch_size=None, num_workers=0)


class SpeedLog(pl.Callback):
    """Logs images/s rendered and trained (to the CSV and, every ``every_s`` seconds, to stderr)."""

    def __init__(self, stream: Any, feeder: Any, every_s: float = 15.0) -> None:
        self.stream, self.feeder, self.every_s = stream, feeder, every_s
        self._last: tuple[float, int, int] | None = None
        self._printed = 0.0
        self.trained = 0  # images in batches the optimizer stepped on (the loader prefetches one more)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        now = time.monotonic()
        self.trained += int(batch["labels"].shape[0])
        rendered, trained = self.stream.rendered, self.trained
        if self._last is None:
            self._last = (now, rendered, trained)
            self._printed = now
            return
        if (trainer.global_step % trainer.log_every_n_steps) and now - self._printed < self.every_s:
            return
        t0, r0, s0 = self._last
        dt = max(now - t0, 1e-9)
        rates = {"speed/rendered_per_s": (rendered - r0) / dt, "speed/trained_per_s": (trained - s0) / dt,
                 "speed/pool_ready": float(self.feeder.ready()), "speed/waited_s": self.feeder.waited_s}
        pl_module.log_dict(rates, on_step=True, on_epoch=False)
        self._last = (now, rendered, trained)
        if now - self._printed >= self.every_s:
            self._printed = now
            loss = trainer.callback_metrics.get("train/loss")
            log.info("step %d  loss %s  rendered %.1f/s  trained %.1f/s  pool %d  waited %.0f s  failures %d",
                     trainer.global_step, f"{float(loss):.3f}" if loss is not None else "-",
                     rates["speed/rendered_per_s"], rates["speed/trained_per_s"], self.feeder.ready(),
                     self.feeder.waited_s, self.stream.failures)
