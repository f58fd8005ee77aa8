"""Staff training samples from another engraver: Lieder train-split excerpts engraved by MuseScore 3.

    QT_QPA_PLATFORM=offscreen python experiments/musescore_staves.py \\
        --scores ../shared/corpus/lieder/train --out data/musescore_train --count 1024 [--seed 0]

The transfer set of issue 13 part 3 ("staves engraved by MuseScore"): the bundled reader learned
from Verovio engravings only; these staves let it adapt to MuseScore's font and spacing. The
held-out MuseScore pages (``experiments/musescore_pages.py``) come from the *dev* split, so no piece
is in both.

Each sample: a random score of ``--scores``, a random excerpt of 1-``--max-measures`` measures,
the voice alone or every part (``--all-parts`` share), engraved by MuseScore at a random
resolution (``--dpi`` range, so the staff space varies as on scans), then cut into staves by the
transcriber's own staff detection and crop (``omrformer.staff_reading.cut_staves``): a training
staff is cut exactly as a page staff will be at inference. The label of staff k is that staff alone
(``grammar.staff_extract``). An excerpt whose detected staff count differs from its label's (a line
break, a missed staff) is skipped and counted by reason, never guessed.

Written as synth shards (``KEY.png``, ``KEY.musicxml``, ``KEY.json``, ``KEY.geometry.json`` = ``{}``:
no anchors, so the geometry losses are absent for these samples) of ``--per-shard`` staves, with a
``manifest.json``. Shard i is a pure function of (seed, i): a killed run resumes by redoing only the
shards that are not on disk.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

logger = logging.getLogger("musescore_staves")


def engrave_staves(xml: bytes, dpi: int, timeout: float) -> tuple[list[np.ndarray] | None, str | None]:
    """MuseScore's engraving of ``xml`` cut into staff crops (uint8, paper 255), or a problem."""
    from musescore_pages import engrave

    from omrformer.staff_reading import cut_staves
    from omrformer.vision.image_io import load_image
    from omrformer.vision.staff_detection import NoStaffFound, detect_staves

    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "page.png"
        problem = engrave(xml, png, dpi, timeout)
        if problem:
            return None, problem
        gray = load_image(png)
    try:
        layout = detect_staves(gray)
    except NoStaffFound:
        return None, "no staff detected"
    if len(layout.systems) != 1:
        return None, f"{len(layout.systems)} systems (a line break)"
    return [np.clip(np.round(c.image * 255), 0, 255).astype(np.uint8) for c in cut_staves(gray, layout)], None


def make_shard(index: int, files: list[Path], args: argparse.Namespace,
               tally: dict[str, int]) -> list[dict[str, bytes]]:
    """``--per-shard`` staff samples for shard ``index`` (deterministic in seed and index)."""
    import cv2
    from lxml import etree
    from musescore_pages import excerpt_xml, first_sung_measure

    from grammar.musicxml import MusicXMLError, read_score, write_score
    from grammar.musicxml.safe_xml import load_partwise
    from grammar.staff_extract import extract_all_staves

    rng = np.random.default_rng([args.seed, index])
    samples: list[dict[str, bytes]] = []
    attempt = 0
    while len(samples) < args.per_shard and attempt < args.per_shard * 4:
        attempt += 1
        path = files[int(rng.integers(len(files)))]
        measures = int(rng.integers(1, args.max_measures + 1))
        all_parts = bool(rng.random() < args.all_parts)
        dpi = int(rng.integers(args.dpi[0], args.dpi[1] + 1))
        try:
            root, _ = load_partwise(path)
            n = len(root.find("part").findall("measure"))
            # From where the voice enters (a song's first measures are often the piano's alone);
            # a voice-only excerpt of rests teaches little.
            first = min(first_sung_measure(root), max(n - measures, 0))
            start = int(rng.integers(first, max(n - measures, first) + 1))
            xml = etree.tostring(excerpt_xml(root, measures, None if all_parts else 1, start),
                                 xml_declaration=True, encoding="UTF-8")
            staves = extract_all_staves(read_score(xml, name=path.name).tokens)
        except (MusicXMLError, ValueError, AttributeError) as err:
            reason = f"unreadable: {type(err).__name__}"
            tally[reason] = tally.get(reason, 0) + 1
            continue
        crops, problem = engrave_staves(xml, dpi, args.timeout)
        if problem is None and crops is not None and len(crops) != len(staves):
            problem = f"{len(crops)} staves detected, the label has {len(staves)}"
        if problem:
            reason = problem.split(" (")[0] if "line break" not in problem else "line break"
            tally[reason] = tally.get(reason, 0) + 1
            continue
        assert crops is not None
        for k, ((part, staff, tokens), crop) in enumerate(zip(staves, crops, strict=True)):
            ok, png = cv2.imencode(".png", crop)
            if not ok:
                tally["png encoding failed"] = tally.get("png encoding failed", 0) + 1
                continue
            key = f"ms{args.seed:04d}-{index:05d}-{attempt:03d}-s{k:02d}"
            meta = {"source": str(path.name), "start": start, "measures": measures, "dpi": dpi,
                    "part": part, "staff": staff, "engraver": "musescore3", "level": "staff"}
            samples.append({f"{key}.png": png.tobytes(), f"{key}.musicxml": write_score(tokens),
                            f"{key}.json": json.dumps(meta).encode(), f"{key}.geometry.json": b"{}"})
        tally["excerpts"] = tally.get("excerpts", 0) + 1
    return samples[: args.per_shard]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scores", type=Path, default=ROOT.parent / "shared" / "corpus" / "lieder" / "train")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=1024, help="staves to write (rounded up to whole shards)")
    ap.add_argument("--per-shard", type=int, default=64)
    ap.add_argument("--max-measures", type=int, default=3, help="longest excerpt; short ones stay on one line")
    ap.add_argument("--all-parts", type=float, default=0.5, help="share of excerpts with every part")
    ap.add_argument("--dpi", type=int, nargs=2, default=(130, 190))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="musescore_staves: %(message)s")

    from tqdm import tqdm

    from grammar.atomic import write_atomic
    from synth.shards import write_shard

    if not args.scores.is_dir():
        logger.error("%s: no such folder", args.scores)
        return 2
    if args.count < 1 or args.per_shard < 1 or args.max_measures < 1 or not 0 <= args.all_parts <= 1:
        logger.error("--count, --per-shard and --max-measures must be positive, --all-parts in [0, 1]")
        return 2
    files = sorted(p for p in args.scores.iterdir() if p.suffix in (".mxl", ".musicxml", ".xml"))
    if not files:
        logger.error("%s: no MusicXML files", args.scores)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    n_shards = -(-args.count // args.per_shard)
    tally: dict[str, int] = {}
    shards: list[dict[str, Any]] = []
    for i in tqdm(range(n_shards), desc="shards"):
        target = args.out / f"shard-{i:06d}.tar"
        side = target.with_suffix(".json")
        if not (target.is_file() and side.is_file()):  # done shards are kept: a killed run resumes
            samples = make_shard(i, files, args, tally)
            sha = write_shard(target, samples)
            write_atomic(side, json.dumps({"shard": target.name, "sha256": sha, "samples": len(samples)}).encode())
        shards.append(json.loads(side.read_text()))
    manifest = {"source": str(args.scores), "engraver": "musescore3", "seed": args.seed, "level": "staff",
                "samples": sum(s["samples"] for s in shards), "shards": shards, "this_run": tally}
    write_atomic(args.out / "manifest.json", json.dumps(manifest, indent=1).encode())
    logger.info("%d staves in %d shards under %s; this run: %s", manifest["samples"], len(shards), args.out, tally)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
