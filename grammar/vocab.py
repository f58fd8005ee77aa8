"""The model vocabulary: factorized tokens built by enumeration, never by reading data.

A human-readable event such as ``<note:F#5-quarter.>`` becomes several model tokens
(``note acc:sharp pitch:F5 dur:quarter dot``) so that rare pitch x duration combinations share
statistics. The full list is below; docs/token-language.md specifies the language and
tests/test_vocab.py pins it by hash so a change cannot slip in unnoticed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from grammar.durations import DURATION_TYPES

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL: tuple[str, ...] = (PAD, BOS, EOS)

# Layout of one measure: parts, their staves, the voices on each staff; then the barline.
STRUCTURE: tuple[str, ...] = ("part", "staff", "voice")
# Right barline of a measure; exactly one ends every measure.
BARLINES: tuple[str, ...] = ("bar", "bar:double", "bar:final", "bar:repeat-end")
# Marks that may open a measure (before its first ``part``), in this order.
MEASURE_MARKS: tuple[str, ...] = ("pagebreak", "sysbreak", "repeat-start")

CLEFS: tuple[str, ...] = (
    "G1", "G2", "F3", "F4", "F5", "C1", "C2", "C3", "C4", "C5",
    "G2-8vb", "G2-8va", "G2-15mb", "G2-15ma", "F4-8vb", "F4-8va", "F4-15mb", "F4-15ma", "percussion",
)
KEY_FIFTHS: tuple[int, ...] = tuple(range(-7, 8))
# Major key named by each signature (the page shows the signature, not the mode).
KEY_NAMES: dict[int, str] = {
    -7: "Cb", -6: "Gb", -5: "Db", -4: "Ab", -3: "Eb", -2: "Bb", -1: "F", 0: "C",
    1: "G", 2: "D", 3: "A", 4: "E", 5: "B", 6: "F#", 7: "C#",
}
# ``time n:3 n:4`` is 3/4; the symbols stand alone and imply 4/4 (common time) and 2/2 (cut time).
TIME_SYMBOLS: dict[str, tuple[int, int]] = {"time:C": (4, 4), "time:C|": (2, 2)}
TIME_TOKENS: tuple[str, ...] = ("time", *TIME_SYMBOLS)
NUMBERS: tuple[int, ...] = (*range(1, 33), 64)

EVENTS: tuple[str, ...] = ("note", "rest", "space", "grace", "chord")
ACCIDENTALS: tuple[str, ...] = ("sharp", "flat", "natural", "double-sharp", "double-flat")
ACC_SYMBOL: dict[str, str] = {
    "sharp": "#", "flat": "b", "natural": "n", "double-sharp": "##", "double-flat": "bb",
}
STEPS: tuple[str, ...] = ("C", "D", "E", "F", "G", "A", "B")
OCTAVES: tuple[int, ...] = tuple(range(10))
# ``dur:measure`` is the whole-measure rest/space: it lasts whatever the time signature says.
DURATIONS: tuple[str, ...] = (*DURATION_TYPES, "measure")
MODIFIERS: tuple[str, ...] = ("dot", "tie")
TUPLET: tuple[str, ...] = ("tuplet", "tuplet-end")


def split_token(token: str) -> tuple[str, str | None]:
    """The kind of a model token and its argument: ``pitch:F5`` -> ``("pitch", "F5")``.

    Tokens without an argument (``note``, ``bar``, ``tuplet-end``, ``<eos>``) give ``(token, None)``;
    ``time:C`` gives ``("time", "C")`` and ``bar:final`` gives ``("bar", "final")``. This is the one
    place that knows the ``kind:arg`` spelling; code that needs the meaning of a token asks here.
    """
    kind, sep, arg = token.partition(":")
    return (kind, arg) if sep else (token, None)


def number_arg(token: str) -> int:
    """The value of an ``n:*`` token; ValueError for anything else."""
    kind, arg = split_token(token)
    if kind != "n" or arg is None:
        raise ValueError(f"{token!r} is not a number token n:*")
    return int(arg)


def _enumerate_tokens() -> list[str]:
    toks: list[str] = [*SPECIAL, *STRUCTURE, *BARLINES, *MEASURE_MARKS]
    toks += [f"clef:{c}" for c in CLEFS]
    toks += [f"key:{k}" for k in KEY_FIFTHS]
    toks += list(TIME_TOKENS)
    toks += [f"n:{n}" for n in NUMBERS]
    toks += list(EVENTS)
    toks += [f"acc:{a}" for a in ACCIDENTALS]
    toks += [f"pitch:{s}{o}" for o in OCTAVES for s in STEPS]
    toks += [f"dur:{d}" for d in DURATIONS]
    toks += list(MODIFIERS)
    toks += list(TUPLET)
    return toks


TOKENS: tuple[str, ...] = tuple(_enumerate_tokens())


def _validate(tokens: Sequence[str]) -> None:
    if len(set(tokens)) != len(tokens):
        dupes = sorted({t for t in tokens if tokens.count(t) > 1})
        raise AssertionError(f"duplicate tokens in vocabulary: {dupes}")
    for t in tokens:
        if not t or any(c.isspace() for c in t):
            raise AssertionError(f"token {t!r} is empty or contains whitespace")


_validate(TOKENS)


class Vocabulary:
    """Bidirectional token <-> id map. Ids follow ``TOKENS`` order; ``<pad>`` is 0."""

    def __init__(self, tokens: Sequence[str] = TOKENS) -> None:
        _validate(tokens)
        self.tokens: tuple[str, ...] = tuple(tokens)
        self._ids: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id = self._ids[PAD]
        self.bos_id = self._ids[BOS]
        self.eos_id = self._ids[EOS]

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def id(self, token: str) -> int:
        try:
            return self._ids[token]
        except KeyError:
            raise KeyError(f"{token!r} is not in the omrformer vocabulary") from None

    def encode(self, tokens: Iterable[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        ids = [self.id(t) for t in tokens]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Iterable[int], *, strip_special: bool = True) -> list[str]:
        out = []
        for i in ids:
            tok = self.tokens[int(i)]
            if strip_special and tok in SPECIAL:
                if tok == EOS:
                    break
                continue
            out.append(tok)
        return out

    def sha256(self) -> str:
        """Fingerprint of the exact token list; pinned in tests, stored beside checkpoints."""
        return hashlib.sha256("\n".join(self.tokens).encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        """Write ``vocab.json`` (tokens in id order plus the fingerprint)."""
        data = {"tokens": list(self.tokens), "sha256": self.sha256()}
        Path(path).write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        data = json.loads(Path(path).read_text())
        vocab = cls(data["tokens"])
        if data.get("sha256") not in (None, vocab.sha256()):
            raise ValueError(f"{path}: vocabulary fingerprint does not match its tokens (file edited or corrupt)")
        return vocab


VOCAB = Vocabulary()
