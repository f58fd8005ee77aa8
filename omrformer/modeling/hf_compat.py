"""The name under which the installed transformers carries the KV cache through ``generate``.

transformers 5.23 renamed the generation cache from ``past_key_values`` to ``cache``: the kwarg that
``generate`` passes to ``prepare_inputs_for_generation``/``forward`` and the output field it reads
back. Its own encoder-decoders (e.g. Bart) now take ``cache`` and keep ``past_key_values`` as a
deprecated alias until 5.40. We follow that, and read the name off the installed GenerationMixin
(``ALL_CACHE_NAMES``) rather than a version number, so 5.17-5.22 (the GPU machine has 5.17) and
5.23+ both work without any warning being silenced.
"""

from __future__ import annotations

import warnings
from typing import Any

from transformers.generation import utils as _generation_utils

# "cache" on transformers >= 5.23, "past_key_values" before.
GENERATION_CACHE_NAME: str = "cache" if "cache" in _generation_utils.ALL_CACHE_NAMES else "past_key_values"
LEGACY_CACHE_NAME = "past_key_values"


def take_cache(cache: Any, kwargs: dict[str, Any]) -> Any:
    """The KV cache given as ``cache`` or as the legacy ``past_key_values`` (popped from ``kwargs``).

    Older transformers pass ``past_key_values`` themselves, so it warns only where the installed
    version has renamed it (then the caller is user code that should move to ``cache``).
    """
    legacy = kwargs.pop(LEGACY_CACHE_NAME, None)
    if legacy is None:
        return cache
    if cache is not None:
        raise ValueError("pass the KV cache as `cache` or as `past_key_values`, not both")
    if GENERATION_CACHE_NAME != LEGACY_CACHE_NAME:
        warnings.warn(
            "`past_key_values` is deprecated (transformers >= 5.23 calls it `cache`); pass `cache`",
            FutureWarning,
            stacklevel=3,
        )
    return legacy
