"""Which lengths can still be filled: the look-ahead that keeps the automaton free of dead ends.

A voice that must fill its measure may only take a duration if the ticks left afterwards can
still be spelled. The spellable lengths are the sums of *units*: a plain note value (type + 0-3
dots) or one note value inside a tuplet ``A:N`` (its length times N/A, when that is a whole number
of ticks). A tuplet with several notes is a sum of such units, so the fillable set is the additive
semigroup the units generate. We store it exactly and compactly as, per residue ``r`` modulo the
smallest unit ``m``, the smallest fillable length ``w[r]`` (shortest paths over residues): a
length ``R`` is fillable iff ``R >= w[R % m]``. This holds for every ``R``, even a 64/1 measure.
"""

from __future__ import annotations

import heapq
from functools import lru_cache

import numpy as np

from grammar.durations import DURATION_TYPES, MAX_DOTS, note_ticks
from grammar.policy import Policy
from grammar.vocab import NUMBERS

N_TYPES = len(DURATION_TYPES)
# PLAIN[x, k]: ticks of type x with k dots, (9, 4).
PLAIN = np.array([[note_ticks(t, k) for k in range(MAX_DOTS + 1)] for t in DURATION_TYPES], dtype=np.int64)
NO_UNIT = -1  # marks a (type, dots) that is not a whole number of ticks inside a tuplet


def scaled_table(actual: int, normal: int) -> np.ndarray:
    """(9, 4) ticks of each (type, dots) inside an ``actual:normal`` tuplet; NO_UNIT where fractional."""
    num = PLAIN * normal
    return np.where(num % actual == 0, num // actual, NO_UNIT)


class FillTable:
    """Exact "can R ticks still be filled?" for one policy, plus the units per tuplet ratio."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        # Every ratio the policy allows that has at least one whole-tick unit; sorted, so the
        # completion plan (min_to_finish) picks them deterministically.
        self.ratios: list[tuple[int, int]] = []
        self.scaled: dict[tuple[int, int], np.ndarray] = {}
        units = {int(v) for v in PLAIN.ravel()}
        for a in NUMBERS:
            for n in NUMBERS:
                if not policy.tuplet_ok(a, n):
                    continue
                table = scaled_table(a, n)
                if (table > 0).any():
                    self.ratios.append((a, n))
                    self.scaled[(a, n)] = table
                    units.update(int(v) for v in table.ravel() if v > 0)
        self.ratio_set = set(self.ratios)
        self.actuals = sorted({a for a, _ in self.ratios})
        # The allowed normals per actual, in ``ratios`` order (the masks ask "which n:N after n:A?").
        self.normals: dict[int, list[int]] = {a: [n for aa, n in self.ratios if aa == a] for a in self.actuals}
        self.units = np.array(sorted(units), dtype=np.int64)
        self.m = int(self.units[0])
        self.w = self._residue_minima()
        self.cache: dict[tuple, object] = {}  # mask look-ups, shared by all automata of this policy
        self.unit_arrays = {r: np.unique(t[t > 0]) for r, t in self.scaled.items()}

    def _residue_minima(self) -> np.ndarray:
        """Dijkstra over residues mod m: w[r] = smallest fillable length congruent to r."""
        m = self.m
        inf = np.iinfo(np.int64).max
        w = np.full(m, inf, dtype=np.int64)
        w[0] = 0
        heap = [(0, 0)]
        units = [int(u) for u in self.units]
        while heap:
            d, r = heapq.heappop(heap)
            if d > w[r]:
                continue
            for u in units:
                nd = d + u
                nr = nd % m
                if nd < w[nr]:
                    w[nr] = nd
                    heapq.heappush(heap, (nd, nr))
        return w

    def fillable(self, ticks: int) -> bool:
        """Whether exactly ``ticks`` can be spelled by notes, rests and tuplets (0 is fillable)."""
        return ticks >= 0 and ticks >= self.w[ticks % self.m]

    def fillable_vec(self, ticks: np.ndarray) -> np.ndarray:
        """Vectorised ``fillable`` over an int array of any shape."""
        t = np.asarray(ticks, dtype=np.int64)
        safe = np.where(t >= 0, t, 0)
        return (t >= 0) & (safe >= self.w[safe % self.m])


@lru_cache(maxsize=8)
def fill_table(policy: Policy) -> FillTable:
    """The (cached) table for a policy; building one takes ~0.1 s."""
    return FillTable(policy)
