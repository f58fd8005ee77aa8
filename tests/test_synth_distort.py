"""Distortions: determinism, shapes, and geometry that follows the pixels (staff lines stay on ink)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synth.distort import ALL
from synth.geometry import Geometry, Measure, Staff
from synth.presets import build_presets, degrade


def _page() -> tuple[np.ndarray, Geometry]:
    """A 300x400 'page' with two 5-line staves drawn 2 px thick, and its exact geometry."""
    img = np.full((300, 400), 255, np.uint8)
    g = Geometry(400, 300)
    for si, top in enumerate((60, 180)):
        ys = top + 10 * np.arange(5)
        for y in ys:
            cv2.line(img, (40, int(y)), (360, int(y)), 0, 2)
        xs = np.linspace(40, 360, 9)
        lines = np.stack([np.stack([xs, np.full_like(xs, y + 0.5)], axis=1) for y in ys])
        g.staves.append(Staff(si, 0, lines))
        quad = np.array([[40, top], [360, top], [360, top + 40], [40, top + 40]], float)
        g.systems.append(quad)
        g.measures.append(Measure(si, si, quad.copy(), f"m{si}"))
    g.anchors["n1"] = np.array([100.0, 80.0])
    return img, g


def _on_ink(img: np.ndarray, g: Geometry) -> float:
    """Fraction of staff-line points within 1 px of a pixel clearly darker than the paper."""
    paper = np.median(img)
    hits = []
    for s in g.staves:
        for x, y in s.lines[:, 1:-1].reshape(-1, 2):
            xi, yi = int(round(x)), int(round(y))
            if 1 <= xi < img.shape[1] - 1 and 1 <= yi < img.shape[0] - 1:
                hits.append(img[yi - 1 : yi + 2, xi - 1 : xi + 2].min() < paper - 60)
    return float(np.mean(hits))


@pytest.mark.parametrize("cls", [c for c in ALL if c.geometric], ids=lambda c: c.name)
def test_geometric_distortions_move_geometry_with_the_ink(cls):
    img, g = _page()
    assert _on_ink(img, g) == 1.0
    moved = 0.0
    for seed in range(4):
        d = cls(p=1.0)
        out, g2 = d.apply(img, np.random.default_rng(seed), g)
        assert out.dtype == np.uint8 and out.shape == (g2.height, g2.width)
        assert _on_ink(out, g2) >= 0.97, (cls.name, seed)
        moved = max(moved, np.abs(g2.points() - g.points()).max())
    assert moved > 0.3, "a geometric distortion that moves nothing"


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_each_distortion_is_a_pure_function_of_its_generator(cls):
    img, g = _page()
    d = cls(p=1.0)
    a = d.apply(img, np.random.default_rng(7), g)
    b = d.apply(img, np.random.default_rng(7), g)
    a_img = a[0] if d.geometric else a
    b_img = b[0] if d.geometric else b
    assert np.array_equal(a_img, b_img)
    assert a_img.dtype == np.uint8 and a_img.ndim == 2


def test_photometric_distortions_change_pixels_not_size():
    img, _ = _page()
    for cls in ALL:
        if cls.geometric:
            continue
        out = cls(p=1.0).apply(img, np.random.default_rng(1))
        assert out.shape == img.shape, cls.name
        assert not np.array_equal(out, img), f"{cls.name} left the image untouched"


@pytest.mark.parametrize("preset", ["clean", "scan", "photo"])
def test_presets_keep_staff_lines_on_ink(preset):
    img, g = _page()
    steps = build_presets()[preset]
    for seed in range(5):
        out, g2, applied = degrade(img, g, steps, np.random.default_rng(seed))
        assert out.shape == (g2.height, g2.width)
        assert _on_ink(out, g2) >= 0.9, (preset, seed, [a["name"] for a in applied])
        assert all("name" in a for a in applied)


def test_override_probability_zero_disables_a_distortion():
    img, g = _page()
    steps = build_presets({"perspective": {"p": 0.0}})["photo"]
    for seed in range(5):
        _, _, applied = degrade(img, g, steps, np.random.default_rng(seed))
        assert "perspective" not in [a["name"] for a in applied]


def test_geometry_json_round_trip():
    _, g = _page()
    back = Geometry.from_json(g.to_json())
    assert np.allclose(back.points(), g.points(), atol=0.05)
    assert back.staff_space() == pytest.approx(10.0)
