"""Shared test settings.

Under CI (``CI`` set, as .ci/run runs) hypothesis draws the same examples every run, so a red CI
is reproducible; locally it explores new examples each run.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")



@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny random checkpoint folder (model + processor), loaded with ``from_pretrained``."""
    import torch

    from omrformer import OmrformerConfig, OmrformerModel, OmrformerProcessor

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model")
    OmrformerModel(OmrformerConfig.from_preset("tiny", grammar_losses=False)).save_pretrained(path)
    OmrformerProcessor().save_pretrained(path)
    return path
