"""Blur: focus and scanner optics."""

from __future__ import annotations

from dataclasses import dataclass

import cv2

from synth.distort.base import Photometric


@dataclass
class Blur(Photometric):
    max_sigma: float = 1.2
    name = "blur"

    def sample(self, rng, shape):
        return {"sigma": float(rng.uniform(0.3, self.max_sigma))}

    def pixels(self, image, params):
        return cv2.GaussianBlur(image, (0, 0), params["sigma"])
