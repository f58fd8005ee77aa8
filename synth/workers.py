"""Worker processes with a per-task timeout: a Verovio crash or hang becomes a recorded failure.

Each worker owns a ``SampleMaker`` (one Verovio toolkit). A task that kills its worker (segfault,
abort, ``os._exit``) or runs past ``timeout_s`` is answered with a failure; the worker is replaced
and the run goes on.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from synth.config import SynthConfig

log = logging.getLogger(__name__)

# Test hooks: make the worker die (or hang) on this sample index, attempt 0.
CRASH_ENV = "SYNTH_TEST_CRASH_INDEX"
HANG_ENV = "SYNTH_TEST_HANG_INDEX"
# The first task of a fresh worker also pays for its start-up (imports, Verovio, fonts), which on a
# busy machine can take longer than a short per-sample timeout; it gets this much extra time.
STARTUP_GRACE_S = 60.0


@dataclass(frozen=True)
class Task:
    index: int
    attempt: int


@dataclass
class Outcome:
    task: Task
    sample: Any = None  # synth.sample.SampleGroup, or what the pool's ``transform`` made of it
    source: str = ""
    reason: str = ""
    seconds: float = 0.0


def single_thread() -> None:
    """One worker = one core: keep OpenCV and libvips from starting thread pools of their own.

    W workers on W cores already fill the machine; extra threads would only contend (and blur the
    per-core speed experiments/bench_synth.py measures). Results do not depend on it.
    """
    import cv2
    import pyvips

    cv2.setNumThreads(1)
    pyvips.concurrency_set(1)


# A picklable callable run on each finished SampleGroup inside the worker (e.g. decoding and preparing
# training images), so the parent receives ready items and its own cores stay free.
Transform = Callable[[Any], Any]


def _worker_main(
    conn: Connection,
    config: SynthConfig,
    source: str | None,
    seed: int,
    token_cache: Path | None = None,
    transform: Transform | None = None,
) -> None:
    from synth.fonts import install_fontconfig
    from synth.sample import SampleError, SampleMaker

    install_fontconfig()
    single_thread()
    maker = SampleMaker(config, source, token_cache)
    while True:
        task = conn.recv()
        if task is None:
            return
        if task.attempt == 0 and str(task.index) == os.environ.get(CRASH_ENV):
            os._exit(7)
        if task.attempt == 0 and str(task.index) == os.environ.get(HANG_ENV):
            time.sleep(3600)
        t0 = time.perf_counter()
        try:
            group = maker.make_samples(seed, task.index, task.attempt)
            out = Outcome(task, sample=transform(group) if transform is not None else group)
        except SampleError as err:
            out = Outcome(task, source=err.source, reason=err.reason)
        except Exception as err:  # noqa: BLE001 - any other bug is recorded with its type, never lost
            out = Outcome(task, source="?", reason=f"{type(err).__name__}: {err}")
        out.seconds = time.perf_counter() - t0
        conn.send(out)


class _Slot:
    def __init__(
        self,
        ctx,
        config: SynthConfig,
        source: str | None,
        seed: int,
        token_cache: Path | None,
        transform: Transform | None = None,
    ) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, config, source, seed, token_cache, transform), daemon=True
        )
        self.proc.start()
        child.close()
        self.task: Task | None = None
        self.deadline = 0.0
        self.answered = False  # has this worker finished a task (so it is past its start-up)?

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class WorkerPool:
    """Runs tasks on ``workers`` processes; ``run`` yields an ``Outcome`` per task, in completion order.

    ``transform`` (picklable) is applied to each sample group in the worker; a failure there is
    recorded like a failed sample.
    """

    def __init__(
        self,
        config: SynthConfig,
        source: str | None,
        seed: int,
        workers: int = 1,
        token_cache: Path | None = None,
        transform: Transform | None = None,
    ) -> None:
        self.args = (config, source, seed, token_cache, transform)
        self.timeout = config.timeout_s
        self.ctx = mp.get_context("spawn")  # fork would copy the parent's fontconfig/verovio state
        self.slots = [_Slot(self.ctx, *self.args) for _ in range(max(1, workers))]

    def run(self, todo: deque[Task]) -> Iterator[Outcome]:
        """Run tasks from ``todo`` (the caller may append retries while iterating)."""
        while todo or any(s.task for s in self.slots):
            for s in self.slots:
                if s.task is None and todo:
                    s.task = todo.popleft()
                    grace = 0.0 if s.answered else STARTUP_GRACE_S
                    s.deadline = time.monotonic() + self.timeout + grace
                    s.conn.send(s.task)
            busy = [s for s in self.slots if s.task]
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=0.5)
            for i, s in enumerate(self.slots):
                if s.task is None:
                    continue
                task = s.task
                if s.conn in ready:
                    try:
                        out = s.conn.recv()
                    except (EOFError, OSError):
                        out = None
                    if out is not None:
                        s.task, s.answered = None, True
                        yield out
                        continue
                if not s.proc.is_alive() or s.proc.sentinel in ready:
                    code = s.proc.exitcode
                    yield self._replace(i, task, f"worker died (exit code {code})")
                elif time.monotonic() > s.deadline:
                    yield self._replace(i, task, f"timed out after {self.timeout:g} s")

    def _replace(self, i: int, task: Task, reason: str) -> Outcome:
        log.warning("sample %d attempt %d: %s; restarting the worker", task.index, task.attempt, reason)
        self.slots[i].kill()
        self.slots[i] = _Slot(self.ctx, *self.args)
        return Outcome(task, source="?", reason=reason)

    def close(self) -> None:
        for s in self.slots:
            try:
                s.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            s.proc.join(2)
            s.kill()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
