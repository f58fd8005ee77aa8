"""Grammar in the model: constrained generation from random weights is always valid; grammar losses."""

from __future__ import annotations

import pytest
import torch

from grammar.human import from_human
from grammar.logits import GrammarLogitsProcessor
from grammar.musicxml import validate_xsd, write_score
from grammar.validate import validate
from grammar.vocab import VOCAB
from omrformer.configuration import OmrformerConfig
from omrformer.modeling.model import OmrformerModel

MAX_LENGTH = 96


def _generate(seed: int, beams: int, sample: bool = False) -> list[list[int]]:
    torch.manual_seed(seed)
    model = OmrformerModel(OmrformerConfig.from_preset("tiny")).eval()
    pixels = torch.rand(2, 1, 48, 96, generator=torch.Generator().manual_seed(seed))
    proc = GrammarLogitsProcessor(vocab=VOCAB, max_length=MAX_LENGTH)
    with torch.no_grad():
        out = model.generate(
            pixel_values=pixels,
            logits_processor=[proc],
            max_length=MAX_LENGTH,
            num_beams=beams,
            do_sample=sample,
            renormalize_logits=True,
        )
    return out.tolist()


def _check(rows: list[list[int]]) -> None:
    for row in rows:
        assert VOCAB.eos_id in row, "generation must finish before max_length"
        tokens = VOCAB.decode(row)
        assert validate(tokens) == [], tokens
        errors = validate_xsd(write_score(tokens))
        assert errors == [], errors[:3]


@pytest.mark.parametrize("seed", range(12))
def test_greedy_from_random_weights_is_valid_musicxml(seed):
    _check(_generate(seed, beams=1))


@pytest.mark.parametrize("seed", range(6))
def test_beam_from_random_weights_is_valid_musicxml(seed):
    _check(_generate(100 + seed, beams=3))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(50))
def test_many_seeds_greedy_beam_and_sampling(seed):
    _check(_generate(1000 + seed, beams=1))
    _check(_generate(2000 + seed, beams=4))
    _check(_generate(3000 + seed, beams=1, sample=True))


def _labels() -> torch.Tensor:
    text = (
        "<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:F#5-quarter> <rest:eighth> "
        "<note:A5-eighth> <note:D5-quarter> <bar>"
    )
    ids = VOCAB.encode(from_human(text), eos=True)
    return torch.tensor([ids, ids])


def test_grammar_losses_are_logged_but_not_trained_by_default():
    model = OmrformerModel(OmrformerConfig.from_preset("tiny"))
    out = model(pixel_values=torch.rand(2, 1, 48, 96), labels=_labels())
    assert out.loss_measure is not None and out.loss_forbidden is not None
    assert out.loss_measure.item() > 0 and 0 < out.loss_forbidden.item() < 1
    assert not out.loss_measure.requires_grad  # weight 0: computed without a graph
    assert out.loss.item() == pytest.approx(out.loss_ce.item())


def test_grammar_loss_weights_enter_the_total_and_the_gradient():
    cfg = OmrformerConfig.from_preset(
        "tiny", measure_loss_weight=0.5, forbidden_loss_weight=2.0, input_corruption=0.0
    )
    model = OmrformerModel(cfg)
    out = model(pixel_values=torch.rand(2, 1, 48, 96), labels=_labels())
    expected = out.loss_ce + 0.5 * out.loss_measure + 2.0 * out.loss_forbidden
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.loss_forbidden.requires_grad
