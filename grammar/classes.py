"""Token classes of the vocabulary as integer codes and boolean masks, computed once per vocabulary.

The automaton works on ids: ``cls[id]`` says what kind of token it is and ``arg[id]`` its value
(the number of ``n:7``, the diatonic index of ``pitch:F5``, the type index of ``dur:half``, ...).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from grammar.durations import DURATION_TYPES
from grammar.vocab import BOS, EOS, MEASURE_MARKS, PAD, STEPS, Vocabulary

(
    PADC,
    BOSC,
    EOSC,
    PART,
    STAFF,
    VOICE,
    BAR,
    MARK,
    CLEF,
    KEY,
    TIME,
    TIMESYM,
    NUM,
    NOTE,
    REST,
    SPACE,
    GRACE,
    CHORD,
    ACC,
    PITCH,
    DUR,
    DOT,
    TIE,
    TUPLET,
    TUPEND,
) = range(25)
N_CLASSES = 25
MEASURE_DUR = len(DURATION_TYPES)  # arg of dur:measure


class TokenClasses:
    """Per-id class code, argument, and one boolean mask per class."""

    def __init__(self, vocab: Vocabulary) -> None:
        n = len(vocab)
        self.cls = np.zeros(n, dtype=np.int64)
        self.arg = np.zeros(n, dtype=np.int64)
        simple = {
            PAD: PADC,
            BOS: BOSC,
            EOS: EOSC,
            "part": PART,
            "staff": STAFF,
            "voice": VOICE,
            "time": TIME,
            "note": NOTE,
            "rest": REST,
            "space": SPACE,
            "grace": GRACE,
            "chord": CHORD,
            "dot": DOT,
            "tie": TIE,
            "tuplet": TUPLET,
            "tuplet-end": TUPEND,
        }
        for i, t in enumerate(vocab.tokens):
            if t in simple:
                self.cls[i] = simple[t]
            elif t == "bar" or t.startswith("bar:"):
                self.cls[i] = BAR
            elif t in MEASURE_MARKS:
                self.cls[i], self.arg[i] = MARK, MEASURE_MARKS.index(t) + 1
            elif t.startswith("clef:"):
                self.cls[i] = CLEF
            elif t.startswith("key:"):
                self.cls[i], self.arg[i] = KEY, int(t[4:])
            elif t in ("time:C", "time:C|"):
                self.cls[i] = TIMESYM
            elif t.startswith("n:"):
                self.cls[i], self.arg[i] = NUM, int(t[2:])
            elif t.startswith("acc:"):
                self.cls[i] = ACC
            elif t.startswith("pitch:"):
                self.cls[i], self.arg[i] = PITCH, int(t[-1]) * 7 + STEPS.index(t[6])
            elif t.startswith("dur:"):
                d = t[4:]
                self.cls[i], self.arg[i] = DUR, (MEASURE_DUR if d == "measure" else DURATION_TYPES.index(d))
            else:
                raise ValueError(f"token {t!r} has no class in grammar.classes")
        self.masks = np.stack([self.cls == c for c in range(N_CLASSES)])  # (N_CLASSES, V)
        self.num_id = {int(self.arg[i]): int(i) for i in np.flatnonzero(self.cls == NUM)}
        self.dur_id = {int(self.arg[i]): int(i) for i in np.flatnonzero(self.cls == DUR)}
        self.pitch_ids = np.flatnonzero(self.cls == PITCH)  # in diatonic order (octave-major)
        self.pitch_arg = self.arg[self.pitch_ids]
        self.mark_level = {int(self.arg[i]): int(i) for i in np.flatnonzero(self.cls == MARK)}
        self.pad_id, self.bos_id, self.eos_id = vocab.pad_id, vocab.bos_id, vocab.eos_id

    def any_of(self, *classes: int) -> np.ndarray:
        """Boolean mask (V,) of every token in ``classes``."""
        return np.asarray(self.masks[list(classes)].any(axis=0))


@lru_cache(maxsize=4)
def token_classes(vocab: Vocabulary) -> TokenClasses:
    return TokenClasses(vocab)
