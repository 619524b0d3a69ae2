"""Procedural general-domain images: a few coloured shapes on a plain background.

Chapter 00 (overview) explains their role: they stand in for the web images of DataComp, CCS,
OBELICS, MMC4 and Mammoth-VL, so that captions, interleaved documents and general instructions
describe something the image really shows (which shapes, which colours, where).
"""
from __future__ import annotations

import numpy as np

from infimed_lib.data.corpus.corpus_draw import SIZE, ellipse, paint, polygon, rectangle, smooth_noise

SHAPES = ("circle", "square", "triangle")
COLORS = {
    "red": (215, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 215),
    "yellow": (235, 200, 30), "purple": (135, 60, 175), "orange": (240, 130, 30),
}
BACKGROUNDS = {"white": (245, 245, 245), "grey": (190, 190, 190), "beige": (235, 222, 195), "light blue": (200, 220, 240)}
# Named cells of a 3x3 grid; each scene puts at most one shape in a cell so positions are unambiguous.
POSITIONS = {
    "top left": (18, 18), "top": (48, 18), "top right": (78, 18),
    "left": (18, 48), "center": (48, 48), "right": (78, 48),
    "bottom left": (18, 78), "bottom": (48, 78), "bottom right": (78, 78),
}


def scene_attrs(rng: np.random.Generator, count: int | None = None) -> dict:
    """Random scene description: background and 1-3 shapes with distinct colours and cells (Chapter 00)."""
    count = int(count if count is not None else rng.integers(1, 4))
    colors = rng.choice(list(COLORS), size=count, replace=False)
    cells = rng.choice(list(POSITIONS), size=count, replace=False)
    shapes = [{"shape": str(rng.choice(SHAPES)), "color": str(c), "position": str(p),
               "size": str(rng.choice(["small", "large"]))} for c, p in zip(colors, cells)]
    return {"background": str(rng.choice(list(BACKGROUNDS))), "shapes": shapes}


def draw_scene(attrs: dict, rng: np.random.Generator) -> np.ndarray:
    """A 96x96 RGB canvas (float) showing the scene described by ``attrs`` (Chapter 00)."""
    img = np.broadcast_to(np.float32(BACKGROUNDS[attrs["background"]]), (SIZE, SIZE, 3)).copy()
    img += smooth_noise(rng, 24, 3)[..., None]
    for item in attrs["shapes"]:
        x, y = POSITIONS[item["position"]]
        x, y = x + rng.uniform(-2, 2), y + rng.uniform(-2, 2)
        r = rng.uniform(12, 14) if item["size"] == "large" else rng.uniform(7, 9)
        if item["shape"] == "circle":
            mask = ellipse(x, y, r, r)
        elif item["shape"] == "square":
            mask = rectangle(x - r * 0.9, y - r * 0.9, x + r * 0.9, y + r * 0.9)
        else:
            mask = polygon([(x, y - r), (x - r, y + r * 0.8), (x + r, y + r * 0.8)])
        img = paint(img, mask, COLORS[item["color"]])
    return img
