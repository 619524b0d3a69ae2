"""Images of the miniature corpus: opening any image reference, and making procedural images.

Chapter 00 (overview) explains the image references a sample may hold (a path relative to the
corpus, an absolute path, or a ``data:image/png;base64,`` URL) and shows the procedural
medical and general images with the attributes that the corpus's questions ask about.
"""
from __future__ import annotations

import base64
import binascii
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from infimed_lib.data.corpus.corpus_color import LESION_PATTERNS, TISSUES, draw_dermoscopy, draw_histopathology
from infimed_lib.data.corpus.corpus_draw import to_uint8
from infimed_lib.data.corpus.corpus_radiology import BODY_PARTS, RADIOLOGY_MODALITIES, draw_radiology
from infimed_lib.data.corpus.corpus_scenes import draw_scene, scene_attrs

MEDICAL_MODALITIES = RADIOLOGY_MODALITIES + ("histopathology", "dermoscopy")
SIDES, LEVELS, SIZES = ("left", "right"), ("upper", "lower"), ("small", "large")
_DATA_URL_PREFIX = "data:image/"


def load_image(ref: str | os.PathLike, root: str | os.PathLike | None = None) -> Image.Image:
    """Open an image reference as an RGB ``PIL.Image`` (Chapter 00).

    ``ref`` is a path relative to ``root`` (the corpus folder), an absolute path, or a
    ``data:image/...;base64,`` URL. A missing or undecodable image raises ValueError naming ``ref``.
    """
    text = str(ref)
    if text.startswith(_DATA_URL_PREFIX):
        header, _, payload = text.partition(",")
        if ";base64" not in header or not payload:
            raise ValueError(f"image {text[:40]!r}...: not a base64 data URL")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"image {text[:40]!r}...: invalid base64 payload") from None
        source, name = io.BytesIO(data), f"{text[:40]!r}..."
    else:
        path = Path(text).expanduser()
        if not path.is_absolute() and root is not None:
            path = Path(root) / path
        if not path.is_file():
            raise ValueError(f"image {text!r}: file not found at {path}")
        source, name = path, repr(text)
    try:
        with Image.open(source) as img:
            img.load()
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"image {name}: cannot be decoded ({error})") from None


def png_bytes(img: Image.Image) -> bytes:
    """Encode as PNG with no time or text metadata, so equal pixels give equal bytes (Chapter 00)."""
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()


def image_to_data_url(img_or_path: Image.Image | str | os.PathLike) -> str:
    """A ``data:image/png;base64,...`` URL for an image or an image file (Chapter 00)."""
    img = img_or_path if isinstance(img_or_path, Image.Image) else load_image(img_or_path)
    return "data:image/png;base64," + base64.b64encode(png_bytes(img.convert("RGB"))).decode("ascii")


def medical_attrs(rng: np.random.Generator, modality: str, **fixed) -> dict:
    """Random findings for one medical image; keyword arguments pin any of them (Chapter 00).

    Keys: modality, body_part (radiology), tissue (histopathology), pattern (dermoscopy),
    lesion (bool), and for a lesion its side ("left"/"right" of the image), level
    ("upper"/"lower") and size ("small"/"large"); they are None without a lesion.
    """
    if modality not in MEDICAL_MODALITIES:
        raise ValueError(f"modality {modality!r} is not one of {list(MEDICAL_MODALITIES)}")
    attrs = {"modality": modality, "lesion": bool(rng.integers(0, 2))}
    if modality in RADIOLOGY_MODALITIES:
        attrs["body_part"] = str(rng.choice(BODY_PARTS))
    elif modality == "histopathology":
        attrs["tissue"] = str(rng.choice(TISSUES))
    else:
        attrs["body_part"] = "skin"
    attrs.update({"side": str(rng.choice(SIDES)), "level": str(rng.choice(LEVELS)),
                  "size": str(rng.choice(SIZES))})
    if modality == "dermoscopy":
        attrs["pattern"] = str(rng.choice(LESION_PATTERNS))
    unknown = set(fixed) - set(attrs)
    if unknown:
        raise ValueError(f"medical_attrs: unknown attribute(s) {sorted(unknown)} for {modality}")
    attrs.update(fixed)
    if not attrs["lesion"]:
        attrs.update(side=None, level=None, size=None)
        if modality == "dermoscopy":
            attrs["pattern"] = None
    return attrs


def draw_medical(attrs: dict, rng: np.random.Generator) -> Image.Image:
    """Render ``attrs`` (from :func:`medical_attrs`) as a 96x96 RGB image (Chapter 00)."""
    modality = attrs["modality"]
    if modality in RADIOLOGY_MODALITIES:
        canvas = draw_radiology(attrs, rng)
    elif modality == "histopathology":
        canvas = draw_histopathology(attrs, rng)
    elif modality == "dermoscopy":
        canvas = draw_dermoscopy(attrs, rng)
    else:
        raise ValueError(f"cannot draw modality {modality!r}")
    return Image.fromarray(to_uint8(canvas), "RGB")


def medical_image(rng: np.random.Generator, modality: str, **fixed) -> tuple[Image.Image, dict]:
    """A procedural medical image and the dict of its true attributes (Chapter 00)."""
    attrs = medical_attrs(rng, modality, **fixed)
    return draw_medical(attrs, rng), attrs


def general_image(rng: np.random.Generator, count: int | None = None) -> tuple[Image.Image, dict]:
    """A scene of 1-3 coloured shapes and its description (background, shapes) (Chapter 00)."""
    attrs = scene_attrs(rng, count)
    return Image.fromarray(to_uint8(draw_scene(attrs, rng)), "RGB"), attrs
