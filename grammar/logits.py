"""Grammar-constrained generation: a transformers ``LogitsProcessor`` driven by the score automaton.

transformers 5 hands a processor ``(batch*beams, cur_len)`` ids and no beam indices, and reorders
beams inside ``generate`` without saying so. We therefore key each row's automaton on its exact token
prefix: the states of the previous call are kept in a dict keyed by the prefix bytes, a row
extends its parent's state by one token, and a row whose parent is unknown (new ``generate``
call, beam reshuffle across calls) is rebuilt from its prefix.
"""

from __future__ import annotations

import logging
from typing import Literal, cast

import numpy as np
import torch
from transformers import LogitsProcessor

from grammar.automaton import GrammarError, ScoreAutomaton
from grammar.policy import Policy
from grammar.vocab import VOCAB, Vocabulary

log = logging.getLogger(__name__)

_DEAD = None  # a row whose prefix the grammar rejects (a -inf beam that ran on): only <eos> for it


class GrammarLogitsProcessor(LogitsProcessor):
    """Set the logits of tokens the grammar forbids to -inf, row by row.

    Args:
        vocab: vocabulary of the model's ids.
        policy: grammar rules (grammar/policy.py); default ``Policy()``.
        max_length: the ``max_length`` given to ``generate`` (decoder start token included). When
            set, the mask also keeps every row able to finish with ``<eos>`` by then.
        closing_slack: when fewer than this many spare tokens remain, every candidate is checked
            against the completion plan; it must exceed the largest one-token growth of the plan
            (under 160, see tests/test_automaton.py).

    Position 0 of every row is the decoder start token and is not fed to the automaton (which
    accepts an optional ``<bos>`` anyway). Finished rows may only continue with ``<pad>``/``<eos>``.
    Raises GrammarError when a live row has no allowed token (a bug) or ``max_length`` is too
    short for any complete score.
    """

    def __init__(
        self,
        vocab: Vocabulary = VOCAB,
        policy: Policy | None = None,
        max_length: int | None = None,
        closing_slack: int = 160,
    ) -> None:
        self.vocab = vocab
        self.policy = policy or Policy()
        self.max_length = max_length
        self.closing_slack = closing_slack
        self._states: dict[bytes, ScoreAutomaton | None] = {}
        self._end_mask = np.zeros(len(vocab), dtype=bool)
        self._end_mask[[vocab.pad_id, vocab.eos_id]] = True
        self._dead_mask = np.zeros(len(vocab), dtype=bool)
        self._dead_mask[vocab.eos_id] = True

    def _advance(self, state: ScoreAutomaton | None, tid: int) -> ScoreAutomaton | None:
        if state is _DEAD:
            return _DEAD
        if state.is_complete:
            return state if tid in (self.vocab.pad_id, self.vocab.eos_id) else _DEAD
        try:
            state.step(tid)
        except GrammarError:
            return _DEAD
        return state

    def _rebuild(self, row: np.ndarray) -> ScoreAutomaton | None:
        state: ScoreAutomaton | None = ScoreAutomaton(self.policy, self.vocab)
        for tid in row[1:]:
            state = self._advance(state, int(tid))
        return state

    def row_mask(self, state: ScoreAutomaton | None, cur_len: int) -> np.ndarray:
        """Allowed ids (V,) for one row whose sequence has ``cur_len`` tokens so far."""
        if state is _DEAD:
            return self._dead_mask
        if state.is_complete:
            return self._end_mask
        if self.max_length is None:
            mask = state.allowed_mask()
        else:
            budget = self.max_length - cur_len
            # Far from max_length an upper bound (no plan run) is enough to pick the plain mask;
            # the plan runs only when the bound comes within closing_slack of the budget.
            mtf = state.min_to_finish_bound(self.closing_slack)
            if budget - mtf < self.closing_slack:
                mtf = state.min_to_finish()
            if mtf > budget:
                raise GrammarError(
                    "unterminated",
                    f"max_length {self.max_length} leaves {budget} tokens but this "
                    f"score needs at least {mtf} more to finish (raise max_length)",
                )
            mask = (
                state.allowed_mask_within(budget)
                if budget - mtf < self.closing_slack
                else state.allowed_mask()
            )
        if not mask.any():
            raise GrammarError("syntax", f"{state.where()}: no token is allowed (grammar automaton bug)")
        return mask

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        ids = input_ids.detach().cpu().numpy().astype(np.int64)  # (B, L)
        _, cur_len = ids.shape
        states: dict[bytes, ScoreAutomaton | None] = {}
        masks = np.empty((ids.shape[0], scores.shape[-1]), dtype=bool)  # (B, V)
        for r, row in enumerate(ids):
            key = row.tobytes()
            if key not in states:
                pkey = row[:-1].tobytes()
                parent: ScoreAutomaton | None | Literal[False] = self._states.get(pkey, False) if cur_len > 1 else False
                if parent is False:
                    states[key] = self._rebuild(row)
                elif parent is _DEAD:
                    states[key] = _DEAD
                else:
                    states[key] = self._advance(parent.copy(), int(row[-1]))
            mask = self.row_mask(states[key], cur_len)
            masks[r, : len(mask)] = mask
            masks[r, len(mask) :] = False
        self._states = states
        allowed = torch.from_numpy(masks).to(scores.device)
        # masked_fill keeps the float dtype of scores; torch's stubs only say Tensor.
        return cast(torch.FloatTensor, scores.masked_fill(~allowed, float("-inf")))
