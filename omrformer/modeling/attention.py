"""Self-attention blocks of the encoder: windowed at full patch resolution, global after compression.

Both use ``F.scaled_dot_product_attention`` with boolean masks (True = may attend) so padded
patches of variable-size images in a batch are never attended to.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention over (B, N, C) with an optional (B, 1|H, N, N) boolean mask."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, hd)
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)  # (B, heads, N, hd)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _PreLNBlock(nn.Module):
    """The parts every encoder block shares: pre-LN attention and MLP, each with stochastic depth.

    Subclasses decide which keys a query sees (all tokens, or its window); parameter names are the
    same in both, so checkpoints do not depend on this split.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * mlp_ratio, drop=dropout)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()


class GlobalBlock(_PreLNBlock):
    """Pre-LN transformer block over all (compressed) tokens; ``valid`` (B, N) masks padding keys."""

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        # Every query also sees itself so that fully padded rows never produce NaN. Without padding
        # no mask at all: the unmasked SDPA kernel is the faster one on CPU.
        mask = None if bool(valid.all()) else valid[:, None, None, :] | torch.eye(n, dtype=torch.bool, device=x.device)
        x = x + self.drop_path(self.attn(self.norm1(x), mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def _partition(x: torch.Tensor, w: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of w -> (B * nWin, w*w, C)."""
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, c)


def _unpartition(x: torch.Tensor, w: int, b: int, h: int, wd: int) -> torch.Tensor:
    """Inverse of :func:`_partition`: (B * nWin, w*w, C) -> (B, H, W, C)."""
    c = x.shape[-1]
    x = x.view(b, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, wd, c)


class WindowBlock(_PreLNBlock):
    """Pre-LN block with attention inside non-overlapping ``window`` x ``window`` patch windows.

    With ``shift`` the window grid is offset by half a window (by padding the top-left with masked
    patches, not by rolling, so no attention wraps around the image edge); alternating shifted and
    unshifted blocks lets information cross window borders.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        window: int,
        shift: bool,
        mlp_ratio: int,
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__(dim, heads, mlp_ratio, dropout, drop_path)
        self.window, self.offset = window, (window // 2 if shift else 0)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """x (B, H, W, C), valid (B, H, W) bool -> (B, H, W, C)."""
        b, h, wd, c = x.shape
        w, o = self.window, self.offset
        pad_b, pad_r = (-(h + o)) % w, (-(wd + o)) % w
        y = F.pad(self.norm1(x), (0, 0, o, pad_r, o, pad_b))  # (B, Hw, Ww, C)
        v = F.pad(valid, (o, pad_r, o, pad_b), value=False)  # (B, Hw, Ww)
        hw, ww = y.shape[1:3]
        yw = _partition(y, w)  # (B*nWin, w*w, C)
        vw = _partition(v.unsqueeze(-1), w).squeeze(-1)  # (B*nWin, w*w)
        mask = None if bool(vw.all()) else vw[:, None, None, :] | torch.eye(w * w, dtype=torch.bool, device=x.device)
        out = _unpartition(self.attn(yw, mask), w, b, hw, ww)[:, o : o + h, o : o + wd]  # (B, H, W, C)
        x = x + self.drop_path(out)
        return x + self.drop_path(self.mlp(self.norm2(x)))
