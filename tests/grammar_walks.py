"""Shared helpers for the grammar tests: random walks through the automaton."""

from __future__ import annotations

import numpy as np

from grammar.automaton import BODY, ScoreAutomaton
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


def canonical_walk(rng: np.random.Generator, max_len: int, policy: Policy | None = None) -> list[str]:
    """A random walk restricted to what the MusicXML reader writes canonically.

    Masks choices that are grammatical but have a different canonical spelling: a clef before the
    first event of a voice (the reader puts it in the staff header), a clef in a secondary voice
    (clefs belong to the staff in MusicXML: the reader puts them in the primary voice), <bos>.
    """
    auto = ScoreAutomaton(policy)
    out: list[str] = []
    clef_ids = np.array([auto.vocab.id(t) for t in auto.vocab.tokens if t.startswith("clef:")])
    while not auto.is_complete:
        budget = max_len - len(out)
        if budget - auto.min_to_finish() < CLOSING_SLACK:
            mask = auto.allowed_mask_within(budget)
        else:
            mask = auto.allowed_mask()
        mask[auto.vocab.bos_id] = False
        if auto.phase == BODY and (auto.events == 0 or auto.voice > 0):
            keep = mask.copy()
            keep[clef_ids] = False
            if keep.any():
                mask = keep
        tid = int(rng.choice(np.flatnonzero(mask)))
        out.append(auto.vocab.tokens[tid])
        auto.step(tid)
    return out
