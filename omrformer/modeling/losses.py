"""Glue between the model and the grammar losses of ``grammar.loss`` (DESIGN §10).

The grammar terms are computed on every labelled batch so they can be logged; when their weight in
the config is 0 they are computed without a graph (logged, not trained on).
"""

from __future__ import annotations

import importlib
import logging

import torch

from omrformer.configuration import OmrformerConfig

log = logging.getLogger(__name__)
_warned = False


def _loss_fn():
    global _warned
    try:
        return importlib.import_module("grammar.loss").measure_consistency_loss
    except (ImportError, AttributeError) as exc:
        if not _warned:
            log.warning("grammar losses unavailable (%s); loss_measure/loss_forbidden are not computed", exc)
            _warned = True
        return None


def grammar_losses(
    logits: torch.Tensor, labels: torch.Tensor, config: OmrformerConfig
) -> dict[str, torch.Tensor]:
    """Measure-consistency terms for logits (B, T, V) under teacher forcing with labels (B, T).

    Returns:
        ``{"measure": scalar, "forbidden": scalar}``, or ``{}`` when grammar.loss is not installed.
    """
    fn = _loss_fn()
    if fn is None:
        return {}
    trained = bool(config.measure_loss_weight or config.forbidden_loss_weight)
    with torch.set_grad_enabled(trained and torch.is_grad_enabled()):
        result = fn(logits if trained else logits.detach(), labels)
    return {"measure": result["loss_measure"], "forbidden": result["loss_forbidden"]}
