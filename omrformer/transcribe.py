"""Page images in, MusicXML out: the product's inference path (no Lightning imported here).

    from omrformer.transcribe import transcribe
    pages = transcribe(["page1.png", "scans/"], model="runs/stage3/hf_best", beams=4)
    pages[0].musicxml   # bytes of a MusicXML 4.0 score, or None with pages[0].error saying why

Each page is prepared on its own (a bad file or a page without staves fails alone), decoded in
batches with the GrammarLogitsProcessor (unless ``grammar=False``), and written with
``grammar.musicxml.write_score``. Without the grammar, an invalid output is repaired: the longest
grammatical prefix is kept and closed by the shortest grammatical continuation, and the page says so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from grammar.vocab import BOS, EOS, PAD, VOCAB

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".pdf")
BUNDLED = ("pretrained", "omrformer-small")
_MAX_CLOSING_TOKENS = 4096  # closing a sequence needs at most a measure of rests per voice


class TranscriptionError(RuntimeError):
    """A problem that stops the whole run (no model, unreadable model folder, bad settings)."""


@dataclass
class PageResult:
    """The outcome for one page; ``error`` is set (and ``musicxml`` None) when the page failed.

    Attributes:
        source: The input file.
        page: 1-based page number in a multi-page file (PDF, TIFF); None for a single page.
        tokens: Decoded model tokens (no ``<bos>``/``<eos>``), after repair if one was needed.
        musicxml: The MusicXML 4.0 document.
        repair: What repair did ("kept the first N tokens ..."), None when the output was valid.
        error: Why the page failed, as one line naming the file.
        staves: Staves detected on the page.
    """

    source: str
    page: int | None = None
    tokens: list[str] | None = None
    musicxml: bytes | None = None
    repair: str | None = None
    error: str | None = None
    staves: int = 0
    prepared: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.source if self.page is None else f"{self.source} (page {self.page})"


# ---- repair -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repair:
    """A repaired body (model tokens without ``<bos>``/``<eos>``) and what changed."""

    tokens: list[str]
    kept: int
    dropped: int
    added: int
    reason: str | None

    @property
    def changed(self) -> bool:
        return bool(self.dropped or self.added)

    def describe(self) -> str:
        return (f"repaired: kept the first {self.kept} tokens, dropped {self.dropped}, "
                f"added {self.added} to close the score ({self.reason})")


def _close(automaton: Any) -> list[str]:
    """The shortest continuation to an accepted end, chosen greedily by ``min_to_finish``."""
    added: list[str] = []
    while EOS not in (allowed := automaton.allowed_tokens()):
        if not allowed or len(added) > _MAX_CLOSING_TOKENS:
            raise TranscriptionError("grammar automaton cannot close the sequence (please report this)")
        costs = []
        for tok in allowed:
            trial = automaton.copy()
            trial.step(tok)
            costs.append(trial.min_to_finish())
        best = allowed[costs.index(min(costs))]
        automaton.step(best)
        added.append(best)
    return added


def repair(tokens: Sequence[str]) -> Repair:
    """Keep the longest grammatical prefix of ``tokens`` and close it with the shortest valid ending.

    ``<bos>``/``<pad>`` are ignored and everything after ``<eos>`` is dropped.
    """
    from grammar.automaton import GrammarError, ScoreAutomaton

    body = []
    for t in tokens:
        if t == EOS:
            break
        if t not in (BOS, PAD):
            body.append(t)
    automaton = ScoreAutomaton()
    kept: list[str] = []
    reason = None
    for i, tok in enumerate(body):
        try:
            automaton.step(tok)
        except (GrammarError, KeyError) as err:
            reason = f"token {i + 1} {tok!r}: {err}"
            break
        kept.append(tok)
    added = _close(automaton)
    if reason is None and added:
        reason = "the output stopped before the score was complete"
    return Repair(kept + added, len(kept), len(body) - len(kept), len(added), reason)


# ---- model --------------------------------------------------------------------------------------


def bundled_model() -> Path | None:
    """The checkpoint shipped inside the package (``omrformer/pretrained/omrformer-small``), if any."""
    folder = resources.files("omrformer").joinpath(*BUNDLED)
    path = Path(str(folder))
    return path if (path / "config.json").is_file() else None


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TranscriptionError(f"device {device!r} requested but no CUDA GPU is available")
    return device


def load_model(model: str | os.PathLike | None, device: str = "cpu") -> tuple[Any, Any]:
    """Load (OmrformerModel, OmrformerProcessor) from a folder, a hub id, or the bundled checkpoint.

    Raises:
        TranscriptionError: no bundled checkpoint, missing or corrupt folder, unknown hub id.
    """
    from omrformer import OmrformerModel, OmrformerProcessor

    if model is None:
        path = bundled_model()
        if path is None:
            raise TranscriptionError(
                "no bundled checkpoint in this omrformer install: pass --model PATH_OR_HUB_ID "
                "(a folder exported by omrformer-train)"
            )
        model = path
    where = str(model)
    local = Path(where)
    if not local.exists() and (where.count("/") != 1 or where.startswith((".", "/", "~"))):
        raise TranscriptionError(f"{where}: no such model folder")
    if local.exists() and not (local / "config.json").is_file():
        raise TranscriptionError(f"{where}: not a model folder (no config.json)")
    try:
        net = OmrformerModel.from_pretrained(where)
        processor = (OmrformerProcessor.from_pretrained(where) if local.is_dir()
                     else OmrformerProcessor())
    except Exception as err:  # transformers raises OSError/ValueError/EnvironmentError/... by case
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TranscriptionError(f"{where}: cannot load the model ({first})") from err
    return net.to(device).eval(), processor


# ---- inputs -------------------------------------------------------------------------------------


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[tuple[Path, str | None]]:
    """Files and directories -> (file, problem) in order; a directory gives its images, sorted."""
    out: list[tuple[Path, str | None]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                out.append((p, f"{p}: directory holds no images ({', '.join(IMAGE_SUFFIXES)})"))
            out += [(f, None) for f in files]
        elif not p.exists():
            out.append((p, f"{p}: no such file"))
        else:
            out.append((p, None))
    return out


# ---- transcription ------------------------------------------------------------------------------


class Transcriber:
    """A loaded model with its decoding settings; call :meth:`run` on files or :meth:`pages` on images.

    Args:
        model: Model folder or hub id; None for the bundled checkpoint.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``...
        beams: Beam width (1 = greedy).
        grammar: Constrain decoding with the grammar automaton (``GrammarLogitsProcessor``).
        batch_size: Pages decoded together.
        max_length: Longest output in tokens; default the model's ``max_target_length``.
    """

    def __init__(self, model: str | os.PathLike | None = None, *, device: str = "auto", beams: int = 1,
                 grammar: bool = True, batch_size: int = 1, max_length: int | None = None) -> None:
        if beams < 1 or batch_size < 1:
            raise TranscriptionError("beams and batch size must be at least 1")
        self.device = pick_device(device)
        self.model, self.processor = load_model(model, self.device)
        self.beams, self.grammar, self.batch_size = beams, grammar, batch_size
        self.max_length = max_length or int(self.model.config.max_target_length)

    def _generate(self, prepared: list[Any]) -> list[list[int]]:
        import torch
        from transformers import LogitsProcessorList

        batch = self.processor.collate(prepared).to(self.device)
        kwargs: dict[str, Any] = {}
        if self.grammar:
            from grammar.logits import GrammarLogitsProcessor

            # Renormalised so beam scores stay log-probabilities over grammatical tokens (DESIGN §7).
            processor = GrammarLogitsProcessor(vocab=VOCAB, max_length=self.max_length)
            kwargs = {"logits_processor": LogitsProcessorList([processor]), "renormalize_logits": True}
        with torch.inference_mode():
            ids = self.model.generate(**batch, num_beams=self.beams, do_sample=False,
                                      max_length=self.max_length, **kwargs)
        return ids.tolist()

    def _finish(self, page: PageResult, ids: list[int]) -> None:
        from grammar.musicxml import write_score

        fixed = repair(VOCAB.decode(ids, strip_special=False))
        if fixed.changed:
            page.repair = fixed.describe()
            # With the grammar on, a repair means the decoder ran out of length: worth a warning.
            logger.warning("%s: %s", page.name, page.repair)
        page.tokens = fixed.tokens
        try:
            page.musicxml = write_score(fixed.tokens)
        except Exception as err:  # the codec's errors are specific; any of them fails only this page
            page.error = f"{page.name}: cannot write MusicXML ({err})"

    def pages(self, items: Sequence[tuple[PageResult, Any]]) -> list[PageResult]:
        """Prepare and decode ``(result, image)`` pairs; failures are recorded on the result."""
        from omrformer.vision.image_io import ImageLoadError
        from omrformer.vision.staff_detection import NoStaffFound

        ready: list[PageResult] = []
        for page, image in items:
            try:
                page.prepared = self.processor.prepare(image, require_staves=True, source=page.name)
                page.staves = len(page.prepared.layout.staves)
                ready.append(page)
            except NoStaffFound:
                page.error = f"{page.name}: no staff found: is this sheet music?"
            except (ImageLoadError, ValueError) as err:
                page.error = f"{page.name}: {err}"
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start:start + self.batch_size]
            try:
                rows = self._generate([p.prepared for p in chunk])
            except Exception as err:  # e.g. out of memory on a huge page: fail the chunk, keep going
                for p in chunk:
                    p.error = f"{p.name}: decoding failed ({type(err).__name__}: {err})"
                continue
            for page, ids in zip(chunk, rows, strict=True):
                self._finish(page, ids)
        return [page for page, _ in items]

    def run(self, inputs: Sequence[str | os.PathLike], progress: bool = False) -> Iterator[PageResult]:
        """Transcribe files and directories page by page, yielding results in input order."""
        from omrformer.vision.image_io import ImageLoadError, load_pages

        files = expand_inputs(inputs)
        bar = None
        if progress and len(files) > 1:
            from tqdm import tqdm

            bar = tqdm(total=len(files), unit="file", desc="transcribe")
        for path, problem in files:
            if problem:
                yield PageResult(str(path), error=problem)
            else:
                try:
                    images = load_pages(path)
                except ImageLoadError as err:
                    yield PageResult(str(path), error=str(err))
                else:
                    numbered = len(images) > 1
                    items = [(PageResult(str(path), page=i + 1 if numbered else None), im)
                             for i, im in enumerate(images)]
                    yield from self.pages(items)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()


def transcribe(inputs: str | os.PathLike | Sequence[str | os.PathLike], *,
               model: str | os.PathLike | None = None, device: str = "auto", beams: int = 1,
               grammar: bool = True, batch_size: int = 1,
               max_length: int | None = None, progress: bool = False) -> list[PageResult]:
    """Transcribe image/PDF files or directories; one :class:`PageResult` per page, in order.

    Args:
        inputs: A path or several (images, PDFs, directories of them).
        model: Model folder or hub id; None for the bundled checkpoint.
        device: ``auto``, ``cpu`` or a CUDA device.
        beams: Beam width (1 = greedy).
        grammar: Constrain decoding with the grammar (recommended); without it outputs are repaired.
        batch_size: Pages decoded together.
        max_length: Longest output in tokens.
        progress: Show a progress bar over files.

    Raises:
        TranscriptionError: the model cannot be loaded. Problems with single pages are reported in
            their :class:`PageResult` instead.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    engine = Transcriber(model, device=device, beams=beams, grammar=grammar, batch_size=batch_size,
                         max_length=max_length)
    return list(engine.run(inputs, progress=progress))
