"""Build the bundled demo page: the voice part of a Lieder dev-split score, engraved by synth with
scan-like distortions. Writes omrformer/examples/NAME.{png,musicxml,json}.

    python experiments/make_demo_example.py --score ../shared/corpus/lieder/dev/lc6218728.mxl

Only the first part is kept because the bundled CPU checkpoint was trained on single staves
(docs/training.md); the label is exactly what is drawn.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from grammar.excerpt import split_measures
from grammar.musicxml import read_score, write_score
from synth.config import load_config
from synth.sample import SampleError, SampleMaker

ROOT = Path(__file__).resolve().parents[1]
MARKS = {"pagebreak", "sysbreak", "repeat-start"}


def first_part(tokens: list[str]) -> list[str]:
    """Keep the measure marks, the first part and the barline of every measure."""
    out: list[str] = []
    for m in split_measures(tokens):
        parts = [i for i, t in enumerate(m) if t == "part"]
        stop = parts[1] if len(parts) > 1 else len(m) - 1
        out += [t for t in m[: parts[0]] if t in MARKS] + m[parts[0] : stop] + [m[-1]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--score", required=True, type=Path)
    ap.add_argument("--config", default=ROOT / "experiments/configs/synth/system_staff.yaml", type=Path)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--preset", default="scan")
    ap.add_argument("--out", default=ROOT / "omrformer/examples", type=Path)
    args = ap.parse_args(argv)

    tokens = first_part(read_score(args.score).tokens)
    cfg = load_config(args.config)
    cfg = dataclasses.replace(cfg, presets={args.preset: 1.0})
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{args.score.stem}-voice.musicxml"
        src.write_bytes(write_score(tokens))
        maker = SampleMaker(cfg, tmp)
        for attempt in range(20):
            try:
                sample = maker.make(args.seed, 0, attempt)
                break
            except SampleError as err:
                print(f"attempt {attempt}: {err}", file=sys.stderr)
        else:
            print("no engraving succeeded", file=sys.stderr)
            return 1
    name = f"{args.score.stem}-m{sample.meta['measures'][0] + 1}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.png").write_bytes(sample.png)
    (args.out / f"{name}.musicxml").write_bytes(sample.label)
    meta = {**sample.meta, "source": f"{args.score.name} (OpenScore Lieder dev split, CC0), part 1"}
    (args.out / f"{name}.json").write_text(json.dumps(meta, indent=1))
    print(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
