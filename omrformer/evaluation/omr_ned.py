"""OMR-NED: the musicdiff normalised edit distance between two MusicXML scores.

OMR-NED = (symbol edits to turn the prediction into the ground truth) / (symbols in both scores),
as defined by musicdiff (Foscarin et al.; ``musicdiff --ml_training``). The prediction comes first and
the ground truth second, like musicdiff. A missing or unparseable prediction scores 1.0: it is counted,
never skipped, so a model cannot improve its score by failing on hard pages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


class GroundTruthError(ValueError):
    """The ground-truth score cannot be parsed or has no parts: the pair cannot be scored."""


@dataclass(frozen=True)
class OmrNed:
    """One scored pair. ``error`` says why the prediction scored 1.0 without a comparison."""

    omr_ned: float
    edit_distance: int
    symbols_pred: int
    symbols_gt: int
    error: str | None = None


def _parse(source: str | Path | bytes, *, lenient: bool):
    import music21 as m21  # heavy (~1 s): imported only when a score is scored

    if isinstance(source, bytes):
        score = m21.converter.parseData(source, format="musicxml", forceSource=True)
    else:
        score = m21.converter.parse(Path(source), format="musicxml", forceSource=True,
                                    acceptSyntaxErrors=lenient)
    if isinstance(score, m21.stream.Opus):
        score = score.scores[0]  # musicdiff's convention for training: the first score only
    return score


def omr_ned(pred: str | Path | bytes | None, gt: str | Path | bytes, *, detail: int | None = None) -> OmrNed:
    """Score a predicted MusicXML against the ground truth.

    Args:
        pred: the prediction (path or MusicXML bytes); None when the model produced nothing.
        gt: the ground truth (path or MusicXML bytes).
        detail: a ``musicdiff.DetailLevel``; default ``DetailLevel.Default`` (all musical objects,
            no style or metadata, so a missing title costs nothing).

    Returns:
        The OMR-NED (0 = identical, 1 = nothing in common) with its parts.

    Raises:
        GroundTruthError: the ground truth does not parse or has no parts.
    """
    from musicdiff import DetailLevel
    from musicdiff.annotation import AnnScore
    from musicdiff.comparison import Comparison
    from musicdiff.visualization import Visualization

    level = DetailLevel.Default if detail is None else detail
    name = "<bytes>" if isinstance(gt, bytes) else str(gt)
    try:
        gt_score = _parse(gt, lenient=False)
    except Exception as err:  # music21 raises many unrelated types on bad input
        raise GroundTruthError(f"{name}: ground truth does not parse as MusicXML ({err})") from err
    if not list(gt_score.parts):
        raise GroundTruthError(f"{name}: ground truth has no parts")
    ann_gt = AnnScore(gt_score, level)
    gt_size = ann_gt.notation_size()

    if pred is None:
        return OmrNed(1.0, gt_size, 0, gt_size, error="no prediction")
    try:
        pred_score = _parse(pred, lenient=True)
        ann_pred = AnnScore(pred_score, level)
    except Exception as err:  # an unreadable prediction is a wrong prediction
        logger.info("prediction does not parse (%s): scored 1.0", err)
        return OmrNed(1.0, gt_size, 0, gt_size, error=f"prediction does not parse: {err}")

    _, cost = Comparison.annotated_scores_diff(ann_pred, ann_gt)
    pred_size = ann_pred.notation_size()
    return OmrNed(
        omr_ned=Visualization.get_omr_ned(cost, pred_size, gt_size),
        edit_distance=int(cost),
        symbols_pred=pred_size,
        symbols_gt=gt_size,
    )
