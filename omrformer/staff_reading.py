"""Reading a page staff by staff: cut each detected staff, group staves into parts, assemble one score.

A model trained on single staves reads a page when the page is cut the way its training samples
were cut: :func:`synth.staff_crop.staff_crop_box` is the one crop function, fed here with the
detected staff lines (synth feeds it the engraved ones). Neighbouring staves' ink stays in a crop,
as in training. The decoded staves are joined by :func:`grammar.assemble.assemble_staves`, which
reconciles measure counts and time signatures per system after decoding.

Part grouping: staff i of every system continues part i; two neighbouring staves are one part
(a grand staff) when barlines run through the gap between them. That is measured in the image:
a column of ink across the whole gap, away from the system's left end (where the system line and
the brace join every staff of a system anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omrformer.vision.staff_layout import Staff, StaffLayout
from synth.staff_crop import lines_from_xs, staff_crop_box

INK = 0.5  # grey level below which a pixel is ink (paper = 1)
# A barline crosses the whole gap; a stem or lyric never does. Columns this full count as a barline.
FULL_COLUMN = 0.92
MAX_STAVES_PER_PART = 2  # grand staves; longer joined runs (choir, strings) are separate parts


@dataclass
class StaffCrop:
    """One staff cut from a page.

    Attributes:
        system: Index of its system on the page.
        index: Staff number within the system, top to bottom.
        box: (x0, y0, x1, y1) in the page's pixels (x1/y1 exclusive).
        image: (h, w) float32 grey crop, paper = 1.
    """

    system: int
    index: int
    box: tuple[int, int, int, int]
    image: np.ndarray


def staff_lines(staff: Staff) -> np.ndarray:
    """(5, K, 2) line points of a detected staff, the form the shared crop takes."""
    return lines_from_xs(staff.xs, staff.lines)


def cut_staves(gray: np.ndarray, layout: StaffLayout) -> list[StaffCrop]:
    """One crop per detected staff, in reading order (system by system, top to bottom)."""
    h, w = gray.shape
    crops = []
    for s, system in enumerate(layout.systems):
        for i, k in enumerate(system):
            box = staff_crop_box(staff_lines(layout.staves[k]), w, h)
            x0, y0, x1, y1 = box
            crops.append(StaffCrop(s, i, box, np.ascontiguousarray(gray[y0:y1, x0:x1])))
    return crops


def cut_systems(gray: np.ndarray, layout: StaffLayout) -> list[StaffCrop]:
    """One crop per system: the union of its staves' crops (``index`` is 0)."""
    h, w = gray.shape
    crops = []
    for s, system in enumerate(layout.systems):
        boxes = np.array([staff_crop_box(staff_lines(layout.staves[k]), w, h) for k in system])
        x0, y0 = boxes[:, :2].min(axis=0)
        x1, y1 = boxes[:, 2:].max(axis=0)
        box = (int(x0), int(y0), int(x1), int(y1))
        crops.append(StaffCrop(s, 0, box, np.ascontiguousarray(gray[box[1]:box[3], box[0]:box[2]])))
    return crops


def _runs(flags: np.ndarray) -> int:
    """Number of runs of True in a 1D boolean array (a barline is a few columns wide)."""
    f = np.concatenate([[False], flags.astype(bool)])
    return int(np.count_nonzero(f[1:] & ~f[:-1]))


def barline_joined(gray: np.ndarray, upper: Staff, lower: Staff) -> bool:
    """True when the barlines of ``upper`` run on through the gap to ``lower``'s top line.

    Barline candidates are columns inked over the upper staff's whole height; the staves are
    joined when at least half of them (and at least one) also ink the whole gap. A stem or a
    ledger-line stack may cross one gap column by chance; most barlines will not.
    """
    space = float(np.median(upper.space(upper.xs)))
    x0 = max(upper.x0, lower.x0) + 1.5 * space  # past the system line and the brace
    x1 = min(upper.x1, lower.x1) + 0.5 * space  # the final barline sits at the staff end
    if x1 <= x0:
        return False
    cols = np.arange(int(np.ceil(x0)), min(int(x1), gray.shape[1] - 1) + 1)
    ink = gray < INK

    def full(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        top, bottom = np.clip(top, 0, ink.shape[0]), np.clip(bottom, 0, ink.shape[0])
        return np.array([b - t >= 2 and ink[t:b, c].mean() >= FULL_COLUMN
                         for c, t, b in zip(cols, top, bottom, strict=True)], dtype=bool)

    in_staff = full(np.round(upper.line_y(0, cols)).astype(int), np.round(upper.line_y(4, cols)).astype(int) + 1)
    gap = full(np.ceil(upper.line_y(4, cols) + 1).astype(int), np.floor(lower.line_y(0, cols) - 1).astype(int))
    candidates, crossing = _runs(in_staff), _runs(in_staff & gap)
    return crossing >= 1 and 2 * crossing >= candidates


def part_groups(gray: np.ndarray, layout: StaffLayout, system: int) -> list[int]:
    """Staves per part in one system, top to bottom (e.g. ``[1, 2]`` for voice + piano)."""
    staves = [layout.staves[k] for k in layout.systems[system]]
    parts = [1]
    for upper, lower in zip(staves, staves[1:], strict=False):
        if parts[-1] < MAX_STAVES_PER_PART and barline_joined(gray, upper, lower):
            parts[-1] += 1
        else:
            parts.append(1)
    return parts


def score_parts(gray: np.ndarray, layout: StaffLayout) -> list[int]:
    """The score's part layout: that of the first system with the most staves."""
    if not layout.systems:
        raise ValueError("no systems on the page")
    widest = max(range(len(layout.systems)), key=lambda s: (len(layout.systems[s]), -s))
    return part_groups(gray, layout, widest)
