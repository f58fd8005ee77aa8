"""Shared helpers for the grammar tests: random walks through the automaton."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grammar.automaton import BODY, ScoreAutomaton
from grammar.policy import Policy
from grammar.vocab import VOCAB

CLOSING_SLACK = 160  # the logits processor's default; larger than any one-token jump of the plan


def random_walk(rng: np.random.Generator, max_len: int, policy: Policy | None = None,
                restrict: Callable[[ScoreAutomaton, np.ndarray], np.ndarray] | None = None) -> list[str]:
    """A random sequence the automaton accepts, ending with <eos> within ``max_len`` tokens.

    ``restrict(automaton, mask) -> mask`` may narrow each step's choices (never to nothing).
    """
    auto = ScoreAutomaton(policy)
    out: list[str] = []
    while not auto.is_complete:
        budget = max_len - len(out)
        if budget - auto.min_to_finish() < CLOSING_SLACK:
            mask = auto.allowed_mask_within(budget)
        else:
            mask = auto.allowed_mask()
        if restrict is not None:
            mask = restrict(auto, mask)
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
    clef_ids = np.array([i for i, t in enumerate(VOCAB.tokens) if t.startswith("clef:")])

    def restrict(auto: ScoreAutomaton, mask: np.ndarray) -> np.ndarray:
        mask[auto.vocab.bos_id] = False
        if auto.phase == BODY and (auto.current.events == 0 or auto.voice > 0):
            keep = mask.copy()
            keep[clef_ids] = False
            if keep.any():
                mask = keep
        return mask

    return random_walk(rng, max_len, policy, restrict)
