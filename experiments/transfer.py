"""Transfer with few samples (issue 13 part 3): adapt the bundled staff reader to another engraver.

    python experiments/transfer.py run --model omrformer/pretrained/omrformer-small \\
        --train data/musescore_train --heldout data/musescore_dev_staves --sizes 128 1024 \\
        --minutes 4 --out runs/transfer
    python experiments/transfer.py report --out runs/transfer --png docs/img/transfer.png --md runs/transfer/table.md

The domain: staves engraved by MuseScore 3 (``experiments/musescore_staves.py``; train split for
fine-tuning, dev split held out), which the reader never saw (it learned from Verovio). For each
size N (the first N staves: whole shards of the training folder, so ``--sizes`` should be
multiples of its shard size) and each setting

- ``all``: every weight fine-tuned from ``--model``,
- ``decoder-frozen``: the decoder and output layer kept, the encoder fine-tuned,
- ``encoder-frozen``: the encoder kept, the decoder fine-tuned,
- ``scratch``: the same architecture from random weights,

one run of ``experiments/learning_curves.py train`` for the same CPU budget (``--minutes`` of CPU
time, 1 thread), evaluated greedily on the same held-out staves at the end. ``zero-shot`` is the
model before any fine-tuning. Runs already on disk (their JSONL has the final row) are kept, so a
killed grid resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"all": [], "decoder-frozen": ["decoder", "lm_head"], "encoder-frozen": ["encoder"], "scratch": None}


def _subset(train: Path, size: int, out: Path) -> Path:
    """A folder of symlinks to the first shards of ``train`` holding ``size`` staves."""
    manifest = json.loads((train / "manifest.json").read_text())
    folder = out / f"train-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for shard in manifest["shards"]:
        if total >= size:
            break
        for name in (shard["shard"], shard["shard"].replace(".tar", ".json")):
            link = folder / name
            if not link.exists():
                link.symlink_to((train / name).resolve())
        total += shard["samples"]
    if total < size:
        raise SystemExit(f"transfer: {train} holds {total} staves, fewer than --sizes {size}")
    return folder


def _done(jsonl: Path, minutes: float) -> bool:
    if not jsonl.is_file():
        return False
    rows = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()]
    return bool(rows) and rows[-1]["minutes"] >= minutes - 1e-6


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    base = [py, str(ROOT / "experiments" / "learning_curves.py"), "train", "--variant", "all",
            "--heldout", *args.heldout, "--heldout-batches", str(args.heldout_batches), "--threads", "1",
            "--out", str(out), "--warmup", str(args.warmup)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    jobs: list[tuple[str, list[str]]] = []
    if not _done(out / "zero-shot.jsonl", 0.0):  # the pretrained model on the held-out staves
        jobs.append(("zero-shot", [*base, "--name", "zero-shot", "--init-from", args.model, "--minutes", "0",
                                   "--train", str(args.train)]))
    for size in args.sizes:
        train = _subset(Path(args.train), size, out)
        for setting, freeze in SETTINGS.items():
            name = f"{setting}-n{size}"
            if _done(out / f"{name}.jsonl", args.minutes):
                continue
            cmd = [*base, "--name", name, "--train", str(train), "--minutes", str(args.minutes),
                   "--eval-every", str(args.minutes), "--skip-initial-eval",
                   "--lr", str(args.lr if freeze is not None else args.scratch_lr)]
            if freeze is not None:
                cmd += ["--init-from", args.model, *(["--freeze", *freeze] if freeze else [])]
            jobs.append((name, cmd))
    for name, cmd in jobs:
        print(f"transfer: {name}", flush=True)
        with open(out / f"{name}.log", "w") as log:
            res = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        if res.returncode:
            print(f"transfer: {name} failed (exit {res.returncode}, see {out / (name + '.log')})", file=sys.stderr)
            return 1
    return 0


def report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    final: dict[tuple[str, int], dict] = {}
    zero = None
    for f in sorted(out.glob("*.jsonl")):
        rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
        if not rows:
            continue
        if f.stem == "zero-shot":
            zero = rows[-1]
            continue
        setting, _, n = f.stem.rpartition("-n")
        final[(setting, int(n))] = rows[-1]
    sizes = sorted({n for _, n in final})
    md = ["| setting | " + " | ".join(f"SER n={n}" for n in sizes) + " | pitch recall (largest n) |",
          "| --- | " + " | ".join("---" for _ in sizes) + " | --- |"]
    if zero:
        md.append("| zero-shot (no fine-tuning) | " + " | ".join(f"{zero['ser']:.3f}" for _ in sizes)
                  + f" | {zero['pitch_recall']:.3f} |")
    for setting in SETTINGS:
        cells = [f"{final[(setting, n)]['ser']:.3f}" if (setting, n) in final else "-" for n in sizes]
        last = final.get((setting, sizes[-1])) if sizes else None
        md.append(f"| {setting} | " + " | ".join(cells) + f" | {last['pitch_recall']:.3f} |" if last
                  else f"| {setting} | " + " | ".join(cells) + " | - |")
    text = "\n".join(md)
    print(text)
    if args.md:
        Path(args.md).write_text(text + "\n")
    if args.png and sizes:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for setting in SETTINGS:
            xs = [n for n in sizes if (setting, n) in final]
            ys = [final[(setting, n)]["ser"] for n in xs]
            if xs:
                ax.plot(xs, ys, marker="o", label=setting)
        if zero and not math.isnan(zero["ser"]):
            ax.axhline(zero["ser"], color="grey", ls="--", label="zero-shot")
        ax.set_xscale("log")
        ax.set_xlabel("MuseScore training staves")
        ax.set_ylabel("SER, held-out MuseScore staves")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=110)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--model", required=True, help="the pretrained staff reader (HF folder)")
    r.add_argument("--train", required=True, help="transfer-domain staff shards with a manifest.json")
    r.add_argument("--heldout", nargs="+", required=True)
    r.add_argument("--sizes", type=int, nargs="+", default=[128, 1024])
    r.add_argument("--minutes", type=float, default=4.0, help="CPU minutes of training per run")
    r.add_argument("--heldout-batches", type=int, default=8)
    r.add_argument("--lr", type=float, default=3e-4, help="peak learning rate of the fine-tuning runs")
    r.add_argument("--scratch-lr", type=float, default=1e-3, help="peak learning rate from scratch")
    r.add_argument("--warmup", type=int, default=20)
    r.add_argument("--out", default="runs/transfer")
    p = sub.add_parser("report")
    p.add_argument("--out", default="runs/transfer")
    p.add_argument("--png")
    p.add_argument("--md")
    args = ap.parse_args()
    return run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    raise SystemExit(main())
