"""OmrformerProcessor: images -> model inputs (with staff geometry), token ids -> text and MusicXML.

Image side: grayscale, contrast normalisation, staff detection, rescaling so a staff space is
``target_staff_space`` pixels, padding to the patch grid and batching with a mask, per-patch
staff-aligned coordinates. Token side: the model vocabulary, the human-readable form and MusicXML
(via ``grammar.musicxml``). ``save_pretrained`` writes ``processor_config.json`` + ``vocab.json``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import BatchFeature

from grammar.atomic import write_atomic
from grammar.human import to_human
from grammar.vocab import VOCAB, Vocabulary
from omrformer.vision.coordinates import patch_coordinates
from omrformer.vision.image_io import load_image, normalize_contrast, rescale, to_gray
from omrformer.vision.music_check import require_music
from omrformer.vision.staff_detection import NoStaffFound, StaffLayout, detect_staves

log = logging.getLogger(__name__)

PROCESSOR_CONFIG = "processor_config.json"
VOCAB_FILE = "vocab.json"
ImageInput = str | os.PathLike | np.ndarray | Image.Image

__all__ = ["NoStaffFound", "OmrformerProcessor", "PreparedImage", "ProcessorSettings"]


@dataclass
class ProcessorSettings:
    """Image preprocessing settings (saved as ``processor_config.json``).

    Attributes:
        target_staff_space: Staff space in pixels the model was trained at.
        patch_size: Must equal the model's ``patch_size``.
        rescale: Resize each image so its detected staff space becomes ``target_staff_space``.
        min_scale: Smallest resize factor applied (guards against mis-detected giant staves).
        max_scale: Largest resize factor applied.
        max_side: Longest image side after resizing; larger images are shrunk further (warning).
        normalize_contrast: Stretch grey scans to paper = white, ink = black.
    """

    target_staff_space: float = 10.0
    patch_size: int = 8
    rescale: bool = True
    min_scale: float = 0.25
    max_scale: float = 4.0
    max_side: int = 4096
    normalize_contrast: bool = True


@dataclass
class PreparedImage:
    """One image ready for batching.

    Attributes:
        ink: (H, W) float32 in [0, 1], 1 = ink, 0 = paper (so zero padding is blank paper);
            H, W multiples of the patch size.
        layout: Staves in the frame of ``ink``.
        scale: Resize factor applied to the input image (input pixel = prepared pixel / scale).
        size: (height, width) of the image content before padding.
        source: Name of the input, for error messages.
    """

    ink: np.ndarray
    layout: StaffLayout
    scale: float
    size: tuple[int, int]
    source: str = "image"
    coords: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0, 4), np.float32))


class OmrformerProcessor:
    """Preprocess score images for :class:`~omrformer.modeling.model.OmrformerModel`; decode its output.

    Args:
        settings: Image settings; defaults when omitted.
        vocab: The token vocabulary; must match ``grammar.vocab.VOCAB`` (the grammar depends on it).
        **overrides: Individual :class:`ProcessorSettings` fields.
    """

    def __init__(
        self, settings: ProcessorSettings | None = None, vocab: Vocabulary = VOCAB, **overrides
    ) -> None:
        self.settings = ProcessorSettings(**{**asdict(settings or ProcessorSettings()), **overrides})
        if vocab.sha256() != VOCAB.sha256():
            raise ValueError(
                "vocabulary differs from grammar.vocab.VOCAB: this model needs another omrformer version"
            )
        self.vocab = vocab

    # ---- images ---------------------------------------------------------------------------------

    def prepare(
        self, image: ImageInput, *, require_staves: bool = False, source: str | None = None
    ) -> PreparedImage:
        """Load, normalise, detect staves, rescale and pad one image.

        Args:
            image: A path, a PIL image, or an array (uint8/uint16 0 = black, or float in [0, 1]).
            require_staves: Raise :class:`NoStaffFound` when the image shows no staff.
            source: Name used in messages (defaults to the path).

        Raises:
            NoStaffFound: ``require_staves`` and no staff was detected.
            omrformer.vision.image_io.ImageLoadError: unreadable file.
        """
        s = self.settings
        if isinstance(image, (str, os.PathLike)):
            source = source or str(image)
            gray = load_image(Path(image))
        else:
            gray = to_gray(image)
        source = source or "image"
        if s.normalize_contrast:
            gray = normalize_contrast(gray)
        layout = detect_staves(gray)
        if require_staves:
            require_music(gray, layout, source)
        scale = 1.0
        if s.rescale and layout.staves:
            scale = float(np.clip(s.target_staff_space / layout.staff_space, s.min_scale, s.max_scale))
        longest = max(gray.shape) * scale
        if longest > s.max_side:
            log.warning(
                "%s: shrinking further so the longest side is %d px (staff space below target)",
                source,
                s.max_side,
            )
            scale *= s.max_side / longest
        if scale != 1.0:
            gray = rescale(gray, scale)
            layout = layout.scaled(scale)
        h, w = gray.shape
        p = s.patch_size
        ink = np.zeros((-(-h // p) * p, -(-w // p) * p), dtype=np.float32)  # pad to the patch grid
        ink[:h, :w] = 1.0 - gray
        coords = patch_coordinates(layout, ink.shape[0], ink.shape[1], p)
        return PreparedImage(ink, layout, scale, (h, w), source, coords)

    def collate(self, prepared: Sequence[PreparedImage]) -> BatchFeature:
        """Pad prepared images to one size: ``pixel_values`` (B, 1, H, W), ``pixel_mask`` (B, H, W),
        ``patch_coords`` (B, H/p, W/p, 4)."""
        if not prepared:
            raise ValueError("no images to batch")
        p = self.settings.patch_size
        hmax = max(x.ink.shape[0] for x in prepared)
        wmax = max(x.ink.shape[1] for x in prepared)
        b = len(prepared)
        pixels = np.zeros((b, 1, hmax, wmax), dtype=np.float32)
        mask = np.zeros((b, hmax, wmax), dtype=bool)
        coords = np.zeros((b, hmax // p, wmax // p, 4), dtype=np.float32)
        for i, x in enumerate(prepared):
            h, w = x.ink.shape
            pixels[i, 0, :h, :w] = x.ink
            mask[i, : x.size[0], : x.size[1]] = True
            # Padding patches continue the plain grid; they are masked out anyway.
            coords[i] = patch_coordinates(None, hmax, wmax, p)
            coords[i, : h // p, : w // p] = x.coords
        return BatchFeature(
            {
                "pixel_values": torch.from_numpy(pixels),
                "pixel_mask": torch.from_numpy(mask),
                "patch_coords": torch.from_numpy(coords),
            }
        )

    def __call__(
        self,
        images: ImageInput | Iterable[ImageInput],
        *,
        require_staves: bool = False,
        return_tensors: str = "pt",
    ) -> BatchFeature:
        """Images -> a batch of model inputs (``return_tensors`` must be ``"pt"``)."""
        if return_tensors != "pt":
            raise ValueError(f"only return_tensors='pt' is supported, got {return_tensors!r}")
        if isinstance(images, (str, os.PathLike, np.ndarray, Image.Image)):
            images = [images]
        return self.collate([self.prepare(im, require_staves=require_staves) for im in images])

    # ---- tokens ---------------------------------------------------------------------------------

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Model token ids -> model tokens (specials stripped, stops at ``<eos>``)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.vocab.decode(ids)

    def batch_decode(self, ids: torch.Tensor | Sequence[Sequence[int]]) -> list[list[str]]:
        return [self.decode(row) for row in ids]

    def to_human(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Token ids -> the human-readable form (one measure per line)."""
        return to_human(self.decode(ids))

    def to_musicxml(self, ids: Iterable[int] | torch.Tensor, *, title: str | None = None) -> bytes:
        """Token ids -> MusicXML 4.0 bytes (raises ``grammar.musicxml.TokenSequenceError`` if ill-formed)."""
        from grammar.musicxml import write_score

        return write_score(self.decode(ids), title=title)

    def encode(self, tokens: Sequence[str], *, bos: bool = True, eos: bool = True) -> list[int]:
        """Model tokens -> ids wrapped in ``<bos>``/``<eos>``."""
        return self.vocab.encode(tokens, bos=bos, eos=eos)

    # ---- persistence ----------------------------------------------------------------------------

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``processor_config.json`` and ``vocab.json`` into ``directory`` (atomically)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / PROCESSOR_CONFIG, json.dumps(asdict(self.settings), indent=1).encode())
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            self.vocab.save(Path(tmp) / VOCAB_FILE)
            os.replace(Path(tmp) / VOCAB_FILE, out / VOCAB_FILE)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **overrides) -> OmrformerProcessor:
        """Load settings and vocabulary from a local folder written by :meth:`save_pretrained`."""
        folder = Path(directory)
        path = folder / PROCESSOR_CONFIG
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no processor settings (expected a folder from save_pretrained)")
        try:
            data = json.loads(path.read_text())
            settings = ProcessorSettings(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}: invalid processor settings ({exc})") from None
        vocab = Vocabulary.load(folder / VOCAB_FILE) if (folder / VOCAB_FILE).is_file() else VOCAB
        return cls(settings, vocab, **overrides)
