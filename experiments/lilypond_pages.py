"""Pages from a third engraver: Lieder dev-split excerpts engraved by LilyPond, with ground truth.

    apt-get install -y lilypond   # gives lilypond and musicxml2ly (Debian: 2.24)
    OMP_NUM_THREADS=1 python experiments/lilypond_pages.py \\
        --scores ../shared/corpus/lieder/dev --out data/lilypond_dev [--measures 8] [--limit 40]

The same excerpts and truth as ``experiments/musescore_pages.py`` (its ``first_sung_measure`` and
``excerpt_xml``), engraved by LilyPond instead of MuseScore, so a checkpoint trained on Verovio and
MuseScore engravings can be measured on an engraver it never saw. Two sets, each a folder of
``NAME.png`` + ``NAME.musicxml`` pairs for ``experiments/evaluate.py --pairs``:

- ``voice/``: the voice part alone (the first part), ``--measures`` measures from where it enters;
- ``voice_piano/``: every part (voice + piano), ``--piano-measures`` measures from the same place.

Each excerpt is written to a temporary folder and engraved in two subprocesses, each with a timeout:

    musicxml2ly --no-page-layout -o x.ly x.musicxml
    lilypond -dbackend=eps -dresolution=DPI --png -o page x.ly

No ``--no-beaming``: musicxml2ly then keeps the source's beaming (it turns LilyPond's automatic
beaming off and writes the source's beams), so an unbeamed vocal line stays flagged, as the source
has it; ``--no-page-layout`` lets LilyPond lay the excerpt out afresh. musicxml2ly 2.24 writes an
``<other-dynamics>`` text (" con anima") that LilyPond refuses, so such texts are turned into
``<words>`` in the engraved copy first (``for_lilypond``; dynamics are not in the truth). The page
is LilyPond's own A4 page with its margins, titles and tagline (1240 x 1754 px at 150 dpi); any
transparency is flattened onto white paper and the page saved as 8-bit gray. LilyPond writes
``page.png`` for a one-page score and ``page-page1.png``, ``page-page2.png``, ... otherwise: an
excerpt spread over several pages is skipped (counted), and so is a page whose systems our staff
detection (``omrformer.vision.staff_detection``) does not find as whole systems of the score's
staves (musicxml2ly can misplace a cross-staff piano voice; ``--no-staff-check`` keeps them), so
each pair's truth is what its image shows. A score that cannot be read, converted or engraved is
counted and logged, never raised.
``OUT/manifest.json`` holds the counts and the LilyPond version.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

from musescore_pages import excerpt_xml, first_sung_measure  # noqa: E402

logger = logging.getLogger("lilypond_pages")

SETS = (("voice", 1), ("voice_piano", None))  # folder name, parts kept (None: all)


def for_lilypond(xml: bytes) -> bytes:
    """The excerpt as musicxml2ly can convert it. musicxml2ly 2.24 writes an ``<other-dynamics>``
    text such as " con anima" or "(freshly)" as a LilyPond identifier, which LilyPond refuses (the
    whole page fails): such a text becomes a ``<words>`` direction beside the dynamics (drawn as
    text, the way MuseScore draws it), or, attached to a note, is trimmed to a word or dropped.
    Dynamics are not in the score language, so the truth is unchanged."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    for od in list(root.iter("other-dynamics")):
        text = " ".join((od.text or "").split())
        dyn = od.getparent()
        holder = dyn.getparent()
        dyn.remove(od)
        if holder is not None and holder.tag == "direction-type":
            if text:
                words_type = etree.Element("direction-type")
                etree.SubElement(words_type, "words").text = text
                holder.addnext(words_type)
        elif re.fullmatch(r"[A-Za-z]+", text):
            etree.SubElement(dyn, "other-dynamics").text = text
        if len(dyn) == 0 and holder is not None:
            holder.remove(dyn)
            if len(holder) == 0 and holder.getparent() is not None:
                holder.getparent().remove(holder)  # an empty direction-type or notations
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def find_tools() -> tuple[str, str] | None:
    """(musicxml2ly, lilypond) executables, or None when either is missing."""
    conv, lily = shutil.which("musicxml2ly"), shutil.which("lilypond")
    return (conv, lily) if conv and lily else None


