"""Token-level metrics: symbol error rate (SER) and per-symbol-class precision/recall.

SER is the Levenshtein distance between the predicted and reference model-token sequences divided by
the reference length (special tokens removed). Per-class precision/recall counts, on one optimal
alignment of the two sequences, matched tokens as true positives of their class, unmatched predicted
tokens as false positives and unmatched reference tokens as false negatives (docs/evaluation.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from grammar.token_tree import parse_tree
from grammar.vocab import SPECIAL, split_token

# Symbol classes in table order; `classify` maps every vocabulary token to one of them.
SYMBOL_CLASSES: tuple[str, ...] = (
    "clef", "key", "time", "note", "chord", "grace", "rest", "space", "accidental", "pitch",
    "duration", "dot", "tie", "tuplet", "barline", "measure-mark", "structure",
)
_BY_TOKEN = {
    "note": "note", "chord": "chord", "grace": "grace", "rest": "rest", "space": "space",
    "dot": "dot", "tie": "tie", "tuplet": "tuplet", "tuplet-end": "tuplet",
    "part": "structure", "staff": "structure", "voice": "structure",
    "pagebreak": "measure-mark", "sysbreak": "measure-mark", "repeat-start": "measure-mark",
}
_BY_PREFIX = {
    "clef": "clef", "key": "key", "time": "time", "acc": "accidental", "pitch": "pitch", "dur": "duration",
    "bar": "barline",
}


def strip_special(tokens: Iterable[str]) -> list[str]:
    """Drop ``<bos>``/``<pad>`` and stop at ``<eos>``: what a sequence says, nothing else."""
    out = []
    for t in tokens:
        if t == "<eos>":
            break
        if t not in SPECIAL:
            out.append(t)
    return out


def classify(tokens: Sequence[str]) -> list[str]:
    """The symbol class of every token; ``n:*`` numbers take the class of the time/tuplet they belong to.

    Which event a number belongs to is read from grammar.token_tree (tolerantly: predictions may
    be broken); a number outside any time or tuplet counts for the last event before it.
    """
    number_class: dict[int, str] = {}
    owner = "time"
    for it in parse_tree(tokens, strict=False).items:
        if it.kind != "n":
            owner = "tuplet" if it.token == "tuplet" else "time"
        number_class.update((j, owner) for j in range(it.start, it.stop))
    classes: list[str] = []
    for i, t in enumerate(tokens):
        kind = split_token(t)[0]
        if kind == "n":
            classes.append(number_class.get(i, "time"))
            continue
        if t in _BY_TOKEN:
            classes.append(_BY_TOKEN[t])
        elif kind in _BY_PREFIX:
            classes.append(_BY_PREFIX[kind])
        else:
            raise ValueError(f"token {t!r} has no symbol class")
    return classes


def _distance_matrix(pred: Sequence[str], ref: Sequence[str]) -> np.ndarray:
    """Full Levenshtein DP table, (len(pred)+1, len(ref)+1), one vectorised row at a time."""
    ids: dict[str, int] = {}
    p = np.array([ids.setdefault(t, len(ids)) for t in pred], dtype=np.int64)
    r = np.array([ids.setdefault(t, len(ids)) for t in ref], dtype=np.int64)
    n, m = len(p), len(r)
    d = np.empty((n + 1, m + 1), dtype=np.int32)
    d[0] = np.arange(m + 1)
    cols = np.arange(m + 1)
    for i in range(1, n + 1):
        prev = d[i - 1]
        row = np.empty(m + 1, dtype=np.int64)
        row[0] = i
        # Deletion (from above) and substitution/match (diagonal) need only the previous row.
        row[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (r != p[i - 1]))
        # Insertion chains left to right: row[j] = min_k(row[k] + j - k) = j + cummin(row[k] - k).
        d[i] = np.minimum.accumulate(row - cols) + cols
    return d


def edit_distance(pred: Sequence[str], ref: Sequence[str]) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1) between two token lists."""
    if not pred or not ref:
        return max(len(pred), len(ref))
    return int(_distance_matrix(pred, ref)[-1, -1])


def align(pred: Sequence[str], ref: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """One optimal alignment as (pred index | None, ref index | None) pairs in sequence order.

    Ties are broken toward matches/substitutions, then deletions, so the result is deterministic.
    """
    d = _distance_matrix(pred, ref)
    i, j = len(pred), len(ref)
    pairs: list[tuple[int | None, int | None]] = []
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (pred[i - 1] != ref[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    pairs.reverse()
    return pairs


def ser(pred: Sequence[str], ref: Sequence[str]) -> float:
    """Symbol error rate of one sequence: edit distance / reference length (special tokens ignored)."""
    p, r = strip_special(pred), strip_special(ref)
    if not r:
        return 0.0 if not p else 1.0
    return edit_distance(p, r) / len(r)


@dataclass
class ClassCounts:
    """True positives, false positives and false negatives of one symbol class."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class TokenMetrics:
    """Accumulates corpus-level SER and per-class counts over (prediction, reference) pairs.

    Corpus SER is total edits / total reference tokens (long pages weigh more), the usual OMR figure.
    """

    edits: int = 0
    ref_tokens: int = 0
    pairs: int = 0
    classes: dict[str, ClassCounts] = field(
        default_factory=lambda: {c: ClassCounts() for c in SYMBOL_CLASSES}
    )

    def update(self, pred: Sequence[str], ref: Sequence[str]) -> int:
        """Add one pair; returns its edit distance."""
        p, r = strip_special(pred), strip_special(ref)
        pc, rc = classify(p), classify(r)
        dist = 0
        for pi, ri in align(p, r):
            if pi is not None and ri is not None and p[pi] == r[ri]:
                self.classes[rc[ri]].tp += 1
                continue
            dist += 1
            if pi is not None:
                self.classes[pc[pi]].fp += 1
            if ri is not None:
                self.classes[rc[ri]].fn += 1
        self.edits += dist
        self.ref_tokens += len(r)
        self.pairs += 1
        return dist

    @property
    def ser(self) -> float | None:
        return self.edits / self.ref_tokens if self.ref_tokens else None

    def class_table(self) -> dict[str, dict[str, float | int | None]]:
        """Per class: support (reference count), tp/fp/fn, precision and recall (None when undefined)."""
        return {
            name: {"support": c.tp + c.fn, "tp": c.tp, "fp": c.fp, "fn": c.fn,
                   "precision": c.precision, "recall": c.recall}
            for name, c in self.classes.items()
        }


def class_histogram(tokens: Sequence[str]) -> Counter[str]:
    """How many tokens of each symbol class a sequence holds (for dataset statistics)."""
    return Counter(classify(strip_special(tokens)))
