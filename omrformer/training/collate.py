"""Batching: images through the processor (padding + staff coordinates), labels padded with -100."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

IGNORE_INDEX = -100  # label padding excluded from every loss (HF convention; the model uses it too)


def pad_labels(labels: Sequence[Sequence[int]]) -> torch.Tensor:
    """Token id lists -> (B, T_max) long tensor padded with -100."""
    longest = max((len(x) for x in labels), default=0)
    out = torch.full((len(labels), longest), IGNORE_INDEX, dtype=torch.long)
    for i, ids in enumerate(labels):
        out[i, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
    return out


@dataclass
class Collator:
    """Turns ``[{"image": uint8 (H, W), "labels": [ids]}, ...]`` into model inputs.

    Runs in the DataLoader workers, so staff detection inside the processor is parallel too.

    Args:
        processor: An ``OmrformerProcessor`` (image normalisation, padding, patch coordinates).
    """

    processor: Any

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if samples and "prepared" in samples[0]:
            batch = dict(self.processor.collate([s["prepared"] for s in samples]))
        else:
            images: list[np.ndarray] = [s["image"] for s in samples]
            batch = dict(self.processor(images=images, return_tensors="pt"))
        labels = pad_labels([s["labels"] for s in samples])
        batch["labels"] = labels
        if any("anchors" in s for s in samples):
            batch["token_anchors"] = pad_anchors([s.get("anchors") for s in samples], labels.shape[1])
            batch["symbol_points"] = pad_points([s.get("points") for s in samples])
        return batch


def pad_anchors(anchors: Sequence[np.ndarray | None], length: int) -> torch.Tensor:
    """Per-token (x, y) anchors -> (B, T, 2) float tensor, NaN where a token has no anchor."""
    out = torch.full((len(anchors), length, 2), float("nan"))
    for i, a in enumerate(anchors):
        if a is not None and len(a):
            n = min(len(a), length)
            out[i, :n] = torch.from_numpy(np.asarray(a[:n], dtype=np.float32))
    return out


def pad_points(points: Sequence[np.ndarray | None]) -> torch.Tensor:
    """Symbol points (M_i, 5) -> (B, M_max, 5) float tensor; padding rows have NaN coordinates."""
    longest = max((len(p) for p in points if p is not None), default=0)
    out = torch.full((len(points), max(longest, 1), 5), float("nan"))
    for i, p in enumerate(points):
        if p is not None and len(p):
            out[i, : len(p)] = torch.from_numpy(np.asarray(p, dtype=np.float32))
    return out
