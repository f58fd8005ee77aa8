"""Sensor noise (Gaussian) and salt-and-pepper specks."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.distort.base import Photometric


@dataclass
class GaussianNoise(Photometric):
    max_sigma: float = 12.0
    name = "noise"

    def sample(self, rng, shape):
        return {"sigma": float(rng.uniform(2.0, self.max_sigma)), "seed": int(rng.integers(2**31))}

    def pixels(self, image, params):
        # OpenCV's generator, reseeded from the recorded parameter right here, is deterministic and
        # ~5x faster than numpy's normals plus float arithmetic on a full page; the noise is rounded
        # to whole grey levels, which the uint8 result rounds to anyway.
        cv2.setRNGSeed(params["seed"])
        noise = np.empty(image.shape, np.int16)
        cv2.randn(noise, 0.0, params["sigma"])
        return cv2.add(image, noise, dtype=cv2.CV_8U)  # saturates at 0 and 255


@dataclass
class SaltPepper(Photometric):
    max_amount: float = 0.004  # fraction of pixels flipped
    name = "salt_pepper"

    def sample(self, rng, shape):
        return {"amount": float(rng.uniform(0.0005, self.max_amount)), "seed": int(rng.integers(2**31))}

    def pixels(self, image, params):
        g = np.random.default_rng(params["seed"])
        n = int(params["amount"] * image.size)
        idx = g.integers(0, image.size, n)
        out = image.copy().reshape(-1)
        out[idx] = np.where(g.random(n) < 0.5, 0, 255).astype(np.uint8)
        return out.reshape(image.shape)
