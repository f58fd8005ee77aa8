"""Token classes of the vocabulary as integer codes and boolean masks, computed once per vocabulary.

The automaton works on ids: ``cls[id]`` says what kind of token it is and ``arg[id]`` its value
(the number of ``n:7``, the diatonic index of ``pitch:F5``, the type index of ``dur:half``, ...).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from grammar.durations import DURATION_TYPES
from grammar.vocab import BOS, EOS, MEASURE_MARKS, PAD, STEPS, Vocabulary, split_token

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
            kind, a = split_token(t)
            if t in MEASURE_MARKS:
                self.cls[i], self.arg[i] = MARK, MEASURE_MARKS.index(t) + 1
            elif kind == "bar":
                self.cls[i] = BAR
            elif kind == "time":
                self.cls[i] = TIME if a is None else TIMESYM
            elif a is None and kind in simple:
                self.cls[i] = simple[kind]
            elif a is None:
                raise ValueError(f"token {t!r} has no class in grammar.classes")
            elif kind == "clef":
                self.cls[i] = CLEF
            elif kind == "key":
                self.cls[i], self.arg[i] = KEY, int(a)
            elif kind == "n":
                self.cls[i], self.arg[i] = NUM, int(a)
            elif kind == "acc":
                self.cls[i] = ACC
            elif kind == "pitch":
                self.cls[i], self.arg[i] = PITCH, int(a[1:]) * 7 + STEPS.index(a[0])
            elif kind == "dur":
                self.cls[i], self.arg[i] = DUR, (MEASURE_DUR if a == "measure" else DURATION_TYPES.index(a))
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
