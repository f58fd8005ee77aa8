"""The body of experiments/gpu/pretrain.py: rendering pool, batch feeder, training, export, validation."""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import logging
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger("pretrain")


VAL_INDEX0 = 2_000_000_000  # held-out staves: task indices far above any a training run reaches


def write_json(path: Path, data: dict[str, Any]) -> None:
    import json

    from grammar.atomic import write_atomic

    write_atomic(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def task_index(key: str) -> int:
    """The synth task index in a sample key ``SEED-INDEX[-sNN]``."""
    return int(key.split("-")[1])


class Feeder:
    """Batches from a ``PooledStream``: fresh items first, each item used at most ``reuse`` times.

    Items wait in a pool of at most ``pool`` items; a batch is one anchor item and the
    ``batch_size - 1`` pool items closest to it in width (little padding). While at least two
    batches of fresh items wait, batches take fresh items only; when rendering falls behind,
    items already used fill in (``reused`` marks them: they get augmented on the device).
    """

    def __init__(self, stream: Any, collate: Any, batch_size: int, reuse: int, pool: int, val_from: int,
                 seed: int) -> None:
        self.stream, self.collate, self.batch_size = stream, collate, batch_size
        self.reuse, self.capacity, self.val_from = max(1, reuse), max(pool, 2 * batch_size), val_from
        self.items: list[dict[str, Any]] = []
        self.uses: list[int] = []
        self.val: list[dict[str, Any]] = []
        self.rng = np.random.default_rng(seed)
        self.fresh_seen = 0  # distinct training items drawn into a batch (the last may be prefetched only)
        self.samples_trained = 0  # items drawn into batches, reuses counted
        self.waited_s = 0.0  # time spent waiting for the renderer

    def pull(self, wait_s: float = 0.0) -> int:
        """Move rendered items into the pool (waiting up to ``wait_s`` for the first); returns how many."""
        got = self.stream.take(4 * self.batch_size, wait_s)
        for item in got:
            if task_index(item["key"]) >= self.val_from:
                self.val.append(item)
            else:
                self.items.append(item)
                self.uses.append(0)
        if len(self.items) > self.capacity:  # forget the most used (then oldest) items
            order = sorted(range(len(self.items)), key=lambda i: -self.uses[i])[: len(self.items) - self.capacity]
            for i in sorted(order, reverse=True):
                del self.items[i], self.uses[i]
        return len(got)

    def ready(self) -> int:
        return sum(1 for u in self.uses if u < self.reuse)

    def draw(self) -> dict[str, Any]:
        t0 = time.monotonic()
        while True:
            self.pull()
            fresh = [i for i, u in enumerate(self.uses) if u == 0]
            eligible = fresh if len(fresh) >= 2 * self.batch_size else [
                i for i, u in enumerate(self.uses) if u < self.reuse]
            if len(eligible) >= self.batch_size:
                break
            if self.stream.done.is_set() and self.stream.queue.empty():
                raise RuntimeError(f"the render pool stopped: {self.stream.error}")
            self.pull(wait_s=1.0)
        self.waited_s += time.monotonic() - t0
        anchor = fresh[int(self.rng.integers(len(fresh)))] if fresh else eligible[int(self.rng.integers(len(eligible)))]
        width = self.items[anchor]["prepared"].ink.shape[1]
        rest = sorted((i for i in eligible if i != anchor),
                      key=lambda i: abs(self.items[i]["prepared"].ink.shape[1] - width))
        chosen = [anchor, *rest[: self.batch_size - 1]]
        reused = torch.tensor([self.uses[i] > 0 for i in chosen])
        self.fresh_seen += int((~reused).sum())
        self.samples_trained += len(chosen)
        for i in chosen:
            self.uses[i] += 1
        batch = dict(self.collate([self.items[i] for i in chosen]))
        batch["reused"] = reused
        for i in sorted(chosen, reverse=True):  # used up: out of the pool
            if self.uses[i] >= self.reuse:
                del self.items[i], self.uses[i]
        return batch


def augment(pixels: torch.Tensor, mask: torch.Tensor | None, rows: torch.Tensor, gen: torch.Generator) -> None:
    """In place, on the device: lighter or darker ink and a little noise for the ``rows`` of
    ``pixels`` (B, 1, H, W) that were seen before. Geometry is untouched, so the anchors stay right."""
    idx = rows.nonzero().flatten().to(pixels.device)
    if not len(idx):
        return
    x = pixels[idx]  # (R, 1, H, W)
    contrast = torch.empty(len(idx), 1, 1, 1, device=x.device).uniform_(0.6, 1.0, generator=gen)
    noise = torch.randn(x.shape, device=x.device, generator=gen) * 0.04
    x = (x * contrast + noise).clamp_(0.0, 1.0)
    if mask is not None:
        x = x * mask[idx].unsqueeze(1).to(x.dtype)  # padding stays blank paper
    pixels[idx] = x


def build_module(model_cfg: dict[str, Any], args: argparse.Namespace) -> Any:
    from omrformer.training.module import OmrformerLightning

    class PretrainModule(OmrformerLightning):
        """Drops the feeder's ``reused`` flags after the batch reaches the device, augmenting those rows."""

        def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            reused = batch.pop("reused", None)
            if reused is not None and self.training and bool(reused.any()):
                if not hasattr(self, "_aug_gen"):
                    self._aug_gen = torch.Generator(device=batch["pixel_values"].device)
                    self._aug_gen.manual_seed(args.seed)
                augment(batch["pixel_values"], batch.get("pixel_mask"), reused, self._aug_gen)
            return batch

    return PretrainModule(preset="small", config_overrides=model_cfg, max_target_length=args.max_length,
                          lr=args.lr, warmup_steps=args.warmup_steps, schedule="auto", val_ser_batches=0)


def make_stream(args: argparse.Namespace, cfg: Any, rank: int) -> Any:
    from omrformer.training.data import SampleEncoder
    from synth.stream import PooledStream

    encoder = SampleEncoder(args.max_length, crop=True, crop_jitter=0.5, geometry=True, processor=None)
    # Held-out staves first (the same on every run; rank 0 validates), then this rank's training tasks.
    val = range(VAL_INDEX0, VAL_INDEX0 + args.val_staves) if rank == 0 else range(0)
    train = (i * args.world + rank for i in itertools.count())
    return PooledStream(cfg, args.source, args.seed, args.workers, capacity=8 * args.batch_size,
                        transform=encoder, indices=itertools.chain(val, train))


def validate(module: Any, feeder: Feeder, collate: Any, args: argparse.Namespace, budget: Any,
             device: torch.device) -> dict[str, Any]:
    """Loss and greedy SER / pitch recall on the held-out staves, stopping early near the limit."""
    from grammar.vocab import VOCAB
    from omrformer.evaluation.metrics import TokenMetrics

    items = sorted(feeder.val, key=lambda it: it["key"])  # fixed order: the same batches every run
    metrics, losses, decoded = TokenMetrics(), [], 0
    module.eval()
    bf16 = device.type == "cuda"
    for b in range(0, len(items), args.batch_size):
        if budget.left() < 20:
            log.warning("validation stopped early: %.0f s left", budget.left())
            break
        batch = {k: v.to(device) for k, v in dict(collate(items[b: b + args.batch_size])).items()}
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = module._step(batch)
            losses.append(float(out["loss_ce"] if "loss_ce" in out else out["loss"]))
            if b // args.batch_size < args.val_batches:
                pred = module._greedy(batch)
                for p, ref in zip(pred.tolist(), batch["labels"].tolist(), strict=True):
                    metrics.update(VOCAB.decode(p), VOCAB.decode([i for i in ref if i >= 0]))
                    decoded += 1
    table = metrics.class_table()
    return {"val_staves": len(items), "val_loss_ce": float(np.mean(losses)) if losses else None,
            "val_decoded": decoded, "val_ser": metrics.ser, "pitch_recall": table["pitch"]["recall"],
            "duration_recall": table["duration"]["recall"]}


def export(module: Any, processor: Any, out: Path) -> list[str]:
    """The HF folder's files into ``out`` (each moved in whole); returns their names.

    generation_config.json is left out (the GPU tool returns 8 files at most, and it is derived from
    config.json: experiments/export_checkpoint.py writes it again)."""
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".export-"))
    try:
        module.model.save_pretrained(tmp, max_shard_size="15MB")
        processor.save_pretrained(tmp)
        (tmp / "generation_config.json").unlink(missing_ok=True)
        names = sorted(p.name for p in tmp.iterdir())
        for name in names:
            (tmp / name).chmod(0o644)  # save_pretrained writes shards 0600
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return names


