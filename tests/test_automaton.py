import numpy as np
import pytest

from grammar import GrammarError, Policy, ScoreAutomaton
from grammar import automaton as A
from grammar.human import from_human
from tests.grammar_walks import random_walk

SONG = """<part> <staff> <clef:G2> <key:D-major> <time:3/4> <voice> <note:F#5-quarter> <rest:eighth>
<note:A5-eighth> <note:D5-quarter> <bar> <part> <staff> <voice> <note:E5-half.> <tie> <bar:final>"""


def run(text, policy=None):
    auto = ScoreAutomaton(policy)
    for t in from_human(text):
        auto.step(t)
    return auto


def test_phase_numbers_agree():
    from grammar.state import Phase

    assert (A.BODY, A.DUR, A.DONE) == (Phase.BODY, Phase.DUR, Phase.DONE)


def test_song_is_accepted_and_mask_agrees_with_step():
    auto = ScoreAutomaton()
    for t in [*from_human(SONG), "<eos>"]:
        assert auto.allowed_mask()[auto.vocab.id(t)], t
        auto.step(t)
    assert auto.is_complete and auto.min_to_finish() == 0


def test_remaining_ticks_and_overfull_message():
    auto = run("<part> <staff> <clef:G2> <key:C-major> <time:3/4> <voice> <note:C4-half>")
    assert auto.remaining_ticks() == 80640
    auto.step("note")
    auto.step("pitch:D4")
    msg = "measure 1, part 1, staff 1, voice 1: a half does not fit in the 1/4 left of 3/4"
    with pytest.raises(GrammarError, match=msg):
        auto.step("dur:half")


def test_primary_voice_must_fill_when_not_first_or_last():
    text = SONG.replace("<bar:final>", "<bar>") + " <part> <staff> <voice> <note:C4-half>"
    strict = Policy(allow_short_last=False)
    auto = run(text, strict)
    with pytest.raises(GrammarError, match="underfull"):
        auto.step("bar")
    lenient = run(text)  # default: a short measure is allowed but must be the last
    lenient.step("bar")
    assert lenient.allowed_tokens() == ["<eos>"]


def test_pickup_measure_may_be_short():
    auto = run("<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> <note:G4-quarter> <bar>")
    assert "part" in auto.allowed_tokens()
    with pytest.raises(GrammarError, match="underfull"):
        run("<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> <note:G4-quarter> <bar>",
            Policy(allow_pickup=False, allow_short_last=False))


def test_layout_is_fixed_by_measure_one():
    auto = run("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <rest:measure> <staff> <clef:F4> "
               "<key:C-major> <time:2/4> <voice> <rest:measure> <bar> <part> <staff> <voice> <rest:measure>")
    assert "bar" not in auto.allowed_tokens() and "staff" in auto.allowed_tokens()
    with pytest.raises(GrammarError, match="measure 2 has|measure 1 has 1 parts"):
        auto.step("bar")


def test_chords_go_up_and_whole_measure_rest_is_alone():
    auto = run("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:E4-half> <chord:G4>")
    auto.step("chord")
    assert "pitch:F4" not in auto.allowed_tokens() and "pitch:G4" in auto.allowed_tokens()
    auto2 = run("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice> <note:E4-quarter>")
    auto2.step("rest")
    assert "dur:measure" not in auto2.allowed_tokens()


def test_tuplet_must_close_and_fit():
    exact = Policy(allow_pickup=False, allow_short_last=False)
    head = "<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice>"
    auto = run(head + " <note:C4-quarter> <tuplet:3/2>", exact)
    auto.step("note")
    auto.step("pitch:D4")
    allowed = auto.allowed_tokens()
    assert "dur:half" not in allowed  # a triplet half is 4/3 of a quarter: too long
    assert "dur:quarter" in allowed and "dur:eighth" in allowed
    auto.step("dur:eighth")
    assert "bar" not in auto.allowed_tokens()  # the tuplet is still open
    auto.step("tuplet-end")
    assert auto.remaining_ticks() == 80640 * 2 // 3
    assert "bar" not in auto.allowed_tokens()
    with pytest.raises(GrammarError, match="underfull"):
        auto.step("bar")


def test_first_measure_needs_attributes_and_no_break():
    auto = ScoreAutomaton()
    assert "sysbreak" not in auto.allowed_tokens() and "repeat-start" in auto.allowed_tokens()
    auto.step("<bos>").step("part").step("staff")
    assert auto.allowed_tokens() == [t for t in auto.vocab.tokens if t.startswith("clef:")]


@pytest.mark.parametrize("seed", range(40))
def test_random_walks_never_dead_end_and_mask_equals_step(seed):
    rng = np.random.default_rng(seed)
    auto = ScoreAutomaton()
    seq = random_walk(rng, int(rng.integers(12, 200)))
    for t in seq:  # at a sample of states, every token: mask says yes <=> step accepts
        if rng.random() < 0.15:
            mask = auto.allowed_mask()
            for tid in range(len(mask)):
                try:
                    auto.copy().step(tid)
                    ok = True
                except GrammarError:
                    ok = False
                assert ok == mask[tid], (auto.vocab.tokens[tid], seq)
        auto.step(t)
    assert auto.is_complete


def test_min_to_finish_is_consistent_with_plan():
    rng = np.random.default_rng(1)
    for _ in range(20):
        seq = random_walk(rng, 60)
        auto = ScoreAutomaton()
        for t in seq:
            before = auto.min_to_finish()
            plan = auto._plan_token()
            assert auto.copy().step(plan).min_to_finish() == before - 1
            auto.step(t)


def test_biggest_plan_jump_is_below_closing_slack():
    # A 64/1 time signature in measure 2 is the largest single-token increase of the plan.
    auto = run("<part> <staff> <clef:G2> <key:C-major> <time:4/4> <voice> <rest:measure> <bar> <part> "
               "<staff>")
    auto.step("time").step("n:64")
    before = auto.min_to_finish()
    auto.step("n:1")
    auto.step("voice").step("note").step("pitch:C4").step("dur:128th")
    assert auto.min_to_finish() - before < 160


def test_copy_is_independent():
    auto = run("<part> <staff> <clef:G2> <key:C-major> <time:2/4> <voice>")
    other = auto.copy()
    other.step("clef:F4")
    assert [a.clef for a in auto.staff_attrs] == ["clef:G2"]
    assert [a.clef for a in other.staff_attrs] == ["clef:F4"]


def test_one_strictness_helper_raises_records_or_skips():
    from grammar.state import SKIP, ScoreState

    strict, lenient = ScoreState(strict=True), ScoreState(strict=False)
    with pytest.raises(GrammarError) as err:
        strict.check(False, "layout", "too many staves")
    assert err.value.rule == "layout" and "too many staves" in err.value.message
    with pytest.raises(GrammarError):
        strict.check(lambda: False, "unfinishable", "cannot be filled", SKIP)
    assert strict.check(True, "layout", lambda: 1 / 0)  # the message is only built when broken
    assert not lenient.check(False, "layout", "too many staves")
    assert [e.rule for e in lenient.violations] == ["layout"]
    tested = []
    assert lenient.check(lambda: tested.append(1) or False, "unfinishable", "cannot be filled", SKIP)
    assert not tested and len(lenient.violations) == 1  # a SKIP rule is not even tested when lenient


def test_rules_never_branch_on_strictness_themselves():
    """Strict and lenient checking differ in ScoreState.check only, not in the rules."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "grammar"
    for name in ("rules.py", "lookahead.py"):
        tree = ast.parse((root / name).read_text())
        reads = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "strict"]
        assert not reads, f"grammar/{name} reads .strict at lines {reads}"
