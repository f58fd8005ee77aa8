"""Allowed-token masks and the completion plan of the score automaton.

Split from grammar/automaton.py: the automaton owns the state and the transitions, this mixin
answers "which tokens now?" (``allowed_mask``) and "how many tokens at least to finish?"
(``min_to_finish``). The mask is a static per-phase class mask plus a few look-ups in the fill
table (grammar/fill.py), cached per (ticks left, tuplet, may-be-short).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import numpy as np

from grammar import classes as C
from grammar.automaton_state import AutomatonState
from grammar.fill import PLAIN
from grammar.phases import BODY, DONE, DUR, MSTART, PART, PITCH, PITCH2, STAFF, START, TDEN, TNUM, TUPA, TUPN

T = TypeVar("T")

_PLAN_LIMIT = 100_000  # a completion plan longer than this means a bug, not a long score


class MaskMixin(AutomatonState):
    """Masks and completion plan; mixed into ScoreAutomaton."""

    # ---------------------------------------------------------------- fit tests
    def _fin_out(self, r: np.ndarray) -> np.ndarray:
        """Outside a tuplet, can the voice still end well with r ticks left?"""
        if self.short_ok():
            return r >= 0
        return self.fills.fillable_vec(r)

    def _fin_tup(self, r: np.ndarray, ratio: tuple[int, int]) -> np.ndarray:
        """Inside a tuplet that already has a note: close it now or after one more note."""
        r = np.asarray(r, dtype=np.int64)
        if self.short_ok():
            return r >= 0
        units = self.fills.unit_arrays[ratio]
        more = self.fills.fillable_vec(r[..., None] - units).any(axis=-1)
        return self.fills.fillable_vec(r) | more

    def _cached(self, key: str, ticks: int, tup: tuple[int, int] | None, fn: Callable[[], T]) -> T:
        """``fn()`` memoised on what it depends on: ``ticks`` left, the tuplet and may-be-short."""
        cache = self.fills.cache
        full = (key, ticks, tup, self.short_ok())
        if full not in cache:
            if len(cache) > 200_000:
                cache.clear()
            cache[full] = fn()
        return cast(T, cache[full])  # the key names the fn that filled the entry

    def _valid_table(self) -> np.ndarray:
        """(9, 4): which (type, dots) keep the voice finishable if taken now (from the ticks left
        before the pending event)."""

        def compute() -> np.ndarray:
            units = PLAIN if self.tup is None else self.fills.scaled[self.tup]
            r = self.ticks_before_event - units
            fin = self._fin_out(r) if self.tup is None else self._fin_tup(r, self.tup)
            return (units > 0) & fin

        return self._cached("valid", self.ticks_before_event, self.tup, compute)

    def _measure_rest_ok(self) -> bool:
        full_measure_left = self.ticks_left == self.mlen[self.staff_index]
        return self.tup is None and self.events == 0 and not self.full and full_measure_left

    def _event_fits(self, c: int) -> bool:
        """Can a note/rest/space start here and still leave a finishable voice?"""
        if c in (C.REST, C.SPACE) and self._measure_rest_ok():
            return True

        def compute() -> bool:
            if self.ticks_left <= 0:
                return False
            if self.tup is None:
                return bool(self._fin_out(self.ticks_left - PLAIN).any())
            units = self.fills.unit_arrays[self.tup]
            return bool(self._fin_tup(self.ticks_left - units, self.tup).any())

        return self._cached("event", self.ticks_left, self.tup, compute)

    def _ratio_fits(self, a: int, n: int) -> bool:
        if (a, n) not in self.fills.ratio_set or self.ticks_left <= 0:
            return False
        units = self.fills.unit_arrays[(a, n)]
        return self._cached(
            "ratio", self.ticks_left, (a, n), lambda: bool(self._fin_tup(self.ticks_left - units, (a, n)).any())
        )

    def _actual_ok(self, a: int) -> bool:
        return any(self._ratio_fits(a, n) for (aa, n) in self.fills.ratios if aa == a)

    def _tuplet_fits(self) -> bool:
        if self.tup is not None or self.full or self.ticks_left <= 0:
            return False
        return self._cached(
            "tuplet", self.ticks_left, self.tup, lambda: any(self._ratio_fits(a, n) for a, n in self.fills.ratios)
        )

    # ---------------------------------------------------------------- masks
    def allowed_mask(self) -> np.ndarray:
        """Boolean (len(vocab),): exactly the tokens ``step`` accepts now."""
        tc, M, ph = self.classes, self.classes.masks, self.phase
        if ph == START:
            m = self._mstart_mask()
            m[tc.bos_id] = True
            return m
        if ph == MSTART:
            return self._mstart_mask()
        if ph == PART:
            return M[C.STAFF].copy()
        if ph == STAFF:
            lv = self.attr_level
            if self.measure == 1:
                return M[(C.CLEF, C.KEY, C.TIME, C.VOICE)[lv]] | (M[C.TIMESYM] if lv == 2 else False)
            m = M[C.VOICE].copy()
            for level, classes in ((1, (C.CLEF,)), (2, (C.KEY,)), (3, (C.TIME, C.TIMESYM))):
                if lv < level:
                    for c in classes:
                        m |= M[c]
            return m
        if ph == TNUM:
            return M[C.NUM].copy()
        if ph == TDEN:
            return self._ids_mask(tc.num_id[d] for d in self.policy.time_denominators if d in tc.num_id)
        if ph == BODY:
            return self._body_mask()
        if ph in (PITCH, PITCH2):
            m = M[C.ACC].copy() if ph == PITCH else np.zeros(len(tc.cls), dtype=bool)
            if self.event_class == C.CHORD and self.policy.chord_ascending:
                m[tc.pitch_ids[tc.pitch_arg >= self.last_pitch]] = True
            else:
                m |= M[C.PITCH]
            return m
        if ph == DUR:
            return self._dur_mask()
        if ph == TUPA:
            return self._ids_mask(tc.num_id[a] for a in self.fills.actuals if self._actual_ok(a))
        if ph == TUPN:
            return self._ids_mask(
                tc.num_id[n] for (a, n) in self.fills.ratios if a == self.tup_a and self._ratio_fits(a, n)
            )
        m = np.zeros(len(tc.cls), dtype=bool)
        m[tc.pad_id] = True
        return m

    def _ids_mask(self, ids) -> np.ndarray:
        m = np.zeros(len(self.classes.cls), dtype=bool)
        m[list(ids)] = True
        return m

    def _mstart_mask(self) -> np.ndarray:
        tc = self.classes
        m = np.zeros(len(tc.cls), dtype=bool)
        if self.must_end:
            m[tc.eos_id] = True
            return m
        m |= tc.masks[C.PART]
        for level in range(self.mark_level + 1, 4):
            if self.measure > 1 or level == 3:
                m[tc.mark_level[level]] = True
        if self.measure > 1 and self.mark_level == 0:
            m[tc.eos_id] = True
        return m

    def _dots_state(self) -> tuple[bool, bool]:
        """(a dot may follow, the duration may end here)."""
        if not self.dots_pending:
            return False, True
        if self.valid is None:
            return self.dots < 3, True
        row = self.valid[self.dur_type]  # (4,) which dot counts keep the measure finishable
        return bool(self.dots < 3 and row[self.dots + 1 :].any()), bool(row[self.dots])

    def _body_mask(self) -> np.ndarray:
        tc, M = self.classes, self.classes.masks
        dot_ok, end_ok = self._dots_state()
        m = np.zeros(len(tc.cls), dtype=bool)
        if dot_ok:
            m |= M[C.DOT]
        if not end_ok:
            return m
        m |= M[C.CLEF]
        if not self.full:
            m |= M[C.GRACE]
            for c in (C.NOTE, C.REST, C.SPACE):
                if self._event_fits(c):
                    m |= M[c]
            if self._tuplet_fits():
                m |= M[C.TUPLET]
        if self.tup is not None and self.tup_events and (self.short_ok() or self.fills.fillable(self.ticks_left)):
            m |= M[C.TUPEND]
        if self.can_chord:
            m |= M[C.CHORD]
        if self.can_tie:
            m |= M[C.TIE]
        if self.events and self.tup is None and (self.ticks_left <= 0 or self.short_ok()):
            for c in (C.VOICE, C.STAFF, C.PART, C.BAR):
                if self._layout_allows(c):
                    m |= M[c]
        return m

    def _dur_mask(self) -> np.ndarray:
        tc = self.classes
        m = np.zeros(len(tc.cls), dtype=bool)
        if self.event_class == C.GRACE:
            m[[tc.dur_id[x] for x in range(C.MEASURE_DUR)]] = True
            return m
        ok = self._valid_table().any(axis=1)
        m[[tc.dur_id[int(x)] for x in np.flatnonzero(ok)]] = True
        if self.event_class in (C.REST, C.SPACE) and self._measure_rest_ok():
            m[tc.dur_id[C.MEASURE_DUR]] = True
        return m

    # ---------------------------------------------------------------- completion plan
    def _plan_token(self) -> int:
        """The next token of a fixed "finish as soon as possible" plan.

        ``min_to_finish`` is the length of this plan. Because the plan only depends on the state,
        taking its token lowers ``min_to_finish`` by exactly one, which is what lets the logits
        processor close every sequence before ``max_length``.
        """
        tc, v, ph = self.classes, self.vocab, self.phase
        if ph == START:
            return v.id("part")
        if ph == MSTART:
            return tc.eos_id if self.must_end or (self.measure > 1 and self.mark_level == 0) else v.id("part")
        if ph == PART:
            return v.id("staff")
        if ph == STAFF:
            if self.measure == 1 and self.attr_level < 3:
                return v.id(("clef:G2", "key:0", "time:C")[self.attr_level])
            return v.id("voice")
        if ph == TNUM:
            return tc.num_id[4]
        if ph == TDEN:
            dens = self.policy.time_denominators
            return tc.num_id[4 if 4 in dens else dens[0]]
        if ph in (PITCH, PITCH2):
            return int(tc.pitch_ids[self.last_pitch]) if self.event_class == C.CHORD else v.id("pitch:C4")
        if ph == DUR:
            if self.event_class == C.GRACE:
                return tc.dur_id[3]
            if self.event_class in (C.REST, C.SPACE) and self._measure_rest_ok():
                return tc.dur_id[C.MEASURE_DUR]
            return tc.dur_id[int(np.flatnonzero(self._valid_table().any(axis=1))[0])]
        if ph == TUPA:
            return next(tc.num_id[a] for a in self.fills.actuals if self._actual_ok(a))
        if ph == TUPN:
            return next(
                tc.num_id[n] for (a, n) in self.fills.ratios if a == self.tup_a and self._ratio_fits(a, n)
            )
        if ph == BODY:
            return self._plan_body()
        raise AssertionError("a finished sequence has no plan")

    def _plan_body(self) -> int:
        v = self.vocab
        _, end_ok = self._dots_state()
        if not end_ok:
            return v.id("dot")
        if self.tup is not None:
            if self.tup_events and (self.short_ok() or self.fills.fillable(self.ticks_left)):
                return v.id("tuplet-end")
            return v.id("rest")
        if self.events == 0:
            return v.id("rest")
        if self.ticks_left > 0 and not self.short_ok():
            return v.id("rest") if self._event_fits(C.REST) else v.id("tuplet")
        if self.measure == 1:
            return v.id("bar")
        for c, tok in ((C.STAFF, "staff"), (C.PART, "part"), (C.BAR, "bar")):
            if self._layout_allows(c):
                return v.id(tok)
        raise AssertionError("no way to close the voice")  # pragma: no cover

    def min_to_finish(self) -> int:
        """Fewest tokens (including ``<eos>``) that complete the sequence from here (0 when done).

        Computed by following the completion plan on a copy; exact for that plan and an upper
        bound on the true minimum.
        """
        if self.phase == DONE:
            return 0
        n = self.copy()._run_plan()
        self.finish_known = (n, self.pos)
        return n

    def min_to_finish_bound(self, growth: int) -> int:
        """An upper bound on ``min_to_finish`` without running the plan, assuming no token grows
        the plan by more than ``growth`` tokens (see ``GrammarLogitsProcessor.closing_slack``).

        It is the last exact value plus ``growth`` per token stepped since (exact when nothing was
        stepped since); a state never measured gets the exact value.
        """
        if self.phase == DONE:
            return 0
        if self.finish_known is None:
            return self.min_to_finish()
        n, pos = self.finish_known
        return n + growth * (self.pos - pos)

    def _run_plan(self) -> int:
        """Follow the plan on this (throw-away) state and count its tokens."""
        self.violations = []
        n = 0
        while self.phase != DONE:
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
        if self.phase != BODY or self.tup is not None or self.events == 0:
            return None
        if not self._dots_state()[1] or (self.ticks_left > 0 and not self.short_ok()):
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
        Pitches, accidentals, clefs and keys do not change the plan's length, so one of each class
        stands for all.
        """
        m = self.allowed_mask()
        if self.phase == DONE:
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


_INTERCHANGEABLE = frozenset({C.PITCH, C.ACC, C.CLEF, C.KEY})
