"""OmrformerModel: image encoder + token decoder, a transformers ``PreTrainedModel`` that can ``generate``.

Named stages: ``encode(pixel_values, pixel_mask, patch_coords) -> memory``,
``decode(memory, decoder_input_ids, cache) -> logits``; ``forward(labels=...)`` adds named losses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.utils import ModelOutput

from omrformer.configuration import OmrformerConfig
from omrformer.modeling.decoder import OmrformerDecoder
from omrformer.modeling.encoder import EncoderOutput, OmrformerEncoder
from omrformer.modeling.hf_compat import GENERATION_CACHE_NAME, LEGACY_CACHE_NAME, take_cache
from omrformer.modeling.losses import grammar_losses

IGNORE_INDEX = -100  # label value excluded from every loss (HF convention)


@dataclass
class OmrformerOutput(ModelOutput):
    """Model output; the loss fields are set only when ``labels`` are given.

    Attributes:
        loss: Weighted total that training minimises.
        loss_ce: Token cross-entropy.
        loss_moe: Mean per-layer MoE load-balancing loss (MoE configs only).
        loss_measure: Expected measure-duration error (grammar.loss); weighted by the config.
        loss_forbidden: Probability mass on tokens the grammar forbids after the true prefix.
        logits: (B, T, vocab) next-token scores.
        cache: The updated KV cache when ``use_cache``. transformers >= 5.23 reads this field (and
            aliases ``past_key_values`` to it); before 5.23 the same cache is also set under the
            key ``past_key_values``, the name those versions read.
        encoder_last_hidden_state: (B, N, d_model) vision tokens.
    """

    loss: torch.Tensor | None = None
    loss_ce: torch.Tensor | None = None
    loss_moe: torch.Tensor | None = None
    loss_measure: torch.Tensor | None = None
    loss_forbidden: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    cache: Cache | None = None
    encoder_last_hidden_state: torch.Tensor | None = None


class OmrformerPreTrainedModel(PreTrainedModel):
    config: OmrformerConfig  # narrows PreTrainedModel.config for type checkers; transformers reads it too
    config_class = OmrformerConfig
    base_model_prefix = "omrformer"
    main_input_name = "pixel_values"
    _supports_sdpa = True
    # No non-persistent buffers: sin-cos encodings are computed on the fly, so nothing comes back
    # uninitialised from the meta device in from_pretrained.

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class OmrformerModel(OmrformerPreTrainedModel, GenerationMixin):
    """Sheet-music image in, score-language token ids out.

    Example::

        model = OmrformerModel(OmrformerConfig.from_preset("small"))
        batch = processor(images)
        ids = model.generate(**batch, logits_processor=[GrammarLogitsProcessor(vocab=VOCAB)])
    """

    def __init__(self, config: OmrformerConfig) -> None:
        super().__init__(config)
        self.encoder = OmrformerEncoder(config)
        self.decoder = OmrformerDecoder(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_encoder(self, modality: str | None = None) -> OmrformerEncoder:
        return self.encoder

    def encode(
        self,
        pixel_values: torch.Tensor,
        pixel_mask: torch.Tensor | None = None,
        patch_coords: torch.Tensor | None = None,
    ) -> EncoderOutput:
        """Images (B, 1, H, W) -> memory (B, N, d_model) with its mask and token positions."""
        return self.encoder(pixel_values, pixel_mask, patch_coords)

    def decode(
        self, memory: EncoderOutput, decoder_input_ids: torch.Tensor, cache: Cache | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Token ids (B, T) -> logits (B, T, vocab) and the MoE balance loss of each layer."""
        hidden, aux = self.decoder(decoder_input_ids, memory.last_hidden_state, memory.memory_mask, cache)
        return self.lm_head(hidden), aux

    def corrupt(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Replace ``input_corruption`` of the non-special decoder inputs by random musical tokens.

        Teaches the decoder to recover from its own mistakes (SMT); training only.
        """
        rate = self.config.input_corruption
        if rate <= 0:
            return input_ids
        special = torch.tensor(
            [self.config.pad_token_id, self.config.bos_token_id, self.config.eos_token_id],
            device=input_ids.device,
        )
        n_special = 3  # <pad> <bos> <eos> are ids 0..2 (grammar/vocab.py); random tokens skip them
        hit = (torch.rand(input_ids.shape, device=input_ids.device) < rate) & ~torch.isin(input_ids, special)
        random = torch.randint(n_special, self.config.vocab_size, input_ids.shape, device=input_ids.device)
        return torch.where(hit, random, input_ids)

    def shift_right(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels (B, T) -> teacher-forcing inputs (B, T): ``<bos>`` then labels[:-1], ignores as pad."""
        inputs = labels.new_full(labels.shape, self.config.pad_token_id)
        inputs[:, 0] = self.config.decoder_start_token_id
        inputs[:, 1:] = labels[:, :-1]
        return inputs.masked_fill(inputs == IGNORE_INDEX, self.config.pad_token_id)

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        pixel_mask: torch.Tensor | None = None,
        patch_coords: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        encoder_outputs: EncoderOutput | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> OmrformerOutput:
        """Run encoder (unless ``encoder_outputs`` is given) and decoder; add losses when ``labels``.

        Args:
            pixel_values: (B, 1, H, W) images from :class:`~omrformer.processor.OmrformerProcessor`.
            pixel_mask: (B, H, W) True on real pixels.
            patch_coords: (B, H/8, W/8, 4) staff-aligned patch coordinates.
            decoder_input_ids: (B, T); derived from ``labels`` (shifted right) when omitted.
            labels: (B, T) target ids ending in ``<eos>``; ``-100`` or ``<pad>`` positions are ignored.
            encoder_outputs: Precomputed :class:`EncoderOutput` (generation passes it).
            cache: ``EncoderDecoderCache`` for incremental decoding (``past_key_values`` is accepted
                as the deprecated name, as transformers' own models do).
            use_cache: Return the updated cache.
            **kwargs: Ignored generation bookkeeping.
        """
        cache = take_cache(cache, kwargs)
        if encoder_outputs is None:
            if pixel_values is None:
                raise ValueError("forward needs pixel_values or encoder_outputs")
            encoder_outputs = self.encode(pixel_values, pixel_mask, patch_coords)
        if labels is not None:
            labels = labels.masked_fill(labels == self.config.pad_token_id, IGNORE_INDEX)
            if decoder_input_ids is None:
                decoder_input_ids = self.shift_right(labels)
            if self.training:
                decoder_input_ids = self.corrupt(decoder_input_ids)
        if decoder_input_ids is None:
            raise ValueError("forward needs decoder_input_ids or labels")
        logits, aux = self.decode(encoder_outputs, decoder_input_ids, cache if use_cache is not False else None)
        out = OmrformerOutput(logits=logits, encoder_last_hidden_state=encoder_outputs.last_hidden_state)
        if use_cache:
            out.cache = cache
            if GENERATION_CACHE_NAME == LEGACY_CACHE_NAME:
                out[LEGACY_CACHE_NAME] = cache
        if labels is not None:
            self._add_losses(out, logits, labels, aux)
        return out

    def _add_losses(
        self, out: OmrformerOutput, logits: torch.Tensor, labels: torch.Tensor, aux: list
    ) -> None:
        cfg = self.config
        out.loss_ce = F.cross_entropy(
            logits.flatten(0, 1).float(),
            labels.flatten(),
            ignore_index=IGNORE_INDEX,
            label_smoothing=cfg.label_smoothing,
        )
        total = out.loss_ce
        if aux:
            out.loss_moe = torch.stack(aux).mean()
            total = total + cfg.moe_loss_weight * out.loss_moe
        if cfg.grammar_losses:
            terms = grammar_losses(logits, labels, cfg)
            out.loss_measure, out.loss_forbidden = terms.get("measure"), terms.get("forbidden")
            for name, weight in (
                ("measure", cfg.measure_loss_weight),
                ("forbidden", cfg.forbidden_loss_weight),
            ):
                if weight and name in terms:
                    total = total + weight * terms[name]
        out.loss = total

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        next_sequence_length: int | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        is_first_iteration: bool | None = False,
        encoder_outputs: EncoderOutput | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        # The parameters mirror GenerationMixin's, which passes the decoder ids as ``input_ids``. The
        # decoder needs none of next_sequence_length / attention_mask / inputs_embeds /
        # is_first_iteration: the cache length decides which tokens are new.
        # transformers < 5.23 passes the cache as ``past_key_values``.
        cache = cache if cache is not None else kwargs.get(LEGACY_CACHE_NAME)
        decoder_input_ids = input_ids
        if cache is not None and use_cache:
            # Only the tokens the cache has not seen yet.
            decoder_input_ids = decoder_input_ids[:, cache.get_seq_length() :]
        return {
            "decoder_input_ids": decoder_input_ids,
            "cache": cache,
            "encoder_outputs": encoder_outputs,
            "use_cache": use_cache,
        }
