"""The classic end-to-end OMR baseline: a CRNN trained with CTC on single staves (issue 13, part 1).

Calvo-Zaragoza & Rizo style: conv + pooling blocks over a height-normalised staff image, the
feature columns fed to a 2-layer bidirectional LSTM, a linear layer, CTC loss over the same
factorised token vocabulary as omrformer (blank = ``<pad>``), greedy CTC decoding. Its output is
a token sequence; ``grammar.repair`` turns it into a valid score, and how often repair had to
change it is reported.

Same staff shards, same held-out staves, same CPU-time budget and threads as the learning-curve
harness (``experiments/learning_curves.py``), so the rows can be compared::

    OMP_NUM_THREADS=1 python experiments/baselines/crnn_ctc.py --train TRAIN --heldout HELDOUT \\
        --minutes 30 --eval-every 10 --threads 1 --out runs/curves

writes ``runs/curves/crnn.jsonl`` (rows like the other variants'; ``learning_curves.py report``
reads them) with SER, pitch and duration recall and ``repair_rate``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

logger = logging.getLogger("crnn_ctc")
HEIGHT = 128  # input height in pixels (the staff crop, resized)


class CRNN(nn.Module):
    """(B, 1, 128, W) staff images -> (W/4, B, vocab) CTC log-probabilities."""

    def __init__(self, vocab: int, hidden: int = 256, channels: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        # Pool 2x2 twice (width / 4: a column every 4 px, ~0.4 staff space at 10 px/space), then
        # height only, so there are enough columns for CTC's blanks between symbols.
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.LeakyReLU(0.2),
                       nn.MaxPool2d((2, 2) if i < 2 else (2, 1))]
            c_in = c
        self.conv = nn.Sequential(*layers)
        rows = HEIGHT // 2 ** len(channels)
        self.rnn = nn.LSTM(c_in * rows, hidden, num_layers=2, bidirectional=True, dropout=0.2)
        self.out = nn.Linear(2 * hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv(x)  # (B, C, H/16, W/4)
        b, c, h, w = f.shape
        seq = f.permute(3, 0, 1, 2).reshape(w, b, c * h)  # (T, B, C*H)
        y, _ = self.rnn(seq)
        return self.out(y).log_softmax(-1)  # (T, B, V)


def to_input(ink: np.ndarray) -> np.ndarray:
    """A prepared staff crop (ink: 1 = black) -> (128, W) float32, width scaled with the height."""
    import cv2

    h, w = ink.shape
    width = max(16, round(w * HEIGHT / h))
    return cv2.resize(ink.astype(np.float32), (width, HEIGHT), interpolation=cv2.INTER_AREA)


def samples(shards: list[Path], loop: bool, seed: int) -> Iterator[tuple[np.ndarray, list[int]]]:
    """(image, label ids without <bos>/<eos>) from staff shards, cropped as omrformer's data is."""
    from grammar.vocab import VOCAB
    from omrformer import OmrformerProcessor
    from omrformer.training.data import ShardStream

    ds = ShardStream(shards, max_length=512, loop=loop, shuffle_buffer=256 if loop else 0, seed=seed,
                     crop=True, crop_jitter=0.5 if loop else 0.0, processor=OmrformerProcessor())
    special = {VOCAB.bos_id, VOCAB.eos_id, VOCAB.pad_id}
    for item in ds:
        prep = item["prepared"]
        h, w = prep.size
        yield to_input(prep.ink[:h, :w]), [i for i in item["labels"] if i not in special]


