"""The state of the score automaton, declared once for the type checker.

``ScoreAutomaton`` (grammar/automaton.py) is assembled from mixins (grammar/events.py,
grammar/structure.py, grammar/masks.py) that read and write its state and call each other's
methods. ``AutomatonState`` is their common base: it declares those attributes (set in
``ScoreAutomaton.__init__`` and ``_reset_voice``) and, for type checking only, the signatures of
the methods one part calls on another. At run time it is an empty class, so it changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from grammar.automaton import GrammarError, ScoreAutomaton
    from grammar.classes import TokenClasses
    from grammar.fill import FillTable
    from grammar.phases import Phase
    from grammar.policy import Policy
    from grammar.vocab import Vocabulary


class AutomatonState:
    """Attributes shared by ScoreAutomaton and its mixins (see ``ScoreAutomaton.__init__``)."""

    # Set once in __init__.
    policy: Policy
    vocab: Vocabulary
    classes: TokenClasses
    fills: FillTable
    strict: bool
    violations: list[GrammarError]

    # Position in the sequence and in the layout.
    phase: Phase
    pos: int
    measure: int
    layout: list[int] | None  # staves per part, fixed by measure 1
    part: int
    staff: int
    voice: int
    staff_index: int  # staff index over all parts
    staves: list[int]
    clef: list[str | None]
    key: list[int | None]
    time: list[tuple[str, ...] | None]
    mlen: list[int]  # measure length in ticks per flat staff
    mark_level: int
    attr_level: int
    time_num: int
    measure_short: bool
    must_end: bool
    finish_known: tuple[int, int] | None

    # The current voice (reset by _reset_voice).
    ticks_left: int
    events: int
    full: bool
    tup: tuple[int, int] | None
    tup_events: int
    tup_a: int
    event_class: int
    dur_type: int
    dots: int
    ticks_before_event: int
    dots_pending: bool
    valid: np.ndarray | None  # (9, 4)
    can_chord: bool
    can_tie: bool
    last_pitch: int
    overfull_reported: bool

    if TYPE_CHECKING:
        # grammar/automaton.py
        def copy(self) -> ScoreAutomaton: ...
        def step(self, token: str | int) -> ScoreAutomaton: ...
        def short_ok(self) -> bool: ...
        def _reset_voice(self) -> None: ...
        def _error(self, rule: str, detail: str) -> GrammarError: ...
        def _fail(self, rule: str, detail: str) -> None: ...
        def _syntax(self, tid: int) -> GrammarError: ...
        def _time_name(self) -> str: ...
        def _unit(self, x: int, k: int) -> int: ...

        # grammar/structure.py
        def _structure(self, tid: int, c: int) -> None: ...
        def _layout_allows(self, c: int) -> bool: ...

        # grammar/masks.py
        def allowed_mask(self) -> np.ndarray: ...
        def _valid_table(self) -> np.ndarray: ...
        def _event_fits(self, c: int) -> bool: ...
        def _ratio_fits(self, a: int, n: int) -> bool: ...
        def _actual_ok(self, a: int) -> bool: ...
        def _tuplet_fits(self) -> bool: ...
