"""Chapter 08's score figure: accuracy per benchmark, one bar per model."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_scores(table: pd.DataFrame, title: str, ax=None):
    """Grouped bars: one group per benchmark (and ``Avg.``), one bar per model row (Chapter 08)."""
    ax = ax or plt.subplots(figsize=(10, 4))[1]
    x = np.arange(len(table.columns))
    width = 0.8 / max(1, len(table))
    for k, (model, row) in enumerate(table.iterrows()):
        ax.bar(x + (k - (len(table) - 1) / 2) * width, row.to_numpy(dtype=float), width, label=str(model))
    ax.set_xticks(x, table.columns, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
