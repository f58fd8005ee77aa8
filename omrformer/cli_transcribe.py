"""``omrformer transcribe INPUT... [-o OUT]``: page images (or PDFs, or folders of them) -> MusicXML.

Loaded by ``omrformer.cli`` only when the command runs (torch is imported in :func:`run`, never at
start-up). One output per page: ``NAME.musicxml`` (or ``NAME.tokens`` with ``--format tokens``),
``NAME-pN`` for page N of a multi-page file. Every failed page is one line on stderr; the others
still complete. Each page is written as soon as it is read, so a killed run keeps its finished
pages; a rerun skips inputs whose outputs are newer than they are (``--overwrite`` redoes them).
Exit status: 0 all pages written, 1 some page failed, 2 nothing could run (bad model,
bad arguments).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from grammar.messages import say

logger = logging.getLogger(__name__)

_FILE_SUFFIXES = {"musicxml": (".musicxml", ".xml"), "tokens": (".tokens", ".txt")}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``omrformer transcribe``."""
    p.description = "Transcribe sheet-music page images (PNG, JPEG, TIFF, PDF, or folders) to MusicXML."
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image/PDF files or directories of them")
    p.add_argument("-o", "--output", help="output folder, or a file name when there is exactly one page "
                   "(default: beside each input)")
    p.add_argument("--model", help="model folder or Hugging Face hub id (default: the bundled checkpoint)")
    p.add_argument("--device", default="auto", help="auto (GPU if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--beams", type=int, default=1, help="beam width (1 = greedy; 4-16 is more accurate)")
    p.add_argument("--no-grammar", dest="grammar", action="store_false",
                   help="decode without the grammar constraint (invalid output is repaired and reported)")
    p.add_argument("--format", choices=("musicxml", "tokens"), default="musicxml",
                   help="musicxml, or tokens: the human form `omrformer tokenize` prints")
    p.add_argument("--layout", choices=("staves", "systems", "page"), default=None,
                   help="staves: cut every staff, read them in batches and assemble one score; systems: "
                   "one crop per system; page: the whole page at once (default: what the model was "
                   "trained on)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="pages (page layout) or staff/system crops decoded together (default 1 / 8)")
    p.add_argument("--max-length", type=int, default=None, help="longest output in tokens")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is best on busy machines)")
    p.add_argument("--overwrite", action="store_true",
                   help="transcribe inputs again even when their outputs are newer (default: skip them)")
    p.add_argument("--overlay", metavar="PNG",
                   help="also draw the detected staves and found measures: a .png (one page) or a folder")


def _check_args(args: argparse.Namespace) -> None:
    from omrformer.cli import CommandError

    # Upper bounds keep memory sane: 1000 beams took 4.3 GB for one page.
    for name, top in (("beams", 64), ("batch_size", 512), ("threads", 256), ("max_length", 16384)):
        value = getattr(args, name)
        if value is not None and not 1 <= value <= top:
            raise CommandError(f"--{name.replace('_', '-')} must be between 1 and {top}, got {value}")


def output_stems(files: list[Path], output: str | None) -> dict[Path, str]:
    """A unique output stem per input file, decided before anything is decoded.

    ``page.png`` alone writes ``page.*``; when two inputs would write the same file (``page.png``
    and ``page.jpg`` in one folder) both keep their suffix (``page.png.*``, ``page.jpg.*``).
    Inputs that still clash (``a/page.png`` and ``b/page.png`` into one ``-o`` folder) are refused:
    silently keeping one of two results is data loss.
    """
    from omrformer.cli import CommandError

    def target(f: Path, stem: str) -> Path:
        return (Path(output) if output else f.parent) / stem

    stems = {f: f.stem for f in files}
    for rule in (lambda f: f.name, None):
        seen: dict[Path, list[Path]] = {}
        for f in files:
            seen.setdefault(target(f, stems[f]), []).append(f)
        clashes = [group for group in seen.values() if len(group) > 1]
        if not clashes:
            return stems
        if rule is None:
            names = ", ".join(repr(str(f)) for f in clashes[0])
            raise CommandError(f"{names} would write the same output file: transcribe them into "
                               "separate -o folders")
        for group in clashes:
            for f in group:
                stems[f] = rule(f)
    return stems


def _page_path(page, args: argparse.Namespace, stems: dict[Path, str], single: bool) -> Path:
    """Where one page's output goes: ``-o FILE`` for a lone page, else ``STEM[-pN].SUFFIX``."""
    suffix = ".musicxml" if args.format == "musicxml" else ".tokens"
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() in _FILE_SUFFIXES[args.format]:
        if single:
            return out
        # one multi-page input into a file name: its pages go beside it, numbered
        return out.with_name(f"{out.stem}-p{page.page}{out.suffix}")
    src = Path(page.source)
    base = stems.get(src, src.stem)
    stem = base if page.page is None else f"{base}-p{page.page}"
    return (out if out is not None else src.parent) / f"{stem}{suffix}"


