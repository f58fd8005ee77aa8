"""MusicXML (partwise) -> the canonical model-token sequence of docs/token-language.md.

Measure-major: for every measure, every part, every staff, every voice. Whatever the language
cannot express is dropped deterministically and counted in ``ReadResult.dropped`` by reason;
reasons starting with ``marking:`` are notation outside the language (lyrics, slurs, dynamics...),
the others are musical content that was lost or adjusted. docs/codec.md lists every rule.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from lxml import etree

from grammar.durations import measure_ticks
from grammar.musicxml.reader_measure import Attr, MeasureParser, RawMeasure
from grammar.musicxml.reader_voice import Item, build_voice, has_music, insert_clef
from grammar.musicxml.safe_xml import MusicXMLError, load_partwise

log = logging.getLogger(__name__)

MAX_VOICES = 4
_BAR_PRIORITY = ("bar", "bar:double", "bar:final", "bar:repeat-end")


@dataclass
class ReadResult:
    """What ``read_score`` returns.

    Attributes:
        tokens: model tokens, without ``<bos>``/``<eos>``.
        dropped: count of every dropped or adjusted thing by reason.
        stats: measures, parts, staves, notes_in (note heads in the source), notes_out (pitches in
            the tokens), measures_with_drops (measures that lost musical content, markings aside).
    """

    tokens: list[str]
    dropped: Counter[str] = field(default_factory=Counter)
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class _Staff:
    """Clef/key/time in effect on one staff, and what the tokens last stated."""

    clef: str | None = None
    key: int | None = None
    time: tuple[int, int, str] | None = None
    said: dict[str, object] = field(default_factory=dict)


def _voice_order(voice: str) -> tuple[int, int | str]:
    return (0, int(voice)) if voice.isdigit() else (1, voice)


def _part_layout(part: etree._Element) -> tuple[int, dict[str, int]]:
    """Number of staves of a part, and the home staff of each MusicXML voice (where most notes sit)."""
    nstaves = 1
    for st in part.iter("staves"):
        if st.text and st.text.strip().isdigit():
            nstaves = max(nstaves, int(st.text))
    counts: dict[str, Counter] = {}
    for note in part.iter("note"):
        staff_el, voice_el = note.find("staff"), note.find("voice")
        staff = int(staff_el.text) if staff_el is not None and (staff_el.text or "").strip().isdigit() else 1
        voice = (voice_el.text or "1").strip() if voice_el is not None else "1"
        counts.setdefault(voice, Counter())[staff] += 1
        nstaves = max(nstaves, staff)
    return nstaves, {v: c.most_common(1)[0][0] for v, c in counts.items()}


def _time_tokens(time: tuple[int, int, str]) -> list[str]:
    beats, btype, symbol = time
    return [f"time:{symbol}"] if symbol else ["time", f"n:{beats}", f"n:{btype}"]


class _PartReader:
    def __init__(self, part: etree._Element, index: int, name: str) -> None:
        self.parser = MeasureParser(part.get("id", f"P{index + 1}"), name)
        self.nstaves, self.home = _part_layout(part)
        self.staves = [_Staff() for _ in range(self.nstaves)]

    def _apply(self, attr: Attr, dropped: Counter) -> None:
        targets = range(self.nstaves) if attr.staff is None else [attr.staff - 1]
        for s in targets:
            if not 0 <= s < self.nstaves:
                dropped["attribute-for-missing-staff"] += 1
                continue
            setattr(self.staves[s], attr.kind, attr.value)

    def _header(self, s: int, first: bool, dropped: Counter) -> list[str]:
        st = self.staves[s]
        if first:
            for kind, default in (("clef", "G2"), ("key", 0), ("time", (4, 4, ""))):
                if getattr(st, kind) is None:
                    dropped[f"{kind}-missing-default"] += 1
                    setattr(st, kind, default)
        out: list[str] = []
        if first or st.said.get("clef") != st.clef:
            out.append(f"clef:{st.clef}")
        if first or st.said.get("key") != st.key:
            out.append(f"key:{st.key}")
        if (first or st.said.get("time") != st.time) and st.time is not None:
            out += _time_tokens(st.time)
        st.said.update(clef=st.clef, key=st.key, time=st.time)
        return out

    def measure_tokens(self, raw: RawMeasure, first: bool, last: bool, dropped: Counter) -> list[str]:
        """``part`` block of one measure."""
        pending: list[Attr] = []
        mid_clefs: dict[int, list[Attr]] = {}
        for attr in raw.attrs:
            if attr.pos == 0:
                self._apply(attr, dropped)
            elif attr.kind == "clef":
                mid_clefs.setdefault(attr.staff or 1, []).append(attr)
            else:
                # The language states key/time only at a measure start: move it to the next one.
                dropped[f"mid-measure-{attr.kind}"] += 1
                pending.append(attr)
        out = ["part"]
        for s in range(self.nstaves):
            out += ["staff", *self._header(s, first, dropped)]
            time = self.staves[s].time
            assert time is not None  # _header fills a missing first time signature with 4/4
            mlen = measure_ticks(time[0], time[1])
            voices = self._voices(raw, s + 1, mlen, dropped, pad=not (first or last))
            if not voices:
                voices = [([Item(Fraction(0), "space", ["space", "dur:measure"], mlen)], mlen)]
            for attr in mid_clefs.get(s + 1, []):
                insert_clef(voices[0][0], attr.pos, str(attr.value))
                self.staves[s].clef = self.staves[s].said["clef"] = str(attr.value)
            for items, _ in voices:
                out.append("voice")
                for item in items:
                    out += item.tokens
        for attr in pending:
            self._apply(attr, dropped)
        return out

    def _voices(self, raw: RawMeasure, staff: int, mlen: int, dropped: Counter,
                pad: bool) -> list[tuple[list[Item], int]]:
        """The staff's voices in canonical order; with ``pad`` a primary voice that ends early is
        filled with spaces (exactly, with tuplet spaces where needed; reader_gaps.py)."""
        keys = sorted((k for k in raw.voices if k[0] == staff),
                      key=lambda k: (self.home.get(k[1], staff) != staff, _voice_order(k[1])))
        built: list[tuple[list[Item], int]] = []
        for key in keys:
            scratch: Counter[str] = Counter()
            items, length = build_voice(raw.voices[key], mlen, scratch)
            if not has_music(items):
                dropped.update(scratch)
                continue
            if pad and not built and length < mlen:
                dropped["pad-short-voice"] += 1
                scratch = Counter()
                items, length = build_voice(raw.voices[key], mlen, scratch, fill_to=mlen)
                if length < mlen:
                    # No exact spelling: the staff's measure becomes one whole-measure space
                    # rather than a short measure the grammar rejects.
                    dropped.update(scratch)
                    dropped["unspellable-pad"] += 1
                    dropped["staff-measure-blanked"] += 1
                    dropped["blanked-voice-events"] += sum(
                        len(raw.voices[k]) for k in keys)
                    return []
            dropped.update(scratch)
            built.append((items, length))
        if len(built) > MAX_VOICES:
            dropped["voice-limit"] += len(built) - MAX_VOICES
            built = built[:MAX_VOICES]
        return built


def read_score(source: str | Path | bytes, *, name: str | None = None) -> ReadResult:
    """Read a partwise MusicXML score (``.musicxml``, ``.xml`` or ``.mxl``) into canonical tokens.

    Args:
        source: a path, or the file's bytes (plain or zipped).
        name: how to call the score in error messages (defaults to the path).

    Returns:
        The tokens (no ``<bos>``/``<eos>``), what was dropped by reason, and statistics.

    Raises:
        MusicXMLError: the file cannot be read, is unsafe, or is not partwise MusicXML.
    """
    root, name = load_partwise(source, name)
    parts = root.findall("part")
    if not parts:
        raise MusicXMLError(f"{name}: no <part> in the score")
    measures = [p.findall("measure") for p in parts]
    n = min(len(m) for m in measures)
    if n == 0:
        raise MusicXMLError(f"{name}: a part has no <measure>")
    result = ReadResult([])
    dropped = result.dropped
    if max(len(m) for m in measures) != n:
        dropped["part-measure-count-mismatch"] += max(len(m) for m in measures) - n
    readers = [_PartReader(p, i, name) for i, p in enumerate(parts)]
    notes_in = with_drops = 0
    for mi in range(n):
        raws = [r.parser.parse(measures[pi][mi]) for pi, r in enumerate(readers)]
        mdrop: Counter[str] = Counter()
        marks = []
        if mi > 0 and raws[0].new_page:
            marks.append("pagebreak")
        if mi > 0 and raws[0].new_system:
            marks.append("sysbreak")
        if any(r.repeat_start for r in raws):
            marks.append("repeat-start")
        body: list[str] = []
        for reader, raw in zip(readers, raws, strict=True):
            mdrop.update(raw.dropped)
            notes_in += raw.notes_in
            body += reader.measure_tokens(raw, mi == 0, mi == n - 1, mdrop)
        bar = max((r.right_bar for r in raws), key=_BAR_PRIORITY.index)
        result.tokens += [*marks, *body, bar]
        if any(not k.startswith("marking:") for k in mdrop):
            with_drops += 1
        dropped.update(mdrop)
    result.stats = {
        "measures": n, "parts": len(parts), "staves": sum(r.nstaves for r in readers),
        "notes_in": notes_in, "notes_out": sum(t.startswith("pitch:") for t in result.tokens),
        "measures_with_drops": with_drops,
    }
    log.debug("%s: %d tokens, dropped %s", name, len(result.tokens), dict(dropped))
    return result
