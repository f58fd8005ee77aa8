"""Paper texture (grain and fibres) and uneven lighting (gradient and vignette)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.distort.base import Photometric, smooth_field


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
        tint, grain = params["tint"], params["grain"]
        # paper / 255 = (255 - tint * (0.6 + 0.4 * blotch) - grain * fine) / 255, in one pass.
        paper = cv2.addWeighted(blotch, -0.4 * tint / 255, fine, -grain / 255, 1.0 - 0.6 * tint / 255)
        # Ink stays ink: paper colour multiplies, so dark pixels stay dark.
        return cv2.multiply(image, paper, dtype=cv2.CV_8U)


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
        xn = np.arange(w, dtype=np.float32) / w - 0.5
        yn = np.arange(h, dtype=np.float32) / h - 0.5
        s, v, a = params["strength"], params["vignette"], params["angle"]
        # grad = xn cos a + yn sin a lies in [-0.71, 0.71]; light = 1 - s (grad + 0.71) / 1.42
        # - 2 v (xn^2 + yn^2) is a sum of a function of x and one of y: built from two vectors.
        fx = -s * xn * np.cos(a) / 1.42 - 2 * v * xn**2
        fy = 1.0 - s * (yn * np.sin(a) + 0.71) / 1.42 - 2 * v * yn**2
        light = np.add.outer(fy, fx).astype(np.float32)  # (H, W)
        return cv2.multiply(image, light, dtype=cv2.CV_8U)
