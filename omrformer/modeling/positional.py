"""Encoder positional encodings built from per-patch coordinates.

Every patch carries ``(staff index, position in staff spaces, x, y)`` (see
``omrformer.vision.coordinates``). In ``"staff"`` mode a patch is told which staff it belongs to and
how far above or below that staff's middle line it lies, in staff spaces: the quantity that decides
a note's pitch, whatever the page's size, skew or curvature. Patches of images without staves
(staff index -1) fall back to plain 2D sin-cos of their row and column.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Channel layout of the coordinate tensor (B, Hp, Wp, 4).
STAFF_INDEX, STAFF_POS, X, Y = range(4)
# Staff positions are multiplied by this before the sin-cos so that half a staff space (one pitch
# step) is several units apart at the highest frequencies.
_STAFF_POS_SCALE = 8.0
_MAX_STAFF_POS = 64.0


def sincos(values: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer sin-cos features of real values: (...) -> (..., dim); ``dim`` must be even."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, device=values.device, dtype=torch.float32) / half
    )
    angles = values.float().unsqueeze(-1) * freqs  # (..., half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def grid_coords(batch: int, hp: int, wp: int, device: torch.device | None = None) -> torch.Tensor:
    """Plain 2D coordinates for a (hp, wp) patch grid with no staves: (B, hp, wp, 4)."""
    ys, xs = torch.meshgrid(
        torch.arange(hp, dtype=torch.float32, device=device),
        torch.arange(wp, dtype=torch.float32, device=device),
        indexing="ij",
    )
    coords = torch.stack([torch.full_like(xs, -1.0), torch.zeros_like(xs), xs, ys], dim=-1)
    return coords.unsqueeze(0).expand(batch, -1, -1, -1).contiguous()


class PatchPositionalEncoding(nn.Module):
    """Coordinates (B, Hp, Wp, 4) -> additive encodings (B, Hp, Wp, dim).

    Args:
        dim: Output width (even, divisible by 4 in ``"2d"``/``"staff"`` mode).
        mode: ``"staff"``, ``"2d"`` or ``"none"`` (all zeros, for ablations).
        max_staves: Staff indices at or above this share the last learned staff embedding.
    """

    def __init__(self, dim: int, mode: str, max_staves: int) -> None:
        super().__init__()
        if dim % 4:
            raise ValueError(f"positional width must be divisible by 4, got {dim}")
        self.dim, self.mode, self.max_staves = dim, mode, max_staves
        # Which staff (first, second, ... on the page) is learned; where in it is sin-cos.
        self.staff_embed = nn.Embedding(max_staves, dim) if mode == "staff" else None

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return coords.new_zeros(*coords.shape[:-1], self.dim)
        half = self.dim // 2
        x_feat = sincos(coords[..., X], half)  # (B, Hp, Wp, dim/2)
        plain = torch.cat([sincos(coords[..., Y], half), x_feat], dim=-1)  # (B, Hp, Wp, dim)
        if self.mode == "2d":
            return plain
        assert self.staff_embed is not None
        index = coords[..., STAFF_INDEX].long()
        has_staff = (index >= 0).unsqueeze(-1)
        pos = coords[..., STAFF_POS].clamp(-_MAX_STAFF_POS, _MAX_STAFF_POS) * _STAFF_POS_SCALE
        staff = torch.cat([sincos(pos, half, max_period=1000.0), x_feat], dim=-1)
        staff = staff + self.staff_embed(index.clamp(0, self.max_staves - 1))
        return torch.where(has_staff, staff, plain)
