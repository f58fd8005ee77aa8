"""Report every rule violation of a sequence, with where it is and what a musician would call it.

The automaton runs in lenient mode: a broken rule (overfull voice, wrong layout, ...) is recorded
and the token applied anyway; a token that does not fit the syntax at all is skipped (a run of
such tokens is reported once), so one pass reports every independent problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grammar.automaton import GrammarError, ScoreAutomaton
from grammar.human import from_human
from grammar.policy import Policy
from grammar.vocab import VOCAB, Vocabulary


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    Attributes:
        position: index of the offending token in the sequence given to ``validate``.
        measure: 1-based measure number.
        part: 1-based part number, None before the first part of the measure.
        staff: 1-based staff number within the part, or None.
        voice: 1-based voice number within the staff, or None.
        rule: stable rule name (grammar.policy.RULES).
        message: e.g. "measure 12, part 1, staff 1, voice 1: 7/8 in 3/4 (overfull)".
    """

    position: int
    measure: int | None
    part: int | None
    staff: int | None
    voice: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_error(cls, err: GrammarError, position: int) -> Violation:
        return cls(position, err.measure, err.part, err.staff, err.voice, err.rule, err.message)


def validate(
    tokens: str | Sequence[str] | Sequence[int], policy: Policy | None = None, vocab: Vocabulary = VOCAB
) -> list[Violation]:
    """All violations of ``tokens`` (model tokens, ids, or human text); empty when valid.

    ``<bos>``/``<eos>`` are optional: a sequence without ``<eos>`` is judged as if it ended there.
    """
    seq: Sequence[str | int] = from_human(tokens) if isinstance(tokens, str) else tokens
    auto = ScoreAutomaton(policy, vocab, strict=False)
    out: list[Violation] = []
    last_syntax = -2
    for i, tok in enumerate(seq):
        auto.pos = i
        if isinstance(tok, str) and tok not in vocab:
            out.append(Violation(i, auto.measure, None, None, None, "syntax", f"unknown token {tok!r}"))
            continue
        try:
            auto.step(tok)
        except GrammarError as err:
            if i != last_syntax + 1:
                out.append(Violation.from_error(err, i))
            last_syntax = i
            continue
        out += [Violation.from_error(e, e.position if e.position is not None else i) for e in auto.violations]
        auto.violations.clear()
    auto.pos = len(seq)
    auto.finish()
    out += [Violation.from_error(e, len(seq)) for e in auto.violations]
    return out
