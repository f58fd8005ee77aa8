"""Score sources: a directory of MusicXML/.mxl files, or the procedural generator ("random").

Every label is produced by the codec (``write_score`` of model tokens), and the very same bytes are
what Verovio engraves, so the label is exactly what is drawn.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SCORE_SUFFIXES = (".musicxml", ".xml", ".mxl")


class SourceError(ValueError):
    """A score source that cannot be used (missing directory, no scores, unreadable score)."""


def list_scores(directory: str | Path) -> list[Path]:
    """All MusicXML files under ``directory`` (recursively), sorted so indices are stable."""
    d = Path(directory)
    if not d.is_dir():
        raise SourceError(f"{d}: not a directory of MusicXML files")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in SCORE_SUFFIXES and p.is_file())
    if not files:
        raise SourceError(f"{d}: no MusicXML files ({', '.join(SCORE_SUFFIXES)}) found")
    return files


def load_tokens(path: Path) -> list[str]:
    """Canonical model tokens of a score file (raises SourceError naming the file)."""
    from grammar.musicxml import MusicXMLError, read_score

    try:
        tokens = list(read_score(path).tokens)
    except MusicXMLError as err:
        raise SourceError(f"{path}: {err}") from None
    if not tokens:
        raise SourceError(f"{path}: no measures the score language can express")
    return tokens


def split_measures(tokens: list[str]) -> list[list[str]]:
    """Tokens of each measure, each ending with its barline (grammar.excerpt.split_measures)."""
    from grammar.excerpt import split_measures as split

    return [list(m) for m in split(tokens)]


def excerpt(tokens: list[str], start: int, stop: int) -> tuple[list[str], int]:
    """A standalone sequence of measures ``start:stop``; returns (tokens, start).

    The first measure of the cut re-states every clef, key and time in force (grammar.excerpt).
    """
    from grammar.excerpt import excerpt as cut

    return list(cut(tokens, start, stop)), start


def label_bytes(tokens: list[str]) -> bytes:
    """MusicXML 4.0 of ``tokens`` with deterministic ``<measure>``/``<note>`` ids for the SVG."""
    from grammar.musicxml import write_score

    return write_score(tokens, ids=True)


MUSIC21_PREFIX = "music21:"


class SourceSet:
    """The score sources of a run: one (directory, 'random', 'music21:NAME') or a weighted mix.

    ``files[i]`` is the sorted score list of source ``i`` (None for the generator). A sample's
    source is drawn from its own generator ``default_rng([seed, index, attempt, 1])``, separate
    from the sample's main generator, so a single-source run makes the same bytes as before
    mixes existed; a mix of one source never draws.
    """

    def __init__(self, source: str | None, mix: dict[str, float], music21_cache: Path | None = None) -> None:
        if source and source != "mix":
            names, weights = [source], [1.0]
        elif mix:
            names = sorted(k for k, w in mix.items() if w > 0)
            weights = [float(mix[k]) for k in names]
        else:
            raise SourceError("no source: give --source, or 'sources' weights in the config")
        self.names = names
        self.weights = np.asarray(weights, dtype=np.float64) / sum(weights)
        self.files: list[list[Path] | None] = [self._files(n, music21_cache) for n in names]

    @staticmethod
    def _files(name: str, music21_cache: Path | None) -> list[Path] | None:
        if name == "random":
            return None
        if name.startswith(MUSIC21_PREFIX):
            from synth.music21_source import converted_scores

            return converted_scores(name, music21_cache)
        return list_scores(name)

    def pick(self, seed: int, index: int, attempt: int) -> int:
        if len(self.names) == 1:
            return 0
        return int(np.random.default_rng([seed, index, attempt, 1]).choice(len(self.names), p=self.weights))

    def name_of(self, seed: int, index: int, attempt: int) -> str:
        """Which score a sample uses, known without rendering (names the score of a crashed worker)."""
        i = self.pick(seed, index, attempt)
        files = self.files[i]
        if files is None:
            return "random"
        rng = np.random.default_rng([seed, index, attempt])
        return str(files[int(rng.integers(len(files)))])  # the first draw, as SampleMaker makes it
