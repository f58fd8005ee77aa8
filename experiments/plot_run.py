"""Plot a Lightning CSV log (a training run's metrics.csv): validation SER and losses against steps.

    python experiments/plot_run.py runs/staff_reader/csv/version_0/metrics.csv \\
        --png docs/img/staff_default_run.png [--title "..."]

Prints the validation rows as a markdown table too (step, val/loss_ce, val/ser, and the dense
head's staff-position accuracy when logged), so the numbers behind the plot are in the text.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

VAL = ("val/loss_ce", "val/ser", "val/acc_dense_staff_pos")
TRAIN = ("train/loss_ce", "train/acc_attention_hit", "train/acc_dense_staff_pos")


def read_metrics(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Column -> [(step, value)] for every non-empty cell of the log."""
    series: dict[str, list[tuple[int, float]]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            step = row.get("step")
            if not step:
                continue
            for key, value in row.items():
                if key in ("step", "epoch") or not value:
                    continue
                try:
                    x = float(value)
                except ValueError:
                    continue
                if math.isfinite(x):
                    series.setdefault(key, []).append((int(step), x))
    return series


def smooth(points: list[tuple[int, float]], k: int = 10) -> list[tuple[int, float]]:
    """Running mean over k logged points (train metrics are noisy per batch)."""
    out = []
    for i in range(len(points)):
        window = points[max(0, i - k + 1): i + 1]
        out.append((points[i][0], sum(v for _, v in window) / len(window)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("metrics", type=Path)
    ap.add_argument("--png", type=Path, required=True)
    ap.add_argument("--title", default=None)
    args = ap.parse_args(argv)
    if not args.metrics.is_file():
        print(f"plot_run: {args.metrics}: no such file", file=sys.stderr)
        return 2
    series = read_metrics(args.metrics)
    if "val/ser" not in series:
        print(f"plot_run: {args.metrics} has no val/ser rows (no validation ran yet)", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("val/loss_ce", "val/ser"):
        if key in series:
            left.plot(*zip(*series[key], strict=True), marker="o", label=key)
    if "train/loss_ce" in series:
        left.plot(*zip(*smooth(series["train/loss_ce"]), strict=True), alpha=0.5, label="train/loss_ce (smoothed)")
    left.set_xlabel("optimizer step")
    left.legend()
    left.set_ylim(bottom=0)
    for key in ("train/acc_attention_hit", "train/acc_dense_staff_pos", "val/acc_dense_staff_pos"):
        if key in series:
            pts = smooth(series[key]) if key.startswith("train") else series[key]
            right.plot(*zip(*pts, strict=True), label=key)
    right.set_xlabel("optimizer step")
    right.set_ylim(0, 1)
    right.legend()
    fig.suptitle(args.title or str(args.metrics))
    fig.tight_layout()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png, dpi=90)
    cols = [k for k in VAL if k in series]
    print("| step | " + " | ".join(cols) + " |")
    print("| --- |" + " --- |" * len(cols))
    by_step = {k: dict(series[k]) for k in cols}
    for step, _ in series["val/ser"]:
        print(f"| {step} | " + " | ".join(f"{by_step[k].get(step, float('nan')):.3f}" for k in cols) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
