"""Collect per-page results into one evaluation report (JSON + Markdown).

``EvaluationReport.add_page`` takes what a model produced for one page (tokens, MusicXML, time) and
the ground truth, runs every metric and keeps the row; ``summary`` aggregates them. A page the model
failed on is still a row: it scores SER 1, OMR-NED 1 and counts as invalid.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grammar.atomic import write_atomic
from omrformer.evaluation.metrics import TokenMetrics, strip_special
from omrformer.evaluation.omr_ned import omr_ned
from omrformer.evaluation.validity import (
    measure_consistency,
    music21_problem,
    verovio_problem,
    xsd_problem,
)

logger = logging.getLogger(__name__)


@dataclass
class PageResult:
    """Every metric of one page. ``problems`` lists why a check failed, one string per check."""

    name: str
    ser: float
    omr_ned: float | None
    xsd_valid: bool
    music21_ok: bool
    verovio_ok: bool
    measures: int
    clean_measures: int
    seconds: float
    problems: list[str] = field(default_factory=list)


@dataclass
class EvaluationReport:
    """Accumulates pages; see docs/evaluation.md for the definition of every figure."""

    with_omr_ned: bool = True
    with_render: bool = True
    tokens: TokenMetrics = field(default_factory=TokenMetrics)
    pages: list[PageResult] = field(default_factory=list)

    def add_page(
        self,
        name: str,
        pred_tokens: Sequence[str] | None,
        ref_tokens: Sequence[str],
        pred_xml: bytes | None,
        ref_xml: bytes | None,
        seconds: float,
        error: str | None = None,
    ) -> PageResult:
        """Score one page; ``pred_tokens``/``pred_xml`` are None when the model failed (``error``: why)."""
        problems = [error] if error else []
        pred = list(pred_tokens or [])
        dist = self.tokens.update(pred, ref_tokens)
        n_ref = len(strip_special(ref_tokens))
        page_ser = dist / n_ref if n_ref else float(bool(strip_special(pred)))

        ned = None
        if self.with_omr_ned and ref_xml is not None:
            scored = omr_ned(pred_xml, ref_xml)
            ned = scored.omr_ned
            if scored.error:
                problems.append(f"omr-ned: {scored.error}")

        checks: dict[str, str | None] = {"xsd": None, "music21": None, "verovio": None}
        if pred_xml is None:
            checks = dict.fromkeys(checks, "no MusicXML")
        else:
            checks["xsd"] = xsd_problem(pred_xml)
            checks["music21"] = music21_problem(pred_xml)
            if self.with_render:
                checks["verovio"] = verovio_problem(pred_xml)
        problems += [f"{k}: {v}" for k, v in checks.items() if v]

        consistency = measure_consistency(pred) if pred else None
        page = PageResult(
            name=name, ser=page_ser, omr_ned=ned,
            xsd_valid=checks["xsd"] is None, music21_ok=checks["music21"] is None,
            verovio_ok=checks["verovio"] is None,
            measures=consistency.measures if consistency else 0,
            clean_measures=consistency.clean if consistency else 0,
            seconds=seconds, problems=problems,
        )
        self.pages.append(page)
        return page

    def summary(self) -> dict[str, Any]:
        """Corpus figures: SER, mean OMR-NED, validity rates, measure consistency, pages/s."""
        n = len(self.pages)
        if not n:
            return {"pages": 0}
        neds = [p.omr_ned for p in self.pages if p.omr_ned is not None]
        measures = sum(p.measures for p in self.pages)
        seconds = sum(p.seconds for p in self.pages)
        return {
            "pages": n,
            "ser": self.tokens.ser,
            "omr_ned": sum(neds) / len(neds) if neds else None,
            "xsd_valid_rate": sum(p.xsd_valid for p in self.pages) / n,
            "music21_rate": sum(p.music21_ok for p in self.pages) / n,
            "verovio_rate": sum(p.verovio_ok for p in self.pages) / n if self.with_render else None,
            "measure_consistency_rate": (
                sum(p.clean_measures for p in self.pages) / measures if measures else None
            ),
            "pages_per_second": n / seconds if seconds > 0 else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "classes": self.tokens.class_table(),
            "pages": [asdict(p) for p in self.pages],
        }

    def to_markdown(self, title: str = "Evaluation") -> str:
        """A summary table and the per-class precision/recall table."""
        s = self.summary()

        def fmt(v: Any) -> str:
            return "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

        lines = [f"# {title}", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {fmt(v)} |" for k, v in s.items()]
        lines += ["", "| class | support | precision | recall |", "| --- | --- | --- | --- |"]
        for name, row in self.tokens.class_table().items():
            if row["support"] or row["fp"]:
                cells = [name, str(row["support"]), fmt(row["precision"]), fmt(row["recall"])]
                lines.append("| " + " | ".join(cells) + " |")
        failed = [p for p in self.pages if p.problems]
        if failed:
            lines += ["", f"Pages with problems: {len(failed)} of {len(self.pages)}", ""]
            lines += [f"- {p.name}: {'; '.join(p.problems)[:300]}" for p in failed[:20]]
        return "\n".join(lines) + "\n"

    def write(self, json_path: str | Path, md_path: str | Path | None = None, 
              title: str = "Evaluation") -> None:
        """Write the JSON (and Markdown) report atomically."""
        write_atomic(Path(json_path), json.dumps(self.to_dict(), indent=1))
        if md_path is not None:
            write_atomic(Path(md_path), self.to_markdown(title))
