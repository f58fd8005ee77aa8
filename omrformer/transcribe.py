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

import numpy as np

from grammar.repair import Repair, repair
from grammar.vocab import VOCAB

__all__ = ["CropReading", "PageResult", "Repair", "Transcriber", "TranscriptionError", "repair", "transcribe"]

logger = logging.getLogger(__name__)

LAYOUTS = ("staves", "systems", "page")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".pdf")
BUNDLED = ("pretrained", "omrformer-small")


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
        layout: How the page was read: ``staves``, ``systems`` or ``page``.
        readings: Per decoded crop (``staves``/``systems``): where it is, what was read, how sure.
        notes: What assembling the crops into one score changed (measure counts, times).
    """

    source: str
    page: int | None = None
    tokens: list[str] | None = None
    musicxml: bytes | None = None
    repair: str | None = None
    error: str | None = None
    staves: int = 0
    layout: str = "page"
    readings: list[CropReading] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    prepared: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.source if self.page is None else f"{self.source} (page {self.page})"


@dataclass
class CropReading:
    """One staff (or system) crop of a page and what the model read there.

    Attributes:
        system: System index on the page.
        staff: Staff index within the system (None for a system crop).
        box: (x0, y0, x1, y1) of the crop in the page's pixels.
        tokens: Model tokens of the crop after repair (what the score is assembled from).
        decoded: The tokens exactly as decoded, after ``<bos>`` up to and including ``<eos>``;
            ``confidence`` and ``positions`` are aligned with it (repair may add or cut tokens).
        confidence: Per decoded token, the softmax probability the model gave it (teacher-forced
            over the decoded sequence, the grammar's mask not applied).
        positions: Per token, where on the page (x, y pixels) the guided cross-attention heads
            looked hardest when the model wrote it: the peak of their mean attention over the
            memory tokens. Empty for checkpoints trained without guided attention (their heads'
            peaks say nothing about position).
        measures: Barlines in ``tokens``.
    """

    system: int
    staff: int | None
    box: tuple[int, int, int, int]
    tokens: list[str] = field(default_factory=list)
    decoded: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    positions: list[tuple[float, float]] = field(default_factory=list)
    prepared: Any = field(default=None, repr=False)
    scale: float = field(default=1.0, repr=False)  # page pixel = box origin + prepared pixel / scale

    @property
    def measures(self) -> int:
        return sum(t.startswith("bar") for t in self.tokens)


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
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise TranscriptionError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise TranscriptionError(f"device {device!r} requested but no CUDA GPU is available")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise TranscriptionError(f"device {device!r}: only {torch.cuda.device_count()} CUDA GPU(s) here")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise TranscriptionError(f"device {device!r} requested but this machine has no MPS (Apple GPU)")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise TranscriptionError(f"device {device!r} is not supported: use auto, cpu, cuda, cuda:N or mps")
    return device


def load_model(model: str | os.PathLike | None, device: str = "cpu") -> tuple[Any, Any]:
    """Load (OmrformerModel, OmrformerProcessor) from a folder, a hub id, or the bundled checkpoint.

    Raises:
        TranscriptionError: no bundled checkpoint, missing or corrupt folder, unknown hub id.
    """
    import torch

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
    # "org/name" may be a hub id, but not when "org" is a local folder: then it is a path typo,
    # and a hub lookup would only retry the network for half a minute.
    if not local.exists() and (where.count("/") != 1 or where.startswith((".", "/", "~"))
                               or local.parent.is_dir()):
        raise TranscriptionError(f"{where!r}: no such model folder")
    if local.exists() and not (local / "config.json").is_file():
        raise TranscriptionError(f"{where}: not a model folder (no config.json)")
    try:
        net, info = OmrformerModel.from_pretrained(where, output_loading_info=True)
        processor = (OmrformerProcessor.from_pretrained(where) if local.is_dir()
                     else OmrformerProcessor())
    except Exception as err:  # transformers raises OSError/ValueError/EnvironmentError/... by case
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TranscriptionError(f"{where}: cannot load the model ({first})") from err
    # A folder missing weights would run with random ones and write garbage, exit 0.
    problems = [f"{len(info.get(k) or [])} {k.replace('_keys', '')}" for k in
                ("missing_keys", "unexpected_keys", "mismatched_keys") if info.get(k)]
    if problems:
        raise TranscriptionError(f"{where}: the weights do not match the model's config "
                                 f"({', '.join(problems)} tensors): a damaged or foreign checkpoint")
    # Weights may be stored in bf16/fp16 (half the file); compute in float32, which CPUs without
    # native bf16 run several times faster.
    return net.to(device=device, dtype=torch.float32).eval(), processor


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
        batch_size: Pages decoded together (``page`` layout), or staff/system crops decoded together.
        max_length: Longest output in tokens; default the model's ``max_target_length``.
        layout: ``staves`` (cut every detected staff, decode the staves of all pages in batches,
            assemble one score), ``systems`` (the same with one crop per system) or ``page`` (the
            whole page at once); default what the checkpoint was trained on (its config's
            ``reading_layout``), ``page`` for checkpoints that do not say.
    """

    def __init__(self, model: str | os.PathLike | None = None, *, device: str = "auto", beams: int = 1,
                 grammar: bool = True, batch_size: int | None = None, max_length: int | None = None,
                 layout: str | None = None) -> None:
        if beams < 1 or (batch_size is not None and batch_size < 1):
            raise TranscriptionError("beams and batch size must be at least 1")
        if layout is not None and layout not in LAYOUTS:
            raise TranscriptionError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.device = pick_device(device)
        self.model, self.processor = load_model(model, self.device)
        self.beams, self.grammar = beams, grammar
        self.max_length = max_length or int(self.model.config.max_target_length)
        trained_on = getattr(self.model.config, "reading_layout", None)
        self.layout = layout or (trained_on if trained_on in LAYOUTS else "page")
        # Crops are small: batching many is what makes CPU inference fast.
        self.batch_size = batch_size or (1 if self.layout == "page" else 8)

    def _generate(self, prepared: list[Any]) -> list[list[int]]:
        import torch
        from transformers import LogitsProcessorList

        batch = self.processor.collate(prepared).to(self.device)
        kwargs: dict[str, Any] = {}
        if self.grammar:
            from grammar.logits import GrammarLogitsProcessor

            # Renormalised so beam scores stay log-probabilities over grammatical tokens, comparable across beams.
            processor = GrammarLogitsProcessor(vocab=VOCAB, max_length=self.max_length)
            kwargs = {"logits_processor": LogitsProcessorList([processor]), "renormalize_logits": True}
        with torch.inference_mode():
            ids = self.model.generate(**batch, num_beams=self.beams, do_sample=False,
                                      max_length=self.max_length, **kwargs)
        return ids.tolist()

    def _finish(self, page: PageResult, tokens: Sequence[str]) -> None:
        """Make ``tokens`` (model tokens, specials allowed) valid if needed and write the MusicXML."""
        from grammar.musicxml import write_score

        fixed = repair(tokens)
        if fixed.changed:
            page.repair = fixed.describe()
            # With the grammar on, a repair means the decoder ran out of length: worth a warning.
            logger.warning("%s: %s", page.name, page.repair)
        page.tokens = fixed.tokens
        try:
            page.musicxml = write_score(fixed.tokens)
        except Exception as err:  # the codec's errors are specific; any of them fails only this page
            page.error = f"{page.name}: cannot write MusicXML ({err})"

    def _score(self, prepared: list[Any], rows: list[list[int]]
               ) -> tuple[list[list[float]], list[list[tuple[float, float]]]]:
        """One teacher-forced pass over the decoded rows: per row, the probability the model gives
        each token after ``<bos>`` (up to and including ``<eos>``) and, for guided checkpoints, the (x, y) in the
        prepared crop's pixels where the guided heads' attention peaks for that token."""
        import torch

        from omrformer.modeling.geometry import record_cross_attention

        cfg = self.model.config
        guided = bool(getattr(cfg, "guided_attention_weight", 0.0))
        batch = self.processor.collate(prepared).to(self.device)
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [VOCAB.pad_id] * (width - len(r)) for r in rows], device=self.device)
        with torch.inference_mode():
            enc = self.model.encode(batch["pixel_values"], batch.get("pixel_mask"), batch.get("patch_coords"))
            attention = None
            if guided:
                with record_cross_attention(self.model, cfg) as rec:
                    logits = self.model(encoder_outputs=enc, decoder_input_ids=ids[:, :-1], use_cache=False).logits
                    attention = rec.mean_attention()  # (B, T-1, N)
            else:
                logits = self.model(encoder_outputs=enc, decoder_input_ids=ids[:, :-1], use_cache=False).logits
            probs = logits.float().softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]  # (B, T-1)
            peaks = None
            if attention is not None:
                # (B, T-1, 2) centre of the memory token each step attends to most
                index = attention.argmax(-1)
                peaks = torch.gather(enc.memory_positions, 1, index[..., None].expand(-1, -1, 2))
        confidence, positions = [], []
        for n_row, (r, p) in enumerate(zip(rows, probs.tolist(), strict=True)):
            body = r[1:]
            n = body.index(VOCAB.eos_id) + 1 if VOCAB.eos_id in body else len(body)
            confidence.append([round(x, 4) for x in p[:n]])
            positions.append([] if peaks is None else
                             [(float(x), float(y)) for x, y in peaks[n_row, :n].tolist()])
        return confidence, positions

    def pages(self, items: Sequence[tuple[PageResult, Any]]) -> list[PageResult]:
        """Prepare and decode ``(result, image)`` pairs; failures are recorded on the result."""
        if self.layout != "page":
            return self._pages_by_crops(items)
        from omrformer.vision.image_io import ImageLoadError
        from omrformer.vision.staff_detection import NoStaffFound

        ready: list[PageResult] = []
        for page, image in items:
            try:
                page.prepared = self.processor.prepare(image, require_staves=True, source=page.name)
                page.staves = len(page.prepared.layout.staves)
                ready.append(page)
            except NoStaffFound as err:
                page.error = str(err)
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
                self._finish(page, VOCAB.decode(ids, strip_special=False))
        return [page for page, _ in items]

    def _cut(self, page: PageResult, image: Any) -> list[int] | None:
        """Detect staves on ``image``, cut it into crops (``page.readings``); the part layout."""
        from omrformer.processor import PreparedImage
        from omrformer.staff_reading import cut_staves, cut_systems, score_parts
        from omrformer.vision.image_io import load_image, normalize_contrast, rescale, to_gray
        from omrformer.vision.music_check import require_music
        from omrformer.vision.staff_detection import detect_staves

        gray = load_image(Path(image)) if isinstance(image, (str, os.PathLike)) else to_gray(image)
        if self.processor.settings.normalize_contrast:
            gray = normalize_contrast(gray)
        layout = require_music(gray, detect_staves(gray), page.name)
        page.staves, page.layout = len(layout.staves), self.layout
        h, w = gray.shape
        page.prepared = PreparedImage(1.0 - gray, layout, 1.0, (h, w), page.name)
        crops = cut_staves(gray, layout) if self.layout == "staves" else cut_systems(gray, layout)
        settings = self.processor.settings
        # Crops arrive at the model's staff space, as training samples did; prepare() then finds
        # the staff again inside the crop (neighbours' partial lines included, as in training).
        factor = float(np.clip(settings.target_staff_space / layout.staff_space, settings.min_scale,
                               settings.max_scale)) if settings.rescale else 1.0
        for crop in crops:
            reading = CropReading(crop.system, crop.index if self.layout == "staves" else None, crop.box)
            img = rescale(crop.image, factor) if factor != 1.0 else crop.image
            reading.prepared = self.processor.prepare(img, source=f"{page.name} system {crop.system + 1}")
            reading.scale = factor
            page.readings.append(reading)
        return score_parts(gray, layout) if self.layout == "staves" else None

    def _pages_by_crops(self, items: Sequence[tuple[PageResult, Any]]) -> list[PageResult]:
        """``staves``/``systems`` layout: crops of all pages decoded together, then one score a page."""
        from omrformer.vision.image_io import ImageLoadError
        from omrformer.vision.staff_detection import NoStaffFound

        parts: dict[int, list[int] | None] = {}
        for n, (page, image) in enumerate(items):
            try:
                parts[n] = self._cut(page, image)
            except NoStaffFound as err:
                page.error = str(err)
            except (ImageLoadError, ValueError) as err:
                page.error = f"{page.name}: {err}"
        todo = [(page, r) for page, _ in items if page.error is None for r in page.readings]
        # Similar widths together: less padding in every batch.
        todo.sort(key=lambda pr: pr[1].prepared.ink.shape[1])
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            prepared = [r.prepared for _, r in chunk]
            try:
                rows = self._generate(prepared)
                confidence, positions = self._score(prepared, rows)
            except Exception as err:  # e.g. out of memory: fail these pages, keep going
                for page, _ in chunk:
                    page.error = f"{page.name}: decoding failed ({type(err).__name__}: {err})"
                continue
            for (_, reading), ids, conf, where in zip(chunk, rows, confidence, positions, strict=True):
                reading.tokens = repair(VOCAB.decode(ids, strip_special=False)).tokens
                reading.decoded = VOCAB.decode(ids[1:1 + len(conf)], strip_special=False)
                reading.confidence = conf
                f, (x0, y0) = reading.scale * reading.prepared.scale, reading.box[:2]
                reading.positions = [(round(x0 + x / f, 1), round(y0 + y / f, 1)) for x, y in where]
        for n, (page, _) in enumerate(items):
            if page.error is None:
                self._assemble(page, parts.get(n))
        return [page for page, _ in items]

    def _assemble(self, page: PageResult, parts: list[int] | None) -> None:
        from grammar.assemble import assemble_staves
        from grammar.staff_extract import extract_all_staves, score_layout

        n_systems = max(r.system for r in page.readings) + 1
        if parts is None:  # systems: each crop is a whole system; its staves come from its decode
            first = page.readings[0].tokens
            parts = score_layout(first)
            systems = [[t for _, _, t in extract_all_staves(r.tokens)] for r in page.readings]
        else:
            systems = [[r.tokens for r in page.readings if r.system == s] for s in range(n_systems)]
        try:
            result = assemble_staves(systems, parts)
        except ValueError as err:
            page.error = f"{page.name}: cannot assemble the staves ({err})"
            return
        page.notes = result.changes
        for note in result.changes:
            logger.info("%s: %s", page.name, note)
        self._finish(page, result.tokens)

    def run(self, inputs: Sequence[str | os.PathLike], progress: bool = False) -> Iterator[PageResult]:
        """Transcribe files and directories page by page, yielding results in input order."""
        from omrformer.vision.image_io import ImageLoadError, iter_pages

        files = expand_inputs(inputs)
        bar = None
        if progress and len(files) > 1:
            from tqdm import tqdm

            bar = tqdm(total=len(files), unit="file", desc="transcribe")
        for path, problem in files:
            if problem:
                yield PageResult(str(path), error=problem)
            else:
                # One page at a time: a long PDF is never decoded whole, and each page's result
                # is out (and written by the CLI) before the next is rendered.
                try:
                    count, images = iter_pages(path)
                    for i, image in enumerate(images):
                        yield from self.pages([(PageResult(str(path), page=i + 1 if count > 1 else None), image)])
                except ImageLoadError as err:
                    yield PageResult(str(path), error=str(err))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()


