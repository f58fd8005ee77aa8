"""grammar: the omrformer score language, its automaton, validation and the MusicXML codec.

Importing this package never imports torch: ``GrammarLogitsProcessor`` and
``measure_consistency_loss`` load lazily on first access.
"""

from __future__ import annotations

from typing import Any

from grammar.automaton import GrammarError, ScoreAutomaton
from grammar.excerpt import excerpt, split_measures
from grammar.policy import Policy
from grammar.staff_extract import extract_all_staves, extract_staff, score_layout
from grammar.validate import Violation, validate

__all__ = [
    "GrammarError",
    "GrammarLogitsProcessor",
    "Policy",
    "ScoreAutomaton",
    "Violation",
    "excerpt",
    "extract_all_staves",
    "extract_staff",
    "measure_consistency_loss",
    "score_layout",
    "split_measures",
    "validate",
]

_LAZY = {"GrammarLogitsProcessor": "grammar.logits", "measure_consistency_loss": "grammar.loss"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'grammar' has no attribute {name!r}")
