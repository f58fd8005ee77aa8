"""How often each grammar rule is broken by real scores, under each policy preset.

Reads every MusicXML file of the Lieder corpus (train + dev) with the codec, validates the tokens
under each preset of grammar/policy.py and prints a table: per rule, the share of scores with at
least one violation and violations per 1,000 measures. With ``--write-doc`` the table replaces the
marked section of docs/grammar.md.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/grammar_policies.py --write-doc
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grammar.excerpt import split_measures  # noqa: E402
from grammar.musicxml import MusicXMLError, read_score  # noqa: E402
from grammar.policy import PRESETS  # noqa: E402
from grammar.validate import validate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "lieder"
DOC = ROOT / "docs" / "grammar.md"
START, END = "<!-- policies:start -->", "<!-- policies:end -->"
log = logging.getLogger("grammar_policies")


def measure(files: list[Path]) -> str:
    read, rejected, measures = 0, Counter(), 0
    files_with: dict[str, Counter] = {name: Counter() for name in PRESETS}
    counts: dict[str, Counter] = {name: Counter() for name in PRESETS}
    clean: Counter = Counter()
    t0 = time.time()
    for path in files:
        try:
            tokens = read_score(path).tokens
        except (MusicXMLError, ValueError) as err:
            rejected[type(err).__name__] += 1
            log.info("%s: rejected by the reader: %s", path.name, err)
            continue
        read += 1
        try:
            measures += len(split_measures(tokens))
        except ValueError:
            pass
        for name, policy in PRESETS.items():
            found = validate(tokens, policy)
            rules = Counter(v.rule for v in found)
            counts[name].update(rules)
            files_with[name].update(set(rules))
            clean[name] += not found
    secs = time.time() - t0
    rules = sorted({r for c in counts.values() for r in c})
    lines = [f"Scores read: {read} of {len(files)} ({sum(rejected.values())} rejected by the reader: "
             f"{dict(rejected)}); {measures} measures; {secs:.0f} s.", "",
             "| policy | valid scores | " + " | ".join(f"`{r}`" for r in rules) + " |",
             "| --- | --- | " + " | ".join("---" for _ in rules) + " |"]
    for name in PRESETS:
        share = {r: 100 * files_with[name][r] / max(read, 1) for r in rules}
        rate = {r: 1000 * counts[name][r] / max(measures, 1) for r in rules}
        cells = [f"{share[r]:.1f}% / {rate[r]:.2f}" for r in rules]
        lines.append(f"| {name} | {100 * clean[name] / max(read, 1):.1f}% | " + " | ".join(cells) + " |")
    lines += ["", "Cells: share of scores with at least one violation of the rule / violations per 1,000 "
              "measures."]
    return "\n".join(lines)


def write_doc(table: str) -> None:
    text = DOC.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOC}: markers {START} ... {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    fd, tmp = tempfile.mkstemp(dir=DOC.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(f"{head}{START}\n{table}\n{END}{tail}")
    os.replace(tmp, DOC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (0: all)")
    ap.add_argument("--write-doc", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    files = sorted(p for split in ("train", "dev") for p in (args.corpus / split).glob("*.mxl"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"error: no .mxl files under {args.corpus}/{{train,dev}}", file=sys.stderr)
        raise SystemExit(2)
    table = measure(files)
    print(table)
    if args.write_doc:
        write_doc(table)


if __name__ == "__main__":
    main()
