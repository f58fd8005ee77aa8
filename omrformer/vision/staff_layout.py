"""Detected staves and their layout (the output of :mod:`omrformer.vision.staff_detection`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class NoStaffFound(ValueError):
    """The image shows no five-line staff (not sheet music, blank, or far too small/large)."""


@dataclass
class Staff:
    """One five-line staff.

    Attributes:
        xs: (K,) x positions (pixels, increasing) where the lines were measured.
        lines: (5, K) y position of each line at ``xs``, top line first.
    """

    xs: np.ndarray
    lines: np.ndarray

    @property
    def x0(self) -> float:
        return float(self.xs[0])

    @property
    def x1(self) -> float:
        return float(self.xs[-1])

    def line_y(self, k: int, x: np.ndarray | float) -> np.ndarray:
        """y of line ``k`` (0 = top) at ``x``; constant beyond the measured ends."""
        return np.interp(x, self.xs, self.lines[k])

    def middle(self, x: np.ndarray | float) -> np.ndarray:
        return self.line_y(2, x)

    def space(self, x: np.ndarray | float) -> np.ndarray:
        """Local staff space in pixels at ``x``."""
        return (self.line_y(4, x) - self.line_y(0, x)) / 4.0

    def scaled(self, factor: float) -> Staff:
        return Staff(self.xs * factor, self.lines * factor)


@dataclass
class StaffLayout:
    """All staves of an image, top to bottom, and their grouping into systems.

    Attributes:
        staves: Staves sorted by the y of their middle line.
        systems: Per system, the indices into ``staves`` (top to bottom).
        staff_space: Median staff space in pixels (0 when there is no staff).
        line_thickness: Estimated staff-line thickness in pixels.
    """

    width: int
    height: int
    staves: list[Staff] = field(default_factory=list)
    systems: list[list[int]] = field(default_factory=list)
    staff_space: float = 0.0
    line_thickness: float = 0.0

    def scaled(self, factor: float) -> StaffLayout:
        """The same layout for the image resized by ``factor``."""
        return StaffLayout(
            round(self.width * factor),
            round(self.height * factor),
            [s.scaled(factor) for s in self.staves],
            [list(g) for g in self.systems],
            self.staff_space * factor,
            self.line_thickness * factor,
        )

    def to_json(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "staff_space": round(self.staff_space, 3),
            "line_thickness": round(self.line_thickness, 3),
            "systems": self.systems,
            "staves": [
                {"xs": np.round(s.xs, 2).tolist(), "lines": np.round(s.lines, 2).tolist()}
                for s in self.staves
            ],
        }
