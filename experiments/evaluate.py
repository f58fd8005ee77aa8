"""Evaluate a model on (image, MusicXML) pairs or synth shards; write JSON + Markdown reports.

    python experiments/evaluate.py --model runs/stage3_page/tb/version_0/hf_best \\
        --shards data/synth/page/test --limit 200 --beams 4 --out reports/page_test
    python experiments/evaluate.py --model DIR --pairs scans/   # scans/x.png + scans/x.musicxml

Figures (docs/evaluation.md): SER on tokens, OMR-NED (musicdiff), XSD/music21/Verovio validity,
measure-consistency rate, per-class precision/recall, pages/s (decoding time only).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger("evaluate")


def _pairs(folder: Path) -> Iterator[dict[str, Any]]:
    from omrformer.transcribe import IMAGE_SUFFIXES

    for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        labels = [image.with_suffix(s) for s in (".musicxml", ".xml", ".mxl")]
        label = next((p for p in labels if p.is_file()), None)
        if label is None:
            logger.warning("%s: no ground-truth MusicXML beside it, skipped", image)
            continue
        yield {"key": image.name, "image": str(image), "label": label.read_bytes()}


def _shards(spec: list[str]) -> Iterator[dict[str, Any]]:
    from omrformer.training.data import resolve_shards
    from synth.shards import iter_samples

    yield from iter_samples(resolve_shards(spec))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model folder or hub id")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--shards", nargs="+", help="synth shard files, folders or globs")
    src.add_argument("--pairs", type=Path, help="folder of images with same-named .musicxml ground truth")
    ap.add_argument("--limit", type=int, default=None, help="evaluate at most this many pages")
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--no-grammar", dest="grammar", action="store_false")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--max-length", type=int, default=None)
    ap.add_argument("--layout", choices=("staves", "systems", "page"), default=None,
                    help="how pages are read (default: what the model was trained on)")
    ap.add_argument("--batch-size", type=int, default=None, help="crops/pages decoded together")
    ap.add_argument("--no-omr-ned", dest="omr_ned", action="store_false",
                    help="skip musicdiff (slow on pages)")
    ap.add_argument("--no-render", dest="render", action="store_false", help="skip the Verovio check")
    ap.add_argument("--out", type=Path, default=Path("reports/eval"), help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="evaluate: %(message)s")

    from grammar.musicxml import MusicXMLError, read_score
    from omrformer.evaluation.report import EvaluationReport
    from omrformer.transcribe import PageResult, Transcriber, TranscriptionError

    try:
        engine = Transcriber(args.model, device=args.device, beams=args.beams, grammar=args.grammar,
                             max_length=args.max_length, layout=args.layout, batch_size=args.batch_size)
    except TranscriptionError as err:
        print(f"evaluate: {err}", file=sys.stderr)
        return 2
    report = EvaluationReport(with_omr_ned=args.omr_ned, with_render=args.render)
    samples = _pairs(args.pairs) if args.pairs else _shards(args.shards)
    for n, sample in enumerate(samples):
        if args.limit is not None and n >= args.limit:
            break
        try:
            ref = read_score(sample["label"], name=sample["key"]).tokens
        except MusicXMLError as err:
            logger.warning("%s: ground truth unreadable, skipped (%s)", sample["key"], err)
            continue
        start = time.perf_counter()
        (page,) = engine.pages([(PageResult(sample["key"]), sample["image"])])
        seconds = time.perf_counter() - start
        report.add_page(sample["key"], page.tokens, ref, page.musicxml, sample["label"], seconds,
                        error=page.error or page.repair)
    title = (f"Evaluation of {args.model} (layout {engine.layout}, beams {args.beams}, "
             f"grammar {'on' if args.grammar else 'off'})")
    report.write(args.out.with_suffix(".json"), args.out.with_suffix(".md"), title=title)
    print(report.to_markdown(title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
