"""Is a prediction usable? XSD validity, music21 parse, Verovio render, measure consistency.

Each check returns the reason it failed (a short string) or None when it passed, so the report can
say *why* a page failed instead of a bare rate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from grammar.token_tree import parse_tree

logger = logging.getLogger(__name__)


def xsd_problem(xml: bytes) -> str | None:
    """First MusicXML 4.0 schema error of ``xml`` (None when valid)."""
    from grammar.musicxml import validate_xsd

    errors = validate_xsd(xml)
    return errors[0] if errors else None


def music21_problem(xml: bytes) -> str | None:
    """Why music21 cannot open ``xml`` (None when it parses into a score with parts)."""
    import music21 as m21

    try:
        score = m21.converter.parseData(xml, format="musicxml", forceSource=True)
    except Exception as err:  # music21 raises many unrelated types on bad input
        return f"music21: {type(err).__name__}: {err}"
    # A MusicXML document parses to a Score; anything else (Part, Opus) has no parts to check.
    if not isinstance(score, m21.stream.Score):
        return "music21: no parts"
    return None if list(score.parts) else "music21: no parts"


def verovio_problem(xml: bytes) -> str | None:
    """Why Verovio cannot render page 1 of ``xml`` (None when it draws an SVG with a staff)."""
    import verovio

    tk = verovio.toolkit()
    tk.setOptions({"breaks": "auto"})
    if not tk.loadData(xml.decode("utf-8")):
        return "verovio: load failed"
    svg = tk.renderToSVG(1)
    return None if 'class="staff"' in svg else "verovio: nothing drawn"


def count_measures(tokens: Sequence[str]) -> int:
    """Measures in a token sequence: one per barline, plus an unterminated tail if any (the
    measures of grammar.token_tree, read tolerantly)."""
    return len(parse_tree(tokens, strict=False).measures)


@dataclass(frozen=True)
class MeasureConsistency:
    """How many measures of a sequence break no grammar rule (spec rules 1-7)."""

    measures: int
    clean: int
    violations: tuple[str, ...]

    @property
    def rate(self) -> float | None:
        return self.clean / self.measures if self.measures else None


def measure_consistency(tokens: Sequence[str]) -> MeasureConsistency:
    """Validate ``tokens`` and count the measures with zero violations.

    A violation with no measure (e.g. a sequence that never ends) marks the last measure, so every
    violation costs at least one measure.
    """
    from grammar import validate

    body = [t for t in tokens if t not in ("<bos>", "<eos>", "<pad>")]
    # validate() checks a complete sequence: restore the <eos> a decoded sequence ends with.
    violations = validate([*body, "<eos>"]) if "<eos>" in tokens or not tokens else validate(body)
    n = count_measures(body)
    bad = {v.measure if v.measure else n for v in violations}
    bad = {min(max(m, 1), max(n, 1)) for m in bad}
    clean = max(n - len(bad), 0)
    return MeasureConsistency(n, clean, tuple(str(v) for v in violations))
