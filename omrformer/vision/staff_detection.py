"""Classical staff detection: five-line staves and their systems, with no learned parameters.

Method (numpy only):
1. Binarise against the local paper brightness (a grey closing), at half the Otsu level so faint,
   blurred staff lines survive; the line thickness is the most common vertical black run, the
   staff space the strongest period of the row projections (autocorrelation: noise-proof).
2. Cut the page into vertical strips a few staff spaces wide (narrow enough that skew and gentle
   curvature move a line by under a pixel inside one strip) and take each strip's horizontal
   projection. Sharp peaks are line candidates; chains of five peaks at one staff space apart are
   staff candidates, the strongest chain winning where chains overlap (so a ledger line cannot
   replace a real staff line).
3. Link strip candidates left to right into staves (nearest middle line), drop outliers against
   a quadratic fit of each staff's middle line, and interpolate every line along x.
4. Group staves into systems: two neighbouring staves belong to one system when a vertical line
   (the system's left barline) joins them near their left end.
"""

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


def otsu_threshold(image: np.ndarray) -> float:
    """Gray level that best separates ink from paper (Otsu on a 256-bin histogram)."""
    hist, edges = np.histogram(image, bins=256, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (m0 * w1 - (m0[-1] - m0) * w0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return float(centres[int(np.argmax(between))]) if between.max() > 0 else 0.5


def _runs(column_major: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of black runs and of white runs lying between two black runs, over all columns."""
    a = column_major.astype(np.int8)  # (W, H)
    padded = np.pad(a, ((0, 0), (1, 1)))
    d = np.diff(padded, axis=1)
    starts_w, starts_h = np.nonzero(d == 1)
    ends_w, ends_h = np.nonzero(d == -1)
    black = ends_h - starts_h
    # White gaps inside a column: from the end of one black run to the start of the next.
    same = starts_w[1:] == ends_w[:-1]
    white = (starts_h[1:] - ends_h[:-1])[same]
    return black, white


def line_thickness(ink: np.ndarray) -> float:
    """Most common vertical black run length (a staff line's thickness), sub-pixel."""
    cols = ink[:, :: max(1, ink.shape[1] // 400)].T  # a few hundred columns suffice
    black, _ = _runs(cols)
    black = black[black < max(4, ink.shape[0] // 8)]
    if black.size < 10:
        return 0.0
    mode = int(np.argmax(np.bincount(black)))
    return float(black[np.abs(black - mode) <= 1].mean())


def staff_space_from_profiles(proj: np.ndarray, max_space: int) -> float:
    """Dominant line period of the strip projections (H, n), by their summed autocorrelation.

    Uncorrelated noise only adds to lag 0, so this holds up on noisy scans where run-length
    statistics break down. The first lag of five equally spaced lines is the strongest of a single
    staff's (four line pairs against three at twice the lag).
    """
    h = proj.shape[0]
    x = proj - proj.mean(axis=0, keepdims=True)
    f = np.fft.rfft(x, n=2 * h, axis=0)
    ac = np.fft.irfft(f * np.conj(f), axis=0)[: max_space + 2].sum(axis=1)  # (max_space + 2,)
    # Highest true local maximum: the decaying shoulder around lag 0 (thick or blurred lines) is
    # not a period.
    lags = np.arange(4, max_space)
    if lags.size == 0:
        return 0.0
    peaks = lags[(ac[lags] > ac[lags - 1]) & (ac[lags] >= ac[lags + 1]) & (ac[lags] > 0)]
    # A ripple on the shoulder is no period: a peak must top its neighbourhood, a quarter lag each way.
    peaks = np.array([k for k in peaks if ac[k] >= ac[max(1, k - max(2, k // 4)) : k + max(2, k // 4) + 1].max()])
    if peaks.size == 0:
        return 0.0
    # A page of many evenly spaced staves also correlates strongly at the staff-to-staff distance
    # (five line pairs per staff pair against four at one space), so take the first strong peak,
    # not the highest.
    lag = int(peaks[np.nonzero(ac[peaks] >= 0.5 * ac[peaks].max())[0][0]])
    # Parabolic interpolation of the peak for a sub-pixel period.
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    denom = a - 2 * b + c
    return float(lag + (0.5 * (a - c) / denom if denom < 0 else 0.0))


def ink_strength(image: np.ndarray) -> np.ndarray:
    """Soft ink in [0, 1], robust to uneven lighting: darkness relative to the local paper brightness.

    1 where the darkness reaches the ink level (half the Otsu level: faint, blurred staff lines are
    much lighter than note heads), falling linearly to 0 at the paper's own (noise) level. Projection
    profiles of this soft ink keep a faint line that a hard threshold would break into dots.
    """
    import cv2

    # Paper brightness: a grey closing (max then min filter) wider than any symbol, then smoothed.
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (31, 31))
    paper = cv2.GaussianBlur(cv2.morphologyEx(image, cv2.MORPH_CLOSE, k), (0, 0), 8)
    darkness = np.clip(paper - image, 0, 1) / np.maximum(paper, 0.2)
    level = float(np.clip(0.5 * otsu_threshold(darkness), 0.12, 0.35))
    floor = min(float(np.median(darkness)), 0.5 * level)  # paper noise; most pixels are paper
    return np.clip((darkness - floor) / (level - floor), 0.0, 1.0).astype(np.float32)


def ink_mask(image: np.ndarray) -> np.ndarray:
    """Binary ink: where :func:`ink_strength` reaches the ink level."""
    return ink_strength(image) >= 1.0


def _peaks(profile: np.ndarray, min_height: float, sharpness: float, space: float) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel centres and heights of sharp local maxima of a 1-D projection profile.

    A peak must rise ``sharpness`` above the profile half a staff space away on both sides (the
    middle of the gap to a neighbouring line). Thick or blurred lines give flat-topped peaks several
    rows wide, so the centre is the centroid of the rows above half the peak, not the argmax row.
    """
    p = profile
    n = len(p)
    # ">=" then ">": one index per plateau (its last row).
    inner = (p[1:-1] >= p[:-2]) & (p[1:-1] > p[2:]) & (p[1:-1] >= min_height)
    idx = np.nonzero(inner)[0] + 1
    if idx.size == 0:
        return idx.astype(float), idx.astype(float)
    half = max(1, int(space // 2))
    # Rows above half the peak, contiguous with it, at most half a space either way.
    offsets = np.arange(-half, half + 1)
    rows = np.clip(idx[:, None] + offsets[None, :], 0, n - 1)  # (P, 2 * half + 1)
    vals = p[rows]
    above = vals >= 0.5 * p[idx][:, None]
    # Keep only the run through the peak: cumulative products outward from the centre column.
    right = np.cumprod(above[:, half:], axis=1)
    left = np.cumprod(above[:, half::-1], axis=1)[:, ::-1]
    run = np.concatenate([left[:, :-1], right], axis=1).astype(bool)
    wts = np.where(run, vals, 0.0)
    # +0.5: continuous coordinates, row i covers [i, i+1) (the convention of SVG and the geometry JSON).
    centre = (wts * (rows + 0.5)).sum(1) / np.maximum(wts.sum(1), 1e-6)
    # Sharpness at the gap middles, measured from the sub-pixel centre.
    lo = p[np.clip(np.floor(centre - space / 2).astype(int), 0, n - 1)]
    hi = p[np.clip(np.floor(centre + space / 2).astype(int), 0, n - 1)]
    keep = p[idx] - np.maximum(lo, hi) >= sharpness
    centre, idx = centre[keep], idx[keep]
    # Noisy plateaus can hold two local maxima: keep the higher of any two within one line thickness.
    if centre.size > 1:
        order = np.argsort(centre)
        centre, idx = centre[order], idx[order]
        dup = np.diff(centre) < max(1.0, 0.25 * space)
        keep = np.ones(centre.size, bool)
        for k in np.nonzero(dup)[0]:
            if keep[k] and keep[k + 1]:
                keep[k if p[idx[k]] < p[idx[k + 1]] else k + 1] = False
        centre, idx = centre[keep], idx[keep]
    return centre, p[idx]


def _chains(ys: np.ndarray, heights: np.ndarray, space: float) -> list[tuple[float, np.ndarray]]:
    """Non-overlapping five-line chains (score, (5,) ys) among the line candidates of one strip."""
    found = []
    for i in range(len(ys)):
        chain, gap = [i], space
        for _ in range(4):
            target = ys[chain[-1]] + gap
            j = int(np.argmin(np.abs(ys - target)))
            # The page-wide estimate may be off by 10-15% on noisy scans: be lenient for the first gap,
            # then strict around this staff's own gap.
            tol = 0.35 * space if len(chain) == 1 else 0.2 * gap
            if abs(ys[j] - target) > tol or j <= chain[-1]:
                break
            if len(chain) == 1:
                gap = ys[j] - ys[i]  # follow this staff's own spacing from here on
            chain.append(j)
        if len(chain) == 5:
            found.append((float(heights[chain].sum()), np.array(chain)))
    found.sort(key=lambda c: -c[0])
    used: set[int] = set()
    out = []
    for score, rows in found:
        span = (ys[rows[0]] - 0.5 * space, ys[rows[-1]] + 0.5 * space)
        if any(span[0] <= ys[u] <= span[1] for u in used):
            continue
        used.update(rows.tolist())
        out.append((score, ys[rows]))
    return out


def _predict(track: list[tuple[float, np.ndarray]], x: float, space: float) -> float:
    """The track's middle line extrapolated to ``x`` along its recent slope (skew, perspective)."""
    tail = track[-8:]
    last_x, last = tail[-1]
    if len(tail) < 3 or last_x - tail[0][0] < 4 * space:
        return float(last[2])
    xs = np.array([c[0] for c in tail])
    mids = np.array([c[1][2] for c in tail])
    slope = float(np.clip(np.polyfit(xs, mids, 1)[0], -0.1, 0.1))
    return float(last[2]) + slope * (x - last_x)


def _link(cands: list[tuple[float, np.ndarray]], space: float) -> list[list[tuple[float, np.ndarray]]]:
    """Join per-strip staff candidates (x, (5,) ys), left to right, into tracks by middle line.

    A candidate joins the track whose extrapolated middle line is nearest, with a cost that grows
    with the x gap (1 px per 100 px): a stale track, such as a stray chain from a beam, must not
    take over a sloping staff whose own track was last seen a strip ago.
    """
    tracks: list[list[tuple[float, np.ndarray]]] = []
    for x, ys in sorted(cands, key=lambda c: c[0]):
        # Under one space: a chain shifted by one line (a beam or ledger line taken for a staff line)
        # starts a stray track, which _resolve drops, instead of bending the staff.
        best, best_d = None, 0.6 * space
        for t in tracks:
            last_x = t[-1][0]
            if last_x == x:
                continue
            d = abs(_predict(t, x, space) - ys[2]) + 0.01 * (x - last_x)
            if d < best_d:
                best, best_d = t, d
        if best is None:
            tracks.append([(x, ys)])
        else:
            best.append((x, ys))
    return tracks


def _clean_track(track: list[tuple[float, np.ndarray]], space: float) -> Staff | None:
    xs = np.array([x for x, _ in track])
    lines = np.stack([ys for _, ys in track], axis=1)  # (5, K)
    if len(xs) >= 5:
        # Drop strips whose middle line leaves the running median of its neighbours (mis-linked
        # candidates); a running median follows page curl and perspective where a global fit would not.
        mid = lines[2]
        pad = np.pad(mid, 2, mode="edge")
        med = np.median(np.lib.stride_tricks.sliding_window_view(pad, 5), axis=1)
        keep = np.abs(mid - med) < 0.4 * space
        xs, lines = xs[keep], lines[:, keep]
    if len(xs) < 3:
        return None
    return Staff(xs, lines)


def _end_slope(staff: Staff, space: float, at_right: bool) -> float:
    """dy/dx of the middle line over the last six staff spaces at one end (0 with too few points)."""
    xs, mid = staff.xs, staff.lines[2]
    near = (xs >= staff.x1 - 6 * space) if at_right else (xs <= staff.x0 + 6 * space)
    if near.sum() < 2:
        return 0.0
    return float(np.clip(np.polyfit(xs[near], mid[near], 1)[0], -0.1, 0.1))


def _union(a: Staff, b: Staff) -> Staff:
    """One staff from the points of ``a`` and those of ``b`` outside ``a``'s x range."""
    out = (b.xs < a.x0) | (b.xs > a.x1)
    xs = np.concatenate([a.xs, b.xs[out]])
    order = np.argsort(xs)
    return Staff(xs[order], np.concatenate([a.lines, b.lines[:, out]], axis=1)[:, order])


def _evidence(soft: np.ndarray, staff: Staff, lo: float, hi: float) -> float:
    """Mean ink along the staff's five lines between ``lo`` and ``hi`` (each line's row +-1)."""
    h, w = soft.shape
    xs = np.arange(int(max(lo, 0)), int(min(hi, w - 1)) + 1)  # (X,)
    if xs.size == 0:
        return 0.0
    rows = np.floor(np.stack([staff.line_y(k, xs) for k in range(5)])).astype(int)  # (5, X)
    ink = np.max([soft[np.clip(rows + d, 0, h - 1), xs[None, :]] for d in (-1, 0, 1)], axis=0)
    return float(ink.mean())


def _settle(winner: Staff, loser: Staff, space: float) -> Staff:
    """``winner`` plus the ``loser``'s points beyond its x range that lie on its course.

    A loser's point goes (worst first) while it is more than half a space off a low-order fit of
    the middle line through the remaining points (a quadratic from eight points, else a straight line).
    """
    out = (loser.xs < winner.x0) | (loser.xs > winner.x1)
    xs = np.concatenate([winner.xs, loser.xs[out]])
    lines = np.concatenate([winner.lines, loser.lines[:, out]], axis=1)
    extra = np.concatenate([np.zeros(len(winner.xs), bool), np.ones(int(out.sum()), bool)])
    while extra.any():
        deg = 2 if len(xs) >= 8 else 1
        scale = max(float(xs.max() - xs.min()), 1.0)  # conditioning of polyfit
        resid = np.abs(lines[2] - np.polyval(np.polyfit(xs / scale, lines[2], deg), xs / scale))
        resid[~extra] = -1.0
        worst = int(np.argmax(resid))
        if resid[worst] < 0.5 * space:
            break
        xs, lines, extra = np.delete(xs, worst), np.delete(lines, worst, axis=1), np.delete(extra, worst)
    order = np.argsort(xs)
    return Staff(xs[order], lines[:, order])


def _resolve(staves: list[Staff], space: float, soft: np.ndarray) -> list[Staff]:
    """Merge pieces of one staff and drop stray tracks that overlap a stronger staff.

    Linking can split a staff into pieces (a run of failed strips on a steep, perspective-distorted
    staff) or start a stray track from a chain shifted by a line or two (beams, ledger lines). Two
    staves cannot lie within four spaces of each other, so a track that does, over a common x range,
    is either the same staff (middle lines within half a space: merged) or one of the two is shifted
    by whole lines there (a stray, or a staff that took stray points): the one with more ink along its
    lines over the common range wins, keeping the other's points beyond it that lie on its course.
    Pieces
    without a common x range are merged when each one's end extrapolates onto the other's, and a
    weaker piece that lands within four spaces of a stronger one's extrapolated end is a stray.
    """
    kept: list[Staff] = []
    for s in sorted(staves, key=lambda t: -len(t.xs)):
        for i, k in enumerate(kept):
            lo, hi = max(s.x0, k.x0), min(s.x1, k.x1)
            if lo <= hi:
                probe = np.linspace(lo, hi, 5)
                d = float(np.abs(s.middle(probe) - k.middle(probe)).mean())
                if d < 0.5 * space:
                    kept[i] = _union(k, s)
                    break
                if d < 4 * space:  # one of the two is (partly) shifted by whole lines
                    better = _evidence(soft, s, lo, hi) > _evidence(soft, k, lo, hi)
                    kept[i] = _settle(s, k, space) if better else _settle(k, s, space)
                    break
                continue
            left, right = (k, s) if k.x1 < s.x0 else (s, k)
            gap = right.x0 - left.x1
            tol = 0.5 * space + 0.01 * gap
            # Both ways along the stronger piece's slope at the junction: a short piece's own slope is noise.
            slope = _end_slope(k, space, at_right=k is left)
            fwd = float(left.middle(left.x1)) + slope * gap
            back = float(right.middle(right.x0)) - slope * gap
            d_fwd, d_back = abs(fwd - float(right.middle(right.x0))), abs(back - float(left.middle(left.x1)))
            if d_fwd < tol and d_back < tol:
                kept[i] = _union(k, s)
                break
            if min(d_fwd, d_back) < 4 * space and gap < 20 * space:
                break  # a stray beside a stronger staff's end
        else:
            kept.append(s)
    return kept


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


def _extend(ink: np.ndarray, staff: Staff, space: float, thickness: float) -> Staff:
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


def _joined(ink: np.ndarray, upper: Staff, lower: Staff, space: float) -> bool:
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
    directions = [-slope] + ([ends] if abs(ends) < 0.35 else [])
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


def _strip_chains(
    soft: np.ndarray, space: float, strip_spaces: float, min_height: float
) -> list[tuple[float, np.ndarray]]:
    """Five-line chains (strip centre x, (5,) line ys) of every vertical strip, for one staff space."""
    h, w = soft.shape
    sw = max(8, int(round(strip_spaces * space)))
    n = w // sw
    proj = soft[:, : n * sw].reshape(h, n, sw).mean(axis=2)  # (H, n) ink fraction per row and strip
    cands = []
    for j in range(n):
        ys, heights = _peaks(proj[:, j], min_height=min_height, sharpness=0.15, space=space)
        for _, chain in _chains(ys, heights, space):
            cands.append(((j + 0.5) * sw, chain))
    return cands


def detect_staves(image: np.ndarray, *, strip_spaces: float = 2.0, min_height: float = 0.3) -> StaffLayout:
    """Find every five-line staff and system in a grayscale image.

    Args:
        image: (H, W) float array in [0, 1], white = 1.
        strip_spaces: Width of the analysis strips in staff spaces.
        min_height: Least ink fraction of a strip row for a line candidate.

    Returns:
        The layout; ``staves`` is empty when no staff was found (see :func:`require_staves`).
    """
    h, w = image.shape
    layout = StaffLayout(w, h)
    if h < 8 or w < 8 or float(image.max() - image.min()) < 0.1:
        return layout
    soft = ink_strength(image)
    ink = soft >= 1.0
    thickness = line_thickness(ink)
    # A first pass with fixed 32 px strips finds the staff space; then strips scale with it. The
    # soft ink keeps faint lines, the hard ink ignores faint periodic texture (bleed-through, paper):
    # when their periods disagree, the one that finds more five-line chains wins.
    n0 = max(1, w // 32)
    spaces: list[float] = []
    for layer in (soft, ink):
        proj0 = layer[:, : n0 * 32].reshape(h, n0, -1).mean(axis=2) if w >= 32 else layer.mean(axis=1, keepdims=True)
        sp = staff_space_from_profiles(proj0.astype(np.float32), max_space=min(100, h // 5))
        if sp >= 4 and 0 < thickness <= sp / 2 and all(abs(sp - t) > 0.05 * t for t in spaces):
            spaces.append(sp)
    best: tuple[float, list[tuple[float, np.ndarray]]] | None = None
    for sp in spaces:
        found = _strip_chains(soft, sp, strip_spaces, min_height)
        if best is None or len(found) > len(best[1]):
            best = (sp, found)
    if best is None:
        return layout
    space, cands = best
    tracks = [s for t in _link(cands, space) if (s := _clean_track(t, space)) is not None]
    staves = [_extend(ink, s, space, thickness) for s in _resolve(tracks, space, soft)]
    staves.sort(key=lambda s: float(np.median(s.lines[2])))
    layout.staves = staves
    layout.line_thickness = thickness
    if staves:
        layout.staff_space = float(np.median([np.median(s.space(s.xs)) for s in staves]))
        groups = [[0]]
        for i in range(1, len(staves)):
            if _joined(ink, staves[i - 1], staves[i], space):
                groups[-1].append(i)
            else:
                groups.append([i])
        layout.systems = groups
    return layout


def require_staves(layout: StaffLayout, source: str = "image") -> StaffLayout:
    """Return ``layout`` or raise :class:`NoStaffFound` naming ``source`` when it has no staff."""
    if not layout.staves:
        raise NoStaffFound(
            f"{source}: no staff found (not sheet music, or the staff space is far outside 4-100 px)"
        )
    return layout
