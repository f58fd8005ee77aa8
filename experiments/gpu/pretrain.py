"""Pre-train the staff reader on one GPU for a fixed wall-clock budget, rendering its data as it goes.

    PYTHONUNBUFFERED=1 python experiments/gpu/pretrain.py --out $OUT            # 8.5 min, 14 workers
    python experiments/gpu/pretrain.py --smoke --out runs/gpu_smoke               # CPU, ~20 steps
    python experiments/gpu/pretrain.py --minutes 120 --workers 60 --trainer.devices 4 --out runs/gpu

Synth worker processes (``synth.stream.PooledStream``) render staves and prepare them (crop,
geometry, processor) into a bounded in-memory queue; the trainer pulls batches from a pool of
recent items, each used at most ``--reuse`` times (with cheap augmentation on the GPU from the
second use), so the GPU never waits for the renderer once the pool holds a batch. Training is
Lightning's (``OmrformerLightning``, bf16 autocast on CUDA) with ``max_time``: the cosine schedule
ends when the budget ends. Then the final weights are exported (before validation, so a slow
validation cannot lose them) and fixed held-out staves (sample indices no training task uses)
are validated. ``--out`` gets at most 8 files: the HF folder (config, safetensors <= 15 MB each,
index, vocab, processor), ``train_log.csv`` and ``summary.json``.

A watchdog ends the process at ``--hard-limit-minutes`` whatever is slow (worker start-up, first
CUDA call), after writing the summary it has.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("pretrain")

ROOT = Path(__file__).resolve().parents[2]
# Chosen from CPU evidence before any GPU run (docs/training.md, "One GPU for minutes"): the CPU
# recipe's architecture (experiments/configs/staff_reader.yaml) widened to d_model 256 and 4 + 4
# layers, 6.9M parameters: the largest that fits two 15 MB safetensors shards in fp32 (the
# GPU tool returns at most 8 files), about 2.7x the CPU model.
MODEL: dict[str, Any] = dict(
    local_dim=96, local_layers=2, local_heads=4, window_size=8, compress_factor=4,
    d_model=256, encoder_layers=4, encoder_heads=8, decoder_layers=4, decoder_heads=8, ffn_mult=3,
    grammar_losses=False, stem="conv", dense_heads=True, dense_loss_weight=0.5,
    guided_attention_weight=1.0, guided_layers=2, guided_heads=2, guided_sigma=1.0, reading_layout="staves",
)
SMOKE_MODEL: dict[str, Any] = dict(
    MODEL, local_dim=32, local_layers=1, local_heads=2, d_model=48, encoder_layers=1, encoder_heads=2,
    decoder_layers=1, decoder_heads=2, ffn_mult=2, guided_layers=1, guided_heads=1,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/gpu_pretrain")))
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny model, ~20 steps, 2 workers")
    ap.add_argument("--minutes", type=float, default=8.5, help="training wall-clock budget")
    ap.add_argument("--hard-limit-minutes", type=float, default=9.6, help="the process ends by then")
    ap.add_argument("--workers", type=int, default=14, help="synth worker processes (per device)")
    ap.add_argument("--synth-config", default="experiments/gpu/staff_gpu.yaml")
    ap.add_argument("--source", default=None, help="override the config's sources (a folder, random)")
    ap.add_argument("--batch-size", type=int, default=48)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup-steps", type=int, default=300)
    ap.add_argument("--reuse", type=int, default=8, help="uses of one rendered image at most")
    ap.add_argument("--pool", type=int, default=2048, help="recent items the batches are drawn from")
    ap.add_argument("--val-staves", type=int, default=192, help="held-out sample groups (staves: more)")
    ap.add_argument("--val-batches", type=int, default=8, help="val batches decoded greedily for SER")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps as well")
    ap.add_argument("--trainer.devices", dest="devices", default="1", help="GPUs per node (int or auto)")
    ap.add_argument("--trainer.num_nodes", dest="num_nodes", type=int, default=1)
    args = ap.parse_args(argv)
    if args.smoke:
        args.workers, args.batch_size, args.max_steps = 2, 4, 20
        args.val_staves, args.val_batches, args.warmup_steps, args.pool = 3, 1, 5, 64
        args.minutes = min(args.minutes, 4.0)
        args.source = args.source or "random"
    return args


class Budget:
    """The process's deadlines, counted from ``PRETRAIN_STARTED`` (epoch seconds, set by pretrain.sh
    before it installs the wheels) or else from now."""

    def __init__(self, hard_limit_s: float) -> None:
        self.t0 = time.monotonic()
        try:
            before = time.time() - float(os.environ.get("PRETRAIN_STARTED", "nan"))
        except ValueError:
            before = float("nan")
        if 0 <= before < 600:  # ignore a stale or foreign value
            self.t0 -= before
        self.hard = hard_limit_s

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        return self.hard - self.elapsed()


def start_watchdog(budget: Budget, out: Path, summary: dict[str, Any]) -> None:
    """At the hard limit: write the summary as it stands and end the process (exit 3)."""
    from experiments.gpu.run import write_json

    def guard() -> None:
        time.sleep(max(budget.left(), 0.0))
        summary["error"] = f"watchdog: hard limit of {budget.hard:.0f} s reached in stage {summary.get('stage')}"
        log.error(summary["error"])
        try:
            write_json(out / "summary.json", summary)
        finally:
            import multiprocessing

            for child in multiprocessing.active_children():  # the synth workers: they hold our stdout
                child.kill()
            os._exit(3)

    threading.Thread(target=guard, name="watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    budget = Budget(args.hard_limit_minutes * 60)
    summary: dict[str, Any] = {"stage": "start", "smoke": args.smoke}
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"pretrain: cannot create {args.out}: {err.strerror}", file=sys.stderr)
        return 2
    from synth.config import ConfigError, load_config
    from synth.sources import SourceError, SourceSet

    try:  # before torch is imported: bad settings fail in a second, not after start-up
        synth_config = load_config(args.synth_config, level="staff")
        SourceSet(args.source, synth_config.sources)  # a missing score folder fails here, not per worker
    except (ConfigError, SourceError) as err:
        print(f"pretrain: {err}", file=sys.stderr)
        return 2
    start_watchdog(budget, args.out, summary)
    from experiments.gpu.run import run

    return run(args, synth_config, budget, summary, SMOKE_MODEL if args.smoke else MODEL)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
