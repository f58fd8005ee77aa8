"""Glue between the model and the grammar losses of ``grammar.loss`` (why they are optional: its docstring).

The grammar terms are computed on every labelled batch so they can be logged; when their weight in
the config is 0 they are computed without a graph (logged, not trained on).
"""

from __future__ import annotations

import torch

from grammar.loss import measure_consistency_loss
from omrformer.configuration import OmrformerConfig


def grammar_losses(
    logits: torch.Tensor, labels: torch.Tensor, config: OmrformerConfig
) -> dict[str, torch.Tensor]:
    """Measure-consistency terms for logits (B, T, V) under teacher forcing with labels (B, T).

    Returns:
        ``{"measure": scalar, "forbidden": scalar}``.
    """
    trained = bool(config.measure_loss_weight or config.forbidden_loss_weight)
    with torch.set_grad_enabled(trained and torch.is_grad_enabled()):
        result = measure_consistency_loss(logits if trained else logits.detach(), labels)
    return {"measure": result["loss_measure"], "forbidden": result["loss_forbidden"]}
