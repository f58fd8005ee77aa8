"""The score automaton: which token may come next in one sequence (docs/token-language.md).

``ScoreAutomaton`` is the public face of the grammar. Its state (grammar/state.py) is the layout,
clef/key/time per staff, the current voice and the event being read, and the syntax ``Phase``;
what each phase does with a token, which tokens it allows and how it completes is one entry of
``PHASE_RULES`` (grammar/rules.py). ``allowed_mask()`` is exactly the set of tokens ``step``
accepts, and every accepted state can still be completed: a duration is only allowed if what is
left of the measure can still be spelled (grammar/fill.py), a tuplet only opens if one of its
notes fits, and so on (grammar/lookahead.py).

With ``strict=False`` (used by grammar/validate.py) rule violations are recorded instead of
raised and the token is applied anyway, so one pass reports every violation.
"""

from __future__ import annotations

import numpy as np

from grammar import classes as C
from grammar.lookahead import dots_state
from grammar.rules import PHASE_RULES
from grammar.state import IN_VOICE, GrammarError, Phase, ScoreState

__all__ = ["BODY", "DONE", "DUR", "GrammarError", "Phase", "ScoreAutomaton"]

# The phases by their short names, for callers that test where a sequence stands.
BODY, DONE, DUR = Phase.BODY, Phase.DONE, Phase.DUR

_PLAN_LIMIT = 100_000  # a completion plan longer than this means a bug, not a long score
# Pitches, accidentals, clefs and keys do not change the plan's length, so in
# allowed_mask_within one token of each of these classes stands for all.
_INTERCHANGEABLE = frozenset({C.PITCH, C.ACC, C.CLEF, C.KEY})


class ScoreAutomaton(ScoreState):
    """Incremental grammar state for one token sequence.

    Args:
        policy: the rule switches (grammar/policy.py).
        vocab: the vocabulary whose ids ``step`` and ``allowed_mask`` use.
        strict: raise ``GrammarError`` on any violation (True) or record it in ``violations``
            and carry on (False; syntax errors always raise).
    """

    # ----------------------------------------------------------------- reading tokens
    def copy(self) -> ScoreAutomaton:
        """An independent copy (lists and records are copied; tables are shared)."""
        new = self.copy_state()
        assert isinstance(new, ScoreAutomaton)
        return new

    @property
    def is_complete(self) -> bool:
        """True once ``<eos>`` closed a complete sequence."""
        return self.phase == Phase.DONE

    def step(self, token: str | int) -> ScoreAutomaton:
        """Consume one token (string or id). Raises GrammarError if it is not allowed here."""
        tid = self.vocab.id(token) if isinstance(token, str) else int(token)
        if not 0 <= tid < len(self.vocab):
            raise GrammarError("syntax", f"token id {tid} is outside the vocabulary", self.pos)
        PHASE_RULES[self.phase].step(self, tid, int(self.classes.cls[tid]))
        self.pos += 1
        return self

    def finish(self) -> None:
        """End of input: in lenient mode record what is missing (no <eos>, open measure)."""
        if self.phase == Phase.DONE:
            return
        if self.phase == Phase.MSTART and self.measure > 1 and not self.mark_level:
            self.phase = Phase.DONE
            return
        self.check(
            False, "unterminated", f"the sequence stops inside measure {self.measure} (missing <bar> or <eos>)"
        )

    # ----------------------------------------------------------------- queries (never change the state)
    def remaining_ticks(self) -> int:
        """Ticks that must still come to fill the current voice's measure (0 outside a voice)."""
        if self.phase not in IN_VOICE:
            return 0
        return max(self.current.ticks_left, 0)

    def allowed_mask(self) -> np.ndarray:
        """Boolean (len(vocab),): exactly the tokens ``step`` accepts now (a fresh array)."""
        return PHASE_RULES[self.phase].mask(self)

    def allowed_tokens(self) -> list[str]:
        """The tokens ``step`` would accept now."""
        return [self.vocab.tokens[i] for i in np.flatnonzero(self.allowed_mask())]

    # ----------------------------------------------------------------- the completion plan
    def _plan_token(self) -> int:
        """The next token of a fixed "finish as soon as possible" plan.

        ``min_to_finish`` is the length of this plan. Because the plan only depends on the state,
        taking its token lowers ``min_to_finish`` by exactly one, which is what lets the logits
        processor close every sequence before ``max_length``.
        """
        return PHASE_RULES[self.phase].plan(self)

    def min_to_finish(self) -> int:
        """Fewest tokens (including ``<eos>``) that complete the sequence from here (0 when done).

        Computed by following the completion plan on a copy; exact for that plan and an upper
        bound on the true minimum.
        """
        if self.phase == Phase.DONE:
            return 0
        n = self.copy()._run_plan()
        self.finish_known = (n, self.pos)  # a cache for min_to_finish_bound, not grammar state
        return n

    def min_to_finish_bound(self, growth: int) -> int:
        """An upper bound on ``min_to_finish`` without running the plan, assuming no token grows
        the plan by more than ``growth`` tokens (see ``GrammarLogitsProcessor.closing_slack``).

        It is the last exact value plus ``growth`` per token stepped since (exact when nothing was
        stepped since); a state never measured gets the exact value.
        """
        if self.phase == Phase.DONE:
            return 0
        if self.finish_known is None:
            return self.min_to_finish()
        n, pos = self.finish_known
        return n + growth * (self.pos - pos)

    def _run_plan(self) -> int:
        """Follow the plan on this (throw-away) state and count its tokens."""
        self.violations = []
        n = 0
        while self.phase != Phase.DONE:
            closing = self._closing_cost()
            if closing is not None:
                return n + closing
            self.step(self._plan_token())
            n += 1
            if n > _PLAN_LIMIT:
                raise AssertionError("completion plan does not terminate")
        return n

    def _closing_cost(self) -> int | None:
        """Plan length in closed form once the current voice may end: the rest of the layout gets
        ``staff voice rest dur:measure`` per staff (plus ``part`` per part), then ``bar <eos>``.
        None when the plan still has work inside the voice."""
        v = self.current
        if self.phase != Phase.BODY or v.tup is not None or v.events == 0:
            return None
        if not dots_state(self)[1] or (v.ticks_left > 0 and not self.short_ok()):
            return None
        if self.measure == 1:
            return 2
        assert self.layout is not None
        if self.part >= len(self.layout) or self.staff >= self.layout[self.part]:
            return None  # lenient states outside the layout: let the plan walk
        rest = 4 * (self.layout[self.part] - self.staff - 1)
        rest += sum(1 + 4 * n for n in self.layout[self.part + 1 :])
        return rest + 2

    def allowed_mask_within(self, budget: int) -> np.ndarray:
        """``allowed_mask`` restricted to tokens after which the sequence can end within ``budget``
        tokens in all (counting the token itself and ``<eos>``).

        Non-empty whenever ``min_to_finish() <= budget`` (the plan's own token always qualifies).
        """
        m = self.allowed_mask()
        if self.phase == Phase.DONE:
            return m
        out = np.zeros_like(m)
        tc = self.classes
        seen: dict[int, bool] = {}
        for tid in np.flatnonzero(m):
            c = int(tc.cls[tid])
            if c in _INTERCHANGEABLE and c in seen:
                out[tid] = seen[c]
                continue
            sim = self.copy()
            sim.step(int(tid))
            ok = 1 + sim._run_plan() <= budget
            out[tid] = ok
            if c in _INTERCHANGEABLE:
                seen[c] = ok
        return out