def commands(tools: tuple[str, str], src: Path, dpi: int) -> tuple[list[str], list[str]]:
    """The two command lines that engrave ``src`` (a .musicxml file): musicxml2ly writes
    ``src``'s folder/x.ly, lilypond writes PNG page(s) ``page*.png`` beside it (run in that folder)."""
    conv, lily = tools
    ly = src.with_name("x.ly")
    return ([conv, "--no-page-layout", "-o", str(ly), str(src)],
            [lily, "-dbackend=eps", f"-dresolution={dpi}", "--png", "-o", str(src.with_name("page")), str(ly)])


def page_files(folder: Path, stem: str = "page") -> list[Path]:
    """The PNG pages LilyPond wrote for output stem ``stem``, in page order: ``stem.png`` for a
    one-page score, ``stem-page1.png``, ``stem-page2.png``, ... for more."""
    numbered = []
    for p in folder.glob(f"{stem}-page*.png"):
        m = re.fullmatch(rf"{re.escape(stem)}-page(\d+)\.png", p.name)
        if m:
            numbered.append((int(m.group(1)), p))
    if numbered:
        return [p for _, p in sorted(numbered)]
    single = folder / f"{stem}.png"
    return [single] if single.is_file() else []


def pages_problem(pages: list[Path]) -> str | None:
    """Why a list of output pages cannot make a pair (none, or several), else None."""
    if not pages:
        return "LilyPond wrote no page"
    if len(pages) > 1:
        return f"excerpt spread over {len(pages)} pages"
    return None


