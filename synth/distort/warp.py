"""Non-rigid warps: page curl (a bound book's bulge) and a smooth elastic field (wavy paper)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.distort.base import Distortion, remap_with_points, smooth_field


@dataclass
class PageCurl(Distortion):
    max_amplitude: float = 0.012  # vertical bulge as a fraction of the height
    name = "page_curl"
    geometric = True

    def sample(self, rng, shape):
        return {
            "amplitude": float(rng.uniform(-self.max_amplitude, self.max_amplitude)),
            "phase": float(rng.uniform(0, np.pi)),
            "periods": float(rng.uniform(0.3, 1.0)),
        }

    def run(self, image, params, geometry):
        h, w = image.shape
        x = np.arange(w, dtype=np.float32)
        wave = np.sin(params["phase"] + np.pi * params["periods"] * x / w).astype(np.float32)
        dy = (params["amplitude"] * h * wave)[None, :].astype(np.float32)  # (1, W): depends on x only
        return remap_with_points(image, np.zeros((1, 1), np.float32), dy, geometry)


@dataclass
class ElasticWarp(Distortion):
    max_pixels: float = 3.0  # peak displacement
    cells: int = 6  # grid cells across the longer side: larger = wigglier
    name = "elastic"
    geometric = True

    def sample(self, rng, shape):
        return {"pixels": float(rng.uniform(0.5, self.max_pixels)), "seed": int(rng.integers(2**31))}

    def run(self, image, params, geometry):
        shape = image.shape
        dx = smooth_field(params["seed"], shape, self.cells)
        dy = smooth_field(params["seed"] + 1, shape, self.cells)
        dx *= params["pixels"]  # in place: these are full-page float32 fields
        dy *= params["pixels"]
        return remap_with_points(image, dx, dy, geometry)
