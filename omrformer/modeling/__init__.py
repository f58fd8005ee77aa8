"""The omrformer network: encoder (vision tokens) + decoder (score tokens)."""

from omrformer.modeling.encoder import EncoderOutput, OmrformerEncoder
from omrformer.modeling.model import OmrformerModel, OmrformerOutput, OmrformerPreTrainedModel

__all__ = [
    "EncoderOutput",
    "OmrformerEncoder",
    "OmrformerModel",
    "OmrformerOutput",
    "OmrformerPreTrainedModel",
]
