"""Per-step cost of GrammarLogitsProcessor for batch 1/8/32/64 (to compare with a decoder step).

Replays random grammatical sequences of length ``--steps`` through the processor one step at a
time, as ``generate`` would (growing ``(batch, cur_len)`` ids), and reports mean ms per call,
with ``max_length`` far away (plain masks) and with every step in closing mode (each candidate
checked against the completion plan).

    OMP_NUM_THREADS=1 .venv/bin/python experiments/bench_grammar.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grammar.logits import GrammarLogitsProcessor  # noqa: E402
from grammar.vocab import VOCAB  # noqa: E402
from tests.grammar_walks import random_walk  # noqa: E402


def bench(batch: int, steps: int, max_length: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < batch:
        seq = random_walk(rng, 4 * steps)
        if len(seq) >= steps:
            rows.append([VOCAB.bos_id, *VOCAB.encode(seq[:steps])])
    ids = torch.tensor(rows)  # (B, steps + 1)
    proc = GrammarLogitsProcessor(max_length=max_length)
    scores = torch.zeros(batch, len(VOCAB))
    t0 = time.perf_counter()
    for cur in range(1, steps + 1):
        proc(ids[:, :cur], scores)
    return 1000 * (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64],
                    help="rows per call (a page of 10-30 staves at beam 4 is 40-120 rows)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| batch | ms/step, max_length far away | ms/step, closing mode (near max_length) |")
    print("| --- | --- | --- |")
    for b in args.batches:
        far = bench(b, args.steps, max_length=100_000)
        close = bench(b, args.steps, max_length=args.steps + 40)
        print(f"| {b} | {far:.2f} | {close:.2f} |")


if __name__ == "__main__":
    main()
