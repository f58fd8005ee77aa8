"""The distortion interface: sample parameters from the sample's generator, then apply them.

Splitting ``sample`` from ``run`` keeps every distortion reproducible from its recorded
parameters (they go into the sample's metadata) and keeps randomness out of the pixel code.
Images are (H, W) uint8, 0 = ink, 255 = paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from synth.geometry import Geometry

Params = dict[str, Any]
PAPER = 255


@dataclass
class Distortion:
    """Base class. ``p`` is the probability that a sample gets this distortion."""

    p: float = 1.0
    name: ClassVar[str] = "distortion"
    geometric: ClassVar[bool] = False

    def sample(self, rng: np.random.Generator, shape: tuple[int, int]) -> Params:
        raise NotImplementedError

    def run(
        self, image: np.ndarray, params: Params, geometry: Geometry | None
    ) -> tuple[np.ndarray, Geometry | None]:
        raise NotImplementedError

    def apply(self, image: np.ndarray, rng: np.random.Generator, geometry: Geometry | None = None):
        """Sample parameters and apply them.

        Returns ``image`` for photometric distortions, ``(image, geometry)`` for geometric ones.
        """
        out, geom = self.run(image, self.sample(rng, image.shape[:2]), geometry)
        return (out, geom) if self.geometric else out


@dataclass
class Photometric(Distortion):
    def run(self, image, params, geometry):
        return self.pixels(image, params), geometry

    def pixels(self, image: np.ndarray, params: Params) -> np.ndarray:
        raise NotImplementedError


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255).astype(np.uint8)


def smooth_field(seed: int, shape: tuple[int, int], cells: int) -> np.ndarray:
    """A smooth random field in [-1, 1] of ``shape``: a ``cells``-wide grid upsampled bicubically."""
    g = np.random.default_rng(seed)
    h, w = shape
    gh = max(2, round(cells * h / max(h, w)))
    gw = max(2, round(cells * w / max(h, w)))
    grid = g.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def affine_points(m: np.ndarray):
    """Point map of a 2x3 (affine) or 3x3 (perspective) matrix."""

    def fn(p: np.ndarray) -> np.ndarray:
        if m.shape == (2, 3):
            return p @ m[:, :2].T + m[:, 2]
        q = np.c_[p, np.ones(len(p))] @ m.T
        return q[:, :2] / q[:, 2:3]

    return fn


def _sample(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear values of a displacement field at points; ``field`` is (H, W), (1, W) or (H, 1)."""
    h, w = field.shape
    if h == 1:
        return np.interp(x, np.arange(w), field[0])
    if w == 1:
        return np.interp(y, np.arange(h), field[:, 0])
    xi, yi = x.astype(np.float32)[None, :], y.astype(np.float32)[None, :]
    return cv2.remap(field, xi, yi, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]


def remap_with_points(image: np.ndarray, dx: np.ndarray, dy: np.ndarray, geometry: Geometry | None):
    """Warp by a backward displacement field (output pixel (x, y) reads input (x+dx, y+dy)).

    ``dx``/``dy`` are float32 (H, W) fields, or (1, W) / (H, 1) when they vary along one axis only
    (a page curl): the full-size maps are then built by broadcasting in a single pass each.
    Points move forward: solve p_out + d(p_out) = p_in by fixed-point iteration, exact enough for
    smooth fields whose gradient is well below 1 (ours are).
    """
    h, w = image.shape
    map_x = np.add(np.arange(w, dtype=np.float32)[None, :], dx, dtype=np.float32)
    map_y = np.add(np.arange(h, dtype=np.float32)[:, None], dy, dtype=np.float32)
    map_x, map_y = np.broadcast_arrays(map_x, map_y)
    out = cv2.remap(
        image,
        np.ascontiguousarray(map_x),
        np.ascontiguousarray(map_y),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=PAPER,
    )
    if geometry is None:
        return out, None

    def fn(p: np.ndarray) -> np.ndarray:
        q = p.copy()
        for _ in range(6):
            xi = np.clip(q[:, 0], 0, w - 1)
            yi = np.clip(q[:, 1], 0, h - 1)
            q = p - np.stack([_sample(dx, xi, yi), _sample(dy, xi, yi)], axis=1)
        return q

    return out, geometry.map_points(fn)
