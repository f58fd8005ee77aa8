"""Tokens per page and per system on synth shards (Lieder has no encoded breaks; rendered pages do).

    python experiments/tokens_per_layout.py SHARDS... [--limit N]

Labels are re-tokenized with the codec; systems are split at ``sysbreak``/``pagebreak``.
"""

from __future__ import annotations

import argparse

import numpy as np

from grammar.excerpt import split_measures
from grammar.musicxml import read_score
from synth.shards import iter_samples


def _stats(values: list[int]) -> str:
    a = np.asarray(values)
    return f"| {a.mean():.1f} | {np.percentile(a, 50):.0f} | {np.percentile(a, 90):.0f} | {a.max()} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shards", nargs="+")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    from omrformer.training.data import resolve_shards

    pages: list[int] = []
    systems: list[int] = []
    measures: list[int] = []
    for n, sample in enumerate(iter_samples(resolve_shards(args.shards))):
        if args.limit is not None and n >= args.limit:
            break
        tokens = read_score(sample["label"]).tokens
        pages.append(len(tokens) + 2)  # + <bos> <eos>
        current = 0
        for m in split_measures(tokens):
            if current and m[0] in ("sysbreak", "pagebreak"):
                systems.append(current)
                current = 0
            current += len(m)
            measures.append(len(m))
        systems.append(current)
    print(f"{len(pages)} images, {len(systems)} systems, {len(measures)} measures\n")
    print("| tokens per | mean | p50 | p90 | max |\n| --- | --- | --- | --- | --- |")
    for name, values in (("image (+bos/eos)", pages), ("system", systems), ("measure", measures)):
        print(f"| {name} {_stats(values)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
