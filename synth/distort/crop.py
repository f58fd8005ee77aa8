"""Cropping and margins: the page is framed tighter or looser than engraved (geometry shifts)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.distort.base import PAPER, Distortion


@dataclass
class CropMargins(Distortion):
    max_fraction: float = 0.04  # per side; negative = crop into the margin, positive = add paper
    name = "crop"
    geometric = True

    def sample(self, rng, shape):
        h, w = shape
        f = rng.uniform(-self.max_fraction, self.max_fraction, 4)
        return {"left": int(f[0] * w), "right": int(f[1] * w), "top": int(f[2] * h), "bottom": int(f[3] * h)}

    def run(self, image, params, geometry):
        h, w = image.shape
        l, r, t, b = params["left"], params["right"], params["top"], params["bottom"]
        # Never crop into the music: clamp crops to the geometry's bounding box.
        if geometry is not None and len(pts := geometry.points()):
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            l, t = max(l, -int(x0) + 2), max(t, -int(y0) + 2)
            r, b = max(r, -int(w - x1) + 2), max(b, -int(h - y1) + 2)
        out = np.pad(image, ((max(t, 0), max(b, 0)), (max(l, 0), max(r, 0))), constant_values=PAPER)
        out = out[max(-t, 0) : out.shape[0] - max(-b, 0), max(-l, 0) : out.shape[1] - max(-r, 0)]
        out = np.ascontiguousarray(out)
        if geometry is None:
            return out, None
        shift = np.array([l, t], dtype=np.float64)
        return out, geometry.map_points(lambda p: p + shift, out.shape[1], out.shape[0])
