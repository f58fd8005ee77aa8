"""Supervision from the engraving geometry: conv stem, dense encoder heads, guided cross-attention.

All three are switched by :class:`~omrformer.configuration.OmrformerConfig` fields whose defaults
reproduce the bundled checkpoint's model (``stem="patch"``, no heads, no guidance). The heads and the
attention guidance are training-only: ``generate`` never calls them, so inference costs the same.

Inputs from the data (``omrformer.training.geometry`` / ``collate``), in the pixels of the batch:

- ``token_anchors`` (B, T, 2): anchor (x, y) of label token t, NaN where the token has none.
- ``symbol_points`` (B, M, 5): ``x, y, symbol, staff position class, duration class`` (NaN rows pad,
  class -100 where not applicable).

A loss whose inputs are absent (no anchored token, no point) is ``None``, not zero: it is neither
added nor logged for that batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from omrformer.configuration import OmrformerConfig

IGNORE = -100
NUM_SYMBOLS = 5  # none, notehead, rest, barline, accidental (omrformer.training.geometry)
NUM_STAFF_POS = 25  # -12..12 half spaces around the middle line
NUM_DURATIONS = 10


class ConvStem(nn.Module):
    """(B, 1, H, W) -> (B, C, H/8, W/8): three 3x3 stride-2 convolutions with GELU in between."""

    def __init__(self, out_dim: int, channels: int = 16) -> None:
        super().__init__()
        c1, c2 = channels, channels * 2
        self.convs = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(c2, out_dim, 3, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


class DenseHeads(nn.Module):
    """Per-memory-token heads: symbol class, notehead staff position class, duration class."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.symbol = nn.Linear(dim, NUM_SYMBOLS)
        self.staff_pos = nn.Linear(dim, NUM_STAFF_POS)
        self.duration = nn.Linear(dim, NUM_DURATIONS)

    def forward(self, memory: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.norm(memory.float())
        return {"symbol": self.symbol(h), "staff_pos": self.staff_pos(h), "duration": self.duration(h)}


def memory_grid(memory_positions: torch.Tensor) -> tuple[int, int, float]:
    """(columns, rows, stride px) of the memory token grid from its (B, N, 2) centres.

    The encoder puts token (r, c) at ``(c * s + (s - 1) / 2, r * s + (s - 1) / 2)`` in row-major order.
    """
    first = memory_positions[0]
    stride = float(2 * first[0, 0] + 1)
    cols = max(1, int((first[:, 1] == first[0, 1]).sum().item()))
    return cols, first.shape[0] // cols, stride


def point_targets(
    points: torch.Tensor, memory_positions: torch.Tensor, memory_mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Symbol points -> per-memory-token targets (B, N) for symbol, staff position and duration.

    A token's symbol target is 0 (nothing) unless a point falls in it; the staff-position and
    duration targets are set only on tokens holding a notehead (duration: notehead or rest).
    Returns None when the batch has no point.
    """
    valid = ~torch.isnan(points[..., 0])
    if not bool(valid.any()):
        return None
    cols, rows, stride = memory_grid(memory_positions)
    b, n = memory_positions.shape[:2]
    cx = (points[..., 0] / stride).floor().long().clamp(0, cols - 1)
    cy = (points[..., 1] / stride).floor().long().clamp(0, rows - 1)
    idx = torch.where(valid, cy * cols + cx, torch.zeros_like(cx))
    batch = torch.arange(b, device=points.device)[:, None].expand_as(idx)
    sym = torch.zeros(b, n, dtype=torch.long, device=points.device)
    pos = torch.full((b, n), IGNORE, dtype=torch.long, device=points.device)
    dur = torch.full((b, n), IGNORE, dtype=torch.long, device=points.device)
    cls = torch.nan_to_num(points[..., 2], nan=0).long()
    # Later points overwrite earlier ones in a token; noteheads are written last so they win.
    for order in (3, 4, 2, 1):  # barline, accidental, rest, notehead
        m = valid & (cls == order)
        sym[batch[m], idx[m]] = order
        if order in (1, 2):
            d = torch.nan_to_num(points[..., 4], nan=IGNORE).long()
            dur[batch[m], idx[m]] = d[m]
        if order == 1:
            p = torch.nan_to_num(points[..., 3], nan=IGNORE).long()
            pos[batch[m], idx[m]] = p[m]
    if memory_mask is not None:
        sym = sym.masked_fill(~memory_mask, IGNORE)
    return sym, pos, dur


def dense_losses(
    heads: DenseHeads, memory: torch.Tensor, points: torch.Tensor | None,
    memory_positions: torch.Tensor, memory_mask: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """``{"loss_dense", "loss_dense_symbol", "loss_dense_staff_pos", "loss_dense_duration"}`` and
    the staff-position accuracy on noteheads (``acc_dense_staff_pos``); empty when no point."""
    if points is None:
        return {}
    targets = point_targets(points, memory_positions, memory_mask)
    if targets is None:
        return {}
    sym, pos, dur = targets
    out = heads(memory)
    terms: dict[str, torch.Tensor] = {}
    # Most tokens hold nothing: weight the classes so the few symbols are not drowned out.
    weight = torch.ones(NUM_SYMBOLS, device=memory.device)
    weight[0] = 0.1
    terms["loss_dense_symbol"] = F.cross_entropy(
        out["symbol"].flatten(0, 1), sym.flatten(), weight=weight, ignore_index=IGNORE
    )
    for name, tgt in (("staff_pos", pos), ("duration", dur)):
        if bool((tgt != IGNORE).any()):
            terms[f"loss_dense_{name}"] = F.cross_entropy(
                out[name].flatten(0, 1), tgt.flatten(), ignore_index=IGNORE
            )
    total = torch.stack(list(terms.values())).sum()
    result = {"loss_dense": total, **terms}
    with torch.no_grad():
        has = pos != IGNORE
        if bool(has.any()):
            result["acc_dense_staff_pos"] = (out["staff_pos"].argmax(-1)[has] == pos[has]).float().mean()
    return result


class CrossAttentionRecorder:
    """Makes the guided decoder layers keep the softmax cross-attention of their guided heads."""

    def __init__(self, model: nn.Module, layers: int, heads: int) -> None:
        decoder_layers = list(model.decoder.layers)  # type: ignore[union-attr, arg-type]
        self.modules = [layer.cross_attn for layer in decoder_layers[-layers:]]
        self.heads = heads

    def __enter__(self) -> CrossAttentionRecorder:
        for m in self.modules:
            m.record_heads = self.heads
            m.recorded = None
        return self

    def __exit__(self, *exc: object) -> None:
        for m in self.modules:
            m.record_heads = 0

    def mean_attention(self) -> torch.Tensor | None:
        """(B, T, N) attention averaged over the guided heads and layers; None if none ran."""
        maps = [m.recorded for m in self.modules if m.recorded is not None]
        for m in self.modules:
            m.recorded = None
        if not maps:
            return None
        return torch.stack([a.mean(1) for a in maps]).mean(0)


@contextmanager
def record_cross_attention(model: nn.Module, config: OmrformerConfig) -> Iterator[CrossAttentionRecorder]:
    rec = CrossAttentionRecorder(model, config.guided_layers, config.guided_heads)
    with rec:
        yield rec


def anchor_targets(
    anchors: torch.Tensor, memory_positions: torch.Tensor, memory_mask: torch.Tensor | None, sigma: float
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Gaussian targets (B, T, N) over memory tokens around each anchor, and the (B, T) anchored mask."""
    has = ~torch.isnan(anchors[..., 0])
    if not bool(has.any()):
        return None
    _, _, stride = memory_grid(memory_positions)
    a = torch.nan_to_num(anchors, nan=0.0)
    d2 = ((memory_positions[:, None, :, :] - a[:, :, None, :]) ** 2).sum(-1)  # (B, T, N)
    logits = -d2 / (2 * (sigma * stride) ** 2)
    if memory_mask is not None:
        logits = logits.masked_fill(~memory_mask[:, None, :], float("-inf"))
    return torch.softmax(logits, -1), has


def guided_attention_loss(
    attention: torch.Tensor | None, anchors: torch.Tensor | None, memory_positions: torch.Tensor,
    memory_mask: torch.Tensor | None, sigma: float,
) -> dict[str, torch.Tensor]:
    """KL(target Gaussian || mean guided attention) over anchored tokens (``loss_guided_attention``)
    and the hit rate (attention peak within one memory token of the anchor); empty when no anchor."""
    if attention is None or anchors is None:
        return {}
    t = min(attention.shape[1], anchors.shape[1])
    targets = anchor_targets(anchors[:, :t], memory_positions, memory_mask, sigma)
    if targets is None:
        return {}
    target, has = targets
    att = attention[:, :t].float()
    logp = torch.log(att.clamp_min(1e-8))
    kl = (target * (torch.log(target.clamp_min(1e-12)) - logp)).sum(-1)  # (B, T)
    loss = kl[has].mean()
    return {"loss_guided_attention": loss, "acc_attention_hit": attention_hit_rate(att, anchors[:, :t],
                                                                                    memory_positions)}


@torch.no_grad()
def attention_hit_rate(attention: torch.Tensor, anchors: torch.Tensor, memory_positions: torch.Tensor) -> torch.Tensor:
    """Share of anchored tokens whose attention peak lies within one memory token of the anchor."""
    has = ~torch.isnan(anchors[..., 0])
    _, _, stride = memory_grid(memory_positions)
    peak = attention.argmax(-1)  # (B, T)
    pos = torch.gather(memory_positions, 1, peak[..., None].expand(-1, -1, 2))  # (B, T, 2)
    # Within one token: the peak's token is the anchor's token or one of its 8 neighbours.
    near = ((pos - torch.nan_to_num(anchors, nan=-1e9)).abs() <= 1.5 * stride).all(-1)
    return near[has].float().mean() if bool(has.any()) else torch.tensor(float("nan"))
