"""Staff ends and systems: follow a staff's lines out to its ends, find barlines joining staves."""

from __future__ import annotations

import numpy as np

from omrformer.vision.staff_layout import Staff


def _walk(ink: np.ndarray, staff: Staff, space: float, thickness: float, side: int) -> tuple[float, np.ndarray]:
    """Follow a staff's lines beyond its measured end to where they stop, on the ink itself.

    The strips at a staff's ends often fail (a clef, brace or key signature fills them), so the
    measured ends lie up to a few spaces inside the true ones. Step outwards column by column along
    the lines extrapolated from the end's last few spaces; a column continues the staff while at least
    four of the five lines have ink there, and the walk ends at a gap wider than half a space.

    Returns:
        (x, (5,) ys) of the staff's end (the measured end when the lines do not continue).
    """
    h, w = ink.shape
    xs = staff.xs if side < 0 else staff.xs[::-1]
    lines = staff.lines if side < 0 else staff.lines[:, ::-1]
    near = np.abs(xs - xs[0]) <= 6 * space
    x_end, y_end = float(xs[0]), lines[:, 0]
    slope = float(np.polyfit(xs[near], lines[2, near], 1)[0]) if near.sum() >= 2 else 0.0
    slope = float(np.clip(slope, -0.1, 0.1))
    steps = np.arange(1, int(10 * space))  # (S,)
    px = x_end + side * steps  # (S,) probe columns
    inside = (px >= 0) & (px <= w - 1)
    px, steps = px[inside], steps[inside]
    if px.size == 0:
        return x_end, y_end
    tol = max(1, int(round(thickness / 2 + 1)))
    ys = y_end[:, None] + slope * (px - x_end)[None, :]  # (5, S)
    rows = np.floor(ys).astype(int)[:, :, None] + np.arange(-tol, tol + 1)  # (5, S, 2 * tol + 1)
    cols = np.broadcast_to(px.astype(int)[None, :, None], rows.shape)
    hit = ink[np.clip(rows, 0, h - 1), cols].any(axis=2)  # (5, S)
    on = hit.sum(axis=0) >= 4  # (S,)
    last = 0
    for i in range(px.size):
        if on[i]:
            last = i + 1
        elif steps[i] - (steps[last - 1] if last else 0) > 0.5 * space:
            break
    if last == 0:
        return x_end, y_end
    x = float(px[last - 1])
    return x, y_end + slope * (x - x_end)


def extend_staff(ink: np.ndarray, staff: Staff, space: float, thickness: float) -> Staff:
    """The staff with its lines followed out to their true left and right ends (see :func:`_walk`)."""
    x_left, y_left = _walk(ink, staff, space, thickness, -1)
    x_right, y_right = _walk(ink, staff, space, thickness, +1)
    xs, lines = staff.xs, staff.lines
    if x_left < xs[0] - 0.5:
        xs, lines = np.concatenate([[x_left], xs]), np.concatenate([y_left[:, None], lines], axis=1)
    if x_right > xs[-1] + 0.5:
        xs, lines = np.concatenate([xs, [x_right]]), np.concatenate([lines, y_right[:, None]], axis=1)
    return Staff(xs, lines)


def _slope(staff: Staff, space: float) -> float:
    """dy/dx of a staff's bottom line over its first ten staff spaces (the local skew)."""
    x1 = min(staff.x1, staff.x0 + 10 * space)
    if x1 - staff.x0 < space:
        return 0.0
    return float((staff.line_y(4, x1) - staff.line_y(4, staff.x0)) / (x1 - staff.x0))


def joined_by_barline(ink: np.ndarray, upper: Staff, lower: Staff, space: float) -> bool:
    """Whether a vertical line joins ``upper``'s bottom line to ``lower``'s top near their left end.

    The staves' measured left ends can differ by a strip or two (a clef or brace hides the lines
    there), so the search spans both ends. A rotated page tilts the barline by the staff lines'
    own slope (perpendicular to them); perspective tilts it further, in the direction the staves'
    left ends line up along, so tilts around both are tried.
    """
    h, w = ink.shape
    lo = int(max(0, min(upper.x0, lower.x0) - 3 * space))
    hi = int(min(w, max(upper.x0, lower.x0) + 2 * space))
    slope = _slope(upper, space)
    # dx/dy of the line through both staves' left ends (their middles): the barline under perspective.
    dy_ends = float(lower.middle(lower.x0) - upper.middle(upper.x0))
    ends = (lower.x0 - upper.x0) / dy_ends if dy_ends > 0 else 0.0
    # Up to ~30 degrees: photographed Lieder systems reach dx/dy 0.4 (eval_lieder_dev); far steeper
    # is no barline (an end measured wrongly).
    directions = [-slope] + ([ends] if abs(ends) < 0.6 else [])
    for x in range(lo, hi):
        y0 = int(round(float(upper.line_y(4, x))))
        y1 = int(round(float(lower.line_y(0, x))))
        if y1 - y0 < 2:
            return True
        rows = np.arange(y0, y1)  # (R,)
        extra = int(np.ceil(0.03 * (y1 - y0)))  # up to ~1.7 degrees beyond each direction
        # Total x shift of the barline from y0 to y1, per tried tilt.
        shifts = np.concatenate([np.round(d * (y1 - y0)) + np.arange(-extra, extra + 1) for d in directions])
        cols = np.round(x + shifts[:, None] * (rows - y0)[None, :] / (y1 - y0)).astype(int)  # (T, R)
        # Neighbouring columns too: a barline need not sit on one pixel column after resampling.
        hit = np.zeros(cols.shape, bool)
        for d in (-1, 0, 1):
            hit |= ink[np.clip(rows, 0, h - 1)[None, :], np.clip(cols + d, 0, w - 1)]
        if hit.mean(axis=1).max() > 0.95:
            return True
    return False
