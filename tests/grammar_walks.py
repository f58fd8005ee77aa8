"""Shared helpers for the grammar tests: random walks through the automaton."""

from __future__ import annotations

import numpy as np

from grammar.automaton import ScoreAutomaton
from grammar.policy import Policy

CLOSING_SLACK = 160  # the logits processor's default; larger than any one-token jump of the plan


def random_walk(rng: np.random.Generator, max_len: int, policy: Policy | None = None) -> list[str]:
    """A random sequence the automaton accepts, ending with <eos> within ``max_len`` tokens."""
    auto = ScoreAutomaton(policy)
    out: list[str] = []
    while not auto.is_complete:
        budget = max_len - len(out)
        if budget - auto.min_to_finish() < CLOSING_SLACK:
            mask = auto.allowed_mask_within(budget)
        else:
            mask = auto.allowed_mask()
        tid = int(rng.choice(np.flatnonzero(mask)))
        out.append(auto.vocab.tokens[tid])
        auto.step(tid)
    return out
