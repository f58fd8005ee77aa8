"""Perspective: a phone held not quite parallel to the page."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.distort.base import PAPER, Distortion, affine_points


@dataclass
class Perspective(Distortion):
    max_shift: float = 0.04  # corner displacement as a fraction of the image size
    name = "perspective"
    geometric = True

    def sample(self, rng, shape):
        return {"shifts": rng.uniform(-self.max_shift, self.max_shift, (4, 2)).round(5).tolist()}

    def run(self, image, params, geometry):
        h, w = image.shape
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = (src + np.float32(params["shifts"]) * np.float32([w, h])).astype(np.float32)
        m = cv2.getPerspectiveTransform(src, dst)
        out = cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=PAPER)
        return out, geometry.map_points(affine_points(m)) if geometry else None
