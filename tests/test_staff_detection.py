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
from omrformer.vision.staff_tracks import clean_track, link_tracks, resolve_tracks

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


# Failure modes found on synth shards (experiments/staff_detection_eval.py --shards), rebuilt from the
# fixtures so each test is small and exact.


def _warp_truth(name: str, m: np.ndarray) -> list[np.ndarray]:
    """True lines of fixture ``name`` moved by the 3x3 homography ``m``."""
    return [cv2.perspectiveTransform(t.reshape(-1, 1, 2), m).reshape(t.shape) for t in _truth(name)]


def test_thick_blurred_lines_are_found():
    # Ink dilation plus blur (scan preset) gave flat-topped profile peaks that failed the sharpness test.
    img = load_image(FIXTURES / "grand_staff.png")
    thick = cv2.GaussianBlur(cv2.erode(img, np.ones((3, 1), np.uint8)), (0, 0), 0.8)
    score = score_staves(_truth("grand_staff"), detect_staves(thick))
    assert (score.recall, score.precision) == (1.0, 1.0)
    assert score.mean_line_error < 1.0


def test_faint_noisy_lines_are_found():
    # Ink thinning on a noisy scan: a hard ink threshold broke the lines into dots.
    img = load_image(FIXTURES / "grand_staff.png")
    rng = np.random.default_rng(0)
    faint = np.clip(1 - 0.2 * (1 - img) + rng.normal(0, 0.05, img.shape), 0, 1).astype(np.float32)
    score = score_staves(_truth("grand_staff"), detect_staves(faint))
    assert (score.recall, score.precision) == (1.0, 1.0)
    assert score.mean_line_error < 0.6


def test_evenly_spaced_staves_do_not_set_the_staff_space():
    # Twelve staves 80 px apart: the staff-to-staff period correlates more than the line period.
    img = load_image(FIXTURES / "single_staff.png")
    (lines,) = _truth("single_staff")
    top = 81 - 40  # a band 80 px high around the staff's middle line (y 81)
    page = np.vstack([img[top : top + 80]] * 12)
    truth = [lines - [0, top] + [0, 80 * i] for i in range(12)]
    layout = detect_staves(page)
    assert layout.staff_space == pytest.approx(12.0, abs=0.3)
    score = score_staves(truth, layout)
    assert (score.recall, score.precision) == (1.0, 1.0)


def test_systems_survive_strong_perspective():
    # Perspective slants the left barline well past the staff skew; it runs through the staves' left ends.
    img = load_image(FIXTURES / "page_two_parts.png")
    h, w = img.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[150, 10], [w - 10, 60], [w - 40, h - 5], [5, h - 40]])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=1.0)
    layout = detect_staves(warped)
    assert layout.systems == CASES["page_two_parts"]
    score = score_staves(_warp_truth("page_two_parts", m), layout)
    assert (score.recall, score.precision) == (1.0, 1.0)
    assert score.mean_line_error < 0.5


@pytest.mark.parametrize("name", sorted(CASES))
def test_staff_ends_are_followed_to_the_true_ends(name):
    # Clefs and braces fill the first strips: the strip centres alone put x0 several pixels late.
    layout = detect_staves(load_image(FIXTURES / f"{name}.png"))
    for staff, lines in zip(layout.staves, _truth(name), strict=True):
        assert abs(staff.x0 - lines[2, 0, 0]) < 0.6 * layout.staff_space
        assert abs(staff.x1 - lines[2, -1, 0]) < 0.6 * layout.staff_space


def test_sloped_staff_with_a_stray_chain_stays_one_staff():
    # A chain two lines off (a whole rest on a line, beams) began its own track; later the sloping staff
    # drifted onto that stale track and was split in two.
    space = 10.0

    def cand(x: float, shift: float = 0.0) -> tuple[float, np.ndarray]:
        return x, 100 + 0.06 * x + shift + space * np.arange(-2, 3)

    cands = [cand(x) for x in np.arange(15, 1000, 20)] + [cand(x, -2 * space) for x in (415, 435, 455)]
    soft = _line_ink((300, 1000), lambda x: 100 + 0.06 * x, space)  # ink of the real staff's lines
    tracks = [s for t in link_tracks(cands, space) if (s := clean_track(t, space)) is not None]
    (staff,) = resolve_tracks(tracks, space, soft)
    assert (staff.x0, staff.x1) == (15, 995)
    xs = np.arange(15, 1000, 20)
    assert np.abs(staff.middle(xs) - (100 + 0.06 * xs)).max() < 1e-6


