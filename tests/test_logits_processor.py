import numpy as np
import pytest
import torch
from transformers import BartConfig, BartForConditionalGeneration, LogitsProcessorList

from grammar import GrammarError, validate
from grammar.logits import GrammarLogitsProcessor
from grammar.vocab import VOCAB


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = BartConfig(
        vocab_size=len(VOCAB),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=256,
        pad_token_id=VOCAB.pad_id,
        bos_token_id=VOCAB.bos_id,
        eos_token_id=VOCAB.eos_id,
        decoder_start_token_id=VOCAB.bos_id,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
    )
    return BartForConditionalGeneration(cfg).eval()


def generate(model, seed, max_length, **kw):
    torch.manual_seed(seed)
    src = torch.randint(3, len(VOCAB), (2, 8))
    proc = GrammarLogitsProcessor(max_length=max_length)
    with torch.no_grad():
        out = model.generate(
            input_ids=src,
            max_length=max_length,
            logits_processor=LogitsProcessorList([proc]),
            renormalize_logits=True,
            **kw,
        )
    return out


def check_rows(out):
    for row in out.tolist():
        toks = VOCAB.decode(row[1:], strip_special=False)
        assert "<eos>" in toks, toks
        seq = toks[: toks.index("<eos>") + 1]
        assert validate(seq) == [], (seq, validate(seq))


MODES = {
    "greedy": dict(do_sample=False, num_beams=1),
    "sample": dict(do_sample=True, num_beams=1, top_k=0, temperature=2.0),
    "beam4": dict(do_sample=False, num_beams=4, num_return_sequences=2),
}


@pytest.mark.parametrize("mode", MODES)
def test_outputs_validate(model, mode):
    check_rows(generate(model, 0, 60, **MODES[mode]))


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(1, 21))
def test_outputs_validate_many_seeds(model, mode, seed):
    check_rows(generate(model, seed, int(np.random.default_rng(seed).integers(30, 120)), **MODES[mode]))


def test_finished_and_broken_rows():
    proc = GrammarLogitsProcessor(max_length=40)
    bos, eos, pad = VOCAB.bos_id, VOCAB.eos_id, VOCAB.pad_id
    ok = [bos, *VOCAB.encode("part staff clef:G2 key:0 time:C voice rest dur:measure bar".split()), eos, pad]
    broken = [bos, VOCAB.id("bar")] + [pad] * (len(ok) - 2)
    scores = torch.zeros(2, len(VOCAB))
    out = proc(torch.tensor([ok, broken]), scores)
    allowed = [set(np.flatnonzero(np.isfinite(r.numpy()))) for r in out]
    assert allowed[0] == {pad, eos} and allowed[1] == {eos}


def test_too_short_max_length_raises():
    proc = GrammarLogitsProcessor(max_length=5)
    with pytest.raises(GrammarError, match="max_length 5"):
        proc(torch.tensor([[VOCAB.bos_id]]), torch.zeros(1, len(VOCAB)))
