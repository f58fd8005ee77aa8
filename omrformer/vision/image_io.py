"""Load score images (PNG, JPEG, TIFF; PDF pages when pypdfium2 is installed) as grayscale arrays.

Everything downstream works on ``float32`` arrays in [0, 1] with 1 = white paper, 0 = ink.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

MAX_PIXELS = 200_000_000  # refuse decompression bombs: ~14k x 14k is already a 600 dpi A1 page
PDF_DPI = 150  # a staff space of ~10 px on a typical printed page, the scale the processor reads at


class ImageLoadError(ValueError):
    """An input file that is not a readable image (or PDF) of a score."""


def to_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """A PIL image or array (H, W[, C], uint8/uint16/float) -> (H, W) float32 in [0, 1], white = 1."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent areas are paper, not ink.
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(image, dtype=np.float32)
            return np.clip(arr / (65535.0 if arr.max() > 255 else 255.0), 0, 1)
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = arr[..., :3].mean(-1) if arr.shape[-1] >= 3 else arr[..., 0]
    if arr.ndim != 2:
        raise ImageLoadError(f"expected a 2D grayscale or 3D colour array, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


def _pdf_pages(path: Path, dpi: int) -> tuple[int, Iterator[np.ndarray]]:
    """(page count, pages rendered one at a time at ``dpi``); each page is size-checked before it
    is rendered, so a tiny PDF with a 200-inch page is refused, not rendered out of memory."""
    if importlib.util.find_spec("pypdfium2") is None:
        raise ImageLoadError(
            f"{path}: reading PDF needs the optional package pypdfium2 (pip install pypdfium2)"
        )
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
        count = len(doc)
    except pdfium.PdfiumError as exc:
        raise ImageLoadError(f"{path}: not a readable PDF ({exc})") from None
    if not count:
        raise ImageLoadError(f"{path}: the PDF has no pages")

    def pages() -> Iterator[np.ndarray]:
        for i in range(count):
            try:
                page = doc[i]
                w, h = page.get_size()  # points
                pixels = (w * dpi / 72) * (h * dpi / 72)
                if pixels > MAX_PIXELS:
                    raise ImageLoadError(f"{path}: page {i + 1} of {w / 72:.0f}x{h / 72:.0f} inches is "
                                         f"{pixels:.0f} pixels at {dpi} dpi, more than {MAX_PIXELS}")
                yield to_gray(page.render(scale=dpi / 72).to_pil())
            except pdfium.PdfiumError as exc:
                raise ImageLoadError(f"{path}: page {i + 1} is not readable ({exc})") from None

    return count, pages()


def _raster_pages(path: Path) -> tuple[int, Iterator[np.ndarray]]:
    try:
        img = Image.open(path)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{path}: not a readable image ({exc})") from None
    if img.width * img.height > MAX_PIXELS:
        img.close()
        raise ImageLoadError(f"{path}: image of {img.width}x{img.height} pixels is too large")
    if img.width == 0 or img.height == 0:
        img.close()
        raise ImageLoadError(f"{path}: empty image")
    count = getattr(img, "n_frames", 1)

    def pages() -> Iterator[np.ndarray]:
        try:
            for frame in range(count):
                img.seek(frame)
                if img.width * img.height > MAX_PIXELS:  # every frame of a TIFF has its own size
                    raise ImageLoadError(f"{path}: frame {frame + 1} of {img.width}x{img.height} pixels "
                                         "is too large")
                yield to_gray(img)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise ImageLoadError(f"{path}: not a readable image ({exc})") from None
        finally:
            img.close()

    return count, pages()


def iter_pages(path: str | Path, pdf_dpi: int = PDF_DPI) -> tuple[int, Iterator[np.ndarray]]:
    """(page count, the pages decoded one at a time): a 1000-page PDF or TIFF never sits in memory
    whole. Each page is (H, W) float32 in [0, 1] and obeys the same pixel limit in every format.

    Raises:
        ImageLoadError: the file is missing, unreadable, empty or too large (the iterator raises it
            for a bad page when that page is reached).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such file")
    if path.suffix.lower() == ".pdf":
        return _pdf_pages(path, pdf_dpi)
    return _raster_pages(path)


def load_pdf(path: Path, dpi: int = PDF_DPI) -> list[np.ndarray]:
    """Render every page of a PDF at ``dpi`` (needs the optional ``pypdfium2`` package)."""
    return list(_pdf_pages(path, dpi)[1])


def load_pages(path: str | Path, pdf_dpi: int = PDF_DPI) -> list[np.ndarray]:
    """All pages of an image or PDF file, each (H, W) float32 in [0, 1] (multi-frame TIFFs give
    one page per frame). Prefer :func:`iter_pages` for files that may hold many pages.

    Raises:
        ImageLoadError: the file is missing, unreadable, empty or too large.
    """
    return list(iter_pages(path, pdf_dpi)[1])


def load_image(path: str | Path) -> np.ndarray:
    """The first page of an image or PDF file as (H, W) float32 in [0, 1]."""
    return load_pages(path)[0]


def rescale(image: np.ndarray, factor: float) -> np.ndarray:
    """Resize by ``factor`` (area averaging when shrinking so thin staff lines stay visible)."""
    if abs(factor - 1.0) < 1e-3:
        return image
    h, w = image.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp)


def normalize_contrast(image: np.ndarray) -> np.ndarray:
    """Stretch so paper is ~1 and ink ~0 (robust percentiles; scans are often grey on grey)."""
    lo, hi = np.percentile(image, [0.5, 99.5]) if image.size else (0.0, 1.0)
    if hi - lo < 0.05:  # blank or nearly blank: nothing to stretch
        return image
    return np.clip((image - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