def _up_to_date(file: Path, args: argparse.Namespace, stems: dict[Path, str], single: bool) -> bool:
    """The input's output(s) exist and are newer than it (a single page, or pages -p1.. of a file)."""
    from omrformer.transcribe import PageResult

    made = file.stat().st_mtime
    first = _page_path(PageResult(str(file)), args, stems, single)
    if first.is_file():
        return first.stat().st_mtime >= made
    numbered = _page_path(PageResult(str(file), page=1), args, stems, False)
    outs = sorted(numbered.parent.glob(numbered.name.replace("-p1", "-p*", 1)))
    return bool(outs) and numbered.is_file() and all(o.stat().st_mtime >= made for o in outs)


def _write_page(page, args: argparse.Namespace, stems: dict[Path, str], single: bool,
                to_stdout: bool) -> tuple[bool, bool]:
    """Write one transcribed page and its overlay: (score written, overlay written or not asked).

    A failure is said on stderr in one line; an overlay that cannot be written does not take the
    written score with it.
    """
    from grammar.human import to_human
    from omrformer.cli import write_atomic

    # A page without an error always carries both its tokens and its MusicXML (Transcriber._finish).
    assert page.tokens is not None and page.musicxml is not None
    data = page.musicxml if args.format == "musicxml" else to_human(page.tokens).encode()
    if to_stdout:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        path = _page_path(page, args, stems, single)
        try:
            if path.is_file():
                logger.warning("%s: replacing the existing output %r", page.name, str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        except OSError as err:
            say("omrformer", f"{str(path)!r}: cannot write ({err.strerror or err})")
            return False, True  # the overlay is not tried without its score
        logger.info("%s -> %s", page.name, path)
    if args.overlay:
        from omrformer.overlay import draw_overlay

        target = _overlay_path(page, args, single=single)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            draw_overlay(page).save(str(target) + ".tmp.png")
            os.replace(str(target) + ".tmp.png", target)
        except OSError as err:
            say("omrformer", f"overlay {str(target)!r}: cannot write ({err.strerror or err})")
            return True, False
    return True, True

def _overlay_path(page, args: argparse.Namespace, single: bool) -> Path:
    target = Path(args.overlay)
    if single and target.suffix.lower() == ".png":
        return target
    stem = Path(page.source).stem + ("" if page.page is None else f"-p{page.page}")
    return target / f"{stem}.overlay.png"


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from omrformer.cli import CommandError

    _check_args(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not getattr(args, "verbose", False):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights: 100%" on every run; -v shows it
    from omrformer.transcribe import Transcriber, TranscriptionError, expand_inputs

    files = [f for f, problem in expand_inputs(args.inputs) if problem is None]
    to_stdout = args.output == "-"
    if to_stdout and len(files) > 1:
        raise CommandError(f"-o - writes one page to standard output; {len(files)} inputs given")
    stems = output_stems(files, None if to_stdout else args.output)
    try:
        engine = Transcriber(args.model, device=args.device, beams=args.beams, grammar=args.grammar,
                             batch_size=args.batch_size, max_length=args.max_length, layout=args.layout)
    except TranscriptionError as err:
        raise CommandError(str(err)) from None

    # Each page is written as soon as it is read: a killed archive run keeps what it finished,
    # and a rerun skips inputs whose outputs are newer than they are (--overwrite redoes them).
    problems = [(f, problem) for f, problem in expand_inputs(args.inputs) if problem]
    total = written = failed = skipped = overlays_lost = 0
    for _, problem in problems:
        say("omrformer", f"{problem}")
        total += 1
        failed += 1
    single = len(files) == 1
    progress = None
    if sys.stderr.isatty() and len(files) > 1:
        from tqdm import tqdm

        progress = tqdm(total=len(files), unit="file", desc="transcribe")
    for file in files:
        if progress is not None:
            progress.update(1)
        if not to_stdout and not args.overwrite and _up_to_date(file, args, stems, single):
            logger.info("%s: output up to date, skipped (--overwrite to redo)", file)
            skipped += 1
            continue
        for page in engine.run([file]):  # pages come (and are written) one at a time
            if to_stdout and page.page is not None:
                raise CommandError(f"-o - writes one page to standard output; {str(file)!r} has several")
            total += 1
            if page.error:
                say("omrformer", f"{page.error}")
                failed += 1
                continue
            if page.repair:
                say("omrformer", f"{page.name}: {page.repair}")
            if page.notes:
                say("omrformer", f"{page.name}: staves reconciled: {'; '.join(page.notes)}")
            score_ok, overlay_ok = _write_page(page, args, stems, single and page.page is None, to_stdout)
            written += score_ok
            failed += not score_ok
            overlays_lost += not overlay_ok
    if progress is not None:
        progress.close()
    if skipped:
        say("omrformer", f"{skipped} input(s) skipped: their outputs are newer (--overwrite to redo)")
    if total > 1 or failed or overlays_lost:
        lost = f" ({overlays_lost} overlay(s) not written)" if overlays_lost else ""
        say("omrformer", f"{written} of {total} pages transcribed{lost}")
    return 1 if failed or overlays_lost else 0
