"""Per-step cost of GrammarLogitsProcessor for batch 1/8/32/64 (to compare with a decoder step).

Replays random grammatical sequences of length ``--steps`` through the processor one step at a
time, as ``generate`` would (growing ``(batch, cur_len)`` ids), and reports mean ms per call,
with ``max_length`` far away (plain masks) and with every step in closing mode (each candidate
checked against the completion plan). Closing mode is timed cold (empty memos: the first page
of a process) and warm (memos filled by other walks first, as by earlier pages).

    OMP_NUM_THREADS=1 .venv/bin/python experiments/bench_grammar.py [--model small]

With ``--model PRESET`` it also times one decoder step of that preset (random weights, KV cache,
greedy) at the same number of rows, each row attending to one staff image's memory, and prints
the grammar's share of it, far from and near ``max_length``: what the staff-by-staff page reader
pays per step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grammar.fill import fill_table  # noqa: E402
from grammar.logits import GrammarLogitsProcessor  # noqa: E402
from grammar.policy import Policy  # noqa: E402
from grammar.vocab import VOCAB  # noqa: E402
from tests.grammar_walks import random_walk  # noqa: E402


def walks(batch: int, steps: int, seed: int) -> torch.Tensor:
    """(batch, steps + 1) ids: ``<bos>`` and the first ``steps`` tokens of random valid walks."""
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < batch:
        seq = random_walk(rng, 4 * steps)
        if len(seq) >= steps:
            rows.append([VOCAB.bos_id, *VOCAB.encode(seq[:steps])])
    return torch.tensor(rows)


def replay(ids: torch.Tensor, max_length: int) -> float:
    """Mean ms per processor call, feeding ``ids`` one step at a time as ``generate`` would."""
    proc = GrammarLogitsProcessor(max_length=max_length)
    scores = torch.zeros(ids.shape[0], len(VOCAB))
    t0 = time.perf_counter()
    for cur in range(1, ids.shape[1]):
        proc(ids[:, :cur], scores)
    return 1000 * (time.perf_counter() - t0) / (ids.shape[1] - 1)


def bench(batch: int, steps: int, max_length: int, seed: int = 0, warm: bool = False) -> float:
    """ms per step over ``batch`` rows. The automaton memoises masks and plan lengths per policy
    for the whole process (grammar/automaton.py), so each measurement empties the memos first;
    ``warm`` then fills them by replaying other walks (another seed), as earlier pages would."""
    ids = walks(batch, steps, seed)
    fill_table(Policy()).cache.clear()
    if warm:
        replay(walks(batch, steps, seed + 1), max_length)
    return replay(ids, max_length)


STAFF = (128, 1024)  # one staff crop at a 10 px staff space


def model_step_ms(preset: str, batch: int, steps: int) -> float:
    """Mean ms per decoder step of ``generate`` (greedy, KV cache) for ``batch`` staff rows."""
    from omrformer.configuration import OmrformerConfig
    from omrformer.modeling.encoder import EncoderOutput
    from omrformer.modeling.model import OmrformerModel

    torch.manual_seed(0)
    model = OmrformerModel(OmrformerConfig.from_preset(preset)).eval()
    with torch.no_grad():
        one = model.encode(torch.rand(1, 1, *STAFF))
        memory = EncoderOutput(**{k: v.expand(batch, *v.shape[1:]).contiguous() for k, v in one.items()})
        t0 = time.perf_counter()
        out = model.generate(encoder_outputs=memory, max_length=steps + 1, min_length=steps + 1,
                             num_beams=1, do_sample=False, use_cache=True)
        dt = time.perf_counter() - t0
    return 1000 * dt / (out.shape[1] - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64],
                    help="rows per call (a page of 10-30 staves at beam 4 is 40-120 rows)")
    ap.add_argument("--model", help="also time a decoder step of this preset (tiny/small/base)")
    ap.add_argument("--model-steps", type=int, default=32, help="decoder steps per model measurement")
    args = ap.parse_args()
    torch.set_num_threads(1)
    head = "| batch | ms/step: far from max_length | closing mode, cold | closing mode, warm |"
    rule = "| --- | --- | --- | --- |"
    if args.model:
        head += f" {args.model} decoder ms/step | grammar / decoder step: far, closing cold, closing warm |"
        rule += " --- | --- |"
    print(head)
    print(rule)
    for b in args.batches:
        far = bench(b, args.steps, max_length=100_000)
        cold = bench(b, args.steps, max_length=args.steps + 40)
        warm = bench(b, args.steps, max_length=args.steps + 40, warm=True)
        line = f"| {b} | {far:.2f} | {cold:.2f} | {warm:.2f} |"
        if args.model:
            step = model_step_ms(args.model, b, args.model_steps)
            shares = ", ".join(f"{100 * t / step:.0f}%" for t in (far, cold, warm))
            line += f" {step:.1f} | {shares} |"
        print(line)


if __name__ == "__main__":
    main()
