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
        verso = np.roll(image[:, ::-1], (params["dy"], params["dx"]), axis=(0, 1))
        verso = cv2.GaussianBlur(verso, (0, 0), params["sigma"]).astype(np.float32)
        ghost = 1.0 - params["alpha"] * (1.0 - verso / 255.0)
        return np.minimum(image.astype(np.float32), image.astype(np.float32) * ghost).astype(np.uint8)
