"""`make demo`: transcribe the bundled example page with the bundled checkpoint and score it.

    python experiments/demo.py [--out out/demo] [--beams 4]

The page (omrformer/examples/*.png) was engraved by synth from a Lieder dev-split score with
scan-like distortions (experiments/make_demo_example.py); its ground truth is the MusicXML beside it.
The page is read staff by staff (``--layout staves``), as ``omrformer transcribe`` does with a
staff-trained checkpoint. Prints where the transcription went and its SER, OMR-NED, XSD validity
and measure consistency.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "omrformer" / "examples"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--model", default=None, help="model folder (default: the bundled checkpoint)")
    ap.add_argument("--layout", default="staves", choices=("staves", "systems", "page"),
                    help="read the page staff by staff (default), system by system, or whole")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never reach for a hub

    from grammar.human import to_human
    from grammar.musicxml import read_score
    from omrformer.evaluation.metrics import ser
    from omrformer.evaluation.omr_ned import omr_ned
    from omrformer.evaluation.validity import measure_consistency, xsd_problem
    from omrformer.transcribe import TranscriptionError, bundled_model, transcribe

    model = args.model or bundled_model()
    if model is None:
        print("demo: no bundled checkpoint in omrformer/pretrained/omrformer-small", file=sys.stderr)
        return 2
    pages = sorted(EXAMPLES.glob("*.png"))
    if not pages:
        print(f"demo: no example page in {EXAMPLES}", file=sys.stderr)
        return 2
    try:
        results = transcribe(pages, model=model, device="cpu", beams=args.beams, layout=args.layout)
    except TranscriptionError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for page, res in zip(pages, results, strict=True):
        truth = page.with_suffix(".musicxml")
        if res.error or res.musicxml is None:
            print(f"{page.name}: FAILED: {res.error}")
            failed += 1
            continue
        out = args.out / f"{page.stem}.musicxml"
        out.write_bytes(res.musicxml)
        ref = read_score(truth).tokens
        pred = res.tokens or []
        consistency = measure_consistency([*pred, "<eos>"])  # a decoded sequence ended in <eos>
        print(f"page:            {page.relative_to(ROOT)}")
        print(f"model:           {model}")
        print(f"layout:          {res.layout} ({len(res.readings) or 1} crops decoded)")
        print(f"transcription:   {out}")
        print(f"ground truth:    {truth.relative_to(ROOT)}")
        print(f"SER (tokens):    {ser(pred, ref):.3f}")
        print(f"OMR-NED:         {omr_ned(res.musicxml, truth).omr_ned:.3f}")
        print(f"XSD-valid:       {'yes' if xsd_problem(res.musicxml) is None else xsd_problem(res.musicxml)}")
        print(f"measures consistent: {consistency.rate}")
        for title, toks in (("predicted", pred), ("truth", ref)):
            print(f"{title} (first measures):")
            for line in to_human(toks).splitlines()[:4]:
                print("  " + (line if len(line) <= 200 else line[:197] + "..."))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
