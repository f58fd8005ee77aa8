"""Training targets from a synth sample's engraving geometry: the crop, per-token anchors, symbol points.

Pure numpy (runs in the DataLoader workers). A synth label is written with ``ids=True``
(``synth.sources.label_bytes``), so the SVG element ``t{i}`` is the event token ``i`` of the label's
token sequence (``note``/``rest``/``chord``/``grace``); its ``anchors`` entry is the glyph origin
(left edge, on the notehead's staff position). The tokens that describe that event (``acc:``,
``pitch:``, ``dur:``, ``dot``) take the same anchor. The barline token closing measure ``m`` is
anchored at the right edge of measure ``m``'s quad, on the staff's middle line.

Samples without geometry (real scans) get no anchors and no points: the geometry losses are absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grammar.token_tree import parse_tree
from grammar.vocab import BARLINES, DURATIONS

EVENTS = ("note", "rest", "chord", "grace")

# Symbol classes of the dense "symbol present" head (0 = nothing anchored in the memory token).
SYMBOL_NONE, SYMBOL_NOTEHEAD, SYMBOL_REST, SYMBOL_BARLINE, SYMBOL_ACCIDENTAL = range(5)
NUM_SYMBOLS = 5
# Staff positions (half staff spaces above the middle line) -12..12 -> classes 0..24.
MAX_STAFF_POS = 12
NUM_STAFF_POS = 2 * MAX_STAFF_POS + 1
NUM_DURATIONS = len(DURATIONS)
IGNORE = -100
# Glyph origins are the left edge of the glyph; the notehead's centre is about half a space right.
NOTEHEAD_CENTRE_SPACES = 0.6
# Accidentals sit about 1.2 staff spaces left of the notehead they modify.
ACCIDENTAL_OFFSET_SPACES = -1.2


@dataclass
class TokenGeometry:
    """What one label yields, before any crop or scaling (pixels of the sample image).

    Attributes:
        anchors: (T, 2) float32 anchor (x, y) per label token (``<eos>`` included), NaN where none.
        points: (M, 5) float32 symbol points ``x, y, symbol, staff position class, duration class``
            (classes ``IGNORE`` where not applicable).
    """

    anchors: np.ndarray
    points: np.ndarray


def _staff_middle(staves: list[np.ndarray], x: float, y: float) -> tuple[float, float] | None:
    """(middle line y at x, staff space) of the staff nearest to (x, y), or None without staves."""
    best: tuple[float, float, float] | None = None
    for lines in staves:
        mid = lines[2]
        order = np.argsort(mid[:, 0])
        ym = float(np.interp(x, mid[order, 0], mid[order, 1]))
        space = float(np.median(np.diff(lines[:, :, 1], axis=0)))
        d = abs(ym - y)
        if space > 0 and (best is None or d < best[0]):
            best = (d, ym, space)
    return None if best is None else (best[1], best[2])


def token_geometry(tokens: list[str], geometry: dict[str, Any] | None) -> TokenGeometry | None:
    """Anchors per token and symbol points from a sample's ``KEY.geometry.json`` (None: no geometry).

    Returns None as well when the anchors do not fit the tokens (an anchor id that does not name an
    event token): such a label was not written from these tokens, and a wrong anchor teaches worse
    than none.
    """
    n = len(tokens) + 1  # + <eos>
    if not geometry or not geometry.get("anchors"):
        return None
    staves = [np.asarray(s["lines"], dtype=np.float64) for s in geometry.get("staves", [])]
    if not staves:
        return None
    space = float(np.median([np.median(np.diff(s[:, :, 1], axis=0)) for s in staves]))
    anchors = np.full((n, 2), np.nan, dtype=np.float32)
    points: list[tuple[float, float, int, int, int]] = []
    raw = geometry["anchors"]
    # The event each anchor names, with its accidental, pitch, duration and dots (grammar.token_tree).
    events = {it.start: it for it in parse_tree(tokens, strict=False).items if it.kind in EVENTS}
    for key, xy in raw.items():
        if not (key.startswith("t") and key[1:].isdigit()):
            continue
        i = int(key[1:])
        if i not in events:
            return None
        it = events[i]
        event, j = it.kind, it.stop
        x = float(xy[0]) + (NOTEHEAD_CENTRE_SPACES * space if event != "rest" else 0.5 * space)
        y = float(xy[1])
        pos_cls, acc = IGNORE, it.head is not None and it.head.acc is not None
        dur_cls = DURATIONS.index(it.dtype) if it.dtype in DURATIONS else IGNORE
        anchors[i:j] = (x, y)
        if event == "rest":
            points.append((x, y, SYMBOL_REST, IGNORE, dur_cls))
            continue
        mid = _staff_middle(staves, x, y)
        if mid is not None:
            pos = int(round((mid[0] - y) / (mid[1] / 2)))
            if abs(pos) <= MAX_STAFF_POS:
                pos_cls = pos + MAX_STAFF_POS
        points.append((x, y, SYMBOL_NOTEHEAD, pos_cls, dur_cls))
        if acc:
            ax = x + ACCIDENTAL_OFFSET_SPACES * space
            points.append((ax, y, SYMBOL_ACCIDENTAL, IGNORE, IGNORE))
            for k in range(i + 1, j):
                if tokens[k].startswith("acc:"):
                    anchors[k] = (ax, y)
    # Barlines: the k-th barline token closes measure k; one staff's measure quad gives its x.
    measures = sorted(geometry.get("measures", []), key=lambda m: m["index"])
    bar_tokens = [i for i, t in enumerate(tokens) if t in BARLINES]
    if len(measures) == len(bar_tokens):
        for i, m in zip(bar_tokens, measures, strict=True):
            quad = np.asarray(m["quad"], dtype=np.float64)
            x = float((quad[1, 0] + quad[2, 0]) / 2)
            ys = [float(np.interp(x, s[2, :, 0], s[2, :, 1])) for s in staves]
            anchors[i] = (x, float(np.mean(ys)))
            for y in ys:
                points.append((x, y, SYMBOL_BARLINE, IGNORE, IGNORE))
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 5)
    return TokenGeometry(anchors, pts)


def system_crop_box(
    geometry: dict[str, Any], width: int, height: int, jitter: float, rng: np.random.Generator
) -> tuple[int, int, int, int] | None:
    """The union of ``synth.staff_crop.staff_crop_box`` over the sample's staves (None: no staves).

    One staff: exactly the shared staff crop (the transcriber's cut). Several staves (a grand staff):
    from the top staff's box to the bottom staff's, since the label covers every staff.
    """
    from synth.staff_crop import staff_crop_box

    staves = geometry.get("staves") if geometry else None
    if not staves:
        return None
    boxes = [
        staff_crop_box(np.asarray(s["lines"], dtype=np.float64), width, height, jitter=jitter, rng=rng)
        for s in staves
    ]
    b = np.asarray(boxes)
    return int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())


def transform(tg: TokenGeometry, offset: tuple[float, float], scale: float) -> TokenGeometry:
    """Anchors and points in the frame of a crop at ``offset`` resized by ``scale``."""
    off = np.asarray(offset, dtype=np.float32)
    anchors = (tg.anchors - off) * scale
    points = tg.points.copy()
    points[:, :2] = (points[:, :2] - off) * scale
    return TokenGeometry(anchors.astype(np.float32), points)
