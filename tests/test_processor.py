"""OmrformerProcessor: images to padded batches with staff coordinates; tokens to text; persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from grammar.vocab import VOCAB
from omrformer.processor import NoStaffFound, OmrformerProcessor
from omrformer.vision.coordinates import STAFF_INDEX

FIXTURES = Path(__file__).parent / "fixtures" / "staff"


def test_batch_of_different_sizes_is_padded_with_a_mask():
    proc = OmrformerProcessor()
    batch = proc([FIXTURES / "grand_staff.png", FIXTURES / "single_staff.png"])
    px, mask, coords = batch["pixel_values"], batch["pixel_mask"], batch["patch_coords"]
    assert px.shape[0] == 2 and px.shape[1] == 1
    assert px.shape[2] % 8 == 0 and px.shape[3] % 8 == 0
    assert coords.shape == (2, px.shape[2] // 8, px.shape[3] // 8, 4)
    # Ink is 1, paper and padding 0; padding is outside the mask.
    assert float(px.max()) > 0.9 and float(px[~mask.unsqueeze(1)].abs().max()) == 0.0
    # single_staff is engraved at a 12 px staff space and rescaled to the 10 px target.
    prepared = proc.prepare(FIXTURES / "single_staff.png")
    assert prepared.scale == pytest.approx(10 / 12, rel=0.03)
    assert prepared.layout.staff_space == pytest.approx(10.0, rel=0.03)
    assert mask[1].sum() == prepared.size[0] * prepared.size[1]
    # The grand staff has two staves, indices 0 and 1 in its patches.
    assert set(np.unique(coords[0, ..., STAFF_INDEX].numpy())) == {0.0, 1.0}


def test_accepts_arrays_and_pil_images_like_paths():
    proc = OmrformerProcessor()
    path = FIXTURES / "grand_staff.png"
    arr = np.asarray(Image.open(path).convert("L"))
    a = proc(path)["pixel_values"]
    b = proc(arr)["pixel_values"]
    c = proc(Image.open(path))["pixel_values"]
    assert np.array_equal(a.numpy(), b.numpy()) and np.array_equal(a.numpy(), c.numpy())


def test_no_staff_image_raises_only_when_staves_are_required():
    proc = OmrformerProcessor()
    blank = np.full((120, 300), 255, dtype=np.uint8)
    batch = proc(blank)
    assert (batch["patch_coords"][..., STAFF_INDEX] == -1).all()  # plain 2D fallback
    with pytest.raises(NoStaffFound, match="no staff found"):
        proc(blank, require_staves=True)


def test_tokens_round_trip_to_text():
    proc = OmrformerProcessor()
    tokens = ["part", "staff", "clef:G2", "key:0", "time:C", "voice", "rest", "dur:measure", "bar:final"]
    ids = proc.encode(tokens)
    assert ids[0] == VOCAB.bos_id and ids[-1] == VOCAB.eos_id
    assert proc.decode(ids + [VOCAB.pad_id]) == tokens
    assert proc.to_human(ids).startswith("<part> <staff> <clef:G2>")


def test_settings_round_trip_and_bad_folder(tmp_path):
    OmrformerProcessor(target_staff_space=11.0, max_side=2048).save_pretrained(tmp_path)
    loaded = OmrformerProcessor.from_pretrained(tmp_path)
    assert loaded.settings.target_staff_space == 11.0 and loaded.settings.max_side == 2048
    with pytest.raises(FileNotFoundError, match="processor_config.json"):
        OmrformerProcessor.from_pretrained(tmp_path / "missing")
    (tmp_path / "processor_config.json").write_text('{"nonsense": 1}')
    with pytest.raises(ValueError, match="invalid processor settings"):
        OmrformerProcessor.from_pretrained(tmp_path)
