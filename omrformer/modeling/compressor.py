"""Learned token compressor: a strided convolution that merges ``factor`` patches into one token.

Global attention costs O(N^2); merging 4 or 16 neighbouring patches after the windowed stage is
what keeps a full page affordable. ``factor`` 1 keeps every patch (a 1x1 projection).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TokenCompressor(nn.Module):
    """(B, H, W, C_in) grid -> (B, H/s, W/s, C_out) grid with s = sqrt(factor), plus pooled validity.

    Args:
        in_dim: Width of the incoming full-resolution features.
        out_dim: Width of the compressed tokens.
        factor: 1, 4 or 16 patches per output token.
    """

    def __init__(self, in_dim: int, out_dim: int, factor: int) -> None:
        super().__init__()
        stride = math.isqrt(factor)
        if stride * stride != factor:
            raise ValueError(f"compression factor must be a square (1, 4, 16), got {factor}")
        self.stride = stride
        self.conv = nn.Conv2d(in_dim, out_dim, kernel_size=stride, stride=stride)
        self.norm = nn.LayerNorm(out_dim)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Average-pool any (B, H, W, C) grid to the compressed grid (used for positions)."""
        s = self.stride
        x = F.pad(x, (0, 0, 0, (-x.shape[2]) % s, 0, (-x.shape[1]) % s))
        return F.avg_pool2d(x.permute(0, 3, 1, 2), s, s).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.stride
        # Zero padded patches so the padding of one image never leaks into its tokens.
        x = x * valid.unsqueeze(-1)
        x = F.pad(x, (0, 0, 0, (-x.shape[2]) % s, 0, (-x.shape[1]) % s))
        v = F.pad(valid, (0, (-valid.shape[2]) % s, 0, (-valid.shape[1]) % s), value=False)
        out = self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # (B, H/s, W/s, C_out)
        v = F.max_pool2d(v.float().unsqueeze(1), s, s).squeeze(1) > 0  # (B, H/s, W/s)
        return self.norm(out), v
