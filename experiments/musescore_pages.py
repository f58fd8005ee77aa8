"""Pages from another engraver: Lieder dev-split excerpts engraved by MuseScore 3, with ground truth.

    QT_QPA_PLATFORM=offscreen python experiments/musescore_pages.py \\
        --scores ../shared/corpus/lieder/dev --out data/musescore_dev [--measures 8] [--limit 40]

Two sets, each a folder of ``NAME.png`` + ``NAME.musicxml`` pairs for ``experiments/evaluate.py --pairs``:

- ``voice/``: the voice part alone (the first part), ``--measures`` measures from where it enters;
- ``voice_piano/``: every part (voice + piano), ``--piano-measures`` measures from the same place.

The image is MuseScore's engraving of the excerpt with everything the source has (lyrics,
dynamics, slurs, text); the truth is what the score language says of it: the codec's reading of the
same excerpt (lyrics, dynamics and the rest are not in the language and drop out). MuseScore
(Debian ``musescore3``) runs in a subprocess with a timeout; a score it cannot engrave is counted.
Only the first page of an engraving is kept, and an excerpt that MuseScore spreads over several
pages is skipped (counted), so each pair's truth is what its image shows.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

logger = logging.getLogger("musescore_pages")


_ATTRIBUTE_ORDER = ("divisions", "key", "time", "staves", "clef")


def first_sung_measure(root: etree._Element) -> int:
    """Index of the first measure in which the first part (the voice) has a note, else 0."""
    part = root.find("part")
    for i, m in enumerate(part.findall("measure") if part is not None else []):
        if any(n.find("rest") is None for n in m.findall("note")):
            return i
    return 0


def _carry_attributes(part: etree._Element, start: int) -> None:
    """Drop the measures before ``start``, restating in the new first measure the divisions, key,
    time, staves and clefs in force there (MusicXML states them only where they change)."""
    measures = part.findall("measure")
    current: dict[str, etree._Element] = {}
    for m in measures[: start + 1]:
        for attrs in m.findall("attributes"):
            for child in attrs:
                tag = child.tag if child.tag != "clef" else f"clef{child.get('number', '1')}"
                current[tag] = child
    for m in measures[:start]:
        part.remove(m)
    first = measures[start]
    for attrs in first.findall("attributes"):
        first.remove(attrs)
    new = etree.Element("attributes")
    for name in _ATTRIBUTE_ORDER:
        for tag in sorted(t for t in current if t == name or (name == "clef" and t.startswith("clef"))):
            new.append(copy.deepcopy(current[tag]))
    first.insert(0, new)


def excerpt_xml(root: etree._Element, measures: int, parts: int | None, start: int = 0) -> etree._Element:
    """A copy of a partwise score with its first ``parts`` parts (all if None), ``measures``
    measures from measure index ``start``, and no page/system breaks (MuseScore lays out the
    excerpt afresh)."""
    score = copy.deepcopy(root)
    part_list = score.find("part-list")
    all_parts = score.findall("part")
    keep = all_parts if parts is None else all_parts[:parts]
    keep_ids = {p.get("id") for p in keep}
    for p in all_parts:
        if p not in keep:
            score.remove(p)
    if part_list is not None:
        for sp in part_list.findall("score-part"):
            if sp.get("id") not in keep_ids:
                part_list.remove(sp)
        for group in part_list.findall("part-group"):
            part_list.remove(group)  # groups may name removed parts
    for p in keep:
        if start:
            _carry_attributes(p, start)
        for m in p.findall("measure")[measures:]:
            p.remove(m)
        for el in p.iter("print"):
            for attr in ("new-page", "new-system"):
                el.attrib.pop(attr, None)
    for tag in ("credit", "defaults"):
        for el in score.findall(tag):
            score.remove(el)  # MuseScore's own layout, not the source's page size and titles
    return score


def engrave(xml: bytes, out_png: Path, dpi: int, timeout: float) -> str | None:
    """Engrave with mscore3; the first page goes to ``out_png``. Returns a problem or None."""
    exe = shutil.which("mscore3") or shutil.which("musescore3") or shutil.which("mscore")
    if exe is None:
        return "MuseScore 3 not installed (apt-get install musescore3)"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "x.musicxml"
        src.write_bytes(xml)
        target = Path(tmp) / "page.png"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        try:
            res = subprocess.run([exe, "-o", str(target), "-r", str(dpi), str(src)], env=env,
                                 capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"MuseScore timed out after {timeout:.0f} s"
        pages = sorted(Path(tmp).glob("page-*.png"))
        if res.returncode != 0 or not pages:
            return f"MuseScore failed (exit {res.returncode})"
        if len(pages) > 1:
            return f"excerpt spread over {len(pages)} pages"
        # MuseScore draws on a transparent background: flatten on white paper.
        from PIL import Image

        img = Image.open(pages[0]).convert("RGBA")
        paper = Image.new("RGBA", img.size, (255, 255, 255, 255))
        paper.alpha_composite(img)
        tmp_out = out_png.with_suffix(".tmp.png")
        paper.convert("L").save(tmp_out)
        os.replace(tmp_out, out_png)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scores", type=Path, default=ROOT.parent / "shared" / "corpus" / "lieder" / "dev")
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "musescore_dev")
    ap.add_argument("--measures", type=int, default=8, help="measures of the voice-part pages")
    ap.add_argument("--piano-measures", type=int, default=4, help="measures of the voice + piano pages")
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--limit", type=int, default=None, help="at most this many scores")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="musescore_pages: %(message)s")

    from grammar.atomic import write_atomic
    from grammar.musicxml import MusicXMLError, read_score, write_score
    from grammar.musicxml.safe_xml import load_partwise

    if not args.scores.is_dir():
        print(f"musescore_pages: {args.scores}: no such folder", file=sys.stderr)
        return 2
    files = sorted(p for p in args.scores.iterdir() if p.suffix in (".mxl", ".musicxml", ".xml"))
    files = files[: args.limit] if args.limit else files
    counts: dict[str, dict[str, int]] = {}
    for name, parts, measures in (("voice", 1, args.measures), ("voice_piano", None, args.piano_measures)):
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        tally = counts.setdefault(name, {"written": 0})
        for path in files:
            try:
                root, _ = load_partwise(path)
                # From where the voice enters: a song's first measures are often the piano's alone.
                start = first_sung_measure(root)
                xml = etree.tostring(excerpt_xml(root, measures, parts, start), xml_declaration=True,
                                     encoding="UTF-8")
                truth = write_score(read_score(xml, name=path.name).tokens)
            except (MusicXMLError, ValueError) as err:
                reason = f"unreadable: {type(err).__name__}"
                tally[reason] = tally.get(reason, 0) + 1
                logger.warning("%s: %s", path.name, err)
                continue
            problem = engrave(xml, folder / f"{path.stem}.png", args.dpi, args.timeout)
            if problem:
                tally[problem] = tally.get(problem, 0) + 1
                logger.warning("%s (%s): %s", path.name, name, problem)
                continue
            write_atomic(folder / f"{path.stem}.musicxml", truth)
            tally["written"] += 1
        logger.info("%s: %s", name, tally)
    write_atomic(args.out / "manifest.json", json.dumps(counts, indent=1).encode())
    print(json.dumps(counts, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
