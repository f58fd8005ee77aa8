"""Staff-aligned coordinates of every image patch: (staff index, position in staff spaces, x, y).

A patch belongs to the staff whose middle line is nearest to the patch centre (measured at the
patch's own x, so skewed and curved staves are followed). Its vertical position is counted in
staff spaces from that middle line, positive upwards (higher pitch): the middle line of a treble
staff (B4) is 0, the top line (F5) is +2, the first ledger line above (A5) is +3.
Without staves every patch gets staff index -1 and plain (x, y) patch coordinates.
"""

from __future__ import annotations

import numpy as np

from omrformer.vision.staff_detection import StaffLayout

STAFF_INDEX, STAFF_POS, X, Y = range(4)  # channel order, shared with omrformer.modeling.positional


def patch_coordinates(layout: StaffLayout | None, height: int, width: int, patch: int = 8) -> np.ndarray:
    """Per-patch coordinates for an image of ``height`` x ``width`` pixels (multiples of ``patch``).

    Args:
        layout: Staves of the image (in the image's pixel frame), or None / empty for plain 2D.
        height: Image height in pixels.
        width: Image width in pixels.
        patch: Patch side in pixels.

    Returns:
        (height // patch, width // patch, 4) float32: staff index (-1 = none), position in staff
        spaces above the staff's middle line, patch column, patch row.
    """
    hp, wp = height // patch, width // patch
    rows, cols = np.meshgrid(np.arange(hp, dtype=np.float32), np.arange(wp, dtype=np.float32), indexing="ij")
    coords = np.zeros((hp, wp, 4), dtype=np.float32)
    coords[..., X], coords[..., Y] = cols, rows
    coords[..., STAFF_INDEX] = -1
    if layout is None or not layout.staves:
        return coords
    cx = (np.arange(wp) + 0.5) * patch  # patch centres, pixels
    cy = (np.arange(hp) + 0.5) * patch
    mids = np.stack([s.middle(cx) for s in layout.staves])  # (S, Wp)
    spaces = np.stack([np.maximum(s.space(cx), 1.0) for s in layout.staves])  # (S, Wp)
    # Signed distance of every patch to every staff's middle line, in staff spaces (S, Hp, Wp).
    dist = (mids[:, None, :] - cy[None, :, None]) / spaces[:, None, :]
    nearest = np.abs(dist).argmin(axis=0)  # (Hp, Wp)
    coords[..., STAFF_INDEX] = nearest
    coords[..., STAFF_POS] = np.take_along_axis(dist, nearest[None], axis=0)[0]
    return coords
