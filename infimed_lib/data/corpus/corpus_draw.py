"""Drawing primitives shared by the procedural image makers of the miniature corpus.

Chapter 00 (overview) shows the images these primitives build. Everything works on 96x96 float
arrays so that one image costs well under a millisecond; NumPy and SciPy's filters do the work
(no drawing library offers soft-edged, noise-textured shapes on arrays).
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

SIZE = 96
GRID_Y, GRID_X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
_YY, _XX = GRID_Y, GRID_X


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, soft: float = 1.0) -> np.ndarray:
    """Coverage in [0, 1] of an ellipse, anti-aliased over about ``soft`` pixels."""
    dx, dy = _XX - cx, _YY - cy
    if angle:
        c, s = np.cos(angle), np.sin(angle)
        dx, dy = c * dx + s * dy, -s * dx + c * dy
    radius = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
    # distance to the edge in pixels, approximately, so the blur width does not depend on size
    return np.clip((1.0 - radius) * min(rx, ry) / soft + 0.5, 0.0, 1.0)


def ring(cx: float, cy: float, rx: float, ry: float, width: float) -> np.ndarray:
    """Coverage of an elliptical band ``width`` pixels thick just inside the given ellipse."""
    inner = ellipse(cx, cy, max(rx - width, 1.0), max(ry - width, 1.0))
    return np.clip(ellipse(cx, cy, rx, ry) - inner, 0.0, 1.0)


def rectangle(x0: float, y0: float, x1: float, y1: float, soft: float = 1.0) -> np.ndarray:
    """Coverage of an axis-aligned rectangle with soft edges."""
    inside_x = np.clip(np.minimum(_XX - x0, x1 - _XX) / soft + 0.5, 0.0, 1.0)
    inside_y = np.clip(np.minimum(_YY - y0, y1 - _YY) / soft + 0.5, 0.0, 1.0)
    return inside_x * inside_y


def arc_band(cx: float, cy: float, rx: float, ry: float, width: float,
             x_range: tuple[float, float]) -> np.ndarray:
    """A curved band (a rib, a pelvic rim) limited to columns ``x_range``."""
    band = ring(cx, cy, rx, ry, width)
    lo, hi = x_range
    return band * ((_XX >= lo) & (_XX <= hi))


def polygon(points: list[tuple[float, float]]) -> np.ndarray:
    """Coverage (0/1) of a convex polygon given counter-clockwise or clockwise."""
    pts = np.asarray(points, dtype=np.float32)
    inside = np.ones((SIZE, SIZE), dtype=bool)
    (ax, ay), (bx, by) = pts[1] - pts[0], pts[2] - pts[0]
    orientation = float(np.sign(ax * by - ay * bx)) or 1.0
    for a, b in zip(pts, np.roll(pts, -1, axis=0)):
        cross = (b[0] - a[0]) * (_YY - a[1]) - (b[1] - a[1]) * (_XX - a[0])
        inside &= cross * orientation >= 0
    return inside.astype(np.float32)


def blob(cx: float, cy: float, radius: float, rng: np.random.Generator, irregularity: float) -> np.ndarray:
    """A lobulated disc: its radius wobbles with angle by ``irregularity`` (0 gives a circle)."""
    angle = np.arctan2(_YY - cy, _XX - cx)
    wobble = np.zeros_like(angle)
    for harmonic in (2, 3, 5):
        wobble += rng.uniform(-1, 1) * np.cos(harmonic * angle + rng.uniform(0, 2 * np.pi))
    local_r = radius * (1.0 + irregularity * wobble / 3.0)
    dist = np.sqrt((_XX - cx) ** 2 + (_YY - cy) ** 2)
    return np.clip(local_r - dist + 0.5, 0.0, 1.0)


def smooth_noise(rng: np.random.Generator, scale: float, amplitude: float) -> np.ndarray:
    """Low-frequency texture: a coarse random field upsampled, so PNGs stay small."""
    cells = max(2, int(SIZE / scale))
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    # PIL's bilinear resize of a float image is ~30x faster than scipy.ndimage.zoom here.
    field = np.asarray(Image.fromarray(coarse).resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    return field * amplitude


def speckle(rng: np.random.Generator, sigma: float, amplitude: float) -> np.ndarray:
    """Fine-grained texture (cell nuclei, ultrasound-like grain) from blurred white noise."""
    field = gaussian_filter(rng.standard_normal((SIZE, SIZE)).astype(np.float32), sigma)
    return field / (field.std() + 1e-6) * amplitude


def paint(canvas: np.ndarray, mask: np.ndarray, value) -> np.ndarray:
    """Blend ``value`` (a grey level or an RGB triple) into ``canvas`` where ``mask`` covers."""
    if canvas.ndim == 3:
        return canvas * (1 - mask[..., None]) + np.asarray(value, dtype=np.float32) * mask[..., None]
    return canvas * (1 - mask) + float(value) * mask


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    """Clip and round to 8 bits; grey canvases become three identical channels."""
    out = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2) if out.ndim == 2 else out
