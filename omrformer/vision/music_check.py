"""Is this sheet music? Staff evidence that text lines, tables and photos do not have.

The staff detector finds groups of five equally spaced horizontal rows of ink; the rows of a page
of text (or the rules of a table) are that too. Two properties tell real staves apart:

- **Continuity**: a staff line is ink along (almost) its whole length; a text line is ink in
  letter-sized pieces (about 40-50% of its length on a typed page).
- **Exactly five**: one staff space above the top line and below the bottom line there is no
  further continuous line (ledger lines are short); a table's rules go on at the same spacing.

A page is music when at least one detected staff has both. Measured on the repository's fixtures,
the demo page and MuseScore-engraved Lieder pages: every staff line covered >= 0.99 at the
threshold below; a typed text page 0.35-0.47 (tests/test_music_check.py makes such pages).
"""

from __future__ import annotations

import numpy as np

from omrformer.vision.staff_layout import NoStaffFound, Staff, StaffLayout

INK = 0.75  # grey below this (1 = paper after normalize_contrast) counts as ink: scans are light
MIN_COVERAGE = 0.8  # share of a staff line's length that must be ink
MAX_SIXTH = 0.5  # coverage above which a line one space beyond the staff makes it a table


def _coverage(gray: np.ndarray, staff: Staff, ys_of: object, tolerance: int = 1) -> float:
    """Share of x in the staff's extent where ink lies within ``tolerance`` px of ``ys_of(xs)``."""
    h, w = gray.shape
    xs = np.arange(max(0, int(staff.x0)), min(w, int(staff.x1) + 1))
    if len(xs) == 0:
        return 0.0
    ys = np.round(ys_of(xs)).astype(int)  # type: ignore[operator]
    darkest = np.ones(len(xs), dtype=np.float32)
    for dy in range(-tolerance, tolerance + 1):
        darkest = np.minimum(darkest, gray[np.clip(ys + dy, 0, h - 1), xs])
    inside = (ys >= 0) & (ys < h)
    return float(((darkest < INK) & inside).mean())


def staff_evidence(gray: np.ndarray, staff: Staff) -> tuple[float, float]:
    """(median coverage of the five lines, largest coverage one space above/below the staff)."""
    lines = [_coverage(gray, staff, lambda x, k=k: staff.line_y(k, x)) for k in range(5)]
    above = _coverage(gray, staff, lambda x: 2 * staff.line_y(0, x) - staff.line_y(1, x))
    below = _coverage(gray, staff, lambda x: 2 * staff.line_y(4, x) - staff.line_y(3, x))
    return float(np.median(lines)), max(above, below)


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
