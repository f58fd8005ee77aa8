"""Score detected staves against true staff lines (recall, line-position error in pixels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omrformer.vision.staff_detection import StaffLayout


@dataclass
class StaffScore:
    """Recall of true staves and the mean |error| of the matched staves' line positions.

    Attributes:
        n_true: True staves.
        n_detected: Detected staves.
        n_matched: True staves with a detected staff whose middle line is within one staff space.
        mean_line_error: Mean absolute y error (pixels) over the 5 lines of matched staves, sampled at
            the true polyline points.
        max_line_error: Largest such error.
    """

    n_true: int
    n_detected: int
    n_matched: int
    mean_line_error: float
    max_line_error: float

    @property
    def recall(self) -> float:
        return self.n_matched / self.n_true if self.n_true else 1.0

    @property
    def precision(self) -> float:
        return self.n_matched / self.n_detected if self.n_detected else 1.0


def score_staves(true_lines: list[np.ndarray], layout: StaffLayout) -> StaffScore:
    """Compare ``layout`` with true staves, each a (5, K, 2) array of line polylines (x, y)."""
    errors: list[np.ndarray] = []
    matched, used = 0, set()
    for lines in true_lines:
        xs, ys = lines[2, :, 0], lines[2, :, 1]
        xc = float(np.median(xs))
        space = float(np.mean(np.diff(lines[:, :, 1], axis=0)))
        best, best_d = None, space
        for i, s in enumerate(layout.staves):
            if i in used or s.x1 < xs.min() or s.x0 > xs.max():
                continue
            d = abs(float(s.middle(xc)) - float(np.interp(xc, xs, ys)))
            if d < best_d:
                best, best_d = i, d
        if best is None:
            continue
        used.add(best)
        matched += 1
        s = layout.staves[best]
        errors.append(
            np.concatenate([np.abs(s.line_y(k, lines[k, :, 0]) - lines[k, :, 1]) for k in range(5)])
        )
    err = np.concatenate(errors) if errors else np.zeros(0)
    return StaffScore(
        len(true_lines),
        len(layout.staves),
        matched,
        float(err.mean()) if err.size else float("nan"),
        float(err.max()) if err.size else float("nan"),
    )
