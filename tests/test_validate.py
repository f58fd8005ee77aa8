import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar import Policy, ScoreAutomaton, validate
from grammar.human import from_human
from grammar.vocab import VOCAB
from tests.grammar_walks import random_walk

HEAD = "<part> <staff> <clef:G2> <key:C-major> <time:3/4> <voice>"


def rules(text_or_tokens, policy=None):
    return [v.rule for v in validate(text_or_tokens, policy)]


def test_valid_song_has_no_violations():
    text = f"{HEAD} <note:C4-half> <note:D4-quarter> <bar> <part> <staff> <voice> <note:E4-half.> <bar:final>"
    assert validate(text) == []
    assert validate(["<bos>", *from_human(text), "<eos>"]) == []


def test_overfull_message_names_measure_voice_and_lengths():
    text = (f"{HEAD} <note:C4-half> <note:D4-quarter> <bar> <part> <staff> <voice> <note:E4-half> "
            "<note:F4-quarter> <note:G4-eighth> <bar>")
    (v,) = validate(text)
    assert v.rule == "overfull"
    assert str(v) == "measure 2, part 1, staff 1, voice 1: 7/8 in 3/4 (overfull)"
    assert (v.measure, v.part, v.staff, v.voice) == (2, 1, 1, 1)


def test_every_violation_is_reported():
    text = (f"{HEAD} <note:C4-half> <note:D4-half> <bar> "  # overfull
            "<part> <staff> <voice> <note:E4-quarter> <bar> "  # short but not last
            "<part> <staff> <voice> <note:E4-half> <chord:C4> <note:D4-quarter> <bar> "  # chord order
            "<part> <staff> <voice> <rest:half> <tuplet-end> <rest:quarter> <bar>")  # syntax
    got = rules(text)
    assert got == ["overfull", "underfull-primary", "chord-order", "syntax"]


def test_syntax_message_says_what_was_expected():
    text = "<part> <staff> <clef:G2> <key:C-major> <time:3/4> <bar> <voice> <rest:measure> <bar>"
    (v,) = validate(from_human(text))
    assert v.rule == "syntax"
    assert str(v) == "measure 1, part 1, staff 1: expected clef, key, time or a voice but found bar"


def test_layout_and_first_measure_rules():
    no_key = "<part> <staff> <clef:G2> <time:3/4> <voice> <rest:measure> <bar>"
    assert rules(no_key) == ["first-measure-attributes"]
    assert rules(f"<sysbreak> {HEAD} <rest:measure> <bar>") == ["break-at-start"]
    two = (f"{HEAD} <rest:measure> <part> <staff> <clef:F4> <key:C-major> <time:3/4> <voice> <rest:measure> "
           "<bar>")
    assert rules(two + " <part> <staff> <voice> <rest:measure> <bar>") == ["layout"]


def test_unterminated_and_policy_flags():
    assert rules(f"{HEAD} <note:C4-half>") == ["unterminated"]
    text = f"{HEAD} <note:C4-half> <voice> <rest:quarter> <bar>"  # pickup: both voices may be short
    assert rules(text) == []
    assert rules(text, Policy(allow_pickup=False, strict_secondary=True)) == [
        "underfull-primary", "underfull-secondary"]
    later = f"{HEAD} <rest:measure> <bar> <part> <staff> <voice> <note:C4-half.> <voice> <rest:quarter> <bar>"
    assert rules(later) == []
    assert rules(later, Policy(strict_secondary=True)) == ["underfull-secondary"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(12, 150))
def test_random_walks_validate(seed, max_len):
    seq = random_walk(np.random.default_rng(seed), max_len)
    assert len(seq) <= max_len
    assert validate(seq) == []
    assert validate(VOCAB.encode(seq)) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["delete", "insert", "replace"]))
def test_corrupted_walks_are_rejected_or_still_grammatical(seed, how):
    """A corruption is either reported, or the corrupted sequence is itself accepted by the automaton."""
    rng = np.random.default_rng(seed)
    seq = random_walk(rng, 80)
    i = int(rng.integers(0, len(seq)))
    bad = list(seq)
    tok = VOCAB.tokens[int(rng.integers(3, len(VOCAB)))]
    if how == "delete":
        del bad[i]
    elif how == "insert":
        bad.insert(i, tok)
    else:
        bad[i] = tok
    found = validate(bad)
    auto = ScoreAutomaton()
    # validate() reads the end of the input as the end of the score (token files carry no <eos>),
    # so the automaton gets the <eos> a deletion may have removed.
    steps = bad if bad and bad[-1] == "<eos>" else [*bad, "<eos>"]
    try:
        for t in steps:
            auto.step(t)
        accepted = auto.is_complete
    except Exception:
        accepted = False
    assert bool(found) != accepted
    for v in found:
        assert v.message.startswith("measure ") or v.rule == "syntax"
        assert 0 <= v.position <= len(bad)


def test_tuplet_of_spaces_only_spells_a_pad_and_the_automaton_allows_it():
    # 4/4: half + one triplet eighth leaves 5/3 quarters: two triplet eighths of space, a quarter.
    text = ("<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> <rest:measure> <bar> "
            "<part> <staff> <voice> <note:C4-half> <tuplet:3/2> <note:D4-eighth> <tuplet-end> "
            "<tuplet:3/2> <space:quarter> <tuplet-end> <space:quarter> <bar> "
            "<part> <staff> <voice> <rest:measure> <bar>")
    assert validate(text) == []
    tokens = from_human(text)
    auto = ScoreAutomaton()
    at = tokens.index("tuplet-end", tokens.index("space"))
    for tok in tokens[:at]:
        auto.step(tok)
    assert "tuplet-end" in auto.allowed_tokens()  # a space counts as the tuplet's content
    empty = text.replace("<tuplet:3/2> <space:quarter> <tuplet-end>", "<tuplet:3/2> <tuplet-end>")
    assert "tuplet-empty" in rules(empty)
