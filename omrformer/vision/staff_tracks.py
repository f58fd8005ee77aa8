"""From per-strip five-line chains to staves: linking, outlier removal, merging split pieces.

Each candidate is ``(x, (5,) ys)``: a strip's centre and its five line positions (pixels).
"""

from __future__ import annotations

import numpy as np

from omrformer.vision.staff_layout import Staff


def _recent_slope(track: list[tuple[float, np.ndarray]], space: float) -> float:
    """Least-squares dy/dx of the middle line over the track's last 8 candidates (0 when too short)."""
    tail = track[-8:]
    if len(tail) < 3 or tail[-1][0] - tail[0][0] < 4 * space:
        return 0.0
    xs = [c[0] for c in tail]
    mids = [float(c[1][2]) for c in tail]
    mx, my = sum(xs) / len(xs), sum(mids) / len(mids)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, mids, strict=True)) / sxx
    return min(0.1, max(-0.1, slope))


def link_tracks(cands: list[tuple[float, np.ndarray]], space: float) -> list[list[tuple[float, np.ndarray]]]:
    """Join per-strip staff candidates (x, (5,) ys), left to right, into tracks by middle line.

    A candidate joins the track whose middle line, extrapolated along its recent slope (skew,
    perspective), is nearest, with a cost that grows with the x gap (1 px per 100 px): a stale track,
    such as a stray chain from a beam, must not take over a sloping staff whose own track was last
    seen a strip ago.
    """
    tracks: list[list[tuple[float, np.ndarray]]] = []
    slopes: list[float] = []  # per track, updated when it grows
    for x, ys in sorted(cands, key=lambda c: c[0]):
        # Under one space: a chain shifted by one line (a beam or ledger line taken for a staff line)
        # starts a stray track, which resolve_tracks settles, instead of bending the staff.
        best, best_d = -1, 0.6 * space
        for i, t in enumerate(tracks):
            last_x, last = t[-1]
            if last_x == x:
                continue
            d = abs(float(last[2]) + slopes[i] * (x - last_x) - ys[2]) + 0.01 * (x - last_x)
            if d < best_d:
                best, best_d = i, d
        if best < 0:
            tracks.append([(x, ys)])
            slopes.append(0.0)
        else:
            tracks[best].append((x, ys))
            slopes[best] = _recent_slope(tracks[best], space)
    return tracks


def clean_track(track: list[tuple[float, np.ndarray]], space: float) -> Staff | None:
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


def _carry(staff: Staff, space: float, at_right: bool, xs: np.ndarray) -> Staff:
    """The staff's lines carried on beyond one end to ``xs``, along a fit of its last 20 spaces.

    A straight-line fit of the middle line (long enough that a strip's half-pixel jitter does not
    tilt it over a long gap, short enough to follow perspective), each line at its median offset
    from the middle there.
    """
    near = (staff.xs >= staff.x1 - 20 * space) if at_right else (staff.xs <= staff.x0 + 20 * space)
    px, lines = staff.xs[near], staff.lines[:, near]
    offsets = np.median(lines - lines[2], axis=1)  # (5,)
    if len(px) >= 2:
        slope = float(np.clip(np.polyfit(px - px.mean(), lines[2], 1)[0], -0.1, 0.1))
    else:
        slope = 0.0
    mid = float(np.mean(lines[2])) + slope * (xs - px.mean())  # (len(xs),)
    return Staff(xs, mid[None, :] + offsets[:, None])


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


def resolve_tracks(staves: list[Staff], space: float, soft: np.ndarray) -> list[Staff]:
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
            # Carry the stronger staff's lines on over the piece (a short piece's own slope is noise).
            carried = _carry(k, space, at_right=k.x1 < s.x0, xs=s.xs)
            gap = s.x0 - k.x1 if k.x1 < s.x0 else k.x0 - s.x1
            near = 0 if k.x1 < s.x0 else -1  # the piece's point nearest the staff
            d = abs(float(carried.lines[2, near] - s.lines[2, near]))
            if d < 0.5 * space + 0.01 * gap:
                kept[i] = _union(k, s)
                break
            # Within four spaces: a stray shifted by whole lines beyond the staff's end, or a piece of a
            # staff that bends away. The ink along the carried lines over the piece's range decides.
            if d < 4 * space and _evidence(soft, carried, s.x0, s.x1) >= _evidence(soft, s, s.x0, s.x1) - 0.05:
                kept[i] = _union(k, carried)
                break
        else:
            kept.append(s)
    return kept
