"""omrformer: a transformer that reads sheet music (page image -> MusicXML).

Kept light on purpose: ``omrformer tokenize``/``check`` import ``omrformer.cli``, which must start
without torch. The model classes are loaded on first access (module ``__getattr__``), and
registered with transformers' ``AutoConfig``/``AutoModel`` (model_type ``"omrformer"``) then.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "OmrformerConfig": "omrformer.configuration",
    "OmrformerModel": "omrformer.modeling.model",
    "OmrformerProcessor": "omrformer.processor",
    "NoStaffFound": "omrformer.vision.staff_detection",
    "transcribe": "omrformer.transcribe",
}
_registered = False


def register_auto_classes() -> None:
    """Make ``AutoConfig``/``AutoModel`` resolve model_type ``"omrformer"`` (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AutoConfig, AutoModel

    from omrformer.configuration import OmrformerConfig
    from omrformer.modeling.model import OmrformerModel

    AutoConfig.register("omrformer", OmrformerConfig, exist_ok=True)
    AutoModel.register(OmrformerConfig, OmrformerModel, exist_ok=True)
    _registered = True


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        if name in ("OmrformerConfig", "OmrformerModel"):
            register_auto_classes()
        # Cache it: ``omrformer.transcribe`` is also a submodule, and importing it sets the package
        # attribute to the module object, which would shadow the function on the next access.
        globals()[name] = value
        return value
    raise AttributeError(f"module 'omrformer' has no attribute {name!r}")


__all__ = [*_LAZY, "register_auto_classes"]
