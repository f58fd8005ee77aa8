"""Rotation and skew (shear) about the page centre: a scanner's crooked feed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2

from synth.distort.base import PAPER, Distortion, affine_points


@dataclass
class Rotate(Distortion):
    max_degrees: float = 2.0
    max_shear: float = 0.02
    name = "rotate"
    geometric = True

    def sample(self, rng, shape):
        return {
            "degrees": float(rng.uniform(-self.max_degrees, self.max_degrees)),
            "shear": float(rng.uniform(-self.max_shear, self.max_shear)),
        }

    def run(self, image, params, geometry):
        h, w = image.shape
        m = cv2.getRotationMatrix2D((w / 2, h / 2), params["degrees"], 1.0)
        m[0, 1] += params["shear"]  # horizontal shear: x' += shear * (y - cy)
        m[0, 2] -= params["shear"] * h / 2
        out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=PAPER)
        return out, geometry.map_points(affine_points(m)) if geometry else None
