"""JPEG artefacts: blocks and ringing from lossy scans and phone photos."""

from __future__ import annotations

from dataclasses import dataclass

import cv2

from synth.distort.base import Photometric


@dataclass
class Jpeg(Photometric):
    min_quality: int = 30
    max_quality: int = 85
    name = "jpeg"

    def sample(self, rng, shape):
        return {"quality": int(rng.integers(self.min_quality, self.max_quality + 1))}

    def pixels(self, image, params):
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, params["quality"]])
        if not ok:
            raise RuntimeError("OpenCV could not JPEG-encode the image")
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
