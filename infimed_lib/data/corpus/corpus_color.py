"""Procedural histopathology and dermoscopy images (colour modalities of the miniature corpus).

Chapter 00 (overview) shows examples. Histopathology is an H&E-like field: pink stroma with purple
nuclei, whose arrangement tells the tissue (colon glands, liver plates, crowded lymph node);
a tumour nest is a dark blue-black cluster. Dermoscopy is a skin-coloured field seen through the
dermoscope's round window, with a brown lesion that is round and even (naevus) or lobulated
with blue-black dots (melanoma).
"""
from __future__ import annotations

import numpy as np

from infimed_lib.data.corpus.corpus_draw import GRID_X, GRID_Y, SIZE, blob, ellipse, paint, smooth_noise, speckle

TISSUES = ("colon", "liver", "lymph node")
LESION_PATTERNS = ("regular", "irregular")


def _quadrant(attrs: dict, rng: np.random.Generator, reach: tuple[float, float]) -> tuple[float, float]:
    dx, dy = rng.uniform(*reach), rng.uniform(*reach)
    sx = -1 if attrs["side"] == "left" else 1
    sy = -1 if attrs["level"] == "upper" else 1
    return SIZE / 2 + sx * dx, SIZE / 2 + sy * dy


def _nuclei(rng: np.random.Generator, density: float, grain: float = 0.9) -> np.ndarray:
    """Coverage of nucleus-like specks; ``density`` is the fraction of the field they cover."""
    field = speckle(rng, grain, 1.0)
    threshold = np.quantile(field, 1.0 - density)
    return np.clip((field - threshold) * 4.0, 0.0, 1.0)


def draw_histopathology(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    """H&E-like 96x96 RGB canvas (float) for ``attrs`` (tissue, lesion, side, level, size) (Chapter 00)."""
    tissue = attrs["tissue"]
    stroma = np.array([236, 168, 200], np.float32) + rng.uniform(-10, 10, 3)
    img = np.broadcast_to(stroma, (SIZE, SIZE, 3)).astype(np.float32).copy()
    img += smooth_noise(rng, 16, 8)[..., None]
    nucleus = np.array([95, 45, 140], np.float32)
    if tissue == "colon":
        img = paint(img, _nuclei(rng, 0.08), nucleus)
        for _ in range(6):
            gx, gy, gr = rng.uniform(12, 84), rng.uniform(12, 84), rng.uniform(7, 10)
            img = paint(img, ellipse(gx, gy, gr + 3, gr + 3) - ellipse(gx, gy, gr, gr), nucleus)
            img = paint(img, ellipse(gx, gy, gr, gr), (250, 238, 245))
    elif tissue == "liver":
        img = paint(img, np.ones((SIZE, SIZE), np.float32) * 0.25, (220, 120, 150))
        spacing, phase = rng.uniform(7, 9), rng.uniform(0, 6, 2)
        grid = ((np.cos(2 * np.pi * (GRID_X + phase[0]) / spacing) > 0.8)
                & (np.cos(2 * np.pi * (GRID_Y + phase[1]) / spacing) > 0.8))
        img = paint(img, grid.astype(np.float32), nucleus)
        img = paint(img, ellipse(rng.uniform(30, 66), rng.uniform(30, 66), 6, 6), (250, 240, 245))
    else:
        img = paint(img, np.ones((SIZE, SIZE), np.float32) * 0.45, (170, 110, 190))
        img = paint(img, _nuclei(rng, 0.35, grain=0.7), nucleus)
    if attrs["lesion"]:
        lx, ly = _quadrant(attrs, rng, (16, 20))
        radius = rng.uniform(6.5, 8) if attrs["size"] == "small" else rng.uniform(14, 16)
        img = paint(img, blob(lx, ly, radius, rng, 0.3), (40, 18, 75))
        img = img + (blob(lx, ly, radius - 1, rng, 0.3) * speckle(rng, 0.8, 12))[..., None]
    return img


def draw_dermoscopy(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    """Dermoscope view, 96x96 RGB canvas (float), for ``attrs`` (lesion, pattern, side, level, size) (Chapter 00)."""
    tone = rng.uniform(0, 1)
    skin = np.array([236, 196, 168], np.float32) * (1 - tone) + np.array([196, 140, 105], np.float32) * tone
    img = np.broadcast_to(skin, (SIZE, SIZE, 3)).astype(np.float32).copy()
    img += smooth_noise(rng, 14, 6)[..., None]
    if rng.uniform() < 0.3:
        # hairs are a typical dermoscopy artefact; thin dark lines across the field
        for _ in range(rng.integers(1, 4)):
            angle, offset = rng.uniform(0, np.pi), rng.uniform(-30, 30)
            dist = np.abs((GRID_X - SIZE / 2) * np.sin(angle) - (GRID_Y - SIZE / 2) * np.cos(angle) - offset)
            img = paint(img, np.clip(1.0 - dist, 0, 1) * 0.8, (70, 50, 40))
    if attrs["lesion"]:
        lx, ly = _quadrant(attrs, rng, (13, 16))
        radius = rng.uniform(8, 10) if attrs["size"] == "small" else rng.uniform(17, 20)
        if attrs["pattern"] == "regular":
            img = paint(img, blob(lx, ly, radius, rng, 0.05), (150, 95, 60))
            img = paint(img, blob(lx, ly, radius * 0.5, rng, 0.05) * 0.5, (120, 75, 45))
        else:
            img = paint(img, blob(lx, ly, radius, rng, 0.6), (85, 50, 35))
            for _ in range(4):
                px, py = lx + rng.uniform(-0.5, 0.5) * radius, ly + rng.uniform(-0.5, 0.5) * radius
                img = paint(img, ellipse(px, py, radius * 0.18, radius * 0.18), (60, 70, 110))
    window = ellipse(SIZE / 2, SIZE / 2, 46, 46, soft=2.0)
    return img * window[..., None]
