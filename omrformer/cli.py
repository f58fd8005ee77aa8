"""The ``omrformer`` command: ``tokenize``, ``detokenize``, ``check`` (and commands added by others).

This module imports only ``grammar`` at start-up so that the codec commands run in a fraction of a
second without torch. Heavier commands live in their own modules and are imported only when
chosen: add a line to ``EXTERNAL_COMMANDS`` naming a module that defines
``add_arguments(parser)`` and ``run(args) -> int``.

Exit codes: 0 success (``check``: valid), 1 ``check`` found violations, 2 unreadable input or bad
usage. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from grammar.atomic import write_atomic
from grammar.messages import configure_logging, one_line, say

log = logging.getLogger("omrformer")

# name -> (module, one-line help). The module is imported only when its command runs.
EXTERNAL_COMMANDS: dict[str, tuple[str, str]] = {
    "transcribe": ("omrformer.cli_transcribe", "page images/PDFs -> MusicXML (needs a model)"),
}

_XML_SUFFIXES = (".musicxml", ".xml", ".mxl")


class CommandError(Exception):
    """A failure to report as one line on stderr; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _emit(data: bytes, out: str | None) -> None:
    if out in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            write_atomic(out, data)
        except OSError as err:
            raise CommandError(f"{out}: cannot write ({err.strerror or err})") from None


# The longest token file read: far above any score (a 1,000-page score is ~10 MB of tokens), and
# what detokenize may write stays readable by tokenize (MAX_XML_BYTES).
MAX_TEXT_BYTES = 32 * 1024 * 1024


def _read_text(path: str) -> str:
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
        else:
            with open(path, "rb") as fh:  # bounded: /dev/zero or a pipe never ends
                data = fh.read(MAX_TEXT_BYTES + 1)
        if len(data) > MAX_TEXT_BYTES:
            raise CommandError(f"{path!r}: more than {MAX_TEXT_BYTES} bytes: not a token file")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CommandError(f"{path!r}: cannot read ({getattr(err, 'strerror', None) or err})") from None


def _looks_like_musicxml(path: str) -> bool:
    if path.lower().endswith(_XML_SUFFIXES):
        return True
    if path == "-":
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).lstrip()
    except OSError:
        return False
    return head.startswith((b"<?xml", b"<score", b"<!DOCTYPE", b"PK\x03\x04"))


def _read_score(path: str):
    from grammar.musicxml import MusicXMLError, read_score

    try:
        return read_score(path)
    except MusicXMLError as err:
        raise CommandError(str(err)) from None


def cmd_tokenize(args: argparse.Namespace) -> int:
    """MusicXML -> human-form tokens, one measure per line."""
    from grammar.human import to_human

    result = _read_score(args.score)
    lost = {k: v for k, v in sorted(result.dropped.items()) if not k.startswith("marking:")}
    if lost:
        summary = ", ".join(f"{k} x{v}" for k, v in lost.items())
        log.warning("%s: dropped or adjusted: %s", args.score, summary)
    _emit(to_human(result.tokens).encode(), args.output)
    return 0


def cmd_detokenize(args: argparse.Namespace) -> int:
    """Human-form tokens -> MusicXML 4.0."""
    from grammar.human import HumanFormError
    from grammar.musicxml import TokenSequenceError, write_score

    text = _read_text(args.tokens)
    if args.title is not None and any(ord(c) < 32 and c not in "\t" for c in args.title):
        raise CommandError(f"--title {args.title!r}: control characters cannot go into MusicXML")
    try:
        data = write_score(text, title=args.title, ids=args.ids)
    except (HumanFormError, TokenSequenceError) as err:
        raise CommandError(f"{args.tokens}: {err}") from None
    from grammar.musicxml.safe_xml import MAX_XML_BYTES

    if len(data) > MAX_XML_BYTES:  # one limit for both directions: never write what tokenize refuses
        raise CommandError(f"{args.tokens}: the MusicXML would be {len(data)} bytes, more than the "
                           f"{MAX_XML_BYTES} that tokenize and check read")
    _emit(data, args.output)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Grammar check of a token file or a MusicXML file; violations one per line on stdout.

    With ``--repair`` the repaired sequence (human form) goes to ``--output`` (default stdout) and
    the violations and what the repair changed to stderr, so the output stays a clean token file.
    """
    from grammar.human import HumanFormError, from_human, to_human
    from grammar.repair import RepairError, repair
    from grammar.validate import validate

    if _looks_like_musicxml(args.file):
        tokens = _read_score(args.file).tokens
    else:
        try:
            tokens = from_human(_read_text(args.file))
        except HumanFormError as err:
            raise CommandError(f"{args.file}: {err}") from None
        if not tokens:
            raise CommandError(f"{args.file}: no tokens")
    violations = validate(tokens)
    if args.repair:
        for v in violations:
            log.warning("%s: %s", args.file, v)
        try:
            fixed = repair(tokens)
        except RepairError as err:
            raise CommandError(f"{args.file}: {err}", code=1) from None
        if fixed.changed:
            log.warning("%s: %s", args.file, fixed.describe())
        _emit(to_human(fixed.tokens).encode(), args.output)
        return 1 if violations else 0
    for v in violations:
        print(one_line(f"{args.file}: {v}"))
    if not violations:
        print(one_line(f"{args.file}: valid ({len(tokens)} tokens)"))
    return 1 if violations else 0


def build_parser(external: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``external`` names an EXTERNAL_COMMANDS entry to load fully."""
    parser = argparse.ArgumentParser(prog="omrformer",
                                     description="Read sheet music: page image -> MusicXML.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("tokenize", help="MusicXML (.musicxml/.xml/.mxl) -> tokens (human form)")
    p.add_argument("score", help="partwise MusicXML file")
    p.add_argument("-o", "--output", help="output text file (default: stdout)")
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser("detokenize", help="tokens (human form) -> MusicXML 4.0")
    p.add_argument("tokens", help="human-form token file, or - for stdin")
    p.add_argument("-o", "--output", help="output .musicxml (default: stdout)")
    p.add_argument("--title", help="work title")
    p.add_argument("--ids", action="store_true", help="give measures and notes deterministic ids")
    p.set_defaults(func=cmd_detokenize)

    p = sub.add_parser("check",
                       help="grammar check of a token file or MusicXML (exit 0 valid, 1 not, 2 unreadable)")
    p.add_argument("file", help="human-form token file (or -) or MusicXML file")
    p.add_argument("--repair", action="store_true",
                   help="write the longest valid prefix closed by the shortest valid ending (human form)")
    p.add_argument("-o", "--output", help="with --repair: output token file (default: stdout)")
    p.set_defaults(func=cmd_check)

    for name, (module, help_text) in EXTERNAL_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, add_help=name == external)
        if name == external:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(func=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omrformer`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    external = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(external if external in EXTERNAL_COMMANDS else None)
    except ImportError as err:
        say("omrformer", f"command {external!r} is not available ({err})")
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return int(exc.code or 0)
    configure_logging(logging.INFO if args.verbose else logging.WARNING, "omrformer: %(message)s")
    try:
        return int(args.func(args))
    except CommandError as err:
        say("omrformer", f"{err}")
        return err.code
    except KeyboardInterrupt:
        say("omrformer", "interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        say("omrformer", "out of memory (try --batch-size 1, fewer --beams, or a smaller page)")
        return 2
    except OSError as err:
        # Output that cannot be written (stdout on a full disk); input errors are CommandErrors.
        say("omrformer", f"cannot write output ({err.strerror or err})")
        return 1
