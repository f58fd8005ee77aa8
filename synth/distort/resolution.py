"""Resolution changes: a low-resolution capture scaled back up (detail lost, geometry kept)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2

from synth.distort.base import Photometric

_INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


@dataclass
class Resolution(Photometric):
    min_factor: float = 0.6  # down-sampling factor before scaling back up
    name = "resolution"

    def sample(self, rng, shape):
        return {
            "factor": float(rng.uniform(self.min_factor, 0.95)),
            "down": str(rng.choice(["area", "linear", "nearest"])),
        }

    def pixels(self, image, params):
        h, w = image.shape
        small = cv2.resize(
            image,
            (max(1, round(w * params["factor"])), max(1, round(h * params["factor"]))),
            interpolation=_INTERP[params["down"]],
        )
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
