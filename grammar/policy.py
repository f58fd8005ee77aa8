"""Which rules of docs/token-language.md the automaton enforces, as explicit flags.

Each rule has a stable name (``RULES``) that appears in violation reports and in the corpus
measurement (experiments/grammar_policies.py), so a number in docs/grammar.md can be traced to the
exact check that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Stable rule names, with what a musician would call the problem.
RULES: dict[str, str] = {
    "syntax": "a token that cannot come at this point of the sequence",
    "layout": "a measure whose parts/staves differ from measure 1, or too many parts, staves or voices",
    "first-measure-attributes": "measure 1 must state clef, key and time on every staff",
    "break-at-start": "a page or system break cannot open the first measure",
    "time-signature": "a time signature outside the policy (denominator not a power of two)",
    "overfull": "a voice longer than its measure",
    "underfull-primary": "a primary voice shorter than its measure (outside the pickup / last measure)",
    "underfull-secondary": "a secondary voice shorter than its measure (strict_secondary only)",
    "empty-voice": "a voice without any note, rest or space",
    "whole-measure-rest": "a whole-measure rest or space that is not the only event of its voice",
    "chord-order": "chord notes not listed from low to high",
    "tuplet-range": "a tuplet ratio outside the policy",
    "tuplet-ticks": "a duration inside a tuplet that is not a whole number of ticks",
    "tuplet-nested": "a tuplet inside another tuplet",
    "tuplet-empty": "a tuplet without a note, rest or space",
    "tuplet-unclosed": "a tuplet still open when its voice ends",
    "measure-rest-in-tuplet": "a whole-measure rest or space inside a tuplet",
    "unfinishable": "a duration after which the measure can no longer be completed",
    "unterminated": "the sequence stops inside a measure or without <eos>",
}


@dataclass(frozen=True)
class Policy:
    """Rule switches and limits for the automaton, validation and the corpus measurement.

    Attributes:
        allow_pickup: voices of the first measure may be shorter than the time signature.
        allow_short_last: the primary voice of a later measure may be short; the bar that closes
            such a measure must be followed by ``<eos>`` (it is the last measure).
        strict_secondary: secondary voices (2nd..4th of a staff) must fill the measure too.
        chord_ascending: chord notes must go from low to high (by staff position).
        max_parts: most parts in a score.
        max_staves: most staves per part.
        max_voices: most voices per staff and measure.
        max_tuplet_actual: largest ACTUAL in ``tuplet n:ACTUAL n:NORMAL``.
        max_tuplet_normal: largest NORMAL.
        time_denominators: allowed lower numbers of ``time n:A n:B``.
    """

    allow_pickup: bool = True
    allow_short_last: bool = True
    strict_secondary: bool = False
    chord_ascending: bool = True
    max_parts: int = 32
    max_staves: int = 4
    max_voices: int = 4
    max_tuplet_actual: int = 16
    max_tuplet_normal: int = 16
    time_denominators: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)

    def __post_init__(self) -> None:
        for name in ("max_parts", "max_staves", "max_voices", "max_tuplet_actual", "max_tuplet_normal"):
            if getattr(self, name) < 1:
                raise ValueError(f"Policy.{name} must be at least 1, got {getattr(self, name)}")
        if not self.time_denominators:
            raise ValueError("Policy.time_denominators must not be empty")

    def tuplet_ok(self, actual: int, normal: int) -> bool:
        """Whether ``actual`` notes in the time of ``normal`` is a tuplet this policy allows."""
        in_range = 2 <= actual <= self.max_tuplet_actual and 1 <= normal <= self.max_tuplet_normal
        return in_range and actual != normal


# Named presets used by the corpus measurement.
PRESETS: dict[str, Policy] = {
    "default": Policy(),
    "strict": Policy(allow_pickup=False, allow_short_last=False, strict_secondary=True),
    "strict-secondary": Policy(strict_secondary=True),
    "no-pickup": Policy(allow_pickup=False, allow_short_last=False),
}
