"""Is this sheet music? Staff evidence that text lines, tables and photos do not have.

The staff detector finds groups of five equally spaced horizontal rows of ink; the rows of a page
of text (or the rules of a table) are that too. Two properties tell real staves apart:

- **Continuity**: a staff line is ink along (almost) its whole length; a text line is ink in
  letter-sized pieces (about 40-50% of its length on a typed page).
- **Exactly five**: one staff space above the top line and below the bottom line there is no
  further continuous line (ledger lines are short); a table's rules go on at the same spacing.

A page is music when at least one detected staff has both. Measured: MuseScore-engraved Lieder
pages, the fixtures and the demo page cover 0.92-0.98 of each line, faded scan-preset staves
0.89-0.90, a typed text page 0.46-0.50 (tests/test_music_check.py makes such pages).
"""

from __future__ import annotations

import numpy as np

from omrformer.vision.staff_layout import NoStaffFound, Staff, StaffLayout

INK_CONTRAST = 0.1  # a line pixel is ink when this much darker than the paper between the lines
MIN_COVERAGE = 0.75  # share of a staff line's length that must be ink
MAX_SIXTH = 0.9  # a line one space beyond this continuous makes a table (dense chords with ledger lines reach 0.76)


def _rows(gray: np.ndarray, xs: np.ndarray, ys: np.ndarray, tolerance: int) -> np.ndarray:
    """Darkest grey within ``tolerance`` px of ``ys`` at each of ``xs``."""
    h = gray.shape[0]
    y = np.round(ys).astype(int)
    darkest = np.ones(len(xs), dtype=np.float32)
    for dy in range(-tolerance, tolerance + 1):
        darkest = np.minimum(darkest, gray[np.clip(y + dy, 0, h - 1), xs])
    return np.where((y >= 0) & (y < h), darkest, 1.0)


def staff_evidence(gray: np.ndarray, staff: Staff, tolerance: int = 1) -> tuple[float, float]:
    """(median coverage of the five lines, largest coverage one space above/below the staff).

    Ink is judged against the paper between the lines at the same x (the median of the four
    mid-space rows), not against a fixed grey: a faded scan's light-grey lines on grey paper are
    continuous too, a text line's gaps between letters are as light as the paper.
    """
    h, w = gray.shape
    xs = np.arange(max(0, int(staff.x0)), min(w, int(staff.x1) + 1))
    if len(xs) == 0:
        return 0.0, 0.0
    ys = np.stack([staff.line_y(k, xs) for k in range(5)])  # (5, X)
    mids = (ys[:-1] + ys[1:]) / 2
    paper = np.median(np.stack([_rows(gray, xs, m, 0) for m in mids]), axis=0)  # (X,)

    def coverage(line: np.ndarray) -> float:
        return float((_rows(gray, xs, line, tolerance) < paper - INK_CONTRAST).mean())

    lines = float(np.median([coverage(ys[k]) for k in range(5)]))
    beyond = max(coverage(2 * ys[0] - ys[1]), coverage(2 * ys[4] - ys[3]))
    return lines, beyond


def is_staff(gray: np.ndarray, staff: Staff) -> bool:
    lines, beyond = staff_evidence(gray, staff)
    return lines >= MIN_COVERAGE and beyond <= MAX_SIXTH


def require_music(gray: np.ndarray, layout: StaffLayout, source: str = "image") -> StaffLayout:
    """``layout`` if at least one of its staves is a real staff, else :class:`NoStaffFound`.

    Args:
        gray: (H, W) float image, 1 = paper, the one ``layout`` was detected on.
    """
    if not layout.staves:
        raise NoStaffFound(
            f"{source}: no staff found: is this sheet music? (a staff space far outside 4-100 px "
            "is not detected either)"
        )
    if not any(is_staff(gray, s) for s in layout.staves):
        raise NoStaffFound(
            f"{source}: no staff found: the {len(layout.staves)} line group(s) detected are not staff "
            "lines (broken like text lines, or more than five like a table): is this sheet music?"
        )
    return layout
