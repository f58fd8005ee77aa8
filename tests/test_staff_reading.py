"""Reading a page staff by staff: crops, part grouping, and one valid assembled score."""

from __future__ import annotations

from pathlib import Path

import pytest

from grammar.musicxml import read_score, validate_xsd
from grammar.staff_extract import extract_staff, score_layout
from grammar.validate import validate
from omrformer.staff_reading import cut_staves, part_groups, score_parts, staff_lines
from omrformer.vision.image_io import load_image, normalize_contrast
from omrformer.vision.staff_detection import detect_staves
from synth.staff_crop import box_contains

FIXTURES = Path(__file__).parent / "fixtures" / "staff"


def _page(name: str):
    gray = normalize_contrast(load_image(FIXTURES / f"{name}.png"))
    return gray, detect_staves(gray)


def test_every_detected_staff_gets_a_crop_holding_its_five_lines():
    gray, layout = _page("page_two_parts")
    crops = cut_staves(gray, layout)
    assert len(crops) == len(layout.staves) == 9
    assert [(c.system, c.index) for c in crops] == [(s, i) for s in range(3) for i in range(3)]
    for crop, staff in zip(crops, layout.staves, strict=True):
        assert box_contains(crop.box, staff_lines(staff))
        x0, y0, x1, y1 = crop.box
        assert crop.image.shape == (y1 - y0, x1 - x0)
    # Neighbouring staves' ink stays in the crop: crops of one system overlap.
    assert crops[1].box[1] < crops[0].box[3]


@pytest.mark.parametrize(("name", "parts"), [("page_two_parts", [1, 2]), ("grand_staff", [2]), ("single_staff", [1])])
def test_barlines_through_the_gap_make_one_part(name, parts):
    gray, layout = _page(name)
    assert score_parts(gray, layout) == parts
    assert all(part_groups(gray, layout, s) == parts for s in range(len(layout.systems)))


def test_a_lone_stem_across_the_gap_does_not_join_two_staves():
    gray, layout = _page("page_two_parts")
    voice, piano = layout.staves[0], layout.staves[1]
    x = int(voice.x0 + 0.5 * (voice.x1 - voice.x0))
    top, bottom = int(voice.line_y(4, x)), int(piano.line_y(0, x))
    gray = gray.copy()
    gray[top:bottom + 1, x:x + 2] = 0.0  # one stroke through the whole gap
    assert part_groups(gray, layout, 0) == [1, 2]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch

    from omrformer import OmrformerConfig, OmrformerModel, OmrformerProcessor

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model")
    config = OmrformerConfig.from_preset("tiny", grammar_losses=False, reading_layout="staves")
    OmrformerModel(config).save_pretrained(path)
    OmrformerProcessor().save_pretrained(path)
    return path


def test_staves_layout_reads_every_staff_and_assembles_one_valid_score(model_dir):
    import torch

    from omrformer.transcribe import PageResult, Transcriber

    torch.set_num_threads(1)
    engine = Transcriber(model_dir, device="cpu", max_length=40, batch_size=4)
    assert engine.layout == "staves"  # from the checkpoint's config
    page = engine.pages([(PageResult("p"),
                          load_image(FIXTURES / "page_two_parts.png"))])[0]
    assert page.error is None, page.error
    assert page.layout == "staves" and len(page.readings) == 9
    for r in page.readings:
        assert len(r.confidence) == len(r.decoded) > 0  # every decoded token and the closing <eos>
        assert r.decoded[-1] == "<eos>" or len(r.decoded) == 40 - 1
        assert all(0.0 <= p <= 1.0 for p in r.confidence)
    tokens = page.tokens
    assert validate(tokens) == []
    assert score_layout(tokens) == [1, 2]
    assert tokens.count("sysbreak") == 2
    # Every staff of the score has the same number of measures.
    counts = {len([t for t in extract_staff(tokens, p, s) if t.startswith("bar")]) for p, s in [(0, 0), (1, 0), (1, 1)]}
    assert len(counts) == 1
    assert validate_xsd(page.musicxml) == []
    assert score_layout(read_score(page.musicxml).tokens) == [1, 2]


def test_unknown_layout_is_a_clear_error(model_dir):
    from omrformer.transcribe import Transcriber, TranscriptionError

    with pytest.raises(TranscriptionError, match="layout must be one of"):
        Transcriber(model_dir, device="cpu", layout="bars")


def test_crops_rescale_to_the_model_staff_space(model_dir):
    from omrformer.transcribe import PageResult, Transcriber

    engine = Transcriber(model_dir, device="cpu", max_length=8, layout="staves")
    gray = load_image(FIXTURES / "single_staff.png")
    page = PageResult("p")
    engine._cut(page, gray)
    path_page = PageResult("q")
    engine._cut(path_page, FIXTURES / "single_staff.png")  # a path works as well as an array
    assert [r.box for r in path_page.readings] == [r.box for r in page.readings]
    target = engine.processor.settings.target_staff_space
    assert abs(page.readings[0].prepared.layout.staff_space - target) < 0.5


def test_guided_checkpoints_say_where_each_token_was_read(tmp_path):
    import torch

    from omrformer import OmrformerConfig, OmrformerModel, OmrformerProcessor
    from omrformer.transcribe import PageResult, Transcriber

    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = OmrformerConfig.from_preset("tiny", grammar_losses=False, reading_layout="staves",
                                         guided_attention_weight=1.0, guided_layers=1, guided_heads=1)
    OmrformerModel(config).save_pretrained(tmp_path)
    OmrformerProcessor().save_pretrained(tmp_path)
    engine = Transcriber(tmp_path, device="cpu", max_length=24, batch_size=4)
    page = engine.pages([(PageResult("p"), load_image(FIXTURES / "single_staff.png"))])[0]
    assert page.error is None, page.error
    for r in page.readings:
        assert len(r.positions) == len(r.confidence) == len(r.decoded) > 0
        x0, y0, x1, y1 = r.box
        # One memory token (8 px patches, 2x2 compressed) in page pixels.
        stride = 8 * config.compress_factor ** 0.5 / (r.scale * r.prepared.scale)
        for x, y in r.positions:
            # A memory token centre maps back inside the crop it was read from (padding aside).
            assert x0 - stride <= x <= x1 + stride and y0 - stride <= y <= y1 + stride
    from omrformer.overlay import draw_overlay

    assert draw_overlay(page).size == page.prepared.size[::-1]  # dots drawn at those positions


def test_unguided_checkpoints_give_no_positions(model_dir):
    from omrformer.transcribe import PageResult, Transcriber

    engine = Transcriber(model_dir, device="cpu", max_length=16, batch_size=4)
    page = engine.pages([(PageResult("p"), load_image(FIXTURES / "single_staff.png"))])[0]
    assert page.error is None and page.readings
    assert all(r.positions == [] and r.confidence for r in page.readings)
