"""The one staff crop: a box around one staff's lines, used by synth and by ``omrformer transcribe``.

A model trained on single staves reads a page only if inference cuts the page into staves the
way training samples were cut: a model never sees margins it was not trained on. So the crop depends on the staff-line
geometry alone, never on the label: synth passes the lines it knows from the SVG, the
transcriber passes the lines its staff detector found, and both get the same box for the same
lines. Pure numpy (``synth`` may not import torch or omrformer, and ``omrformer`` may import
``synth``).

Margins are in staff spaces measured from the lines themselves, so a crop covers the same music
at every resolution. Defaults, ``above`` 4.5 and ``below`` 5.5 spaces: above the staff, a note two
ledger lines up (C6 in treble) reaches 2.5 spaces over the top line and an accent or fermata on it
about one more (up-stems belong to notes below the middle line and end within 1.5 spaces over
the top line). Below the staff, a down-stem from a note one ledger line down (C4 in treble)
ends 4.5 spaces under the bottom line, and Verovio sets a voice part's lyrics and a piano
staff's dynamics about 2-4 spaces under it with glyphs 1.5-2 spaces tall; 5.5 spaces keeps
them. Notes further out (three or more ledger lines) may be cut, as on a tight real page, and
the neighbouring staff's ink that falls inside the box stays in it.
"""

from __future__ import annotations

import numpy as np

from synth.geometry import Geometry, Measure, Staff

ABOVE = 4.5
BELOW = 5.5
PAD_X = 1.0
# A jittered margin never drops below this many staff spaces, so jitter cannot cut a staff line
# (nor leave a line touching the crop's edge, where a detector would miss it).
MIN_MARGIN = 1.0


def lines_from_xs(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(5, K, 2) polylines from shared x positions ``xs`` (K,) and line heights ``ys`` (5, K).

    The detected staff of ``omrformer.vision.staff_layout.Staff`` stores ``xs`` and ``lines``
    this way; synth's geometry stores the points.
    """
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if xs.ndim != 1 or ys.shape != (5, len(xs)) or len(xs) == 0:
        raise ValueError(f"expected xs (K,) and ys (5, K) with K >= 1, got {xs.shape} and {ys.shape}")
    return np.stack([np.broadcast_to(xs, ys.shape), ys], axis=-1)


def staff_space_of(lines: np.ndarray) -> float:
    """Median distance between neighbouring lines of one staff, in pixels."""
    lines = _check_lines(lines)
    gaps = np.diff(lines[:, :, 1], axis=0)  # (4, K)
    space = float(np.median(gaps))
    if not np.isfinite(space) or space <= 0:
        raise ValueError(f"staff lines are not ordered top to bottom (median gap {space})")
    return space


def staff_crop_box(
    lines: np.ndarray,
    width: int,
    height: int,
    *,
    above: float = ABOVE,
    below: float = BELOW,
    pad_x: float = PAD_X,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[int, int, int, int]:
    """Box ``(x0, y0, x1, y1)`` (pixels, ``x1``/``y1`` exclusive) around one staff.

    ``lines``: (5, K, 2) points (x, y) of the staff's five lines, top line first. The box spans
    the staff's x extent +- ``pad_x`` staff spaces and reaches ``above`` spaces over the highest
    point of the top line and ``below`` spaces under the lowest point of the bottom line (so a
    tilted or curved staff is whole), clipped to the ``width`` x ``height`` image. ``jitter`` > 0
    (training only) adds to each of the four margins an amount drawn uniformly from
    [-jitter, jitter] spaces with ``rng`` (required then), never below ``MIN_MARGIN`` spaces
    vertically or 0 horizontally. Deterministic for given inputs and generator state.
    """
    lines = _check_lines(lines)
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    if min(above, below) < MIN_MARGIN or pad_x < 0 or jitter < 0:
        raise ValueError(
            f"margins must be above >= {MIN_MARGIN}, below >= {MIN_MARGIN}, pad_x >= 0, jitter >= 0 "
            f"(got above={above}, below={below}, pad_x={pad_x}, jitter={jitter})"
        )
    space = staff_space_of(lines)
    margins = np.array([pad_x, above, pad_x, below], dtype=np.float64)  # left, top, right, bottom
    if jitter > 0:
        if rng is None:
            raise ValueError("jitter needs an rng (np.random.Generator)")
        margins = margins + rng.uniform(-jitter, jitter, size=4)
        margins = np.maximum(margins, [0.0, MIN_MARGIN, 0.0, MIN_MARGIN])
    left, top, right, bottom = margins * space
    xs = lines[:, :, 0]
    x0 = int(np.floor(xs.min() - left))
    x1 = int(np.ceil(xs.max() + right)) + 1
    y0 = int(np.floor(lines[0, :, 1].min() - top))
    y1 = int(np.ceil(lines[4, :, 1].max() + bottom)) + 1
    x0, x1 = max(0, x0), min(width, x1)
    y0, y1 = max(0, y0), min(height, y1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"the staff lies outside the {width} x {height} image")
    return x0, y0, x1, y1


def box_contains(box: tuple[int, int, int, int], points: np.ndarray) -> bool:
    """True when every (x, y) point lies inside the box (pixel centres, x1/y1 exclusive)."""
    x0, y0, x1, y1 = box
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return bool(np.all((p[:, 0] >= x0) & (p[:, 0] < x1) & (p[:, 1] >= y0) & (p[:, 1] < y1)))


def crop_geometry(geometry: Geometry, box: tuple[int, int, int, int]) -> Geometry:
    """``geometry`` in the coordinates of the crop ``box``; what falls outside is dropped.

    Staves are kept when all their line points lie in the box (a neighbour partly visible is
    dropped: the sample describes its own staff); system and measure quads are clipped to the
    box and kept when something of them remains; anchors are kept when inside.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 1 or h < 1:
        raise ValueError(f"empty crop box {box}")
    off = np.array([x0, y0], dtype=np.float64)
    staves = [Staff(s.system, s.index, s.lines - off) for s in geometry.staves if box_contains(box, s.lines)]

    def clip(q: np.ndarray) -> np.ndarray | None:
        c = q - off
        c = np.stack([np.clip(c[:, 0], 0, w), np.clip(c[:, 1], 0, h)], axis=1)
        if np.ptp(c[:, 0]) <= 0 or np.ptp(c[:, 1]) <= 0:
            return None
        return c

    systems = [c for c in (clip(q) for q in geometry.systems) if c is not None]
    measures = []
    for m in geometry.measures:
        c = clip(m.quad)
        if c is not None:
            measures.append(Measure(m.system, m.index, c, m.id))
    anchors = {k: v - off for k, v in geometry.anchors.items() if box_contains(box, v)}
    return Geometry(w, h, staves, systems, measures, anchors)


def _check_lines(lines: np.ndarray) -> np.ndarray:
    a = np.asarray(lines, dtype=np.float64)
    if a.ndim != 3 or a.shape[0] != 5 or a.shape[2] != 2 or a.shape[1] < 1:
        raise ValueError(f"staff lines must be (5, K, 2) points, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("staff lines contain NaN or infinite coordinates")
    return a
