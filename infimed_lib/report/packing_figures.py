"""Figures of chapter 02: length distribution, packing quality per algorithm, time against n."""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _axes(ax, size=(7, 3.6)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def plot_length_histogram(lengths: Mapping[str, np.ndarray], capacity: int, ax=None, bins: int = 60):
    """Histograms of multimodal lengths (one per label, e.g. 144 vs 729 visual tokens) with the
    capacity marked (Chapter 02)."""
    ax = _axes(ax)
    top = max([capacity] + [int(np.max(v)) for v in lengths.values() if len(v)])
    edges = np.linspace(0, top, bins + 1)
    for label, values in lengths.items():
        ax.hist(values, bins=edges, alpha=0.55, label=label)
    ax.axvline(capacity, color="black", linestyle="--", linewidth=1, label=f"capacity {capacity}")
    ax.set_xlabel("multimodal length [tokens]")
    ax.set_ylabel("samples")
    ax.legend(frameon=False)
    return ax


def plot_comparison(table: pd.DataFrame, ax=None):
    """Fill ratio per algorithm as bars, annotated with the padding left (Chapter 02)."""
    ax = _axes(ax)
    ordered = table.sort_values("fill_pct")
    bars = ax.barh(ordered["algorithm"], ordered["fill_pct"], color="tab:blue")
    for bar, padding in zip(bars, ordered["padding_tokens"]):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{padding:,} pad tokens",
                va="center", fontsize=8)
    ax.set_xlim(0, 130)
    ax.set_xlabel("fill [% of row tokens that are real tokens]")
    return ax


def plot_timing(timing: pd.DataFrame, ax=None):
    """Seconds against number of items, log-log, one line per algorithm (Chapter 02)."""
    ax = _axes(ax, (7, 4.2))
    for name, group in timing.groupby("algorithm", sort=False):
        style = {"linewidth": 2.5} if name == "ffd" else {"linestyle": ":" if name == "numpy_sort" else "-"}
        ax.plot(group["n"], group["seconds"], marker="o", markersize=3, label=name, **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("items [count]")
    ax.set_ylabel("time [s]")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return ax
