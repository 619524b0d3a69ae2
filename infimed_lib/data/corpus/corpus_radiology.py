"""Procedural CT, MRI and X-ray images of four body parts, with or without a focal lesion.

Chapter 00 (overview) explains why the miniature corpus uses drawn images: the findings that the
questions ask about (lesion present, its side, its level, its size, the body part, the
modality) are known exactly, and they are drawn large and with high contrast so that a tiny
model with a frozen random vision tower can still learn them at 54x54 pixels.

Each modality has its own look: CT is a grey cross-section with a bright bone ring on black;
MRI (T2-like) shows a bright fat rim, dark bone and bright fluid with a grainy texture; X-ray
is a projection that fills the frame, with ribs and long bones. The lesion is the same in all
three: a bright core inside a dark halo, visible on dark lung as on bright bone.
"""
from __future__ import annotations

import numpy as np

from infimed_lib.data.corpus.corpus_draw import GRID_X, GRID_Y, SIZE, arc_band, blob, ellipse, paint, rectangle, ring, smooth_noise, speckle

RADIOLOGY_MODALITIES = ("CT", "MRI", "X-ray")
BODY_PARTS = ("head", "chest", "abdomen", "knee")


def lesion_centre(attrs: dict, cx: float, cy: float, rng: np.random.Generator) -> tuple[float, float]:
    """Where the lesion sits: a clear quadrant offset from the centre of the anatomy."""
    narrow = attrs["body_part"] == "knee"
    dx = rng.uniform(9, 11) if narrow else rng.uniform(14, 18)
    dy = rng.uniform(13, 17) if narrow and attrs["modality"] == "X-ray" else rng.uniform(11, 15)
    sx = -1 if attrs["side"] == "left" else 1
    sy = -1 if attrs["level"] == "upper" else 1
    return cx + sx * dx, cy + sy * dy


def lesion_radius(attrs: dict, rng: np.random.Generator) -> float:
    return rng.uniform(6.0, 7.0) if attrs["size"] == "small" else rng.uniform(11.5, 13.0)


def draw_lesion(canvas: np.ndarray, attrs: dict, cx: float, cy: float, rng: np.random.Generator) -> np.ndarray:
    """Bright core in a dark halo: the halo keeps it visible on bright bone, the core on dark lung (Chapter 00)."""
    if not attrs["lesion"]:
        return canvas
    lx, ly = lesion_centre(attrs, cx, cy, rng)
    radius = lesion_radius(attrs, rng)
    canvas = paint(canvas, blob(lx, ly, radius + 2.0, rng, 0.15), 8.0)
    return paint(canvas, blob(lx, ly, radius, rng, 0.15), 250.0)


def _geometry(rng: np.random.Generator) -> tuple[float, float, float]:
    return SIZE / 2 + rng.uniform(-3, 3), SIZE / 2 + rng.uniform(-3, 3), rng.uniform(0.93, 1.05)


# Grey level of each trunk organ: CT shows air dark and soft tissue mid-grey; MRI (T2-like) shows
# fluid bright. The layout is the same in both; only the contrast differs.
CT_ORGANS = {"lung": 12, "heart": 125, "liver": 130, "stomach": 20, "kidney": 140}
MRI_ORGANS = {"lung": 8, "heart": 50, "liver": 60, "stomach": 215, "kidney": 170}


def _trunk_organs(img: np.ndarray, part: str, cx: float, cy: float, s: float, shades: dict) -> np.ndarray:
    """Lungs and heart (chest) or liver, stomach and kidneys (abdomen) at one modality's grey levels."""
    if part == "chest":
        for side in (-1, 1):
            img = paint(img, ellipse(cx + side * 18 * s, cy - 2, 14 * s, 20 * s), shades["lung"])
        return paint(img, ellipse(cx + 3, cy + 3, 10 * s, 9 * s), shades["heart"])
    img = paint(img, ellipse(cx - 14 * s, cy - 5, 16 * s, 13 * s), shades["liver"])
    img = paint(img, ellipse(cx + 15 * s, cy - 8, 8 * s, 6 * s), shades["stomach"])
    for side in (-1, 1):
        img = paint(img, ellipse(cx + side * 14 * s, cy + 12 * s, 5 * s, 7 * s), shades["kidney"])
    return img


