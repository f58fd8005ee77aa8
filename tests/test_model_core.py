"""Tiny-config checks of the encoder-decoder: shapes, masks, gradients, losses, cache, generation."""

from __future__ import annotations

import pytest
import torch

from grammar.vocab import VOCAB
from omrformer.configuration import OmrformerConfig
from omrformer.modeling.model import OmrformerModel
from omrformer.modeling.positional import grid_coords


def _model(**overrides) -> OmrformerModel:
    torch.manual_seed(0)
    return OmrformerModel(OmrformerConfig.from_preset("tiny", **overrides))


def _labels(b: int = 2, t: int = 10, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(3, len(VOCAB), (b, t), generator=g)
    labels[:, -1] = VOCAB.eos_id
    labels[1, -3:] = -100  # a shorter second sequence
    labels[1, -4] = VOCAB.eos_id
    return labels


def _pixels(b: int = 2, h: int = 48, w: int = 96, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 1, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("factor, tokens", [(1, 6 * 12), (4, 3 * 6), (16, 2 * 3)])
def test_vision_tokens_per_compression_factor(factor, tokens):
    model = _model(compress_factor=factor).eval()
    out = model.encode(_pixels())
    assert out.last_hidden_state.shape == (2, tokens, model.config.d_model)
    assert out.memory_mask.shape == (2, tokens) and out.memory_mask.all()
    assert out.memory_positions.shape == (2, tokens, 2)


def test_forward_shapes_and_named_losses():
    model = _model()
    out = model(pixel_values=_pixels(), labels=_labels())
    assert out.logits.shape == (2, 10, len(VOCAB))
    assert out.loss_ce is not None and torch.isfinite(out.loss_ce)
    assert out.loss_moe is None  # dense default
    # Near-uniform predictions at initialisation: cross-entropy close to log(V).
    assert abs(out.loss_ce.item() - torch.log(torch.tensor(float(len(VOCAB)))).item()) < 0.5


def test_gradients_reach_every_parameter():
    model = _model(num_experts=2, moe_top_k=1, positional="staff").train()
    coords = grid_coords(2, 6, 12)
    coords[0, :3, :, 0] = 0  # staves in the first image, so the staff embedding is used
    coords[0, 3:, :, 0] = 1
    out = model(pixel_values=_pixels(), patch_coords=coords, labels=_labels())
    out.loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # Only embedding rows of unused staff indices / tokens could be zero; whole tensors must not be.
    assert missing == []


def test_padding_does_not_change_an_images_encoding():
    model = _model().eval()
    small = _pixels(1, 48, 96)
    big = torch.zeros(1, 1, 64, 160)
    big[..., :48, :96] = small
    mask = torch.zeros(1, 64, 160, dtype=torch.bool)
    mask[:, :48, :96] = True
    ids = torch.tensor([[VOCAB.bos_id, 10, 20, 30]])
    with torch.no_grad():
        a = model(pixel_values=small, decoder_input_ids=ids).logits
        b = model(pixel_values=big, pixel_mask=mask, decoder_input_ids=ids).logits
    # Windows and compressed tokens are aligned to the top-left, so masked padding is invisible.
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_ignored_and_pad_labels_do_not_count():
    model = _model(input_corruption=0.0).eval()
    labels = _labels()
    out = model(pixel_values=_pixels(), labels=labels)
    changed = labels.clone()
    changed[1, -3:] = VOCAB.pad_id  # pad is ignored like -100
    assert model(pixel_values=_pixels(), labels=changed).loss_ce.item() == pytest.approx(out.loss_ce.item())


def test_input_corruption_rate_and_specials():
    model = _model(input_corruption=0.2).train()
    torch.manual_seed(1)
    ids = torch.randint(3, len(VOCAB), (64, 64))
    ids[:, 0] = VOCAB.bos_id
    corrupted = model.corrupt(ids)
    assert (corrupted[:, 0] == VOCAB.bos_id).all()
    rate = (corrupted[:, 1:] != ids[:, 1:]).float().mean().item()
    assert 0.15 < rate < 0.22  # 0.2 minus replacements that drew the same token
    assert (corrupted[:, 1:] >= 3).all()  # never a special token
    assert torch.equal(_model(input_corruption=0.0).corrupt(ids), ids)


def test_moe_balance_loss_is_one_when_balanced_and_higher_when_collapsed():
    from omrformer.modeling.moe import MoEFeedForward

    moe = MoEFeedForward(8, 16, num_experts=4, top_k=1)
    with torch.no_grad():
        moe.router.weight.zero_()  # uniform router probabilities
    torch.manual_seed(0)
    y, loss = moe(torch.randn(2, 50, 8))
    assert y.shape == (2, 50, 8)
    # Uniform probabilities: E * sum_e f_e * 1/E = 1 whatever the (tie-broken) assignment.
    assert loss.item() == pytest.approx(1.0, abs=1e-5)
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[0, 0] = 50.0  # every token with x0 > 0 goes to expert 0 with p ~ 1
    x = torch.randn(2, 50, 8).abs()
    _, collapsed = moe(x)
    assert collapsed.item() > 3.5  # ~E when everything collapses on one expert


def test_moe_model_reports_its_loss():
    out = _model(num_experts=4, moe_top_k=2)(pixel_values=_pixels(), labels=_labels())
    assert out.loss_moe is not None and out.loss_moe.item() >= 1.0 - 1e-4
    assert out.loss.item() == pytest.approx(out.loss_ce.item() + 0.01 * out.loss_moe.item(), rel=1e-5)


def test_kv_cache_gives_the_same_logits_as_a_full_pass():
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    model = _model().eval()
    memory = model.encode(_pixels())
    ids = torch.tensor([[VOCAB.bos_id, 5, 9, 40, 41], [VOCAB.bos_id, 7, 7, 8, 100]])
    with torch.no_grad():
        full, _ = model.decode(memory, ids)
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        first, _ = model.decode(memory, ids[:, :2], cache)  # a two-token prefix, then one at a time
        steps = [first] + [model.decode(memory, ids[:, i : i + 1], cache)[0] for i in range(2, 5)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("positional", ["staff", "2d", "none"])
def test_positional_modes_build_and_run(positional):
    model = _model(positional=positional).eval()
    with torch.no_grad():
        out = model(pixel_values=_pixels(), decoder_input_ids=torch.tensor([[VOCAB.bos_id]] * 2))
    assert out.logits.shape == (2, 1, len(VOCAB))


def test_generate_stops_at_eos_and_pads_finished_rows():
    model = _model().eval()
    # Make <eos> the most likely token at every step: constant final hidden state, head scoring only eos.
    with torch.no_grad():
        model.decoder.norm.weight.zero_()
        model.decoder.norm.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[VOCAB.eos_id, :] = 1.0
    ids = model.generate(pixel_values=_pixels(), max_new_tokens=20, do_sample=False)
    assert ids.tolist() == [[VOCAB.bos_id, VOCAB.eos_id]] * 2


def test_greedy_with_and_without_cache_and_beam_agree_in_shape():
    model = _model().eval()
    a = model.generate(pixel_values=_pixels(), max_new_tokens=12, do_sample=False)
    b = model.generate(pixel_values=_pixels(), max_new_tokens=12, do_sample=False, use_cache=False)
    assert torch.equal(a, b)
    beams = model.generate(pixel_values=_pixels(), max_new_tokens=12, num_beams=3, do_sample=False)
    assert beams.shape[0] == 2 and beams[:, 0].eq(VOCAB.bos_id).all()


def test_bad_inputs_raise_clear_errors():
    model = _model()
    with pytest.raises(ValueError, match="multiple of the patch size"):
        model(pixel_values=torch.rand(1, 1, 50, 96), decoder_input_ids=torch.tensor([[1]]))
    with pytest.raises(ValueError, match="decoder_input_ids or labels"):
        model(pixel_values=_pixels())
    with pytest.raises(ValueError, match="compress_factor"):
        OmrformerConfig(compress_factor=9)
    with pytest.raises(ValueError, match="unknown preset"):
        OmrformerConfig.from_preset("huge")
