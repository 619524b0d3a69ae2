"""Figures of chapter 03 (model anatomy): the patch grid and its pooling, parameters, timings."""
from __future__ import annotations

import copy
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
from PIL import Image

from infimed_lib.model.attention import block_causal_mask
from infimed_lib.model.attention import segment_ids
from infimed_lib.model.configuration import patch_grid_side


def pool_bins(grid: int, side: int) -> list[tuple[int, int]]:
    """Patch ranges [start, end) that `nn.AdaptiveAvgPool2d` averages per output cell, per axis. Chapter 03.

    PyTorch's rule: cell i covers floor(i * grid / side) to ceil((i + 1) * grid / side), so
    27 -> 12 gives cells of 3 patches that partly overlap their neighbours.
    """
    return [(math.floor(i * grid / side), math.ceil((i + 1) * grid / side)) for i in range(side)]


def plot_patch_grid(image: Image.Image, config, sides=(27, 12), axes=None):
    """The model-resolution image with SigLIP's patch grid and the pooled cells drawn on it. Chapter 03."""
    vision = config.vision_config
    size, patch, grid = vision.image_size, vision.patch_size, patch_grid_side(vision)
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    if axes is None:
        _, axes = plt.subplots(1, len(sides), figsize=(4.2 * len(sides), 4.4))
    for ax, side in zip(axes, sides):
        ax.imshow(resized, interpolation="nearest")
        bins = pool_bins(grid, side)
        # Draw each cell's start edge; where cells overlap, edges sit closer than a full cell.
        for start, _ in bins[1:]:
            ax.axhline(start * patch - 0.5, color="tab:red", lw=0.8)
            ax.axvline(start * patch - 0.5, color="tab:red", lw=0.8)
        widths = sorted({end - start for start, end in bins})
        ax.set_title(f"{side} x {side} = {side * side} visual tokens\n"
                     f"(each averages {'/'.join(map(str, widths))} x {'/'.join(map(str, widths))} patches)")
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def plot_parameters(table: pd.DataFrame, ax=None):
    """Trainable and frozen parameters per part, stacked (log scale: parts differ 100x). Chapter 03."""
    parts = table[table["part"] != "total"].set_index("part")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    parts[["trainable", "frozen"]].plot.barh(stacked=True, ax=ax, color=["tab:green", "tab:gray"], logx=True)
    totals = parts[["trainable", "frozen"]].sum(axis=1)
    ax.set_xlim(left=totals[totals > 0].min() / 3)  # else the smallest part (the projector) falls off the axis
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("")
    return ax


def plot_token_timing(table: pd.DataFrame, axes=None):
    """Sequence length and step time at each visual-token count, side by side. Chapter 03."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    labels = table["visual tokens"].astype(str)
    axes[0].bar(labels, table["sequence length"], color="tab:blue")
    axes[0].set_ylabel("tokens in the sample")
    time_columns = [c for c in table.columns if c.endswith("(ms)")]
    table.set_index(labels)[time_columns].plot.bar(ax=axes[1], rot=0)
    axes[1].set_ylabel("milliseconds")
    for ax in axes:
        ax.set_xlabel("visual tokens per image")
    return axes


def plot_attention_layout(model, lengths: list[int], pad: int = 0, ax=None):
    """The mask the model builds for a packed row of ``lengths`` samples plus ``pad`` pads. Chapter 03.

    Drawn as the sdpa backend receives it; flash kernels get the same layout as varlen segments.
    """
    positions = torch.cat([torch.arange(n) for n in lengths] + [torch.arange(pad)])[None]
    mask = torch.cat([torch.ones(sum(lengths)), torch.zeros(pad)])[None].long()
    segments = segment_ids(positions, mask)
    embeds = torch.zeros(1, segments.shape[1], 1)
    config = copy.copy(model.language_model.config)
    config._attn_implementation = "sdpa"
    allowed = block_causal_mask(config, embeds, segments, mask)[0, 0]
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(allowed.numpy(), cmap="Greens", interpolation="nearest")
    ax.set_xlabel("key position (attended to)")
    ax.set_ylabel("query position")
    ax.set_title(f"samples of {', '.join(map(str, lengths))} tokens + {pad} pads")
    return ax
