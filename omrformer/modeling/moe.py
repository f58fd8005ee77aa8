"""Feed-forward layers of the decoder: dense, or a top-k routed mixture of experts.

The MoE load-balancing loss is computed per layer (Switch-Transformer form ``E * sum_e f_e * P_e``,
1.0 when perfectly balanced) and averaged over layers by the caller: a loss pooled over all layers
scores two oppositely collapsed layers as balanced.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from torch import nn


class DenseFeedForward(nn.Module):
    """GELU MLP; returns ``(output, None)`` so callers treat dense and MoE alike."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.mlp = Mlp(dim, hidden, drop=dropout)

    def forward(self, x: torch.Tensor, token_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        return self.mlp(x), None


class MoEFeedForward(nn.Module):
    """Top-k routed experts with a per-layer load-balancing loss.

    Tokens are sorted by expert and each expert runs one matmul on its contiguous slice (about the
    cost of a dense FFN of the same active width on CPU; per-token loops would be far slower).

    Args:
        dim: Token width.
        hidden: Hidden width of each expert.
        num_experts: Experts in this layer.
        top_k: Experts per token; their router probabilities are renormalised to sum to one.
        dropout: Dropout inside each expert.
    """

    def __init__(self, dim: int, hidden: int, num_experts: int, top_k: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_experts, self.top_k = num_experts, top_k
        self.router = nn.Linear(dim, num_experts, bias=False)
        self.experts = nn.ModuleList(Mlp(dim, hidden, drop=dropout) for _ in range(num_experts))

    def forward(
        self, x: torch.Tensor, token_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, C), token_mask (B, T) True on real tokens -> (output (B, T, C), balance loss ())."""
        shape = x.shape
        flat = x.reshape(-1, shape[-1])  # (N, C)
        probs = self.router(flat).float().softmax(-1)  # (N, E)
        weights, chosen = probs.topk(self.top_k, dim=-1)  # (N, k)
        weights = (weights / weights.sum(-1, keepdim=True)).to(x.dtype)

        order = chosen.reshape(-1).argsort()  # assignments sorted by expert, (N*k,)
        token_of = order // self.top_k
        counts = torch.bincount(chosen.reshape(-1), minlength=self.num_experts).tolist()
        out = torch.zeros_like(flat)
        start = 0
        for expert, n in zip(self.experts, counts, strict=True):
            if n:
                idx = order[start : start + n]
                y = expert(flat[token_of[start : start + n]]) * weights.reshape(-1)[idx].unsqueeze(-1)
                out.index_add_(0, token_of[start : start + n], y)
            start += n

        real = torch.ones(flat.shape[0], dtype=torch.bool, device=x.device)
        if token_mask is not None:
            real = token_mask.reshape(-1)
        n_real = real.sum().clamp(min=1)
        one_hot = F.one_hot(chosen, self.num_experts).sum(1).float()  # (N, E) assignments per token
        frac = (one_hot * real[:, None]).sum(0) / (n_real * self.top_k)  # f_e, sums to 1
        mean_prob = (probs * real[:, None]).sum(0) / n_real  # P_e, sums to 1
        balance = self.num_experts * (frac * mean_prob).sum()
        return out.reshape(shape), balance
