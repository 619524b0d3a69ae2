"""Images -> ``pixel_values``: resize to the vision tower's input size, normalise as SigLIP does.

Chapter 03 (model anatomy). The processor is `transformers`' own SigLIP image processor, built
from the model config (never downloaded): bicubic resize to ``image_size`` x ``image_size``,
pixel values scaled to [0, 1], then normalised with mean = std = 0.5 to [-1, 1].
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from PIL import Image
from transformers import SiglipImageProcessorPil

SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)


class ImageProcessor:
    """Turns PIL images (or arrays, or image file paths) into ``(n, 3, H, W)`` float tensors. Chapter 03."""

    def __init__(self, config):
        vision = getattr(config, "vision_config", config)
        size = int(vision.image_size)
        self.image_size = size
        self.processor = SiglipImageProcessorPil(
            do_resize=True, size={"height": size, "width": size}, resample=Image.Resampling.BICUBIC,
            do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
            image_mean=list(SIGLIP_MEAN), image_std=list(SIGLIP_STD), do_convert_rgb=True)

    def __call__(self, images) -> torch.Tensor:
        images = [_as_image(image, index) for index, image in enumerate(_as_list(images))]
        if not images:
            return torch.zeros(0, 3, self.image_size, self.image_size)
        return self.processor(images=images, return_tensors="pt")["pixel_values"]

    def save_pretrained(self, out_dir: str | os.PathLike) -> None:
        """Write ``preprocessor_config.json`` beside a checkpoint, for `transformers` users."""
        self.processor.save_pretrained(str(out_dir))


def preprocess_images(images, config) -> torch.Tensor:
    """``pixel_values`` for ``images`` (in order) at ``config``'s image size. Chapter 03."""
    return ImageProcessor(config)(images)


def _as_list(images) -> list:
    if isinstance(images, (Image.Image, np.ndarray, str, Path)):
        return [images]
    if isinstance(images, Iterable):
        return list(images)
    raise TypeError(f"images must be a PIL image, an array, a path or a list of them, got {type(images).__name__}")


def _as_image(image, index: int) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise ValueError(f"image {index}: arrays must be uint8 HxW or HxWxC, got {image.dtype} {image.shape}")
        return Image.fromarray(image).convert("RGB")
    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            return opened.convert("RGB")
    raise TypeError(f"image {index}: expected a PIL image, a uint8 array or a path, got {type(image).__name__}")