def collate(group: list[tuple[np.ndarray, list[int]]]) -> dict[str, torch.Tensor]:
    width = max(im.shape[1] for im, _ in group)
    images = np.zeros((len(group), 1, HEIGHT, width), np.float32)
    for i, (im, _) in enumerate(group):
        images[i, 0, :, : im.shape[1]] = im
    return {
        "images": torch.from_numpy(images),
        "widths": torch.tensor([im.shape[1] // 4 for im, _ in group]),  # CTC input lengths
        "targets": torch.tensor([t for _, ids in group for t in ids], dtype=torch.long),
        "target_lengths": torch.tensor([len(ids) for _, ids in group]),
        "labels": [ids for _, ids in group],  # type: ignore[dict-item]
    }


def ctc_loss(model: CRNN, batch: dict[str, Any]) -> torch.Tensor:
    from grammar.vocab import VOCAB

    logp = model(batch["images"])  # (T, B, V)
    lengths = batch["widths"].clamp(max=logp.shape[0])
    return nn.functional.ctc_loss(logp, batch["targets"], lengths, batch["target_lengths"],
                                  blank=VOCAB.pad_id, zero_infinity=True)


def greedy_decode(logp: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best path: argmax per column, repeats merged, blanks dropped."""
    from grammar.vocab import VOCAB

    best = logp.argmax(-1).T.tolist()  # (B, T)
    out = []
    for row, n in zip(best, lengths.tolist(), strict=True):
        ids, prev = [], None
        for i in row[:n]:
            if i != prev and i != VOCAB.pad_id:
                ids.append(i)
            prev = i
        out.append(ids)
    return out


def evaluate(model: CRNN, heldout: list[dict[str, Any]]) -> dict[str, float]:
    """SER, pitch/duration recall of the repaired output, and the share of outputs repair changed."""
    from grammar.repair import repair
    from grammar.vocab import VOCAB
    from omrformer.evaluation.metrics import TokenMetrics

    model.eval()
    metrics, changed, n = TokenMetrics(), 0, 0
    with torch.no_grad():
        for batch in heldout:
            logp = model(batch["images"])
            for ids, ref in zip(greedy_decode(logp, batch["widths"]), batch["labels"], strict=True):
                fixed = repair(VOCAB.decode(ids))
                changed += fixed.changed
                n += 1
                metrics.update(fixed.tokens, VOCAB.decode(ref))
    model.train()
    table = metrics.class_table()
    return {"ser": float(metrics.ser if metrics.ser is not None else float("nan")),
            "pitch_recall": float(table["pitch"]["recall"] or 0.0),
            "duration_recall": float(table["duration"]["recall"] or 0.0),
            "repair_rate": changed / n if n else float("nan"),
            "attention_hit": float("nan"), "staff_pos_acc": float("nan")}


def batches(it: Iterator[tuple[np.ndarray, list[int]]], size: int) -> Iterator[dict[str, Any]]:
    group: list[tuple[np.ndarray, list[int]]] = []
    for s in it:
        group.append(s)
        if len(group) == size:
            yield collate(group)
            group = []
    if group:
        yield collate(group)


def train(args: argparse.Namespace) -> dict[str, Any]:
    from grammar.vocab import VOCAB
    from omrformer.training.data import resolve_shards

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    # The budget counts the CPU seconds this process got (process_time), not the wall clock: on a
    # shared machine a variant slowed by another job gets the same compute as one run alone.
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    model = CRNN(len(VOCAB))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    heldout = list(batches(samples(resolve_shards(args.heldout), False, 0), args.batch))[: args.heldout_batches]
    stream = batches(samples(resolve_shards(args.train), True, args.seed), args.batch)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget, elapsed, step, images = args.minutes * 60.0, 0.0, 0, 0
    next_eval = args.eval_every * 60 if args.skip_initial_eval else 0.0
    row: dict[str, Any] = {}
    with (out / "crnn.jsonl").open("w") as log:
        while True:
            if elapsed >= next_eval or elapsed >= budget:
                t = time.perf_counter()
                row = {"variant": "crnn", "minutes": elapsed / 60, "step": step, "images": images,
                       **evaluate(model, heldout), "eval_s": 0.0}
                row["eval_s"] = time.perf_counter() - t
                log.write(json.dumps(row) + "\n")
                log.flush()
                logger.info(json.dumps(row))
                next_eval = min(next_eval + args.eval_every * 60, budget)
                if elapsed >= budget:
                    break
            t0 = clock()
            batch = next(stream)
            # The harness's schedule: 150 warm-up steps, cosine over the time budget.
            cosine = 0.05 + 0.475 * (1 + math.cos(math.pi * min(elapsed / budget, 1.0)))
            scale = (step + 1) / 150 if step < 150 else cosine
            for g in opt.param_groups:
                g["lr"] = args.lr * scale
            loss = ctc_loss(model, batch)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            images += len(batch["labels"])
            elapsed += clock() - t0
    if args.save:
        torch.save(model.state_dict(), out / "crnn.pt")
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", nargs="+", required=True, help="staff shard files/folders")
    ap.add_argument("--heldout", nargs="+", required=True, help="held-out staff shards (another seed)")
    ap.add_argument("--minutes", type=float, default=30.0, help="training budget (see --clock)")
    ap.add_argument("--eval-every", type=float, default=10.0, help="minutes between evaluations")
    ap.add_argument("--skip-initial-eval", action="store_true")
    ap.add_argument("--heldout-batches", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                     help="what --minutes counts: CPU time of this process (default) or wall time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", action="store_true", help="also write OUT/crnn.pt")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.minutes <= 0 or args.eval_every <= 0:
        print("crnn_ctc: --minutes and --eval-every must be positive", file=sys.stderr)
        return 2
    try:
        train(args)
    except Exception as err:  # the data layer's errors name the shard
        from omrformer.training.data import DataError

        if isinstance(err, DataError):
            print(f"crnn_ctc: {err}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
