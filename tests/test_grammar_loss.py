import numpy as np
import torch

from grammar.human import from_human
from grammar.loss import grammar_targets, measure_consistency_loss
from grammar.vocab import VOCAB
from tests.grammar_walks import random_walk

SONG = from_human(
    "<part> <staff> <clef:G2> <key:C-major> <time:3/4> <voice> <note:C4-quarter> <bar> "  # pickup
    "<part> <staff> <voice> <note:C4-quarter.> <chord:E4> <grace:D4-eighth> <note:D4-eighth> "
    "<tuplet:3/2> <note:E4-eighth> <rest:eighth> <note:F4-eighth> <tuplet-end> <voice> <rest:measure> <bar>"
)


def batch(seqs):
    rows = [VOCAB.encode(s, eos=True) for s in seqs]
    T = max(map(len, rows))
    labels = torch.full((len(rows), T), -100)
    for i, r in enumerate(rows):
        labels[i, : len(r)] = torch.tensor(r)
    return labels


def one_hot_logits(labels):
    B, T = labels.shape
    logits = torch.full((B, T, len(VOCAB)), -1e9)
    idx = labels.clamp(min=0)
    logits.scatter_(2, idx[..., None], 0.0)
    return logits


def test_targets_follow_voices_tuplets_and_pickup():
    tg = grammar_targets(VOCAB.encode(SONG, eos=True))
    q = 80640
    # groups: measure 1 voice 1 (pickup, 1 quarter), measure 2 voice 1 (3 quarters), voice 2 (measure rest)
    assert tg.group_target.tolist() == [q, 3 * q, 3 * q]
    assert tg.ev_dots.tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert tg.ev_num.tolist()[3:6] == [2, 2, 2] and tg.ev_den.tolist()[3:6] == [3, 3, 3]
    assert len(tg.allowed) == len(SONG) + 1


def test_zero_on_one_hot_ground_truth_and_finite_gradients():
    rng = np.random.default_rng(0)
    seqs = [SONG] + [random_walk(rng, 120)[:-1] for _ in range(3)]
    labels = batch(seqs)
    out = measure_consistency_loss(one_hot_logits(labels), labels)
    assert out["loss_measure"].item() == 0.0 and out["loss_forbidden"].item() == 0.0
    logits = torch.randn(*labels.shape, len(VOCAB), requires_grad=True)
    out = measure_consistency_loss(logits, labels)
    assert out["loss_measure"].item() > 0 and 0 < out["loss_forbidden"].item() < 1
    (out["loss_measure"] + out["loss_forbidden"]).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_measure_loss_sees_a_wrong_duration():
    labels = batch([SONG])
    logits = one_hot_logits(labels)
    pos = SONG.index("dur:quarter")  # the pickup's quarter predicted as a half
    logits[0, pos] = -1e9
    logits[0, pos, VOCAB.id("dur:half")] = 0.0
    out = measure_consistency_loss(logits, labels)
    assert abs(out["loss_measure"].item() - 1.0 / 3) < 1e-6  # (2 - 1 quarters)^2 over 3 groups
    assert out["loss_forbidden"].item() == 0.0
