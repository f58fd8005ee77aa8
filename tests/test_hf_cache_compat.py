"""The KV cache under the name the installed transformers uses (``cache`` from 5.23, else
``past_key_values``): generation uses it, warns about nothing, and the old name still works."""

from __future__ import annotations

import logging
import warnings

import pytest
import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from grammar.vocab import VOCAB
from omrformer.configuration import OmrformerConfig
from omrformer.modeling.hf_compat import GENERATION_CACHE_NAME, LEGACY_CACHE_NAME
from omrformer.modeling.model import OmrformerModel


def _model() -> OmrformerModel:
    torch.manual_seed(0)
    return OmrformerModel(OmrformerConfig.from_preset("tiny")).eval()


def _pixels() -> torch.Tensor:
    return torch.rand(1, 1, 48, 96, generator=torch.Generator().manual_seed(0))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_generate_uses_the_cache_and_warns_about_no_deprecated_name():
    model = _model()
    handler = _Records()
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    # transformers warns once per process; forget earlier warnings so this test sees its own.
    logging.Logger.warning_once.cache_clear()  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            out = model.generate(pixel_values=_pixels(), max_new_tokens=8, do_sample=False,
                                 return_dict_in_generate=True)
    finally:
        hf_logger.removeHandler(handler)
    assert not [m for m in handler.messages if "deprecated" in m], handler.messages
    cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
    assert cache is not None and cache.get_seq_length() == out.sequences.shape[1] - 1


def test_forward_returns_the_cache_under_the_installed_name():
    model = _model()
    enc = model.encode(_pixels())
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    out = model(encoder_outputs=enc, decoder_input_ids=torch.tensor([[VOCAB.bos_id]]), cache=cache, use_cache=True)
    assert out.cache is cache
    assert GENERATION_CACHE_NAME in out  # the key GenerationMixin looks up
    assert cache.get_seq_length() == 1


def test_the_legacy_name_still_works():
    model = _model()
    enc = model.encode(_pixels())
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    ids = torch.tensor([[VOCAB.bos_id]])
    if GENERATION_CACHE_NAME == LEGACY_CACHE_NAME:
        out = model(encoder_outputs=enc, decoder_input_ids=ids, past_key_values=cache, use_cache=True)
    else:
        with pytest.warns(FutureWarning, match="pass `cache`"):
            out = model(encoder_outputs=enc, decoder_input_ids=ids, past_key_values=cache, use_cache=True)
    assert out.cache is cache and cache.get_seq_length() == 1
    with pytest.raises(ValueError, match="not both"):
        model(encoder_outputs=enc, decoder_input_ids=ids, past_key_values=cache, cache=cache, use_cache=True)