def copy_log(log_dir: Path, out: Path) -> None:
    from grammar.atomic import write_atomic

    found = sorted(log_dir.rglob("metrics.csv"))
    if not found:
        return
    rows = list(csv.reader(found[-1].open(newline="")))
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    write_atomic(out / "train_log.csv", buf.getvalue().encode())


def run(args: argparse.Namespace, synth_config: Any, budget: Any, summary: dict[str, Any],
        model_cfg: dict[str, Any]) -> int:
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger

    from omrformer import OmrformerProcessor
    from omrformer.training.collate import Collator

    from .speed import SpeedLog, feed_dataset

    cuda = torch.cuda.is_available() and not args.smoke
    devices = args.devices if args.devices == "auto" else int(args.devices)
    args.world = (devices if isinstance(devices, int) else max(torch.cuda.device_count(), 1)) * args.num_nodes
    rank = int(os.environ.get("NODE_RANK", 0)) * (devices if isinstance(devices, int) else 1) + int(
        os.environ.get("LOCAL_RANK", 0))
    summary.update(stage="workers", device=torch.cuda.get_device_name(0) if cuda else "cpu",
                   workers=args.workers, batch_size=args.batch_size, budget_minutes=args.minutes,
                   model=model_cfg)
    stream = make_stream(args, synth_config, rank).start()
    t = time.monotonic()
    if cuda:
        torch.zeros(1, device="cuda")  # the first CUDA call (context start) while the workers start
        torch.backends.cuda.matmul.allow_tf32 = True
    summary["cuda_init_s"] = round(time.monotonic() - t, 2)
    processor = OmrformerProcessor()
    collate = Collator(processor)
    module = build_module(model_cfg, args)
    summary["parameters"] = sum(p.numel() for p in module.model.parameters())
    feeder = Feeder(stream, collate, args.batch_size, args.reuse, args.pool, VAL_INDEX0, args.seed + rank)
    summary["stage"] = "first batch"
    while feeder.ready() < args.batch_size:
        if stream.done.is_set() and stream.queue.empty():
            summary["error"] = f"render pool stopped before the first batch: {stream.error}"
            write_json(args.out / "summary.json", summary)
            log.error(summary["error"])
            return 1
        feeder.pull(wait_s=1.0)
    summary["first_batch_s"] = round(budget.elapsed(), 1)
    reserve = 25.0 if args.smoke else 75.0  # export + validation + writing
    train_s = min(args.minutes * 60, budget.left() - reserve)
    if train_s < 10:
        summary["error"] = f"only {train_s:.0f} s left to train after start-up"
        write_json(args.out / "summary.json", summary)
        log.error(summary["error"])
        return 1
    log.info("first batch after %.1f s (%d items rendered); training for %.0f s", summary["first_batch_s"],
             stream.rendered, train_s)
    summary.update(stage="train", train_budget_s=round(train_s, 1))
    log_dir = Path(tempfile.mkdtemp(prefix="pretrain-log-"))
    speed = SpeedLog(stream, feeder, every_s=5.0 if args.smoke else 15.0)
    trainer = pl.Trainer(
        accelerator="gpu" if cuda else "cpu", devices=devices, num_nodes=args.num_nodes,
        precision="bf16-mixed" if cuda else "32-true", max_time=timedelta(seconds=train_s),
        max_steps=args.max_steps, gradient_clip_val=1.0, logger=CSVLogger(str(log_dir), name="csv"),
        log_every_n_steps=1 if args.smoke else 10, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[speed],
    )
    t = time.monotonic()
    failed = False
    try:
        trainer.fit(module, train_dataloaders=feed_dataset(feeder))
    except Exception as err:  # noqa: BLE001 - a one-shot run keeps the steps it made: export them
        failed = True
        summary["error"] = f"training stopped at step {trainer.global_step}: {type(err).__name__}: {err}"
        log.error(summary["error"])
    train_wall = time.monotonic() - t
    stream.close(wait_s=2.0)  # frees the cores for validation; workers are daemons
    if not trainer.is_global_zero:
        return 0
    summary.update(
        stage="export", steps=int(trainer.global_step), train_wall_s=round(train_wall, 1),
        images_seen=speed.trained, distinct_images=feeder.fresh_seen, images_rendered=stream.rendered,
        render_failures=stream.failures, waited_for_renderer_s=round(feeder.waited_s, 1),
        images_per_s_trained=round(speed.trained / max(train_wall, 1e-9), 2),
        images_per_s_rendered=round(stream.rendered / max(budget.elapsed(), 1e-9), 2),
    )
    files = export(module, processor, args.out)
    copy_log(log_dir, args.out)
    summary["files"] = files + ["train_log.csv", "summary.json"]
    write_json(args.out / "summary.json", summary)
    log.info("exported %s", ", ".join(files))
    if failed:
        return 1
    summary["stage"] = "validate"
    device = torch.device("cuda" if cuda else "cpu")
    module.to(device)
    summary.update(validate(module, feeder, collate, args, budget, device))
    summary["stage"] = "done"
    summary["total_s"] = round(budget.elapsed(), 1)
    write_json(args.out / "summary.json", summary)
    shutil.rmtree(log_dir, ignore_errors=True)
    n = len([p for p in args.out.iterdir() if p.is_file() and not p.name.startswith(".")])
    log.info("done in %.0f s: %d steps, %d images seen (%d distinct), val SER %s, pitch recall %s; %d files in %s",
             summary["total_s"], summary["steps"], summary["images_seen"], summary["distinct_images"],
             summary["val_ser"], summary["pitch_recall"], n, args.out)
    if n > 8:
        log.error("%s holds %d files: the GPU tool returns 8 at most", args.out, n)
        return 1
    return 0
