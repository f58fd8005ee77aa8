"""The automaton's memos (masks and plan lengths per voice or staff-header state) change nothing.

``ScoreAutomaton`` memoises ``allowed_mask``, ``min_to_finish`` and ``allowed_mask_within`` on a
signature of the state (grammar/automaton.py, ``_plan_signature`` and ``_mask_key``). A rule that
reads a field the signature leaves out would make two different states share an answer; these
tests compare every memoised answer with the one computed from scratch, at every state of many
random walks, after the memo has been warmed by other walks (so answers are really reused).
"""

from __future__ import annotations

import numpy as np
import pytest

from grammar.automaton import ScoreAutomaton
from grammar.policy import PRESETS
from grammar.rules import PHASE_RULES
from tests.grammar_walks import random_walk


def _compare_along(seq: list[str], policy, rng: np.random.Generator) -> int:
    auto = ScoreAutomaton(policy)
    compared = 0
    for t in seq:
        fresh = PHASE_RULES[auto.phase].mask(auto)
        assert (auto.allowed_mask() == fresh).all(), (auto.where(), t)
        plan = auto.copy()._run_plan(memo=False)
        assert auto.min_to_finish() == plan, (auto.where(), t)
        for budget in {plan, plan + 1, plan + int(rng.integers(2, 40))}:
            expected = auto._within_by_plan(fresh, budget, None, 0, memo=False)
            assert (auto.allowed_mask_within(budget) == expected).all(), (auto.where(), t, budget)
        compared += 1
        auto.step(t)
    return compared


@pytest.mark.parametrize("preset", ["default", "strict"])
def test_memoised_masks_and_plans_equal_the_computed_ones(preset):
    policy = PRESETS[preset]
    rng = np.random.default_rng(7)
    walks = [random_walk(rng, int(rng.integers(20, 160)), policy) for _ in range(12)]
    compared = sum(_compare_along(seq, policy, rng) for seq in walks)
    assert compared > 500


def test_memo_is_reused_across_sequences():
    rng = np.random.default_rng(3)
    seq = random_walk(rng, 120)
    auto = ScoreAutomaton()
    for t in seq:
        auto.allowed_mask_within(auto.min_to_finish() + 5)
        auto.step(t)
    memo = auto.fills.cache[("within", auto.classes)]
    assert isinstance(memo, dict) and memo
    before = len(memo)
    auto = ScoreAutomaton()
    for t in seq:  # the same states again: no new entries
        auto.allowed_mask_within(auto.min_to_finish() + 5)
        auto.step(t)
    assert len(memo) == before