def _ct(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    cx, cy, s = _geometry(rng)
    img = np.zeros((SIZE, SIZE), np.float32)
    part = attrs["body_part"]
    if part == "head":
        body = ellipse(cx, cy, 33 * s, 38 * s)
        img = paint(img, body, 100 + rng.uniform(-8, 8))
        img = paint(img, ring(cx, cy, 33 * s, 38 * s, 4), 235)
        for side in (-1, 1):
            img = paint(img, ellipse(cx + side * 4 * s, cy, 2.5 * s, 8 * s), 40)
    elif part in ("chest", "abdomen"):
        rx, ry = (42 * s, 30 * s) if part == "chest" else (40 * s, 32 * s)
        body = ellipse(cx, cy, rx, ry)
        img = paint(img, body, 100 + rng.uniform(-8, 8))
        img = paint(img, ring(cx, cy, rx, ry, 3), 70)
        img = paint(img, ring(cx, cy, rx - 4, ry - 4, 2), 200)
        img = paint(img, ellipse(cx, cy + ry - 9 * s, 5 * s, 5 * s), 240)
        img = _trunk_organs(img, part, cx, cy, s, CT_ORGANS)
    else:
        body = ellipse(cx, cy, 27 * s, 25 * s)
        img = paint(img, body, 100 + rng.uniform(-8, 8))
        img = paint(img, ring(cx, cy, 27 * s, 25 * s, 3), 70)
        for side in (-1, 1):
            img = paint(img, ellipse(cx + side * 7 * s, cy, 8 * s, 10 * s), 240)
            img = paint(img, ellipse(cx + side * 7 * s, cy, 6 * s, 8 * s), 160)
        img = paint(img, ellipse(cx, cy - 19 * s, 7 * s, 4 * s), 235)
    img = img + body * (smooth_noise(rng, 12, 4) + speckle(rng, 0.8, 2))
    return draw_lesion(img, attrs, cx, cy, rng)


def _mri(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    cx, cy, s = _geometry(rng)
    # MRI has a noise floor outside the body, where CT air is black: a whole-image cue.
    img = np.full((SIZE, SIZE), 30.0, np.float32)
    part = attrs["body_part"]
    if part == "head":
        rx, ry = 34 * s, 39 * s
        body = ellipse(cx, cy, rx, ry)
        img = paint(img, body, 185)
        img = paint(img, ellipse(cx, cy, rx - 4, ry - 4), 15)
        img = paint(img, ellipse(cx, cy, rx - 7, ry - 7), 215)
        brain = ellipse(cx, cy, rx - 9, ry - 9)
        img = paint(img, brain, 110 + rng.uniform(-8, 8))
        # folded cortex: a wavy pattern of grey and white matter
        radius, angle = np.hypot(GRID_X - cx, GRID_Y - cy), np.arctan2(GRID_Y - cy, GRID_X - cx)
        img = img + brain * 35 * np.cos(2 * np.pi * radius / 7 + 1.5 * np.sin(6 * angle + rng.uniform(0, 6)))
        for side in (-1, 1):
            img = paint(img, ellipse(cx + side * 4 * s, cy, 2.5 * s, 8 * s), 230)
    elif part in ("chest", "abdomen"):
        rx, ry = (42 * s, 30 * s) if part == "chest" else (40 * s, 32 * s)
        body = ellipse(cx, cy, rx, ry)
        img = paint(img, body, 190)
        img = paint(img, ellipse(cx, cy, rx - 5, ry - 5), 80 + rng.uniform(-8, 8))
        img = paint(img, ellipse(cx, cy + ry - 10 * s, 6 * s, 6 * s), 10)
        img = paint(img, ellipse(cx, cy + ry - 10 * s, 4 * s, 4 * s), 150)
        img = _trunk_organs(img, part, cx, cy, s, MRI_ORGANS)
    else:
        body = ellipse(cx, cy, 27 * s, 25 * s)
        img = paint(img, body, 200)
        img = paint(img, ellipse(cx, cy, 22 * s, 20 * s), 85 + rng.uniform(-8, 8))
        for side in (-1, 1):
            img = paint(img, ellipse(cx + side * 7 * s, cy, 8 * s, 10 * s), 10)
            img = paint(img, ellipse(cx + side * 7 * s, cy, 6 * s, 8 * s), 140)
        img = paint(img, ellipse(cx, cy - 12 * s, 7 * s, 3 * s), 235)
    bias = 1.0 + 0.15 * (GRID_X / SIZE - 0.5) * rng.choice([-1, 1])
    img = img * bias + body * (smooth_noise(rng, 10, 8) + speckle(rng, 0.7, 9)) + (1 - body) * speckle(rng, 0.8, 6)
    return draw_lesion(img, attrs, cx, cy, rng)


def _xray(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    cx, cy, s = _geometry(rng)
    img = np.full((SIZE, SIZE), 30.0, np.float32)
    part = attrs["body_part"]
    if part == "chest":
        img = paint(img, ellipse(cx, cy + 10, 50 * s, 62 * s), 115)
        for side in (-1, 1):
            img = paint(img, ellipse(cx + side * 19 * s, cy - 2, 14 * s, 30 * s), 35)
            for k in range(6):
                rib = arc_band(cx + side * 8, cy - 34 + 11 * k, 26 * s, 10 * s, 2.5,
                               (cx - 36, cx - 4) if side < 0 else (cx + 4, cx + 36))
                img = img + 55 * rib * (GRID_Y < cy - 30 + 11 * k + 3)
        img = paint(img, ellipse(cx + 5, cy + 14, 13 * s, 16 * s), 175)
        img = paint(img, rectangle(cx - 3, 0, cx + 3, SIZE), 170)
    elif part == "abdomen":
        img = paint(img, rectangle(4, 0, SIZE - 4, SIZE, soft=3), 120)
        img = paint(img, rectangle(cx - 5, 0, cx + 5, SIZE), 185)
        for k in range(7):
            img = paint(img, rectangle(cx - 6, 6 + 13 * k, cx + 6, 7.5 + 13 * k), 110)
        img = img + 70 * arc_band(cx, cy + 46, 40 * s, 22 * s, 4, (0, SIZE))
        for _ in range(5):
            gx, gy = cx + rng.uniform(-30, 30), cy + rng.uniform(-25, 15)
            img = paint(img, ellipse(gx, gy, rng.uniform(3, 5), rng.uniform(2, 4)), 60)
    elif part == "knee":
        img = paint(img, rectangle(cx - 23, 0, cx + 23, SIZE, soft=3), 90)
        img = paint(img, rectangle(cx - 9 * s, 0, cx + 9 * s, cy - 6), 200)
        img = paint(img, ellipse(cx, cy - 9, 17 * s, 8 * s), 210)
        img = paint(img, ellipse(cx, cy + 9, 16 * s, 6 * s), 210)
        img = paint(img, rectangle(cx - 8 * s, cy + 9, cx + 8 * s, SIZE), 200)
        img = paint(img, rectangle(cx + 13 * s, cy + 14, cx + 16 * s, SIZE), 175)
        img = paint(img, ellipse(cx, cy - 12, 7 * s, 8 * s), 228)
    else:
        img = paint(img, ellipse(cx, cy, 38 * s, 43 * s), 95)
        img = paint(img, ring(cx, cy, 38 * s, 43 * s, 5), 210)
        img = paint(img, ellipse(cx, cy, 32 * s, 37 * s), 120)
        for side in (-1, 1):
            img = paint(img, ellipse(cx + side * 11 * s, cy + 14 * s, 6 * s, 6 * s), 60)
    gradient = 1.0 + 0.12 * (GRID_Y / SIZE - 0.5)
    img = img * gradient + smooth_noise(rng, 12, 6) + speckle(rng, 0.8, 2)
    return draw_lesion(img, attrs, cx, cy, rng)


DRAWERS = {"CT": _ct, "MRI": _mri, "X-ray": _xray}


def draw_radiology(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    """A 96x96 grey canvas (float, 0-255) for ``attrs`` (Chapter 00).

    ``attrs`` holds modality, body_part, lesion, and for a lesion its side, level and size.
    """
    return DRAWERS[attrs["modality"]](attrs, rng)
