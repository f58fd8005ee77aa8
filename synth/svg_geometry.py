"""Read staff geometry out of Verovio's SVG (the only place where positions exist).

Verovio draws, per measure, one ``<g class="staff">`` whose first five ``<path d="M x y L x y">``
children are the staff lines; systems are ``<g class="system">``; notes keep the ids injected into
the MusicXML. Coordinates are in the inner ``viewBox`` units, offset by the ``page-margin`` group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from lxml import etree

from synth.geometry import Geometry, Measure, Staff

SVG_NS = "http://www.w3.org/2000/svg"
XLINK = "{http://www.w3.org/1999/xlink}href"
_LINE_RE = re.compile(r"M\s*(-?[\d.]+)[ ,](-?[\d.]+)\s*L\s*(-?[\d.]+)[ ,](-?[\d.]+)")
_TRANSLATE_RE = re.compile(r"translate\(\s*(-?[\d.]+)[ ,]+(-?[\d.]+)\s*\)")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
POLYLINE_STEP_PX = 48.0  # one staff-line point per this many pixels: curved pages stay traceable


class SVGGeometryError(ValueError):
    """Verovio's SVG does not have the structure we read geometry from."""


@dataclass
class SvgLayout:
    """What the page shows, in SVG user units, plus the mapping to pixels at scale 1."""

    width: float  # outer <svg> width in px
    height: float
    unit_to_px: float  # viewBox unit -> px at scale 1
    offset: tuple[float, float]  # page-margin translate, viewBox units
    systems: list[list[dict]]  # per system, per measure: {"id", "staves": [(x0, x1, [5 ys])]}
    anchors: dict[str, tuple[float, float]]


def _cls(el: etree._Element) -> list[str]:
    return (el.get("class") or "").split()


def _px(value: str) -> float:
    return float(value.removesuffix("px"))


def parse_svg(svg: str | bytes) -> SvgLayout:
    """Parse one Verovio page into an ``SvgLayout`` (raises SVGGeometryError when malformed)."""
    try:
        root = etree.fromstring(svg.encode() if isinstance(svg, str) else svg, _PARSER)
    except etree.XMLSyntaxError as err:
        raise SVGGeometryError(f"Verovio SVG is not XML: {err}") from None
    inner = root.find(f"{{{SVG_NS}}}svg")
    if inner is None or not inner.get("viewBox"):
        raise SVGGeometryError("Verovio SVG has no inner <svg viewBox>")
    vb = [float(v) for v in inner.get("viewBox").split()]
    width, height = _px(root.get("width", "0")), _px(root.get("height", "0"))
    margin = next((g for g in inner.iter(f"{{{SVG_NS}}}g") if "page-margin" in _cls(g)), None)
    offset = (0.0, 0.0)
    if margin is not None and (m := _TRANSLATE_RE.search(margin.get("transform", ""))):
        offset = (float(m.group(1)), float(m.group(2)))
    systems = []
    anchors: dict[str, tuple[float, float]] = {}
    for sysg in inner.iter(f"{{{SVG_NS}}}g"):
        if "system" not in _cls(sysg):
            continue
        measures = []
        for mg in sysg.iter(f"{{{SVG_NS}}}g"):
            if "measure" not in _cls(mg):
                continue
            staves = []
            for sg in mg:
                if not isinstance(sg.tag, str) or "staff" not in _cls(sg):
                    continue
                lines = [
                    m.groups()
                    for p in sg.findall(f"{{{SVG_NS}}}path")
                    if (m := _LINE_RE.match(p.get("d", "")))
                ]
                if len(lines) < 5:
                    raise SVGGeometryError(f"staff {sg.get('id')} has {len(lines)} lines, expected 5")
                xs = [float(v) for ln in lines[:5] for v in (ln[0], ln[2])]
                staves.append((min(xs), max(xs), [float(ln[1]) for ln in lines[:5]]))
            measures.append({"id": mg.get("id", ""), "staves": staves})
        systems.append(measures)
    for g in inner.iter(f"{{{SVG_NS}}}g"):
        c = _cls(g)
        if ("note" in c or "rest" in c) and g.get("id"):
            use = next(iter(g.iter(f"{{{SVG_NS}}}use")), None)
            if use is not None and (m := _TRANSLATE_RE.search(use.get("transform", ""))):
                anchors[g.get("id")] = (float(m.group(1)), float(m.group(2)))
    return SvgLayout(width, height, width / vb[2], offset, systems, anchors)


def to_geometry(layout: SvgLayout, scale: float) -> Geometry:
    """Pixel geometry of a layout rasterised at ``scale`` pixels per SVG px."""
    k = layout.unit_to_px * scale
    ox, oy = layout.offset

    def px(x: float, y: float) -> tuple[float, float]:
        return ((x + ox) * k, (y + oy) * k)

    geom = Geometry(round(layout.width * scale), round(layout.height * scale))
    measure_no = 0
    for si, measures in enumerate(layout.systems):
        n_staves = max((len(m["staves"]) for m in measures), default=0)
        for st in range(n_staves):
            segs = [m["staves"][st] for m in measures if st < len(m["staves"])]
            x0, x1 = min(s[0] for s in segs), max(s[1] for s in segs)
            ys = np.mean([s[2] for s in segs], axis=0)  # (5,) a system's staff lines are straight
            n = max(2, int(np.ceil((x1 - x0) * k / POLYLINE_STEP_PX)) + 1)
            xs = np.linspace(x0, x1, n)
            lines = np.stack([np.stack([xs, np.full(n, y)], axis=1) for y in ys])  # (5, n, 2)
            geom.staves.append(Staff(si, st, (lines + np.array([ox, oy])) * k))
        sys_x0 = sys_x1 = None
        for m in measures:
            if not m["staves"]:
                continue
            x0 = min(s[0] for s in m["staves"])
            x1 = max(s[1] for s in m["staves"])
            y0, y1 = m["staves"][0][2][0], m["staves"][-1][2][-1]
            quad = np.array([px(x0, y0), px(x1, y0), px(x1, y1), px(x0, y1)])
            geom.measures.append(Measure(si, measure_no, quad, m["id"]))
            measure_no += 1
            sys_x0 = x0 if sys_x0 is None else min(sys_x0, x0)
            sys_x1 = x1 if sys_x1 is None else max(sys_x1, x1)
        if sys_x0 is not None and sys_x1 is not None:  # set together, by the first measure
            tops = [m["staves"][0][2][0] for m in measures if m["staves"]]
            bots = [m["staves"][-1][2][-1] for m in measures if m["staves"]]
            y0, y1 = min(tops), max(bots)
            geom.systems.append(np.array([px(sys_x0, y0), px(sys_x1, y0), px(sys_x1, y1), px(sys_x0, y1)]))
    geom.anchors = {k_: np.array(px(*xy)) for k_, xy in layout.anchors.items()}
    return geom


def measures_per_system(layout: SvgLayout) -> list[int]:
    """How many measures each system of the page holds, top to bottom."""
    return [len(ms) for ms in layout.systems]
