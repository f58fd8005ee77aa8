"""Paper texture (grain and fibres) and uneven lighting (gradient and vignette)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.distort.base import Photometric, smooth_field, to_uint8


@dataclass
class PaperTexture(Photometric):
    max_tint: float = 40.0  # how far paper gets from white
    name = "paper"

    def sample(self, rng, shape):
        return {
            "tint": float(rng.uniform(5.0, self.max_tint)),
            "grain": float(rng.uniform(2.0, 10.0)),
            "seed": int(rng.integers(2**31)),
        }

    def pixels(self, image, params):
        h, w = image.shape
        blotch = smooth_field(params["seed"], (h, w), 12)  # low-frequency stains
        fine = smooth_field(params["seed"] + 1, (h, w), max(8, max(h, w) // 6))  # grain
        paper = 255 - params["tint"] * (0.6 + 0.4 * blotch) - params["grain"] * fine
        # Ink stays ink: paper colour multiplies, so dark pixels stay dark.
        return to_uint8(image.astype(np.float32) * (paper / 255.0))


@dataclass
class Lighting(Photometric):
    max_strength: float = 0.35
    name = "lighting"

    def sample(self, rng, shape):
        return {
            "strength": float(rng.uniform(0.05, self.max_strength)),
            "angle": float(rng.uniform(0, 2 * np.pi)),
            "vignette": float(rng.uniform(0.0, 0.3)),
        }

    def pixels(self, image, params):
        h, w = image.shape
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        xn, yn = x / w - 0.5, y / h - 0.5
        grad = xn * np.cos(params["angle"]) + yn * np.sin(params["angle"])  # in [-0.71, 0.71]
        light = 1.0 - params["strength"] * (grad + 0.71) / 1.42 - params["vignette"] * (xn**2 + yn**2) * 2
        return to_uint8(image.astype(np.float32) * light)