def test_faint_periodic_texture_does_not_set_the_staff_space():
    # Bleed-through and paper texture can give the soft-ink profiles a short period of their own;
    # the period that yields more five-line chains (here the hard-ink one) must win.
    img = load_image(FIXTURES / "single_staff.png")
    h, w = img.shape
    rng = np.random.default_rng(0)
    stripes = (np.arange(h)[:, None] % 5 == 0) & (rng.random((h, w)) < 0.5)  # dotted rows every 5 px
    layout = detect_staves(np.clip(img - 0.1 * stripes, 0, 1).astype(np.float32))
    assert layout.staff_space == pytest.approx(12.0, abs=0.3)
    score = score_staves(_truth("single_staff"), layout)
    assert (score.recall, score.precision) == (1.0, 1.0)


def _line_ink(shape: tuple[int, int], mid, space: float) -> np.ndarray:
    """Soft ink of five lines around the middle line ``mid(x)``, one pixel thick."""
    soft = np.zeros(shape, np.float32)
    x = np.arange(shape[1])
    for k in range(-2, 3):
        soft[np.floor(mid(x) + space * k).astype(int), x] = 1.0
    return soft


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_piece_beyond_a_long_gap_joins_or_yields_to_the_staff(shift):
    # A piece of a sloping staff 24 spaces left of the rest (the strips between failed) stayed a staff
    # of its own when the long track's end slope, fitted over a few jittery strips, missed it; a piece
    # shifted by a whole line there must not survive either.
    space = 12.0

    def mid(x):
        return 950.0 - 0.03 * np.asarray(x, dtype=float)

    def cand(x: float, dy: float = 0.0) -> tuple[float, np.ndarray]:
        return x, mid(x) + dy + space * np.arange(-2, 3)

    # Strip noise of a degraded scan: the long track's first strips tilt one way, the piece's the other,
    # so neither end slope reaches the other piece (linking keeps them apart).
    jitter = {468: 1.5, 492: 0.5, 516: -0.5, 540: -1.5, 84: -1.0, 132: 0.0, 180: 1.0}
    cands = [cand(x, jitter.get(x, 0.0)) for x in range(468, 1453, 24)]
    cands += [cand(x, shift * space + jitter[x]) for x in (84, 132, 180)]
    soft = _line_ink((1100, 1500), mid, space)
    tracks = [s for t in link_tracks(cands, space) if (s := clean_track(t, space)) is not None]
    (staff,) = resolve_tracks(tracks, space, soft)
    assert (staff.x0, staff.x1) == (84, 1452)
    xs = np.array([84.0, 132.0, 180.0])
    assert np.abs(staff.middle(xs) - mid(xs)).max() < 1.1  # the piece's own jitter, not a line off


def test_faint_lines_among_dark_notes_are_found():
    # Eroded, blurred scans: the staff lines vanish from the hard ink while note heads stay, so hard-ink
    # run lengths gave a "line thickness" of a note head and no staff space was accepted at all.
    img = load_image(FIXTURES / "page_two_parts.png")
    h, w = img.shape
    truth = _truth("page_two_parts")
    near = np.zeros((h, w), bool)  # rows within 1.5 px of a true line
    for lines in truth:
        for line in lines:
            xs = np.arange(int(line[0, 0]), int(line[-1, 0]))
            ys = np.interp(xs, line[:, 0], line[:, 1])
            for d in (-1.5, -0.5, 0.5, 1.5):
                near[np.floor(ys + d).astype(int), xs] = True
    dark = img < 0.5
    notes = cv2.dilate(cv2.erode(dark.astype(np.uint8), np.ones((5, 1), np.uint8)), np.ones((7, 3), np.uint8))
    page = cv2.GaussianBlur(cv2.erode(img, np.ones((3, 3), np.uint8)), (0, 0), 1.0)
    faint = near & ~notes.astype(bool)
    page[faint] = 1 - 0.3 * (1 - img[faint])
    page = cv2.GaussianBlur(page, (0, 0), 0.7)
    layout = detect_staves(page)
    assert layout.staff_space == pytest.approx(10.0, abs=0.3)
    score = score_staves(truth, layout)
    assert (score.recall, score.precision) == (1.0, 1.0)
    assert score.mean_line_error < 1.5  # the fading leaves the blurred line edges a little off centre
