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
        crop: Cut each image to its staves (``synth.staff_crop.staff_crop_box``, the transcriber's
            crop) with ``crop_jitter`` staff spaces of random margin; samples without staff
            geometry stay whole.
        geometry: Attach per-token ``anchors`` and symbol ``points`` (training/geometry.py).
        processor: An ``OmrformerProcessor``; given, images are prepared here and items carry
            ``prepared`` instead of ``image``.
        bucket_size: > 1: yield lists of this many items of similar width (whole batches).
    """

    def __init__(self, shards: Sequence[Path], max_length: int = 2048, loop: bool = False,
                 shuffle_buffer: int = 0, seed: int = 0, crop: bool = False, crop_jitter: float = 0.0,
                 geometry: bool = False, processor: Any = None, bucket_size: int = 0) -> None:
        super().__init__()
        if not shards:
            raise DataError("no shards given")
        if (crop or geometry or bucket_size) and processor is None:
            raise DataError("crop, geometry and bucket_size need the processor (images are prepared here)")
        self.shards = [Path(s) for s in shards]
        self.max_length = max_length
        self.loop = loop
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.crop, self.crop_jitter, self.geometry = crop, crop_jitter, geometry
        self.processor, self.bucket_size = processor, bucket_size
        self.rank, self.world_size = 0, 1  # set by the DataModule once the trainer knows them
        self.skipped: dict[str, int] = {}
        # key -> (label ids, token geometry) or None (skipped): a looping stream parses each
        # label's MusicXML once per worker, not once per epoch.
        self._labels: dict[str, tuple[list[int], Any] | None] = {}

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

    def _label(self, sample: dict[str, Any], key: str) -> tuple[list[int], Any] | None:
        from grammar.musicxml import MusicXMLError, read_score
        from omrformer.training.geometry import token_geometry

        cache_key = f"{key}:{len(sample['label'])}"
        if cache_key in self._labels:
            return self._labels[cache_key]
        out: tuple[list[int], Any] | None = None
        try:
            tokens = read_score(sample["label"], name=key).tokens
        except MusicXMLError as err:
            self._skip("unreadable label", f"{key}: {err}")
        else:
            ids = VOCAB.encode(tokens, eos=True)
            if len(ids) > self.max_length:
                self._skip("label too long", f"{key}: {len(ids)} tokens > max_length {self.max_length}")
            else:
                tg = token_geometry(tokens, sample.get("geometry")) if self.geometry else None
                out = (ids, tg)
        self._labels[cache_key] = out
        return out

    def _encode(self, sample: dict[str, Any], rng: np.random.Generator | None = None) -> dict[str, Any] | None:
        key = str(sample.get("key", "?"))
        label = self._label(sample, key)
        if label is None:
            return None
        ids, tg = label
        item: dict[str, Any] = {"image": sample["image"], "labels": ids, "key": key}
        if self.processor is None:
            return item
        return self._prepare(item, sample.get("geometry"), tg, rng or np.random.default_rng())

    def _prepare(self, item: dict[str, Any], geometry: dict[str, Any] | None, tg: Any,
                 rng: np.random.Generator) -> dict[str, Any]:
        """Crop to the music, run the processor here (so the width is known for bucketing) and
        carry the geometry targets into the prepared frame."""
        from omrformer.training.geometry import system_crop_box, transform

        image = item.pop("image")
        offset = (0.0, 0.0)
        if self.crop and geometry:
            box = system_crop_box(geometry, image.shape[1], image.shape[0], self.crop_jitter, rng)
            if box is not None:
                x0, y0, x1, y1 = box
                image = image[y0:y1, x0:x1]
                offset = (float(x0), float(y0))
        prepared = self.processor.prepare(image, source=item["key"])
        item["prepared"] = prepared
        if tg is not None:
            g = transform(tg, offset, prepared.scale)
            h, w = prepared.size
            inside = lambda p: (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)  # noqa: E731
            g.anchors[~inside(g.anchors)] = np.nan  # NaN compares False: stays NaN
            item["anchors"] = g.anchors
            item["points"] = g.points[inside(g.points)]
        return item

    def _skip(self, reason: str, detail: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        # Loud for the first few, then quiet: a looping stream meets the same bad sample every epoch.
        level = logging.WARNING if self.skipped[reason] <= 3 else logging.DEBUG
        logger.log(level, "skipping sample %s (%s; %d so far)", detail, reason, self.skipped[reason])

    def _draw(self, buffer: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
        """One random item from the buffer, or with ``bucket_size`` a random item and the
        ``bucket_size - 1`` items closest to it in width (consecutive items form one batch, so the
        batch's padding stays small)."""
        first = buffer.pop(int(rng.integers(len(buffer))))
        if self.bucket_size <= 1 or not buffer:
            return [first]
        width = _width(first)
        order = sorted(range(len(buffer)), key=lambda i: abs(_width(buffer[i]) - width))
        take = sorted(order[: self.bucket_size - 1], reverse=True)
        return [first, *(buffer.pop(i) for i in take)]

    def _emit(self, group: list[dict[str, Any]]) -> Iterator[Any]:
        # Bucketed streams yield whole batches (the DataLoader runs with batch_size=None).
        if self.bucket_size > 1:
            yield group
        else:
            yield from group

    def __iter__(self) -> Iterator[dict[str, Any]]:
        index, _ = self._reader()
        epoch = 0
        while True:
            rng = np.random.default_rng([self.seed, epoch, index])
            buffer: list[dict[str, Any]] = []
            produced = 0
            for sample in self._samples(epoch):
                item = self._encode(sample, rng)
                if item is None:
                    continue
                produced += 1
                if not self.shuffle_buffer:
                    yield item
                    continue
                buffer.append(item)
                if len(buffer) >= max(self.shuffle_buffer, self.bucket_size):
                    yield from self._emit(self._draw(buffer, rng))
            rng.shuffle(buffer)
            while buffer:
                yield from self._emit(self._draw(buffer, rng))
            if not self.loop:
                return
            if not produced:
                raise DataError(f"reader {index} got no usable sample from {len(self.shards)} shards")
            epoch += 1


def _quiet_worker(worker_id: int) -> None:
    """DataLoader workers use one thread for torch and OpenCV: on a small machine the training
    threads keep the cores (torch already sets 1 for itself in workers; OpenCV does not)."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _width(item: dict[str, Any]) -> int:
    prepared = item.get("prepared")
    return int(prepared.ink.shape[1]) if prepared is not None else int(item["image"].shape[1])


class SampleEncoder:
    """Synth sample dicts (``synth.stream.decode_group``) or whole sample groups -> training items.

    The label check, crop and geometry of ``ShardStream``, without shards: used by ``RenderStream``
    and, pickled into synth's worker processes, as ``PooledStream``'s transform (so images are
    prepared where they are rendered). Crop jitter is drawn from the sample key: an item is a pure
    function of its sample.

    Args:
        max_length, crop, crop_jitter, geometry: As for ``ShardStream``.
        processor: A folder with saved processor settings; None for ``OmrformerProcessor()``
            defaults; ``False`` for raw images (no processor: items carry ``image``).
    """

    def __init__(self, max_length: int = 2048, crop: bool = False, crop_jitter: float = 0.0,
                 geometry: bool = False, processor: str | None | bool = None) -> None:
        self.max_length, self.crop, self.crop_jitter = max_length, crop, crop_jitter
        self.geometry, self.processor = geometry, processor
        self._stream: ShardStream | None = None  # built on first use, in the process that encodes

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_stream": None}  # the processor is rebuilt where it runs

    @property
    def stream(self) -> ShardStream:
        if self._stream is None:
            proc: Any = None
            if self.processor is not False:
                from omrformer import OmrformerProcessor

                proc = (OmrformerProcessor.from_pretrained(self.processor) if isinstance(self.processor, str)
                        else OmrformerProcessor())
            prepare = proc is not None
            # ShardStream holds the label cache and skip counts; its shard list is never read here.
            self._stream = ShardStream([Path("-")], max_length=self.max_length, crop=self.crop and prepare,
                                       crop_jitter=self.crop_jitter, geometry=self.geometry and prepare,
                                       processor=proc)
        return self._stream

    def encode(self, sample: dict[str, Any]) -> dict[str, Any] | None:
        """One training item, or None (label unreadable or too long; counted in ``stream.skipped``)."""
        import zlib

        rng = np.random.default_rng(zlib.crc32(str(sample.get("key", "")).encode()))
        return self.stream._encode(sample, rng)

    def __call__(self, group: Any) -> list[dict[str, Any]]:
        """A synth worker's transform (``synth.stream.PooledStream``): every kept staff of ``group``."""
        from synth.stream import decode_group

        if self._stream is None:
            _quiet_worker(0)  # W render workers on W cores: no thread pools of their own
        return [item for s in decode_group(group) if (item := self.encode(s)) is not None]


class RenderStream(IterableDataset):
    """An endless stream of samples rendered on the fly by synth (``synth.stream.render_stream``).

    Args:
        source: A directory of MusicXML/.mxl scores, ``"random"`` for the procedural generator, or
            None / ``"mix"`` for the config's ``sources`` weights.
        level: ``"system"``, ``"page"`` or ``"staff"``.
        config: A synth YAML config (styles, distortions); None for synth's defaults.
        max_length: Longest label in tokens; longer samples are skipped.
        seed: Sample ``i`` of reader ``r`` is a pure function of (config, seed, r, i).
        encoder: Crop / geometry / processor settings of the items (default: raw images).
    """

    def __init__(self, source: str | None, level: str = "system", config: str | None = None,
                 max_length: int = 2048, seed: int = 0, encoder: SampleEncoder | None = None) -> None:
        super().__init__()
        self.source, self.level, self.config = source, level, config
        self.max_length, self.seed = max_length, seed
        self.encoder = encoder or SampleEncoder(max_length, processor=False)
        self.rank, self.world_size = 0, 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from synth.stream import render_stream

        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        reader = self.rank * workers + worker  # one disjoint synth stream per reader
        for sample in render_stream(self.source, self.level, self.config, self.seed, stream=reader):
            item = self.encoder.encode(sample)
            if item is not None:
                yield item


class OmrDataModule(pl.LightningDataModule):
    """Shards (or on-the-fly rendering) -> batches for :class:`~omrformer.training.module.OmrformerLightning`.

    The vocabulary is never built here: LightningCLI instantiates the model first, and both sides take
    it from ``grammar.vocab``, so both agree on the ids without passing a vocabulary around.

    Args:
        train: Training shards: directories, globs or files.
        val: Validation shards (read once per validation run).
        test: Test shards.
        predict: Shards for ``predict`` (labels are ignored by the output, used for length bounds).
        render_source: Train on pages rendered on the fly from this score directory (or ``random``)
            instead of ``train`` shards.
        render_level: ``system``, ``page`` or ``staff`` for on-the-fly rendering.
        render_config: synth YAML config for on-the-fly rendering.
        processor: A folder with saved processor settings; None for ``OmrformerProcessor()`` defaults.
        batch_size: Samples per batch per device.
        num_workers: DataLoader worker processes per device.
        max_length: Longest label in tokens incl. ``<eos>``; linked to the model's position table.
        shuffle_buffer: Training samples held for shuffling.
        seed: Base seed of shard order and shuffling.
        crop: Cut training and validation images to their staves (the transcriber's staff crop);
            False reproduces the bundled checkpoint's uncropped recipe.
        crop_jitter: Random margin change (staff spaces, each side) of training crops.
        geometry: Attach per-token anchors and symbol points for the geometry losses.
        bucket_width: Batch training samples of similar width (whole batches from the stream).
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
        crop: bool = False,
        crop_jitter: float = 0.5,
        geometry: bool = False,
        bucket_width: bool = False,
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
            prepare = h["crop"] or h["geometry"]
            encoder = SampleEncoder(h["max_length"], crop=h["crop"], crop_jitter=h["crop_jitter"],
                                    geometry=h["geometry"], processor=h["processor"] if prepare else False)
            ds: Any = RenderStream(h["render_source"], h["render_level"], h["render_config"], h["max_length"],
                                   h["seed"], encoder)
        else:
            if not spec:
                raise DataError(f"no {stage} data configured (set data.{stage})")
            prepare = h["crop"] or h["geometry"] or (h["bucket_width"] and loop)
            ds = ShardStream(resolve_shards(spec), max_length=h["max_length"], loop=loop,
                             shuffle_buffer=h["shuffle_buffer"] if loop else 0, seed=h["seed"],
                             crop=h["crop"], crop_jitter=h["crop_jitter"] if loop else 0.0,
                             geometry=h["geometry"], processor=self.processor if prepare else None,
                             bucket_size=h["batch_size"] if h["bucket_width"] and loop else 0)
        if self.trainer is not None:
            ds.rank, ds.world_size = self.trainer.global_rank, self.trainer.world_size
        return ds

    def _loader(self, ds: IterableDataset) -> DataLoader:
        h = self.hparams
        batched = getattr(ds, "bucket_size", 0) > 1  # the stream yields whole batches
        return DataLoader(
            ds, batch_size=None if batched else h["batch_size"], num_workers=h["num_workers"],
            collate_fn=Collator(self.processor), persistent_workers=False,
            pin_memory=torch.cuda.is_available(), worker_init_fn=_quiet_worker,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["train"], "train", loop=True))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["val"], "val", loop=False))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["test"], "test", loop=False))

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.hparams["predict"], "predict", loop=False))
