"""The one staff crop (synth.staff_crop): never cuts a staff line, deterministic, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from synth.config import load_config
from synth.geometry import Geometry, Measure, Staff
from synth.sample import SampleError, SampleMaker
from synth.staff_crop import (
    MIN_MARGIN,
    box_contains,
    crop_geometry,
    lines_from_xs,
    staff_crop_box,
    staff_space_of,
)


def _straight(x0=50.0, x1=450.0, top=100.0, space=10.0, k=9, tilt=0.0) -> np.ndarray:
    xs = np.linspace(x0, x1, k)
    ys = np.array([top + i * space + tilt * (xs - x0) for i in range(5)])
    return lines_from_xs(xs, ys)


@pytest.fixture(scope="module")
def rendered() -> list[Geometry]:
    """Geometry of engraved and distorted generated systems (several staves, some tilted)."""
    cfg = load_config(None, level="system", raster={"staff_space_px": [6, 8]}, generator={"measures": [2, 3]})
    maker = SampleMaker(cfg, "random")
    out = []
    for i in range(8):
        for attempt in range(cfg.max_attempts):
            try:
                out.append(Geometry.from_json(maker.make(11, i, attempt).geometry))
                break
            except SampleError:
                continue
    assert len(out) >= 6
    return out


def test_crop_contains_all_five_lines_with_margin_on_rendered_staves(rendered):
    staves = 0
    for g in rendered:
        for s in g.staves:
            if not box_contains((0, 0, g.width, g.height), s.lines):
                continue  # a distortion pushed this staff partly off the image; nothing to crop whole
            staves += 1
            space = staff_space_of(s.lines)
            for seed in range(5):
                rng = np.random.default_rng(seed)
                box = staff_crop_box(s.lines, g.width, g.height, jitter=1.5, rng=rng)
                assert box_contains(box, s.lines)
                x0, y0, x1, y1 = box
                # Never cut a line: the margin over the top line / under the bottom line is at least
                # MIN_MARGIN spaces unless the image edge itself is nearer.
                assert y0 == 0 or s.lines[0, :, 1].min() - y0 >= MIN_MARGIN * space - 1
                assert y1 == g.height or y1 - s.lines[4, :, 1].max() >= MIN_MARGIN * space - 1
                c = crop_geometry(g, box)
                kept = [t for t in c.staves if (t.system, t.index) == (s.system, s.index)]
                assert len(kept) == 1
                assert box_contains((0, 0, c.width, c.height), kept[0].lines)
                assert np.allclose(kept[0].lines + [x0, y0], s.lines)
    assert staves >= 10


def test_defaults_margins_in_staff_spaces_and_clipping():
    lines = _straight(top=100.0, space=10.0)
    x0, y0, x1, y1 = staff_crop_box(lines, 1000, 1000)
    assert (x0, y0) == (40, 55)  # 1 space left of x=50; 4.5 spaces over the top line
    assert (x1, y1) == (461, 196)  # 1 space right of 450, 5.5 spaces under 140 (exclusive +1)
    # At twice the resolution the box is twice as large: margins follow the staff space.
    big = staff_crop_box(lines * 2, 2000, 2000)
    assert abs((big[3] - big[1]) - 2 * (y1 - y0)) <= 2
    # Clipped to the image.
    assert staff_crop_box(lines, 300, 150) == (40, 55, 300, 150)


def test_tilted_staff_is_whole_and_jitter_is_deterministic():
    lines = _straight(tilt=0.05)
    box = staff_crop_box(lines, 1000, 1000)
    assert box_contains(box, lines)
    a = staff_crop_box(lines, 1000, 1000, jitter=2.0, rng=np.random.default_rng(3))
    b = staff_crop_box(lines, 1000, 1000, jitter=2.0, rng=np.random.default_rng(3))
    c = staff_crop_box(lines, 1000, 1000, jitter=2.0, rng=np.random.default_rng(4))
    assert a == b and a != c and box_contains(a, lines)
    assert staff_crop_box(lines, 1000, 1000) == box  # pure: same input, same box


def test_lines_from_xs_matches_point_form():
    xs = np.array([0.0, 10.0, 20.0])
    ys = np.arange(15, dtype=float).reshape(5, 3)
    pts = lines_from_xs(xs, ys)
    assert pts.shape == (5, 3, 2)
    assert np.array_equal(pts[2, 1], [10.0, 7.0])


@pytest.mark.parametrize(
    ("lines", "kw", "match"),
    [
        (np.zeros((4, 3, 2)), {}, r"\(5, K, 2\)"),
        (_straight()[::-1], {}, "top to bottom"),
        (_straight(), {"above": 0.5}, "margins"),
        (_straight(), {"jitter": 1.0}, "rng"),
        (_straight(x0=2000, x1=2100), {}, "outside"),
    ],
)
def test_bad_input_is_a_clear_error(lines, kw, match):
    with pytest.raises(ValueError, match=match):
        staff_crop_box(lines, 1000, 1000, **kw)


def test_crop_geometry_drops_what_is_outside():
    lines_a, lines_b = _straight(top=100.0), _straight(top=200.0)
    g = Geometry(
        1000,
        1000,
        [Staff(0, 0, lines_a), Staff(0, 1, lines_b)],
        [np.array([[40, 90], [460, 90], [460, 250], [40, 250]], dtype=float)],
        [Measure(0, 0, np.array([[50, 90], [250, 90], [250, 250], [50, 250]], dtype=float), "m1")],
        {"n1": np.array([100.0, 120.0]), "n2": np.array([100.0, 220.0])},
    )
    box = staff_crop_box(lines_a, g.width, g.height)
    c = crop_geometry(g, box)
    assert [(s.system, s.index) for s in c.staves] == [(0, 0)]
    assert list(c.anchors) == ["n1"] and np.allclose(c.anchors["n1"], [100 - box[0], 120 - box[1]])
    assert len(c.measures) == 1 and c.measures[0].quad[:, 1].max() == c.height
    assert (c.width, c.height) == (box[2] - box[0], box[3] - box[1])
