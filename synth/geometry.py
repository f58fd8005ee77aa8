"""Page geometry in pixels: staff lines, systems, measures and note anchors, movable as one point set.

Every coordinate is an (x, y) pixel point, so a geometric distortion moves the whole geometry by
mapping one (N, 2) array (``map_points``); boxes are stored as 4-corner quads for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

PointFn = Callable[[np.ndarray], np.ndarray]  # (N, 2) -> (N, 2)


@dataclass
class Staff:
    system: int  # index of its system on the page
    index: int  # staff number within the system, top to bottom
    lines: np.ndarray  # (5, K, 2) polyline of each line, top line first


@dataclass
class Measure:
    system: int
    index: int  # measure number on the page, 0-based, in reading order
    quad: np.ndarray  # (4, 2) corners: top-left, top-right, bottom-right, bottom-left
    id: str = ""


@dataclass
class Geometry:
    width: int
    height: int
    staves: list[Staff] = field(default_factory=list)
    systems: list[np.ndarray] = field(default_factory=list)  # (4, 2) quads
    measures: list[Measure] = field(default_factory=list)
    anchors: dict[str, np.ndarray] = field(default_factory=dict)  # element id -> (2,) point

    def _arrays(self) -> list[np.ndarray]:
        return (
            [s.lines.reshape(-1, 2) for s in self.staves]
            + [q.reshape(-1, 2) for q in self.systems]
            + [m.quad.reshape(-1, 2) for m in self.measures]
            + [a.reshape(-1, 2) for a in self.anchors.values()]
        )

    def points(self) -> np.ndarray:
        """All coordinates as one (N, 2) float64 array (order fixed by the structure)."""
        arrays = self._arrays()
        return np.concatenate(arrays) if arrays else np.zeros((0, 2))

    def map_points(self, fn: PointFn, width: int | None = None, height: int | None = None) -> Geometry:
        """A copy with every point mapped by ``fn`` and, optionally, a new image size."""
        pts = fn(self.points().astype(np.float64)) if len(self.points()) else self.points()
        pts = np.asarray(pts, dtype=np.float64)
        it = iter(np.split(pts, np.cumsum([len(a) for a in self._arrays()])[:-1]) if len(pts) else [])
        staves = [Staff(s.system, s.index, next(it).reshape(s.lines.shape)) for s in self.staves]
        systems = [next(it).reshape(4, 2) for _ in self.systems]
        measures = [Measure(m.system, m.index, next(it).reshape(4, 2), m.id) for m in self.measures]
        anchors = {k: next(it).reshape(2) for k in self.anchors}
        return Geometry(width or self.width, height or self.height, staves, systems, measures, anchors)

    def scaled(self, sx: float, sy: float | None = None) -> Geometry:
        sy = sx if sy is None else sy
        return self.map_points(
            lambda p: p * np.array([sx, sy]), round(self.width * sx), round(self.height * sy)
        )

    def staff_space(self) -> float:
        """Median distance between neighbouring staff lines, in pixels (0 when there is no staff)."""
        if not self.staves:
            return 0.0
        gaps = [np.diff(s.lines[:, :, 1], axis=0).mean() for s in self.staves]
        return float(np.median(gaps))

    def to_json(self) -> dict:
        def r(a: np.ndarray) -> list:
            return np.round(a, 1).tolist()

        return {
            "width": self.width,
            "height": self.height,
            "staff_space": round(self.staff_space(), 2),
            "staves": [{"system": s.system, "index": s.index, "lines": r(s.lines)} for s in self.staves],
            "systems": [r(q) for q in self.systems],
            "measures": [
                {"system": m.system, "index": m.index, "id": m.id, "quad": r(m.quad)} for m in self.measures
            ],
            "anchors": {k: r(v) for k, v in self.anchors.items()},
        }

    @classmethod
    def from_json(cls, d: dict) -> Geometry:
        return cls(
            int(d["width"]),
            int(d["height"]),
            [Staff(s["system"], s["index"], np.array(s["lines"], dtype=np.float64)) for s in d["staves"]],
            [np.array(q, dtype=np.float64) for q in d["systems"]],
            [
                Measure(m["system"], m["index"], np.array(m["quad"], dtype=np.float64), m.get("id", ""))
                for m in d["measures"]
            ],
            {k: np.array(v, dtype=np.float64) for k, v in d["anchors"].items()},
        )
