"""Ink: bleed (spread into the paper fibres), erosion (thin, broken print) and dilation (heavy print)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.distort.base import Photometric


@dataclass
class Ink(Photometric):
    max_kernel: int = 2  # morphology on ink = minimum filter on the image
    name = "ink"

    def sample(self, rng, shape):
        return {
            "mode": str(rng.choice(["bleed", "erode", "dilate"])),
            "kernel": int(rng.integers(1, self.max_kernel + 1)) + 1,
            "sigma": float(rng.uniform(0.5, 1.2)),
        }

    def pixels(self, image, params):
        k = np.ones((params["kernel"], params["kernel"]), np.uint8)
        if params["mode"] == "dilate":  # more ink = darker minimum
            return cv2.erode(image, k)
        if params["mode"] == "erode":
            # Partial: stroke edges fade but 1-2 px staff lines and stems never vanish.
            grown = cv2.dilate(image, k).astype(np.float32)
            return (0.7 * image.astype(np.float32) + 0.3 * grown).astype(np.uint8)
        soft = cv2.GaussianBlur(image, (0, 0), params["sigma"]).astype(np.float32)
        # Bleed: ink spreads and darkens where it is dense (a soft threshold of the blurred page).
        return np.clip((soft - 60) * 1.6, 0, 255).astype(np.uint8)
