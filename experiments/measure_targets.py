"""Measure a checkpoint against the default checkpoint's targets (issue 11, section 3) and print one table.

    python experiments/measure_targets.py --model omrformer/pretrained/omrformer-small \\
        --out reports/targets [--limit-pages N] [--threads 2]

Runs ``experiments/evaluate.py`` once per set (each writes OUT_<set>.json/.md) and prints the
targets table from those reports:

- held-out generated staves and Lieder dev staves (synth, scan preset, greedy; made with
  ``experiments/configs/synth/staff_heldout.yaml``, see its header);
- MuseScore-engraved Lieder dev pages, voice part alone and voice + piano, beam 4
  (``experiments/musescore_pages.py``);
- the same excerpts engraved by LilyPond, an engraver no checkpoint was trained on, voice part
  alone and voice + piano, beam 4 (``experiments/lilypond_pages.py``).

A set whose data is missing is skipped with the command that makes it. ``--reuse`` reads reports
already written instead of evaluating again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name, data flag, data path, beams, layout, how to make the data
SETS = [
    # A staff sample is already the crop the transcriber cuts: read it whole ("page"), exactly
    # as training images were read.
    ("generated_staves", "--shards", "data/heldout/generated_staves", 1, "page",
     "python -m synth make --config experiments/configs/synth/staff_heldout.yaml --source random "
     "--count 96 --seed 902 --out data/heldout/generated_staves"),
    ("lieder_dev_staves", "--shards", "data/heldout/lieder_dev_staves", 1, "page",
     "python -m synth make --config experiments/configs/synth/staff_heldout.yaml --source "
     "../shared/corpus/lieder/dev --count 48 --seed 901 --out data/heldout/lieder_dev_staves"),
    ("musescore_voice", "--pairs", "data/musescore_dev/voice", 4, "staves",
     "QT_QPA_PLATFORM=offscreen python experiments/musescore_pages.py --out data/musescore_dev"),
    ("musescore_voice_piano", "--pairs", "data/musescore_dev/voice_piano", 4, "staves",
     "QT_QPA_PLATFORM=offscreen python experiments/musescore_pages.py --out data/musescore_dev"),
    ("lilypond_voice", "--pairs", "data/lilypond_dev/voice", 4, "staves",
     "python experiments/lilypond_pages.py --out data/lilypond_dev"),
    ("lilypond_voice_piano", "--pairs", "data/lilypond_dev/voice_piano", 4, "staves",
     "python experiments/lilypond_pages.py --out data/lilypond_dev"),
]


def _recall(report: dict, cls: str) -> float | None:
    row = dict(report["classes"]).get(cls)
    return None if not row or not row.get("support") else float(row["recall"])


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(reports: dict[str, dict]) -> list[str]:
    """The targets table (markdown lines) from the evaluate.py reports at hand."""
    rows = ["| measure | target | measured | met |", "| --- | --- | --- | --- |"]

    def add(name: str, target: str, value: float | None, ok: bool | None, digits: int = 3) -> None:
        met = "-" if ok is None else ("yes" if ok else "no")
        rows.append(f"| {name} | {target} | {_fmt(value, digits)} | {met} |")

    for key, label in (("generated_staves", "generated staves"), ("lieder_dev_staves", "Lieder dev staves")):
        r = reports.get(key)
        if r is None:
            continue
        s = r["summary"]
        n = s["pages"]
        add(f"SER, held-out {label} ({n}, scan, greedy)", "<= 0.15", s["ser"], s["ser"] <= 0.15)
        p, d = _recall(r, "pitch"), _recall(r, "duration")
        add(f"pitch recall, {label}", ">= 0.85", p, None if p is None else p >= 0.85)
        add(f"duration recall, {label}", ">= 0.85", d, None if d is None else d >= 0.85)
    for engraver in ("MuseScore", "LilyPond"):
        for part, label, target, limit in (("voice", "voice-part pages", "<= 0.30", 0.30),
                                           ("voice_piano", "voice + piano pages", "< 0.60", 0.60)):
            r = reports.get(f"{engraver.lower()}_{part}")
            if r is None:
                continue
            s = r["summary"]
            ned = s.get("omr_ned")
            ok = None if ned is None else (ned <= limit if part == "voice" else ned < limit)
            add(f"OMR-NED, {engraver} {label} ({s['pages']}, beam 4)", target, ned, ok)
    valid = [(r["summary"]["xsd_valid_rate"], r["summary"]["pages"]) for r in reports.values()]
    if valid:
        total = sum(n for _, n in valid)
        rate = sum(v * n for v, n in valid) / total
        add(f"valid MusicXML (XSD), all {total} pages/staves", "100%", rate, rate == 1.0)
    for key in ("musescore_voice", "musescore_voice_piano", "lilypond_voice", "lilypond_voice_piano"):
        r = reports.get(key)
        if r is not None and r["summary"].get("pages_per_second"):
            sec = 1.0 / r["summary"]["pages_per_second"]
            engraver, part = key.split("_", 1)
            # The MuseScore rows keep their names; the LilyPond rows say so.
            where = part.replace("_", " + ") + ("" if engraver == "musescore" else ", LilyPond")
            add(f"CPU seconds per page ({where}, beam 4)", "<= 10", sec, sec <= 10, 1)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", type=Path, required=True, help="report prefix: OUT_<set>.json/.md")
    ap.add_argument("--limit-pages", type=int, default=None, help="evaluate at most this many per set")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the targets assume 2 cores)")
    ap.add_argument("--reuse", action="store_true", help="read existing reports, evaluate nothing")
    ap.add_argument("--sets", nargs="*", default=[s[0] for s in SETS], choices=[s[0] for s in SETS])
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1")
    reports: dict[str, dict] = {}
    for name, flag, data, beams, layout, make in SETS:
        if name not in args.sets:
            continue
        out = Path(f"{args.out}_{name}")
        if not args.reuse:
            if not (ROOT / data).exists():
                print(f"skip {name}: no {data} (make it: {make})", file=sys.stderr)
                continue
            cmd = [sys.executable, str(ROOT / "experiments/evaluate.py"), "--model", args.model, flag,
                   str(ROOT / data), "--beams", str(beams), "--device", "cpu", "--out", str(out)]
            if layout:
                cmd += ["--layout", layout]
            if args.limit_pages:
                cmd += ["--limit", str(args.limit_pages)]
            print("+", " ".join(cmd), file=sys.stderr, flush=True)
            if subprocess.run(cmd, env=env, cwd=ROOT).returncode != 0:
                print(f"{name}: evaluate.py failed", file=sys.stderr)
                return 1
        path = out.with_suffix(".json")
        if path.is_file():
            reports[name] = json.loads(path.read_text())
        elif args.reuse:
            print(f"skip {name}: no report {path}", file=sys.stderr)
    if not reports:
        print("measure_targets: nothing measured", file=sys.stderr)
        return 2
    print("\n".join(table(reports)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
