"""SER and per-class precision/recall on token sequences a musician can read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar.human import from_human
from grammar.vocab import TOKENS
from omrformer.evaluation.metrics import (
    SYMBOL_CLASSES,
    TokenMetrics,
    align,
    classify,
    edit_distance,
    ser,
    strip_special,
)

REF = from_human("<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> "
                 "<note:F#5-quarter> <rest:eighth> <note:A5-eighth> <note:D5-quarter> <bar>")


def _reference_levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_identical_sequences_have_zero_ser():
    assert ser(REF, REF) == 0.0
    assert ser(["<bos>", *REF, "<eos>", "<pad>"], REF) == 0.0


def test_one_wrong_pitch_is_one_substitution():
    pred = [("pitch:B5" if t == "pitch:A5" else t) for t in REF]
    assert edit_distance(pred, REF) == 1
    assert ser(pred, REF) == pytest.approx(1 / len(REF))


def test_empty_prediction_scores_one():
    assert ser([], REF) == 1.0
    assert ser(["<bos>", "<eos>"], REF) == 1.0


def test_tokens_after_eos_are_ignored():
    assert strip_special(["<bos>", "note", "<eos>", "rest"]) == ["note"]


_SEQ = st.lists(st.sampled_from(TOKENS[3:40]), max_size=25)


@settings(max_examples=60, deadline=None)
@given(_SEQ, _SEQ)
def test_edit_distance_matches_textbook_dp(a, b):
    assert edit_distance(a, b) == _reference_levenshtein(a, b)
    pairs = align(a, b)
    # The alignment covers both sequences in order and its cost is the distance.
    assert [i for i, _ in pairs if i is not None] == list(range(len(a)))
    assert [j for _, j in pairs if j is not None] == list(range(len(b)))
    cost = sum(1 for i, j in pairs if i is None or j is None or a[i] != b[j])
    assert cost == _reference_levenshtein(a, b)


def test_every_vocabulary_token_has_a_class():
    classes = classify([t for t in TOKENS if not t.startswith("<")])
    assert set(classes) <= set(SYMBOL_CLASSES)


def test_numbers_belong_to_their_time_signature_or_tuplet():
    toks = from_human("<time:6/8> <tuplet:3/2> <note:C4-eighth>")
    assert classify(toks) == ["time"] * 3 + ["tuplet"] * 3 + ["note", "pitch", "duration"]


def test_per_class_counts_for_a_wrong_accidental_and_a_missing_rest():
    pred = from_human("<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> "
                      "<note:Fn5-quarter> <note:A5-eighth> <note:D5-quarter> <bar>")
    m = TokenMetrics()
    assert m.update(pred, REF) == 3  # acc:sharp -> acc:natural, and `rest dur:eighth` missing
    table = m.class_table()
    assert table["accidental"] == {"support": 1, "tp": 0, "fp": 1, "fn": 1, "precision": 0.0, "recall": 0.0}
    assert table["rest"]["recall"] == 0.0 and table["rest"]["precision"] is None
    assert table["pitch"]["precision"] == 1.0 and table["pitch"]["recall"] == 1.0
    # Durations: 3 of 4 reference durations found, no spurious one.
    assert (table["duration"]["tp"], table["duration"]["fn"], table["duration"]["fp"]) == (3, 1, 0)
    assert m.ser == pytest.approx(3 / len(REF))


def test_corpus_ser_weighs_by_reference_length():
    m = TokenMetrics()
    m.update(REF, REF)
    m.update([], ["note", "pitch:C4", "dur:whole"])
    assert m.ser == pytest.approx(3 / (len(REF) + 3))
    assert m.pairs == 2
