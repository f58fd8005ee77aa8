"""Degradation presets: ordered distortion pipelines, each step with its own probability.

Geometric steps come first (they act on the clean page, with white borders), then ink and
paper, then the capture chain (resolution, blur, noise, JPEG) in the order a scanner applies it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from synth.distort import (
    BY_NAME,
    BleedThrough,
    Blur,
    CropMargins,
    Distortion,
    ElasticWarp,
    GaussianNoise,
    Ink,
    Jpeg,
    Lighting,
    PageCurl,
    PaperTexture,
    Perspective,
    Resolution,
    Rotate,
    SaltPepper,
)
from synth.geometry import Geometry

PRESETS: dict[str, tuple[Distortion, ...]] = {
    "clean": (PaperTexture(p=0.2, max_tint=10.0), Blur(p=0.1, max_sigma=0.6)),
    "scan": (
        Rotate(p=0.8, max_degrees=1.5, max_shear=0.01),
        CropMargins(p=0.5),
        Ink(p=0.5),
        PaperTexture(p=0.6),
        BleedThrough(p=0.2),
        Resolution(p=0.3, min_factor=0.8),
        Blur(p=0.4, max_sigma=0.7),
        GaussianNoise(p=0.5, max_sigma=8.0),
        SaltPepper(p=0.3),
        Jpeg(p=0.4, min_quality=50),
    ),
    "photo": (
        Perspective(p=0.9),
        PageCurl(p=0.6),
        ElasticWarp(p=0.5),
        Rotate(p=0.7, max_degrees=4.0),
        CropMargins(p=0.5),
        PaperTexture(p=0.8),
        Lighting(p=0.9),
        Resolution(p=0.4),
        Blur(p=0.6),
        GaussianNoise(p=0.8),
        Jpeg(p=0.8),
    ),
}


def known_distortions() -> tuple[str, ...]:
    return tuple(BY_NAME)


def build_presets(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, tuple[Distortion, ...]]:
    """The presets with per-distortion overrides (``{"blur": {"p": 0}}``) applied everywhere."""
    overrides = overrides or {}
    out = {}
    for preset, steps in PRESETS.items():
        new = []
        for d in steps:
            o = overrides.get(d.name, {})
            try:
                new.append(dataclasses.replace(d, **o) if o else d)
            except TypeError:
                fields = [f.name for f in dataclasses.fields(d)]
                raise ValueError(
                    f"distortion {d.name!r}: unknown parameters {sorted(o)} (known: {fields})"
                ) from None
        out[preset] = tuple(new)
    return out


def choose_preset(weights: dict[str, float], rng: np.random.Generator) -> str:
    names = sorted(weights)
    w = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def degrade(
    image: np.ndarray, geometry: Geometry, steps: tuple[Distortion, ...], rng: np.random.Generator
) -> tuple[np.ndarray, Geometry, list[dict[str, Any]]]:
    """Run ``steps`` with probability ``p`` each; returns image, moved geometry, applied parameters."""
    applied = []
    for d in steps:
        # Draw the coin even when p is 0 or 1 so one step's p never shifts the others' randomness.
        hit = rng.random() < d.p
        params = d.sample(rng, image.shape[:2])
        if not hit:
            continue
        image, moved = d.run(image, params, geometry)
        assert moved is not None  # a distortion maps a given geometry; only a missing one stays None
        geometry = moved
        applied.append({"name": d.name, **params})
    return image, geometry, applied