def transcribe(inputs: str | os.PathLike | Sequence[str | os.PathLike], *,
               model: str | os.PathLike | None = None, device: str = "auto", beams: int = 1,
               grammar: bool = True, batch_size: int | None = None,
               max_length: int | None = None, progress: bool = False,
               layout: str | None = None) -> list[PageResult]:
    """Transcribe image/PDF files or directories; one :class:`PageResult` per page, in order.

    Args:
        inputs: A path or several (images, PDFs, directories of them).
        model: Model folder or hub id; None for the bundled checkpoint.
        device: ``auto``, ``cpu`` or a CUDA device.
        beams: Beam width (1 = greedy).
        grammar: Constrain decoding with the grammar (recommended); without it outputs are repaired.
        batch_size: Pages (``page`` layout) or crops decoded together; default 1 / 8.
        max_length: Longest output in tokens.
        progress: Show a progress bar over files.
        layout: ``staves``, ``systems`` or ``page`` (see :class:`Transcriber`); default the checkpoint's.

    Raises:
        TranscriptionError: the model cannot be loaded. Problems with single pages are reported in
            their :class:`PageResult` instead.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    engine = Transcriber(model, device=device, beams=beams, grammar=grammar, batch_size=batch_size,
                         max_length=max_length, layout=layout)
    return list(engine.run(inputs, progress=progress))
