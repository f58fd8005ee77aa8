"""``python -m synth make|preview``: training pages from MusicXML (or random scores), as shards."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from grammar.messages import configure_logging, say
from synth.config import ConfigError, load_config
from synth.fonts import FontError, install_fontconfig
from synth.music21_source import collection_files
from synth.sources import MUSIC21_PREFIX, SourceError, list_scores

log = logging.getLogger("synth")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m synth", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="convert music21 collections to MusicXML once (make does it too)")
    c.add_argument("--source", action="append", required=True, help="music21:NAME (repeatable)")
    c.add_argument("--out", type=Path, required=True, help="the output folder of the runs that use them")
    c.add_argument("--workers", type=int, default=1)
    for name, help_ in (("make", "write shards"), ("preview", "write a few PNGs with geometry drawn")):
        s = sub.add_parser(name, help=help_)
        s.add_argument(
            "--source",
            default=None,
            help="directory of MusicXML/.mxl files, 'random', 'music21:NAME' (e.g. music21:bach), "
            "or omitted for the config's 'sources' mix",
        )
        s.add_argument("--level", choices=["system", "page", "staff"], default=None)
        s.add_argument("--count", type=int, default=4 if name == "preview" else 1000)
        s.add_argument("--out", type=Path, required=True)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--config", type=Path, default=None, help="YAML, e.g. experiments/configs/synth/scan.yaml")
        s.add_argument("--exclude-font", action="append", default=[], help="hold a font out (repeatable)")
        if name == "make":
            s.add_argument("--workers", type=int, default=1)
            s.add_argument("--samples-per-shard", type=int, default=None)
            s.add_argument("--shards", default=None, help="only these shard indices, e.g. '0-9,12'")
            s.add_argument("--no-progress", action="store_true")
    return p


def _indices(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def _convert(args: argparse.Namespace) -> int:
    """Convert music21 collections into OUT/.music21-cache and print each one's report (JSON)."""
    import json

    from synth.music21_source import convert_collection, default_cache
    from synth.token_cache import CACHE_DIRNAME

    try:
        for name in args.source:
            collection_files(name)
    except SourceError as err:
        say("synth", f"error: {err}")
        return 2
    for name in args.source:
        report = convert_collection(name, default_cache(args.out), args.out / CACHE_DIRNAME, args.workers)
        print(json.dumps(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(logging.WARNING, "%(levelname)s %(name)s: %(message)s")
    if args.command == "convert":
        return _convert(args)
    try:
        overrides = {"level": args.level, "samples_per_shard": getattr(args, "samples_per_shard", None)}
        cfg = load_config(args.config, **overrides)
        if args.exclude_font:
            import dataclasses

            style = dataclasses.replace(cfg.style, exclude_fonts=tuple({*cfg.style.exclude_fonts, *args.exclude_font}))
            cfg = dataclasses.replace(cfg, style=style).validate()
        if args.source is None and not cfg.sources:
            raise ConfigError("no --source given and the config has no 'sources' mix")
        for name in [args.source] if args.source else list(cfg.sources):
            if name.startswith(MUSIC21_PREFIX):
                collection_files(name)  # an unknown collection is bad input, before any conversion
            elif name not in ("random", "mix"):
                list_scores(name)
        if args.count < 1:
            raise ConfigError(f"--count must be positive, got {args.count}")
        only = _indices(args.shards) if getattr(args, "shards", None) else None
    except (ConfigError, SourceError, ValueError) as err:
        say("synth", f"error: {err}")
        return 2
    try:
        # Once, here, before any worker starts: a machine that cannot prepare the fonts (e.g. no
        # brotli) gets one line now instead of every worker dying on start-up.
        install_fontconfig()
    except FontError as err:
        say("synth", f"error: {err}")
        return 3
    if args.command == "preview":
        from synth.preview import preview

        paths = preview(cfg, args.source, args.out, args.count, args.seed)
        print(f"wrote {len(paths)} previews to {args.out}")
        return 0 if paths else 1
    from synth.make import make

    s = make(cfg, args.source, args.out, args.count, args.seed, args.workers, only, not args.no_progress)
    print(
        f"{s.samples} samples in {s.shards_made} new shards ({s.shards_kept} kept) under {args.out}; "
        f"{len(s.failures)} failed attempts from {s.failed_sources} scores, {s.missing} samples missing"
        + (f", {s.staves_dropped} staves dropped" if cfg.level == "staff" else "")
        + f"; the folder holds {s.folder_samples} samples, {s.folder_missing} missing"
        + f" (details in {args.out / 'manifest.json'})"
    )
    return 1 if s.folder_missing else 0  # an incomplete folder stays a failure on every re-run
