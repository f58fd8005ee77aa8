"""Staff level: cut one sample per staff out of an engraved, degraded system.

The crop is ``synth.staff_crop.staff_crop_box`` on the staff's lines, the function the transcriber
uses on detected staves, so training crops look like inference crops: the neighbouring staves'
ink that falls inside the box (ledger lines, stems, lyrics, dynamics) stays. The label is that
staff alone (``grammar.staff_extract``), written with note ids of its own; the geometry is moved
into the crop and the anchors renamed to those ids.

A staff is kept only if its label validates, its five lines lie inside the image and the crop,
every note of the label that has an anchor in the system has it inside the crop, and the crop
shows the label's measures; any other staff is dropped with its reason (recorded in the shard's
sidecar and the manifest).
"""

from __future__ import annotations

import copy
from typing import Any

import cv2
import numpy as np

from grammar.staff_extract import extract_staff_indexed, score_layout
from grammar.validate import validate
from synth.config import StaffConfig
from synth.geometry import Geometry, Staff
from synth.sample import PNG_PARAMS, Sample, SampleError, SampleGroup
from synth.sources import label_bytes, split_measures
from synth.staff_crop import box_contains, crop_geometry, staff_crop_box

# Tokens whose position becomes a note id ``t{i}`` in write_score(ids=True) (grammar.musicxml.writer).
ANCHORED = frozenset({"note", "chord", "grace", "rest"})


def cut_staves(
    cfg: StaffConfig,
    name: str,
    key: str,
    tokens: list[str],
    image: np.ndarray,
    geometry: Geometry,
    meta: dict[str, Any],
    rng: np.random.Generator,
) -> SampleGroup:
    """A ``SampleGroup`` with one sample per kept staff of the one-system ``tokens`` engraving.

    Raises ``SampleError`` when no staff can be kept (the task is then retried) or the engraving
    does not show the staves the tokens have.
    """
    flat = [(p, s) for p, n in enumerate(score_layout(tokens)) for s in range(n)]
    staves = sorted((g for g in geometry.staves if g.system == 0), key=lambda g: g.index)
    if len(staves) != len(flat) or len(geometry.systems) != 1:
        raise SampleError(
            name, f"engraving shows {len(staves)} staves in {len(geometry.systems)} systems, expected {len(flat)} in 1"
        )
    height, width = image.shape
    whole = (0, 0, width, height)
    samples: list[Sample] = []
    dropped: list[dict[str, Any]] = []
    n_measures = len(split_measures(tokens))
    for k, ((part, staff), g_staff) in enumerate(zip(flat, staves, strict=True)):

        def drop(reason: str, k: int = k) -> None:
            dropped.append({"staff": k, "reason": reason})

        label_tokens, src = extract_staff_indexed(tokens, part, staff)
        violations = validate(label_tokens)
        if violations:
            drop(f"label does not validate: {violations[0]}")
            continue
        if not box_contains(whole, g_staff.lines):
            drop("staff lines leave the image (geometric distortion)")
            continue
        box = staff_crop_box(
            g_staff.lines,
            width,
            height,
            above=cfg.above,
            below=cfg.below,
            pad_x=cfg.pad_x,
            jitter=cfg.jitter,
            rng=rng if cfg.jitter > 0 else None,
        )
        # Anchors of this staff's notes, renamed from the system's token indices to the label's.
        anchors: dict[str, np.ndarray] = {}
        outside = []
        for j, (tok, i) in enumerate(zip(label_tokens, src, strict=True)):
            if tok in ANCHORED and (p := geometry.anchors.get(f"t{i}")) is not None:
                if box_contains(box, p):
                    anchors[f"t{j}"] = p - np.array(box[:2], dtype=np.float64)
                else:
                    outside.append(f"t{j}")
        if outside:
            drop(f"{len(outside)} anchors of the label fall outside the crop (first {outside[0]})")
            continue
        g = crop_geometry(geometry, box)
        own = [s for s in g.staves if (s.system, s.index) == (g_staff.system, g_staff.index)]
        if len(own) != 1:
            drop("crop does not contain the staff's five lines")
            continue
        g.staves = [Staff(0, 0, own[0].lines)]
        g.anchors = anchors
        if len(g.measures) != n_measures:
            drop(f"crop shows {len(g.measures)} measures, the label has {n_measures}")
            continue
        x0, y0, x1, y1 = box
        ok, png = cv2.imencode(".png", np.ascontiguousarray(image[y0:y1, x0:x1]), PNG_PARAMS)
        if not ok:
            drop("PNG encoding failed")
            continue
        m = copy.deepcopy(meta)
        m["staff"] = {"part": part, "staff": staff, "index": k, "of": len(flat), "box": [x0, y0, x1, y1]}
        samples.append(Sample(f"{key}-s{k:02d}", png.tobytes(), label_bytes(label_tokens), g.to_json(), m))
    if not samples:
        reasons = "; ".join(f"staff {d['staff']}: {d['reason']}" for d in dropped)
        raise SampleError(name, f"no staff could be kept ({reasons})")
    for s in samples:
        s.meta["staves_dropped"] = len(dropped)
    return SampleGroup(samples, dropped)
