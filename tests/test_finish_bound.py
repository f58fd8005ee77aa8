"""The incremental ``min_to_finish`` bound that lets the logits processor skip the completion plan."""

from __future__ import annotations

import numpy as np
import torch

from grammar.automaton import ScoreAutomaton
from grammar.logits import GrammarLogitsProcessor
from grammar.vocab import VOCAB
from tests.grammar_walks import random_walk


def test_bound_is_exact_after_a_measurement_and_an_upper_bound_after() -> None:
    rng = np.random.default_rng(3)
    for _ in range(10):
        auto = ScoreAutomaton()
        for i, t in enumerate(random_walk(rng, 80)):
            if i % 7 == 0:
                exact = auto.min_to_finish()
                assert auto.min_to_finish_bound(160) == exact
            auto.step(t)
            assert auto.min_to_finish_bound(160) >= auto.copy().min_to_finish()


def test_processor_skips_the_plan_far_from_max_length(monkeypatch) -> None:
    """With max_length far away the plan runs about once per closing_slack / growth tokens."""
    rng = np.random.default_rng(0)
    seq = random_walk(rng, 200)[:60]
    ids = torch.tensor([[VOCAB.bos_id, *VOCAB.encode(seq)]])  # (1, 61)
    calls = {"n": 0}
    real = ScoreAutomaton.min_to_finish

    def counting(self: ScoreAutomaton) -> int:
        calls["n"] += 1
        return real(self)

    monkeypatch.setattr(ScoreAutomaton, "min_to_finish", counting)
    proc = GrammarLogitsProcessor(max_length=100_000)
    scores = torch.zeros(1, len(VOCAB))
    for cur in range(1, ids.shape[1] + 1):
        out = proc(ids[:, :cur], scores)
        if cur < ids.shape[1]:
            assert out[0, ids[0, cur]] == 0  # the walk's next token stays allowed
    assert calls["n"] == 1  # (100_000 - 60) / 160 steps of bound before the plan must run again
