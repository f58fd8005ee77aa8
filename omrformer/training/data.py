"""Training data: streaming synth shards (or pages rendered on the fly) as an ``IterableDataset``.

Labels are MusicXML in the shards and are tokenized here with ``grammar.musicxml.read_score``, so a
change of the token language never forces a re-render. Work is split by shard over every
(rank, worker) pair; with fewer shards than readers it is split by sample instead so no reader idles.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from grammar.vocab import VOCAB
from omrformer.training.collate import Collator

logger = logging.getLogger(__name__)


class DataError(ValueError):
    """Training data that cannot be used (no shards where the config points, bad settings)."""


def resolve_shards(spec: str | Sequence[str] | None) -> list[Path]:
    """Directories (all ``*.tar`` inside), glob patterns or files -> sorted shard paths."""
    if spec is None:
        return []
    specs = [spec] if isinstance(spec, str) else list(spec)
    found: set[Path] = set()
    for s in specs:
        p = Path(s)
        if p.is_dir():
            hits = list(p.glob("*.tar"))
        elif any(c in s for c in "*?["):
            hits = [Path(x) for x in glob.glob(s)]
        else:
            hits = [p] if p.is_file() else []
        if not hits:
            raise DataError(f"{s}: no shards (*.tar) found")
        found.update(hits)
    return sorted(found)


class ShardStream(IterableDataset):
    """Samples ``{"image": uint8 (H, W), "labels": [ids ending in <eos>], "key": str}`` from shards.

    Args:
        shards: Shard paths (tar files written by ``python -m synth make``).
        max_length: Longest label in tokens (incl. ``<eos>``); longer samples are skipped and counted.
        loop: Cycle forever (training; the trainer's ``max_steps`` ends it) or read once (evaluation).
        shuffle_buffer: Samples held for shuffling (0: keep shard order).
        seed: Base of every random choice (shard order and buffer per epoch, rank and worker).
    """

    def __init__(self, shards: Sequence[Path], max_length: int = 2048, loop: bool = False,
                 shuffle_buffer: int = 0, seed: int = 0) -> None:
        super().__init__()
        if not shards:
            raise DataError("no shards given")
        self.shards = [Path(s) for s in shards]
        self.max_length = max_length
        self.loop = loop
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.rank, self.world_size = 0, 1  # set by the DataModule once the trainer knows them
        self.skipped: dict[str, int] = {}

    def _reader(self) -> tuple[int, int]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        return self.rank * workers + worker, self.world_size * workers

    def _samples(self, epoch: int) -> Iterator[dict[str, Any]]:
        from synth.shards import iter_samples

        index, readers = self._reader()
        order = list(self.shards)
        if self.shuffle_buffer:
            np.random.default_rng([self.seed, epoch]).shuffle(order)  # same order on every reader
        if len(order) >= readers:
            for sample in iter_samples(order[index::readers]):
                yield sample
        else:
            for i, sample in enumerate(iter_samples(order)):
                if i % readers == index:
                    yield sample

    def _encode(self, sample: dict[str, Any]) -> dict[str, Any] | None:
        from grammar.musicxml import MusicXMLError, read_score

        key = str(sample.get("key", "?"))
        try:
            tokens = read_score(sample["label"], name=key).tokens
        except MusicXMLError as err:
            self._skip("unreadable label", f"{key}: {err}")
            return None
        ids = VOCAB.encode(tokens, eos=True)
        if len(ids) > self.max_length:
            self._skip("label too long", f"{key}: {len(ids)} tokens > max_length {self.max_length}")
            return None
        return {"image": sample["image"], "labels": ids, "key": key}

    def _skip(self, reason: str, detail: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        # Loud for the first few, then quiet: a looping stream meets the same bad sample every epoch.
        level = logging.WARNING if self.skipped[reason] <= 3 else logging.DEBUG
        logger.log(level, "skipping sample %s (%s; %d so far)", detail, reason, self.skipped[reason])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        index, _ = self._reader()
        epoch = 0
        while True:
            rng = np.random.default_rng([self.seed, epoch, index])
            buffer: list[dict[str, Any]] = []
            produced = 0
            for sample in self._samples(epoch):
                item = self._encode(sample)
                if item is None:
                    continue
                produced += 1
                if not self.shuffle_buffer:
                    yield item
                    continue
                buffer.append(item)
                if len(buffer) >= self.shuffle_buffer:
                    yield buffer.pop(int(rng.integers(len(buffer))))
            rng.shuffle(buffer)
            yield from buffer
            if not self.loop:
                return
            if not produced:
                raise DataError(f"reader {index} got no usable sample from {len(self.shards)} shards")
            epoch += 1


class RenderStream(IterableDataset):
    """An endless stream of pages rendered on the fly by synth from a directory of scores.

    Args:
        source: A directory of MusicXML/.mxl scores, or ``"random"`` for the procedural generator.
        level: ``"system"`` or ``"page"``.
        config: A synth YAML config (styles, distortions); None for synth's defaults.
        max_length: Longest label in tokens; longer samples are skipped.
        seed: Sample ``i`` of reader ``r`` is a pure function of (config, seed, r, i).
    """

    def __init__(self, source: str, level: str = "system", config: str | None = None,
                 max_length: int = 2048, seed: int = 0) -> None:
        super().__init__()
        self.source, self.level, self.config = source, level, config
        self.max_length, self.seed = max_length, seed
        self.rank, self.world_size = 0, 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import cv2

        from synth.config import load_config
        from synth.sample import SampleError, SampleMaker

        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        reader, readers = self.rank * workers + worker, self.world_size * workers
        maker = SampleMaker(load_config(self.config, level=self.level), self.source)
        encoder = ShardStream([Path(self.source)], max_length=self.max_length)  # reuses its label check
        i = 0
        while True:
            index = i * readers + reader  # readers interleave: no index is rendered twice
            i += 1
            try:
                sample = maker.make(self.seed, index)
            except SampleError as err:
                encoder._skip("render failed", str(err))
                continue
            image = cv2.imdecode(np.frombuffer(sample.png, np.uint8), cv2.IMREAD_GRAYSCALE)
            item = encoder._encode({"image": image, "label": sample.label, "key": sample.key})
            if item is not None:
                yield item


class OmrDataModule(pl.LightningDataModule):
    """Shards (or on-the-fly rendering) -> batches for :class:`~omrformer.training.module.OmrformerLightning`.

    The vocabulary is never built here: LightningCLI instantiates the model first, and both sides take
    it from ``grammar.vocab`` (DESIGN §9).

    Args:
        train: Training shards: directories, globs or files.
        val: Validation shards (read once per validation run).
        test: Test shards.
        predict: Shards for ``predict`` (labels are ignored by the output, used for length bounds).
        render_source: Train on pages rendered on the fly from this score directory (or ``random``)
            instead of ``train`` shards.
        render_level: ``system`` or ``page`` for on-the-fly rendering.
        render_config: synth YAML config for on-the-fly rendering.
        processor: A folder with saved processor settings; None for ``OmrformerProcessor()`` defaults.
        batch_size: Samples per batch per device.
        num_workers: DataLoader worker processes per device.
        max_length: Longest label in tokens incl. ``<eos>``; linked to the model's position table.
        shuffle_buffer: Training samples held for shuffling.
        seed: Base seed of shard order and shuffling.
    """

    def __init__(
        self,
        train: str | list[str] | None = None,
        val: str | list[str] | None = None,
        test: str | list[str] | None = None,
        predict: str | list[str] | None = None,
        render_source: str | None = None,
        render_level: str = "system",
        render_config: str | None = None,
        processor: str | None = None,
        batch_size: int = 8,
        num_workers: int = 2,
        max_length: int = 2048,
        shuffle_buffer: int = 256,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self._processor: Any = None

    @property
    def processor(self) -> Any:
        """The ``OmrformerProcessor`` (built on first use, so ``__init__`` stays cheap)."""
        if self._processor is None:
            from omrformer import OmrformerProcessor

            path = self.hparams["processor"]
            self._processor = OmrformerProcessor.from_pretrained(path) if path else OmrformerProcessor()
        return self._processor

    def _dataset(self, spec: str | list[str] | None, stage: str, loop: bool) -> IterableDataset:
        h = self.hparams
        if stage == "train" and h["render_source"]:
            ds: Any = RenderStream(h["render_source"], h["render_level"], h["render_config"], h["max_length"],
                                   h["seed"])
        else:
            if not spec:
                raise DataError(f"no {stage} data configured (set data.{stage})")
            ds = ShardStream(resolve_shards(spec), max_length=h["max_length"], loop=loop,
                             shuffle_buffer=h["shuffle_buffer"] if loop else 0, seed=h["seed"])
        if self.trainer is not None:
            ds.rank, ds.world_size = self.trainer.global_rank, self.trainer.world_size
        return ds

    def _loader(self, ds: IterableDataset) -> DataLoader:
        h = self.hparams
        return DataLoader(
            ds, batch_size=h["batch_size"], num_workers=h["num_workers"], collate_fn=Collator(self.processor),
            persistent_workers=False, pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["train"], "train", loop=True))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["val"], "val", loop=False))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["test"], "test", loop=False))

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["predict"], "predict", loop=False))
