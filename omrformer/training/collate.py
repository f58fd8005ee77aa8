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
        images: list[np.ndarray] = [s["image"] for s in samples]
        batch = dict(self.processor(images=images, return_tensors="pt"))
        batch["labels"] = pad_labels([s["labels"] for s in samples])
        return batch
