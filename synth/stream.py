"""Endless on-the-fly samples for training without shards.

Two ways to the same samples (sample group ``i`` is a pure function of (config, seed, i), retried
with the next ``attempt`` up to ``config.max_attempts`` like ``python -m synth make``):

- ``render_stream``: in the calling process (a DataLoader worker of ``RenderStream`` in
  omrformer.training.data). No timeout protection: a Verovio crash ends that reader.
- ``PooledStream``: a ``WorkerPool`` (crash- and timeout-protected worker processes) renders into a
  bounded in-memory queue from a background thread, for a trainer that must not wait on disk
  (experiments/gpu/pretrain.py). When the queue is full the workers idle: memory stays bounded.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from synth.config import SynthConfig, load_config
from synth.sample import SampleError, SampleGroup, SampleMaker

log = logging.getLogger(__name__)

STREAM_STRIDE = 1_000_003  # sample group i of stream s is index i * STREAM_STRIDE + s: streams are disjoint


def decode_group(group: SampleGroup) -> list[dict[str, Any]]:
    """Sample dicts ``{"key", "image" (uint8 (H, W)), "label", "geometry", "meta"}`` of a group."""
    out = []
    for s in group.samples:  # one per staff at staff level
        image = cv2.imdecode(np.frombuffer(s.png, np.uint8), cv2.IMREAD_GRAYSCALE)
        out.append({"key": s.key, "image": image, "label": s.label, "geometry": s.geometry, "meta": s.meta})
    return out


def render_stream(
    source: str | None, level: str = "system", config: str | Path | None = None, seed: int = 0, stream: int = 0
) -> Iterator[dict[str, Any]]:
    """Endless samples ``{"key", "image", "label", "geometry", "meta"}`` rendered in this process.

    Sample group ``i`` of stream ``s`` is index ``i * STREAM_STRIDE + s``; streams are disjoint.
    ``source``: a directory, 'random', 'music21:NAME' (converted beforehand), or None for the
    config's ``sources`` mix.
    """
    from synth.fonts import install_fontconfig

    install_fontconfig()
    cfg = load_config(config, level=level)
    # music21 sources must have been converted (python -m synth make/preview does it), into the
    # user cache here (SYNTH_MUSIC21_CACHE): a training reader has no output folder.
    maker = SampleMaker(cfg, source)
    for i in itertools.count():
        index = i * STREAM_STRIDE + stream
        for attempt in range(cfg.max_attempts):
            try:
                group = maker.make_samples(seed, index, attempt)
            except SampleError as err:
                log.warning("sample %d attempt %d skipped: %s", index, attempt, err)
                continue
            yield from decode_group(group)
            break


class PooledStream:
    """Items rendered by ``workers`` synth processes into a queue of at most ``capacity`` items.

    Args:
        config: The synth config (level, sources, presets).
        source: As for ``render_stream``.
        seed: Sample seed.
        workers: Worker processes (one Verovio each).
        capacity: Items held at most; rendering pauses while the queue is full.
        transform: Picklable callable run in the worker on each ``SampleGroup``, returning a list of
            items; None yields ``decode_group``'s sample dicts.
        indices: Sample group indices to render (default: 0, 1, 2, ... forever); a finite range
            makes a finite stream (``done`` is set once it is rendered).
    """

    def __init__(self, config: SynthConfig, source: str | None, seed: int, workers: int, capacity: int,
                 transform: Any = None, indices: Iterable[int] | None = None) -> None:
        self.config, self.source, self.seed, self.workers = config, source, seed, max(1, workers)
        self.transform = transform if transform is not None else decode_group
        self.indices = iter(indices if indices is not None else itertools.count())
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, capacity))
        self.rendered = 0  # items put into the queue
        self.failures = 0  # failed attempts (retried up to config.max_attempts)
        self.missing = 0  # groups that failed every attempt
        self.first_item_s: float | None = None  # seconds from start() to the first item
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synth-pool", daemon=True)
        self._t0 = 0.0

    def start(self) -> PooledStream:
        from synth.fonts import install_fontconfig

        install_fontconfig()  # here too: a FontError surfaces once, in the caller, not per worker
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def _refill(self, todo: deque[Any]) -> None:
        from synth.workers import Task

        # Two tasks per worker in sight keep every worker busy without running ahead of the queue.
        while len(todo) < 2 * self.workers:
            index = next(self.indices, None)
            if index is None:
                return
            todo.append(Task(index, 0))

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
            except queue.Full:
                continue
            self.rendered += 1
            if self.first_item_s is None:
                self.first_item_s = time.monotonic() - self._t0
            return True
        return False

    def _run(self) -> None:
        from synth.workers import Task, WorkerPool

        todo: deque[Any] = deque()
        self._refill(todo)
        try:
            with WorkerPool(self.config, self.source, self.seed, self.workers, transform=self.transform) as pool:
                for o in pool.run(todo):
                    if self._stop.is_set():
                        todo.clear()
                        break
                    if o.sample is None:
                        self.failures += 1
                        level = logging.WARNING if self.failures <= 3 else logging.DEBUG
                        log.log(level, "sample %d attempt %d failed: %s: %s", o.task.index, o.task.attempt,
                                o.source, o.reason)
                        if o.task.attempt + 1 < self.config.max_attempts:
                            todo.appendleft(Task(o.task.index, o.task.attempt + 1))
                        else:
                            self.missing += 1
                    elif not all(self._put(item) for item in o.sample):
                        break
                    self._refill(todo)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which decides
            self.error = err
            log.error("render pool stopped: %s: %s", type(err).__name__, err)
        finally:
            self.done.set()

    def get(self, timeout: float | None = None) -> Any:
        """The next item, or None when none came within ``timeout`` s (or the stream has ended)."""
        try:
            return self.queue.get(timeout=timeout) if timeout else self.queue.get_nowait()
        except queue.Empty:
            return None

    def take(self, n: int, timeout: float) -> list[Any]:
        """Up to ``n`` items: those queued now, waiting up to ``timeout`` s for the first one only
        if the queue is empty."""
        out: list[Any] = []
        first = self.get(timeout)
        if first is None:
            return out
        out.append(first)
        while len(out) < n:
            item = self.get()
            if item is None:
                break
            out.append(item)
        return out

    def close(self, wait_s: float = 5.0) -> None:
        """Stop rendering; worker processes are daemons, so an unfinished close ends with the process."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait_s)

    def __enter__(self) -> PooledStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
