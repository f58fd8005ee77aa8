"""Repair of an unconstrained decode: the longest grammatical prefix, closed by the shortest valid ending.

Used by ``omrformer transcribe`` (``--no-grammar``, and for every staff of a page read staff by
staff) and by baselines whose output is a free token sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grammar.automaton import GrammarError, ScoreAutomaton
from grammar.vocab import BOS, EOS, PAD

_MAX_CLOSING_TOKENS = 4096  # closing a sequence needs at most a measure of rests per voice


class RepairError(RuntimeError):
    """The automaton found no way to close a sequence (a grammar bug: please report it)."""

@dataclass(frozen=True)
class Repair:
    """A repaired body (model tokens without ``<bos>``/``<eos>``) and what changed."""

    tokens: list[str]
    kept: int
    dropped: int
    added: int
    reason: str | None

    @property
    def changed(self) -> bool:
        return bool(self.dropped or self.added)

    def describe(self) -> str:
        return (f"repaired: kept the first {self.kept} tokens, dropped {self.dropped}, "
                f"added {self.added} to close the score ({self.reason})")


def _close(automaton: Any) -> list[str]:
    """The shortest continuation to an accepted end, chosen greedily by ``min_to_finish``."""
    added: list[str] = []
    while EOS not in (allowed := automaton.allowed_tokens()):
        if not allowed or len(added) > _MAX_CLOSING_TOKENS:
            raise RepairError("grammar automaton cannot close the sequence (please report this)")
        costs = []
        for tok in allowed:
            trial = automaton.copy()
            trial.step(tok)
            costs.append(trial.min_to_finish())
        best = allowed[costs.index(min(costs))]
        automaton.step(best)
        added.append(best)
    return added


def repair(tokens: Sequence[str]) -> Repair:
    """Keep the longest grammatical prefix of ``tokens`` and close it with the shortest valid ending.

    ``<bos>``/``<pad>`` are ignored and everything after ``<eos>`` is dropped.
    """
    body = []
    for t in tokens:
        if t == EOS:
            break
        if t not in (BOS, PAD):
            body.append(t)
    automaton = ScoreAutomaton()
    kept: list[str] = []
    reason = None
    for i, tok in enumerate(body):
        try:
            automaton.step(tok)
        except (GrammarError, KeyError) as err:
            reason = f"token {i + 1} {tok!r}: {err}"
            break
        kept.append(tok)
    added = _close(automaton)
    if reason is None and added:
        reason = "the output stopped before the score was complete"
    return Repair(kept + added, len(kept), len(body) - len(kept), len(added), reason)
