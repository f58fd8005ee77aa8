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
from grammar.rules import PHASE_RULES, layout_allows
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
        """Boolean (len(vocab),): exactly the tokens ``step`` accepts now (a fresh array).

        Inside a staff the mask is memoised on what the rules read (``_mask_key``): a batch of
        rows keeps meeting the same few hundred voice states.
        """
        return self._allowed_mask(self._plan_signature())

    def _allowed_mask(self, sig: tuple | None) -> np.ndarray:
        """``allowed_mask`` given this state's ``_plan_signature`` (callers that have it already)."""
        key = self._mask_key(sig)
        if key is None:
            return PHASE_RULES[self.phase].mask(self)
        memo = self._memo("mask")
        m = memo.get(key)
        if m is None:
            m = memo[key] = PHASE_RULES[self.phase].mask(self)
        return m.copy()

    def _mask_key(self, sig: tuple | None) -> tuple | None:
        """``_plan_signature`` plus what only the mask reads: whether a chord note or tie may
        follow and which closers the layout allows (in a voice), and the pitch a chord note may
        not go below."""
        if sig is None:
            return None
        ph = self.phase
        if ph == Phase.BODY:
            v = self.current
            closers = (
                layout_allows(self, C.VOICE),
                layout_allows(self, C.STAFF),
                layout_allows(self, C.PART),
                layout_allows(self, C.BAR),
            )
            return (sig, v.can_chord, v.can_tie, closers)
        if ph in _PITCH and self.event.kind == C.CHORD:
            return (sig, self.current.last_pitch)
        return sig

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
        closing = self._closing_cost()
        if closing is not None:  # the voice may end now: closed form, no plan to run
            n = closing
        else:
            sig = self._plan_signature()
            base = self._layout_to_close() if sig is not None else None
            known = self._memo("plan").get(sig) if sig is not None and base is not None else None
            n = known + base if known is not None and base is not None else self.copy()._run_plan()
        self.finish_known = (n, self.pos)  # a cache for min_to_finish_bound, not grammar state
        return n

    def _memo(self, kind: str) -> dict:
        """A memo of plan lengths for this policy and vocabulary, emptied when it grows too big."""
        memo = self.fills.cache.setdefault((kind, self.classes), {})
        assert isinstance(memo, dict)
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        return memo

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

    def _run_plan(self, memo: bool = True) -> int:
        """Follow the plan on this (throw-away) state and count its tokens.

        With ``memo``, stop at the first state whose plan length is memoised (inside a staff it is
        a constant of ``_plan_signature`` plus ``_layout_to_close``) and memoise the states passed.
        """
        self.violations = []
        plans = self._memo("plan") if memo else None
        passed: list[tuple[tuple, int, int]] = []  # (signature, layout to close, tokens so far)
        n = 0
        while True:
            if self.phase == Phase.DONE:
                total = n
                break
            closing = self._closing_cost()
            if closing is not None:
                total = n + closing
                break
            sig = self._plan_signature() if plans is not None else None
            base = self._layout_to_close() if sig is not None else None
            if plans is not None and sig is not None and base is not None:
                if sig in plans:
                    total = n + plans[sig] + base
                    break
                passed.append((sig, base, n))
            self.step(self._plan_token())
            n += 1
            if n > _PLAN_LIMIT:
                raise AssertionError("completion plan does not terminate")
        if plans is not None:
            for sig, base, k in passed:
                plans[sig] = total - k - base
        return total

    def _closing_cost(self) -> int | None:
        """Plan length in closed form once the current voice may end (``_layout_to_close``).
        None when the plan still has work inside the voice."""
        v = self.current
        if self.phase != Phase.BODY or v.tup is not None or v.events == 0:
            return None
        if not dots_state(self)[1] or (v.ticks_left > 0 and not self.short_ok()):
            return None
        return self._layout_to_close()

    def _layout_to_close(self) -> int | None:
        """Plan tokens once the current voice has ended: the rest of the layout gets ``staff voice
        rest dur:measure`` per staff (plus ``part`` per part), then ``bar <eos>``; in measure 1
        (whose layout is still open) just ``bar <eos>``. None for lenient states outside the
        layout, where the plan has to walk."""
        if self.measure == 1:
            return 2
        assert self.layout is not None
        if self.part >= len(self.layout) or self.staff >= self.layout[self.part]:
            return None
        rest = 4 * (self.layout[self.part] - self.staff - 1)
        rest += sum(1 + 4 * n for n in self.layout[self.part + 1 :])
        return rest + 2

    def allowed_mask_within(self, budget: int) -> np.ndarray:
        """``allowed_mask`` restricted to tokens after which the sequence can end within ``budget``
        tokens in all (counting the token itself and ``<eos>``).

        Non-empty whenever ``min_to_finish() <= budget`` (the plan's own token always qualifies).

        Inside a staff the plan's length after a token is a constant that depends only on the
        voice or staff header (``_plan_signature``) plus the layout still to close
        (``_layout_to_close``). Those constants are memoised per policy and vocabulary, so near
        ``max_length`` most rows cost a mask and a comparison instead of one plan run per
        candidate token.
        """
        sig = self._plan_signature()
        m = self._allowed_mask(sig)
        if self.phase == Phase.DONE:
            return m
        base = self._layout_to_close() if sig is not None else None
        if sig is None or base is None:
            return self._within_by_plan(m, budget, None, 0)
        memo = self._memo("within")
        after = memo.get(sig)
        if after is None:
            after = memo[sig] = np.full(len(m), _UNKNOWN, dtype=np.int32)
        todo = m & (after == _UNKNOWN)
        if todo.any():
            self._within_by_plan(todo, budget, after, base)
        return m & (after.astype(np.int64) + base + 1 <= budget)

    def _within_by_plan(
        self, m: np.ndarray, budget: int, after: np.ndarray | None, base: int, memo: bool = True
    ) -> np.ndarray:
        """Run the plan after each token of ``m`` (one per interchangeable class) and keep those
        that fit ``budget``; with ``after``, also store each plan length minus ``base`` there.
        ``memo=False`` runs every plan to the end (the reference the memo tests compare with)."""
        out = np.zeros_like(m)
        tc = self.classes
        seen: dict[int, int] = {}
        for tid in np.flatnonzero(m):
            c = int(tc.cls[tid])
            if c in _INTERCHANGEABLE and c in seen:
                plan = seen[c]
            else:
                sim = self.copy()
                sim.step(int(tid))
                plan = sim._run_plan(memo)
                if c in _INTERCHANGEABLE:
                    seen[c] = plan
            out[tid] = 1 + plan <= budget
            if after is not None:
                after[tid] = plan - base
        return out

    def _plan_signature(self) -> tuple | None:
        """Everything the plan (now, or after one more token) reads apart from the layout still
        to close, for a strict state inside a staff; None elsewhere (between measures, once per
        measure: run the plan).

        In a staff header the plan is always ``voice rest dur:measure`` after whatever header
        tokens measure 1 still needs, whatever the time signature. In a voice, fields matter only
        in the phases that read them, so they are left out elsewhere (a stale ``ticks_before``
        between events would only split the memo). Left out as well, because the plan never
        takes a chord note or a tie and no plan step reads them: whether a chord note or tie may
        follow, and the last pitch (it only narrows which chord pitches are allowed).
        """
        ph = self.phase
        if not self.strict:
            return None
        if ph in _HEADER:
            return (ph, self.attr_level, self.measure == 1)
        if ph not in IN_VOICE:
            return None
        v, e = self.current, self.event
        pending = e.dots_pending
        return (
            ph,
            v.ticks_left,
            v.events > 0,
            v.full,
            v.tup,
            v.tup_events > 0,
            self.short_ok(),
            v.ticks_left == self.attrs.ticks,
            self.measure == 1,
            e.kind if ph in _READS_KIND else None,
            e.ticks_before if ph == Phase.DUR or pending else None,
            (e.dur_type, e.dots, e.valid is None) if pending else None,
            e.tuplet_actual if ph == Phase.TUPN else None,
        )


# The plan memos, per voice signature: plan length (after a token, in allowed_mask_within) minus
# the layout still to close. _UNKNOWN marks a token not measured yet; the limit keeps the
# "within" memo under ~15 MB (177 int32 per entry).
_UNKNOWN = np.iinfo(np.int32).min
_MEMO_LIMIT = 20_000
_READS_KIND = frozenset({Phase.PITCH, Phase.PITCH2, Phase.DUR})
_PITCH = frozenset({Phase.PITCH, Phase.PITCH2})
_HEADER = frozenset({Phase.PART, Phase.STAFF, Phase.TNUM, Phase.TDEN})  # a staff opened, no voice yet
