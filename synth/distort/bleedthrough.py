"""Bleed-through: the faint mirrored print of the other side of the sheet."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.distort.base import Photometric


@dataclass
class BleedThrough(Photometric):
    max_alpha: float = 0.18
    name = "bleed_through"

    def sample(self, rng, shape):
        h, w = shape
        return {
            "alpha": float(rng.uniform(0.05, self.max_alpha)),
            "dx": int(rng.integers(-w // 20, w // 20 + 1)),
            "dy": int(rng.integers(-h // 20, h // 20 + 1)),
            "sigma": float(rng.uniform(1.0, 2.5)),
        }

    def pixels(self, image, params):
        # The verso is approximated by this page mirrored and shifted: same ink density and layout.
        verso = np.roll(cv2.flip(image, 1), (params["dy"], params["dx"]), axis=(0, 1))
        verso = cv2.GaussianBlur(verso, (0, 0), params["sigma"])
        # ghost = 1 - alpha (1 - verso / 255) in [1 - alpha, 1], kept as 255 * ghost in uint8, so the
        # darkening image * ghost is two integer passes instead of float arithmetic on the page.
        a = params["alpha"]
        ghost = cv2.convertScaleAbs(verso, alpha=a, beta=255.0 * (1.0 - a))
        return cv2.multiply(image, ghost, scale=1.0 / 255.0)
