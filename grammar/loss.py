"""Training-time grammar losses: measure consistency and probability mass on forbidden tokens.

Under teacher forcing the decoder predicts every position from the ground-truth prefix, so the
automaton run over the ground truth tells, per position, which tokens are grammatical and where
the durations of each voice and measure are. From that:

- ``loss_measure``: at each ground-truth duration position, the expected length under the
  predicted distribution (duration tokens renormalised among themselves, times the expected dot
  factor from the following positions' probability of ``dot``, times the tuplet ratio), summed per
  measure and voice, against the ground-truth total of that voice (= the measure length for full
  voices; the pickup or short last measure for the others), squared, in quarters.
- ``loss_forbidden``: the predicted probability of tokens the automaton forbids, averaged over
  positions.

Both are exactly 0 for a one-hot prediction of the ground truth. They are added with a small weight
after warm-up, if at all: in a toy experiment they improved the grammar metrics by a few percent but
not accuracy, and slowed learning (a measure-sum error only shows at the barline, after the real
mistake, and opposite duration errors cancel in the expected sum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from grammar import classes as C
from grammar.automaton import DUR, GrammarError, ScoreAutomaton
from grammar.durations import TICKS_PER_QUARTER
from grammar.fill import PLAIN
from grammar.policy import Policy
from grammar.vocab import VOCAB, Vocabulary

IGNORE = -100
_BASE = np.append(PLAIN[:, 0], 0).astype(
    np.float64
)  # (10,) undotted ticks per dur token; measure set per event


@dataclass
class GrammarTargets:
    """What the losses need from one ground-truth sequence (positions index the label row).

    Attributes:
        allowed: (n, V) bool, tokens the automaton allows at positions 0..n-1 (n stops at the
            first invalid ground-truth token, if any).
        ev_pos: (E,) positions of the timed duration tokens (notes, rests, spaces).
        ev_dots: (E,) ground-truth dots after each.
        ev_num, ev_den: (E,) tuplet ratio NORMAL / ACTUAL (1/1 outside tuplets).
        ev_mlen: (E,) measure length in ticks (for ``dur:measure``).
        ev_group: (E,) index of the (measure, staff, voice) the event belongs to.
        group_target: (G,) ground-truth ticks of each group.
    """

    allowed: np.ndarray
    ev_pos: np.ndarray
    ev_dots: np.ndarray
    ev_num: np.ndarray
    ev_den: np.ndarray
    ev_mlen: np.ndarray
    ev_group: np.ndarray
    group_target: np.ndarray


def grammar_targets(
    labels: list[int], vocab: Vocabulary = VOCAB, policy: Policy | None = None
) -> GrammarTargets:
    """Run the automaton over one label row (no -100) and collect the loss targets."""
    auto = ScoreAutomaton(policy, vocab)
    tc = auto.classes
    allowed: list[np.ndarray] = []
    events: list[tuple[int, int, int, int, int, int]] = []  # pos, dots, num, den, mlen, group
    groups: dict[tuple[int, int, int], int] = {}
    targets: list[float] = []
    for pos, tid in enumerate(labels):
        allowed.append(auto.allowed_mask())
        is_timed = auto.phase == DUR and auto.event.kind in (C.NOTE, C.REST, C.SPACE) and tc.cls[tid] == C.DUR
        if is_timed:
            key = (auto.measure, auto.staff_index, auto.voice)
            g = groups.setdefault(key, len(groups))
            if g == len(targets):
                targets.append(0.0)
            a, n = auto.current.tup if auto.current.tup is not None else (1, 1)
            x = int(tc.arg[tid])
            dots = 0
            while pos + 1 + dots < len(labels) and tc.cls[labels[pos + 1 + dots]] == C.DOT and dots < 3:
                dots += 1
            mlen = auto.attrs.ticks
            ticks = mlen if x == C.MEASURE_DUR else PLAIN[x, dots] * n / a
            targets[g] += float(ticks)
            events.append((pos, dots, n, a, mlen, g))
        try:
            auto.step(int(tid))
        except GrammarError:
            allowed.pop()  # the ground truth itself breaks the grammar here: no targets from now on
            if is_timed:
                events.pop()
            break
    ev = np.array(events, dtype=np.int64).reshape(-1, 6)
    return GrammarTargets(
        allowed=np.stack(allowed) if allowed else np.zeros((0, len(vocab)), dtype=bool),
        ev_pos=ev[:, 0],
        ev_dots=ev[:, 1],
        ev_num=ev[:, 2],
        ev_den=ev[:, 3],
        ev_mlen=ev[:, 4],
        ev_group=ev[:, 5],
        group_target=np.array(targets, dtype=np.float64),
    )


def measure_consistency_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    vocab: Vocabulary = VOCAB,
    policy: Policy | None = None,
    targets: list[GrammarTargets] | None = None,
) -> dict[str, torch.Tensor]:
    """Grammar losses for a teacher-forced batch.

    Args:
        logits: (B, T, V) decoder outputs; position t predicts ``labels[:, t]``.
        labels: (B, T) ground-truth ids, -100 where padded.
        vocab: the vocabulary of the ids.
        policy: grammar rules; default ``Policy()``.
        targets: per-row ``grammar_targets`` computed ahead (e.g. in the data loader); computed
            here when None.

    Returns:
        ``{"loss_measure": scalar, "loss_forbidden": scalar}``, both 0 for a one-hot ground truth.
    """
    B, T, V = logits.shape
    tc = C.token_classes(vocab)
    if targets is None:
        rows = labels.detach().cpu().numpy()
        targets = [grammar_targets([int(t) for t in row if t != IGNORE], vocab, policy) for row in rows]
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)

    # ---- forbidden mass: positions where the automaton gave a mask
    allowed = torch.ones(B, T, V, dtype=torch.bool)
    counted = torch.zeros(B, T, dtype=torch.bool)
    for b, tg in enumerate(targets):
        n = min(len(tg.allowed), T)
        allowed[b, :n] = torch.from_numpy(tg.allowed[:n])
        counted[b, :n] = True
    allowed, counted = allowed.to(logits.device), counted.to(logits.device)
    forbidden = (logp.exp() * (~allowed)).sum(-1)  # (B, T)
    loss_forbidden = (forbidden * counted).sum() / counted.sum().clamp(min=1)

    # ---- expected duration per (measure, staff, voice)
    dur_ids = torch.tensor([tc.dur_id[x] for x in range(C.MEASURE_DUR + 1)], device=logits.device)
    dot_id = vocab.id("dot")
    sums, goals = [], []
    for b, tg in enumerate(targets):
        keep = tg.ev_pos < T
        if not keep.any():
            continue
        pos = torch.from_numpy(tg.ev_pos[keep]).to(logits.device)
        p_dur = torch.softmax(logits[b, pos][:, dur_ids].double(), dim=-1)  # (E, 10)
        base = torch.from_numpy(np.tile(_BASE, (len(pos), 1))).to(logits.device)  # (E, 10)
        base[:, C.MEASURE_DUR] = torch.from_numpy(tg.ev_mlen[keep].astype(np.float64)).to(logits.device)
        e_base = (p_dur * base).sum(-1)  # (E,)
        # Dot j is predicted at pos + j, observed only while the ground truth still has dots.
        mult = torch.ones_like(e_base)
        run = torch.ones_like(e_base)
        dots = torch.from_numpy(tg.ev_dots[keep]).to(logits.device)
        for j in range(1, 4):
            at = pos + j
            seen = (dots >= j - 1) & (at < T)
            q = logp[b, at.clamp(max=T - 1), dot_id].double().exp() * seen
            run = run * q
            mult = mult + run / 2**j
        num = torch.from_numpy(tg.ev_num[keep].astype(np.float64)).to(logits.device)
        den = torch.from_numpy(tg.ev_den[keep].astype(np.float64)).to(logits.device)
        expected = e_base * mult * num / den  # (E,) in ticks; this order keeps one-hot results exact
        group = torch.from_numpy(tg.ev_group[keep]).to(logits.device)
        n_groups = int(group.max()) + 1
        sums.append(
            torch.zeros(n_groups, dtype=torch.float64, device=logits.device).index_add(0, group, expected)
        )
        goals.append(torch.from_numpy(tg.group_target[:n_groups]).to(logits.device))
    if sums:
        err = (torch.cat(sums) - torch.cat(goals)) / TICKS_PER_QUARTER
        loss_measure = (err**2).mean().to(logits.dtype)
    else:
        loss_measure = logits.sum() * 0.0
    return {"loss_measure": loss_measure, "loss_forbidden": loss_forbidden.to(logits.dtype)}
