"""Sensor noise (Gaussian) and salt-and-pepper specks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.distort.base import Photometric, to_uint8


@dataclass
class GaussianNoise(Photometric):
    max_sigma: float = 12.0
    name = "noise"

    def sample(self, rng, shape):
        return {"sigma": float(rng.uniform(2.0, self.max_sigma)), "seed": int(rng.integers(2**31))}

    def pixels(self, image, params):
        g = np.random.default_rng(params["seed"])
        noise = g.standard_normal(image.shape, dtype=np.float32) * params["sigma"]
        return to_uint8(image.astype(np.float32) + noise)


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
