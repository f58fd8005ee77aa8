"""Draw what the transcriber saw: detected staves, systems and the measures it wrote per system."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from grammar.token_tree import parse_tree

STAFF_COLOUR = (220, 40, 40)
SYSTEM_COLOUR = (40, 90, 220)


def measures_per_system(tokens: list[str]) -> list[int]:
    """Measures written in each system: a measure with ``sysbreak``/``pagebreak`` opens a new one.

    The measures are grammar.token_tree's, read tolerantly (the page's tokens may be broken): a
    measure without its barline is not counted, a break anywhere in a measure still counts.
    """
    counts = [0]
    for m in parse_tree(tokens, strict=False).measures:
        if counts[-1] and any(mark in ("sysbreak", "pagebreak") for mark in m.marks):
            counts.append(0)
        if m.bar is not None:
            counts[-1] += 1
    return counts


def confidence_colour(p: float) -> tuple[int, int, int]:
    """Red (unsure) through yellow to green (sure) for a probability in [0, 1]."""
    p = float(np.clip(p, 0.0, 1.0))
    return (int(255 * min(1.0, 2 * (1 - p))), int(200 * min(1.0, 2 * p)), 0)


def _draw_readings(draw: ImageDraw.ImageDraw, page: Any) -> None:
    """Staff/system crops read one by one: the crop box coloured by the mean token confidence,
    labelled with the measures read there and the share of tokens under 50% confidence."""
    for r in page.readings:
        x0, y0, x1, y1 = r.box
        conf = np.asarray(r.confidence or [0.0])
        colour = confidence_colour(float(conf.mean()))
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=2)
        where = f"system {r.system + 1}" + ("" if r.staff is None else f" staff {r.staff + 1}")
        label = f"{where}: {r.measures} measures, conf {conf.mean():.2f}, {np.mean(conf < 0.5):.0%} unsure"
        draw.text((x0 + 3, y0 + 2), label, fill=colour)
        # Guided checkpoints say where each token was read: a dot per note or rest, coloured by
        # its confidence, so the uncertain ones stand out on the page.
        for tok, p, (x, y) in zip(r.decoded, r.confidence, r.positions, strict=False):
            if tok.startswith("pitch:") or tok == "rest":
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=confidence_colour(p), width=2)


def draw_overlay(page: Any) -> Image.Image:
    """An RGB image of the prepared page with staff lines (red) and system boxes (blue).

    Each system is labelled with the measure numbers the transcription put there, when the number
    of systems written matches the number detected; otherwise the page total is printed on top.

    Args:
        page: A :class:`~omrformer.transcribe.PageResult` with ``prepared`` and ``tokens``.
    """
    prep = page.prepared
    h, w = prep.size
    gray = (255 * (1.0 - prep.ink[:h, :w])).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(gray).convert("RGB")
    draw = ImageDraw.Draw(img)
    layout = prep.layout
    if getattr(page, "readings", None):
        _draw_readings(draw, page)
    for staff in layout.staves:
        xs = np.linspace(staff.x0, staff.x1, 32)
        for k in range(5):
            points = list(zip(xs.tolist(), staff.line_y(k, xs).tolist(), strict=True))
            draw.line(points, fill=STAFF_COLOUR, width=1)
    counts = measures_per_system(page.tokens or [])
    labelled = len(counts) == len(layout.systems)
    first = 1
    for i, system in enumerate(layout.systems):
        staves = [layout.staves[j] for j in system]
        pad = layout.staff_space
        x0 = min(s.x0 for s in staves) - pad
        x1 = max(s.x1 for s in staves) + pad
        y0 = min(float(s.lines[0].min()) for s in staves) - pad
        y1 = max(float(s.lines[4].max()) for s in staves) + pad
        draw.rectangle([x0, y0, x1, y1], outline=SYSTEM_COLOUR, width=2)
        if labelled:
            n = counts[i]
            draw.text((x0 + 2, max(y0 - 12, 0)), f"m. {first}-{first + n - 1}" if n else "no measures",
                      fill=SYSTEM_COLOUR)
            first += n
    if not labelled:
        draw.text((4, 4), f"{sum(counts)} measures, {len(layout.staves)} staves", fill=SYSTEM_COLOUR)
    return img
