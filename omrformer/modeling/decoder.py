"""Pre-LN transformer decoder with cross-attention and a transformers-5 KV cache.

The cache is an ``EncoderDecoderCache(DynamicCache, DynamicCache)``: self-attention keys/values grow
by one step per token; cross-attention keys/values are computed from the encoder memory once, at the
first step, and reused (``is_updated``). Positions come from ``get_seq_length()``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.cache_utils import Cache, CacheLayerMixin, EncoderDecoderCache

from omrformer.configuration import OmrformerConfig
from omrformer.modeling.moe import DenseFeedForward, MoEFeedForward


class DecoderAttention(nn.Module):
    """Multi-head attention, self (causal, cached) or cross (memory cached once)."""

    def __init__(self, dim: int, heads: int, layer_idx: int, cross: bool, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.head_dim, self.layer_idx, self.cross, self.dropout = (
            heads,
            dim // heads,
            layer_idx,
            cross,
            dropout,
        )
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.o_proj = nn.Linear(dim, dim)
        # Guided attention (training only, omrformer.modeling.geometry): > 0 keeps the softmax
        # cross-attention of the first ``record_heads`` heads in ``recorded`` (B, h, T, N).
        self.record_heads = 0
        self.recorded: torch.Tensor | None = None

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)  # (B, h, T, hd)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
    ) -> torch.Tensor:
        b, t, c = x.shape
        q = self._heads(self.q_proj(x))
        mask, causal = None, False
        if self.cross:
            assert memory is not None
            if cache is not None and cache.is_updated.get(self.layer_idx):
                layer = cache.cross_attention_cache.layers[self.layer_idx]
                # A DynamicCache holds DynamicLayers, whose keys/values are set once is_updated is.
                assert isinstance(layer, CacheLayerMixin)
                assert layer.keys is not None and layer.values is not None
                k, v = layer.keys, layer.values
            else:
                k, v = self._heads(self.k_proj(memory)), self._heads(self.v_proj(memory))
                if cache is not None:
                    k, v = cache.cross_attention_cache.update(k, v, self.layer_idx)
                    cache.is_updated[self.layer_idx] = True
            if memory_mask is not None:
                mask = memory_mask[:, None, None, :]  # (B, 1, 1, N)
        else:
            k, v = self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
            past = 0
            if cache is not None:
                past = cache.self_attention_cache.get_seq_length(self.layer_idx)
                k, v = cache.self_attention_cache.update(k, v, self.layer_idx)
            if past == 0:
                causal = t > 1
            elif t > 1:
                # New queries sit after ``past`` cached keys: query i sees keys 0..past+i.
                mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(past)
        drop = self.dropout if self.training else 0.0
        if self.cross and self.record_heads:
            h = self.record_heads
            scores = (q[:, :h].float() @ k[:, :h].float().transpose(-1, -2)) / self.head_dim**0.5
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            self.recorded = scores.softmax(-1)  # (B, h, T, N)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, c))


class DecoderLayer(nn.Module):
    """Pre-LN: x + SelfAttn(LN x); x + CrossAttn(LN x, memory); x + FFN(LN x)."""

    def __init__(self, config: OmrformerConfig, layer_idx: int) -> None:
        super().__init__()
        d, h = config.d_model, config.decoder_heads
        self.norm_self = nn.LayerNorm(d)
        self.self_attn = DecoderAttention(d, h, layer_idx, cross=False, dropout=config.dropout)
        self.norm_cross = nn.LayerNorm(d)
        self.cross_attn = DecoderAttention(d, h, layer_idx, cross=True, dropout=config.dropout)
        self.norm_ffn = nn.LayerNorm(d)
        hidden = d * config.ffn_mult
        self.ffn: nn.Module = (
            MoEFeedForward(d, hidden, config.num_experts, config.moe_top_k, config.dropout)
            if config.num_experts
            else DenseFeedForward(d, hidden, config.dropout)
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, memory, memory_mask, cache, token_mask):
        x = x + self.drop(self.self_attn(self.norm_self(x), cache=cache))
        x = x + self.drop(self.cross_attn(self.norm_cross(x), memory, memory_mask, cache))
        y, aux = self.ffn(self.norm_ffn(x), token_mask)
        return x + self.drop(y), aux


class OmrformerDecoder(nn.Module):
    """Token ids (B, T) + encoder memory -> hidden states (B, T, d_model) and MoE balance losses."""

    def __init__(self, config: OmrformerConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_token_id)
        self.embed_positions = nn.Embedding(config.max_target_length, config.d_model)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.decoder_layers))
        self.norm = nn.LayerNorm(config.d_model)

    def forward(
        self,
        input_ids: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Args: input_ids (B, T) new tokens only when ``cache`` holds the earlier ones."""
        past = cache.get_seq_length() if cache is not None else 0
        t = input_ids.shape[1]
        if past + t > self.config.max_target_length:
            raise ValueError(
                f"sequence of {past + t} tokens exceeds max_target_length={self.config.max_target_length}"
            )
        pos = torch.arange(past, past + t, device=input_ids.device)
        x = self.embed_tokens(input_ids) + self.embed_positions(pos)  # (B, T, D)
        token_mask = input_ids != self.config.pad_token_id
        aux_losses = []
        for layer in self.layers:
            x, aux = layer(x, memory, memory_mask, cache, token_mask)
            if aux is not None:
                aux_losses.append(aux)
        return self.norm(x), aux_losses
