"""Measure the MusicXML codec over the OpenScore Lieder corpus and print a Markdown report.

    .venv/bin/python experiments/codec_corpus.py                 # dev split
    .venv/bin/python experiments/codec_corpus.py --split train   # train split (slower)

Reports coverage (note heads and measures kept), dropped/adjusted things by reason, tokens per
measure/system/page, read and write speed, XSD validity of written files, round-trip identity and
the share of scores the grammar accepts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grammar.musicxml import MusicXMLError, read_score, validate_xsd, write_score  # noqa: E402
from grammar.validate import validate  # noqa: E402


def _summary(values: list[int]) -> str:
    if not values:
        return "n/a"
    v = sorted(values)
    p = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return f"{statistics.mean(v):.1f} | {p(0.5)} | {p(0.9)} | {v[-1]}"


def _chunks(tokens: list[str], marks: tuple[str, ...]) -> list[int]:
    """Token counts between measures opening with one of ``marks`` (systems or pages)."""
    sizes, current = [], 0
    for i, tok in enumerate(tokens):
        if tok in marks and i > 0 and tokens[i - 1].startswith("bar") and current:
            sizes.append(current)
            current = 0
        current += 1
    return sizes + [current] if current else sizes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="dev", choices=["dev", "train"])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "lieder")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = ap.parse_args()
    files = sorted((args.corpus / args.split).glob("*.mxl"))[: args.limit or None]
    if not files:
        print(f"no .mxl files in {args.corpus / args.split}", file=sys.stderr)
        return 2
    dropped: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    per_measure, per_system, per_page, per_score = [], [], [], []
    t_read = t_write = 0.0
    unreadable = xsd_ok = rt_ok = grammar_ok = 0
    refused: list[str] = []  # scores the grammar rejects, with the first violation
    blanked: list[str] = []  # scores where a staff-measure had no exact spelling (counted, blanked)
    for path in files:
        t0 = time.perf_counter()
        try:
            result = read_score(path)
        except MusicXMLError as err:
            unreadable += 1
            print(f"unreadable: {err}", file=sys.stderr)
            continue
        t1 = time.perf_counter()
        xml = write_score(result.tokens)
        t2 = time.perf_counter()
        t_read, t_write = t_read + t1 - t0, t_write + t2 - t1
        dropped.update(result.dropped)
        stats.update(result.stats)
        toks = result.tokens
        per_measure += _measure_sizes(toks)
        per_score.append(len(toks))
        per_system += _chunks(toks, ("sysbreak", "pagebreak"))
        per_page += _chunks(toks, ("pagebreak",))
        xsd_ok += not validate_xsd(xml)
        rt_ok += read_score(xml).tokens == toks
        found = validate(toks)
        grammar_ok += not found
        if found:
            refused.append(f"{path.name}: {len(found)} violations, first: {found[0]}")
        if result.dropped.get("staff-measure-blanked"):
            blanked.append(f"{path.name}: {result.dropped['staff-measure-blanked']} staff-measures")
    n = len(files) - unreadable
    content = {k: v for k, v in dropped.items() if not k.startswith("marking:")}
    markings = {k: v for k, v in dropped.items() if k.startswith("marking:")}
    print(f"## Codec over Lieder {args.split} ({len(files)} files, {unreadable} unreadable)\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| note heads kept | {stats['notes_out']} / {stats['notes_in']} "
          f"({100 * stats['notes_out'] / max(stats['notes_in'], 1):.2f} %) |")
    kept = stats["measures"] - stats["measures_with_drops"]
    print(f"| measures with no content dropped | {kept} / {stats['measures']} "
          f"({100 * kept / max(stats['measures'], 1):.2f} %) |")
    print(f"| written files XSD-valid | {xsd_ok} / {n} |")
    print(f"| round trip read(write(t)) == t | {rt_ok} / {n} |")
    print(f"| token sequences the grammar accepts | {grammar_ok} / {n} |")
    print(f"| read speed | {n / t_read:.1f} files/s ({1000 * t_read / n:.1f} ms/file) |")
    print(f"| write speed | {n / t_write:.1f} files/s ({1000 * t_write / n:.1f} ms/file) |")
    print("\n| tokens per | mean | p50 | p90 | max |\n| --- | --- | --- | --- | --- |")
    print(f"| measure (all parts) | {_summary(per_measure)} |")
    print(f"| system (split at sysbreak/pagebreak) | {_summary(per_system)} |")
    print(f"| page (split at pagebreak) | {_summary(per_page)} |")
    print(f"| score | {_summary(per_score)} |")
    print("\n| dropped or adjusted (content) | count |\n| --- | --- |")
    for k, v in sorted(content.items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {v} |")
    print("\n| not in the language (markings) | count |\n| --- | --- |")
    for k, v in sorted(markings.items(), key=lambda kv: -kv[1])[:12]:
        print(f"| {k} | {v} |")
    for title, rows in (("Scores the grammar rejects", refused), ("Scores with a blanked staff-measure", blanked)):
        print(f"\n{title}: {len(rows) or 'none'}")
        for row in rows:
            print(f"- {row}")
    return 0


def _measure_sizes(tokens: list[str]) -> list[int]:
    sizes, current = [], 0
    for tok in tokens:
        current += 1
        if tok.startswith("bar"):
            sizes.append(current)
            current = 0
    return sizes


if __name__ == "__main__":
    sys.exit(main())