def _last_line(stream: bytes) -> str:
    lines = [ln.strip() for ln in stream.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def _run(cmd: list[str], cwd: Path, timeout: float, what: str) -> str | None:
    """Run one engraving step; a problem (timeout, non-zero exit) or None."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"{what} timed out after {timeout:.0f} s"
    except OSError as err:
        return f"{what} could not run: {err.strerror}"
    if res.returncode != 0:
        logger.debug("%s stderr: %s", what, res.stderr.decode("utf-8", "replace"))
        detail = _last_line(res.stderr)
        logger.info("%s exit %d: %s", what, res.returncode, detail)
        return f"{what} failed (exit {res.returncode})"
    return None


def flatten_to_paper(src: Path, out_png: Path) -> None:
    """Save ``src`` as 8-bit gray on white paper (transparent areas are paper), atomically."""
    from PIL import Image

    with Image.open(src) as raw:
        img = raw.convert("RGBA")
    paper = Image.new("RGBA", img.size, (255, 255, 255, 255))
    paper.alpha_composite(img)
    tmp_out = out_png.with_suffix(".tmp.png")
    paper.convert("L").save(tmp_out)
    os.replace(tmp_out, out_png)


def engrave(xml: bytes, out_png: Path, dpi: int, timeout: float, tools: tuple[str, str] | None = None) -> str | None:
    """Engrave with musicxml2ly + lilypond; the (only) page goes to ``out_png``. A problem or None."""
    tools = tools or find_tools()
    if tools is None:
        return "LilyPond not installed (apt-get install lilypond)"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "x.musicxml"
        src.write_bytes(for_lilypond(xml))
        to_ly, to_png = commands(tools, src, dpi)
        problem = _run(to_ly, Path(tmp), timeout, "musicxml2ly") or _run(to_png, Path(tmp), timeout, "lilypond")
        if problem:
            return problem
        pages = page_files(Path(tmp))
        problem = pages_problem(pages)
        if problem:
            return problem
        flatten_to_paper(pages[0], out_png)
    return None


def staves_per_system(root: etree._Element) -> int:
    """Staves a system of this (excerpt) score has: each part's ``<staves>`` (1 when unstated)."""
    return sum(int(p.findtext("measure/attributes/staves") or 1) for p in root.findall("part"))


def staff_problem(png: Path, per_system: int) -> str | None:
    """Why our staff detection does not read ``png`` as whole systems of ``per_system`` staves, else
    None. musicxml2ly misplaces a cross-staff piano voice now and then (its staff then comes out
    empty or cut short), and such a page no longer shows what its truth says."""
    from omrformer.vision.image_io import load_image
    from omrformer.vision.staff_detection import NoStaffFound, detect_staves

    try:
        layout = detect_staves(load_image(png))
    except NoStaffFound:
        return "no staff detected"
    if not layout.staves:
        return "no staff detected"
    sizes = [len(system) for system in layout.systems]
    if any(n != per_system for n in sizes):
        return f"systems not of {per_system} staves"
    return None


def lilypond_version(lily: str) -> str:
    try:
        res = subprocess.run([lily, "--version"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = res.stdout.decode("utf-8", "replace").splitlines()
    return first[0].strip() if first else "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scores", type=Path, default=ROOT.parent / "shared" / "corpus" / "lieder" / "dev")
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "lilypond_dev")
    ap.add_argument("--measures", type=int, default=8, help="measures of the voice-part pages")
    ap.add_argument("--piano-measures", type=int, default=4, help="measures of the voice + piano pages")
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--limit", type=int, default=None, help="at most this many scores")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds for each of the two steps")
    ap.add_argument("--no-staff-check", action="store_true",
                    help="keep pages whose detected systems do not have the score's staves")
    ap.add_argument("--sets", nargs="+", default=[s for s, _ in SETS], choices=[s for s, _ in SETS])
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="lilypond_pages: %(message)s")

    from grammar.atomic import write_atomic
    from grammar.musicxml import MusicXMLError, read_score, write_score
    from grammar.musicxml.safe_xml import load_partwise

    if not args.scores.is_dir():
        logger.error("%s: no such folder", args.scores)
        return 2
    tools = find_tools()
    if tools is None:
        logger.error("musicxml2ly and lilypond not both on PATH (apt-get install lilypond)")
        return 2
    if args.measures < 1 or args.piano_measures < 1 or args.dpi < 1:
        logger.error("--measures, --piano-measures and --dpi must be positive")
        return 2
    files = sorted(p for p in args.scores.iterdir() if p.suffix in (".mxl", ".musicxml", ".xml"))
    files = files[: args.limit] if args.limit else files
    if not files:
        logger.error("%s: no .mxl/.musicxml/.xml scores", args.scores)
        return 2
    counts: dict[str, dict[str, int]] = {}
    measures_of = {"voice": args.measures, "voice_piano": args.piano_measures}
    for name, parts in SETS:
        if name not in args.sets:
            continue
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        tally = counts.setdefault(name, {"written": 0})
        for path in files:
            try:
                root, _ = load_partwise(path)
                # From where the voice enters: a song's first measures are often the piano's alone.
                start = first_sung_measure(root)
                excerpt = excerpt_xml(root, measures_of[name], parts, start)
                per_system = staves_per_system(excerpt)
                xml = etree.tostring(excerpt, xml_declaration=True, encoding="UTF-8")
                truth = write_score(read_score(xml, name=path.name).tokens)
            except (MusicXMLError, ValueError, OSError) as err:
                reason = f"unreadable: {type(err).__name__}"
                tally[reason] = tally.get(reason, 0) + 1
                logger.warning("%s: %s", path.name, err)
                continue
            png = folder / f"{path.stem}.png"
            problem = engrave(xml, png, args.dpi, args.timeout, tools)
            if problem is None and not args.no_staff_check:
                problem = staff_problem(png, per_system)
            if problem:
                tally[problem] = tally.get(problem, 0) + 1
                logger.warning("%s (%s): %s", path.name, name, problem)
                for stale in (folder / f"{path.stem}.png", folder / f"{path.stem}.musicxml"):
                    stale.unlink(missing_ok=True)  # an earlier run's pair is not this excerpt's
                continue
            write_atomic(folder / f"{path.stem}.musicxml", truth)
            tally["written"] += 1
        logger.info("%s: %s", name, tally)
    manifest = {"engraver": lilypond_version(tools[1]), "dpi": args.dpi, "measures": measures_of, **counts}
    write_atomic(args.out / "manifest.json", json.dumps(manifest, indent=1).encode())
    logger.info("counts: %s", json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
