"""Staff detection on rendered pages with known staff-line positions (tests/fixtures/staff)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from omrformer.vision.coordinates import STAFF_INDEX, STAFF_POS, patch_coordinates
from omrformer.vision.image_io import ImageLoadError, load_image, load_pages
from omrformer.vision.staff_detection import NoStaffFound, detect_staves, require_staves
from omrformer.vision.staff_metrics import score_staves

FIXTURES = Path(__file__).parent / "fixtures" / "staff"
CASES = {"single_staff": [[0]], "grand_staff": [[0, 1]], "page_two_parts": [[0, 1, 2], [3, 4, 5], [6, 7, 8]]}


def _truth(name: str) -> list[np.ndarray]:
    return [np.array(s["lines"]) for s in json.loads((FIXTURES / f"{name}.json").read_text())["staves"]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_clean_fixture_all_staves_found_with_subpixel_lines(name):
    layout = detect_staves(load_image(FIXTURES / f"{name}.png"))
    score = score_staves(_truth(name), layout)
    assert score.recall == 1.0
    assert score.precision == 1.0
    assert score.mean_line_error < 1.5
    assert score.max_line_error < 2.0


@pytest.mark.parametrize("name", sorted(CASES))
def test_systems_are_grouped_by_their_left_barline(name):
    assert detect_staves(load_image(FIXTURES / f"{name}.png")).systems == CASES[name]


def test_staff_space_and_thickness_are_measured():
    layout = detect_staves(load_image(FIXTURES / "single_staff.png"))
    assert layout.staff_space == pytest.approx(12.0, abs=0.3)
    assert 0.5 < layout.line_thickness < 3


def test_rotated_page_is_followed_along_the_skew():
    img = load_image(FIXTURES / "grand_staff.png")
    h, w = img.shape
    angle = 1.0  # degrees, counter-clockwise as cv2 defines it
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=1.0)
    truth = []
    for lines in _truth("grand_staff"):
        pts = lines.reshape(-1, 2)
        mapped = pts @ m[:, :2].T + m[:, 2]
        truth.append(mapped.reshape(lines.shape))
    score = score_staves(truth, detect_staves(rotated))
    assert score.recall == 1.0
    assert score.mean_line_error < 1.5


def test_blank_and_text_like_images_have_no_staff():
    assert detect_staves(np.ones((200, 400), np.float32)).staves == []
    rng = np.random.default_rng(0)
    noise = (rng.random((200, 400)) > 0.1).astype(np.float32)  # salt noise, no lines
    layout = detect_staves(noise)
    assert layout.staves == []
    with pytest.raises(NoStaffFound, match="noise.png: no staff found"):
        require_staves(layout, "noise.png")


def test_patch_coordinates_follow_the_nearest_staff():
    layout = detect_staves(load_image(FIXTURES / "grand_staff.png"))
    h, w = 232, 1168
    coords = patch_coordinates(layout, h, w, 8)
    assert coords.shape == (29, 146, 4)
    col = 60
    x = (col + 0.5) * 8
    for i, staff in enumerate(layout.staves):
        row = int(staff.middle(x) // 8)
        assert coords[row, col, STAFF_INDEX] == i
        # Within half a patch of the middle line, in staff spaces.
        assert abs(coords[row, col, STAFF_POS]) <= 4 / staff.space(x) + 1e-3
    # Positions grow upwards: the patch above a staff's middle line has a larger position.
    row = int(layout.staves[0].middle(x) // 8)
    assert coords[row - 2, col, STAFF_POS] > coords[row, col, STAFF_POS]


def test_patch_coordinates_without_staves_are_plain_2d():
    coords = patch_coordinates(None, 16, 24, 8)
    assert (coords[..., STAFF_INDEX] == -1).all()
    assert coords[1, 2, 2] == 2 and coords[1, 2, 3] == 1


def test_unreadable_files_name_the_file(tmp_path):
    bad = tmp_path / "scan.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageLoadError, match="scan.png: not a readable image"):
        load_pages(bad)
    with pytest.raises(ImageLoadError, match="missing.png: no such file"):
        load_pages(tmp_path / "missing.png")
