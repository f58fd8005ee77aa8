"""Composable image distortions, one module per family; geometric ones move the staff geometry."""

from synth.distort.base import Distortion, Photometric
from synth.distort.bleedthrough import BleedThrough
from synth.distort.blur import Blur
from synth.distort.crop import CropMargins
from synth.distort.ink import Ink
from synth.distort.jpeg import Jpeg
from synth.distort.noise import GaussianNoise, SaltPepper
from synth.distort.paper import Lighting, PaperTexture
from synth.distort.perspective import Perspective
from synth.distort.resolution import Resolution
from synth.distort.rotate import Rotate
from synth.distort.warp import ElasticWarp, PageCurl

ALL: tuple[type[Distortion], ...] = (
    Rotate,
    Perspective,
    PageCurl,
    ElasticWarp,
    CropMargins,
    Ink,
    PaperTexture,
    Lighting,
    BleedThrough,
    Resolution,
    Blur,
    GaussianNoise,
    SaltPepper,
    Jpeg,
)
BY_NAME: dict[str, type[Distortion]] = {cls.name: cls for cls in ALL}

__all__ = ["ALL", "BY_NAME", "Distortion", "Photometric", *(c.__name__ for c in ALL)]
