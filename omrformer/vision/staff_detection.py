"""Classical staff detection: five-line staves and their systems, with no learned parameters.

Method (numpy + OpenCV filters):
1. Ink relative to the local paper brightness (a grey closing): soft ink in [0, 1] that reaches 1
   at half the Otsu level, so faint, blurred staff lines survive. The line thickness is the most
   common vertical black run; the staff space the first strong period of the row projections
   (autocorrelation: noise-proof), taken from the soft and the hard ink, the one that yields more
   five-line chains winning when they disagree.
2. Cut the page into vertical strips two staff spaces wide (narrow enough that skew and gentle
   curvature move a line by under a pixel inside one strip) and take each strip's horizontal
   projection. Sharp peaks (centroid of the rows above half the peak: thick lines are flat-topped)
   are line candidates; chains of five peaks one staff space apart are staff candidates, the
   strongest chain winning where chains overlap (so a ledger line cannot replace a staff line).
3. Link strip candidates left to right into staves along each track's slope, drop outliers against
   a running median, merge pieces of one staff and settle overlapping tracks shifted by whole lines
   by the ink along their lines (:mod:`omrformer.vision.staff_tracks`). Follow each staff's lines out
   to its true ends (:mod:`omrformer.vision.staff_ends`); lines are interpolated along x.
4. Group staves into systems: two neighbouring staves belong to one system when a vertical line
   (the system's left barline, tilted by skew or perspective) joins them near their left end.
"""

from __future__ import annotations

import numpy as np

from omrformer.vision.staff_ends import extend_staff, joined_by_barline
from omrformer.vision.staff_layout import NoStaffFound, Staff, StaffLayout
from omrformer.vision.staff_tracks import clean_track, link_tracks, resolve_tracks

__all__ = ["NoStaffFound", "Staff", "StaffLayout", "detect_staves", "require_staves"]


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
    # A first pass with fixed 32 px strips finds the staff space; then strips scale with it. The
    # soft ink keeps faint lines (its half level for run lengths), the hard ink ignores faint periodic
    # texture (bleed-through, paper): when their periods disagree, the one that finds more five-line
    # chains wins.
    n0 = max(1, w // 32)
    options: list[tuple[float, float]] = []  # (staff space, line thickness)
    for layer, mask in ((soft, soft >= 0.5), (ink, ink)):
        proj0 = layer[:, : n0 * 32].reshape(h, n0, -1).mean(axis=2) if w >= 32 else layer.mean(axis=1, keepdims=True)
        sp = staff_space_from_profiles(proj0.astype(np.float32), max_space=min(100, h // 5))
        th = line_thickness(mask)
        if sp >= 4 and 0 < th <= sp / 2 and all(abs(sp - t) > 0.05 * t for t, _ in options):
            options.append((sp, th))
    best: tuple[float, float, list[tuple[float, np.ndarray]]] | None = None
    for sp, th in options:
        found = _strip_chains(soft, sp, strip_spaces, min_height)
        if best is None or len(found) > len(best[2]):
            best = (sp, th, found)
    if best is None:
        return layout
    space, thickness, cands = best
    tracks = [s for t in link_tracks(cands, space) if (s := clean_track(t, space)) is not None]
    staves = [extend_staff(ink, s, space, thickness) for s in resolve_tracks(tracks, space, soft)]
    staves.sort(key=lambda s: float(np.median(s.lines[2])))
    layout.staves = staves
    layout.line_thickness = thickness
    if staves:
        layout.staff_space = float(np.median([np.median(s.space(s.xs)) for s in staves]))
        groups = [[0]]
        for i in range(1, len(staves)):
            if joined_by_barline(ink, staves[i - 1], staves[i], space):
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
