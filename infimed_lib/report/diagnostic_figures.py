"""Figures of chapter 08's "where is the image signal lost?": probe accuracies and attention shares."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from infimed_lib.common import ParameterError

COLORS = {"pixels (pooled)": "#9e9e9e", "vision tower (pooled)": "#1565c0", "projector output": "#ef6c00"}


def _require_columns(name: str, table: pd.DataFrame, columns: tuple[str, ...]) -> None:
    if not isinstance(table, pd.DataFrame) or table.empty or not set(columns) <= set(table.columns):
        raise ParameterError(name, f"expected a non-empty DataFrame with columns {list(columns)}")


def plot_probes(table: pd.DataFrame, title: str = "Linear probes: what the image features carry"):
    """Grouped bars of probe accuracy per facet and feature set, majority class marked (Chapter 08).

    ``table`` is :func:`infimed_lib.eval.linear_probes`'s output. Returns the Figure.
    """
    _require_columns("table", table, ("facet", "features", "accuracy_pct", "majority_pct"))
    facets = list(dict.fromkeys(table["facet"]))
    sets = list(dict.fromkeys(table["features"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(facets)), 3.8))
    x, width = np.arange(len(facets)), 0.8 / len(sets)
    for k, name in enumerate(sets):
        rows = table[table["features"] == name].set_index("facet").reindex(facets)
        ax.bar(x + (k - (len(sets) - 1) / 2) * width, rows["accuracy_pct"], width, label=name,
               color=COLORS.get(name))
    majority = table.drop_duplicates("facet").set_index("facet").reindex(facets)["majority_pct"]
    ax.hlines(majority, x - 0.45, x + 0.45, colors="black", linestyles="--", lw=1, label="majority class")
    ax.set_xticks(x, facets)
    ax.set_ylim(0, 105)
    ax.set_ylabel("probe test accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_attention_share(table: pd.DataFrame, title: str = "Attention of the answer position on the image tokens"):
    """Per layer, the share of attention on image tokens (solid) against their share of the prompt
    (dashed, the uniform-attention reference), one colour per checkpoint (Chapter 08).

    ``table`` is :func:`infimed_lib.eval.attention_share_by_checkpoint`'s output (a single
    model's :func:`~infimed_lib.eval.image_attention_share` table works too). Returns the Figure.
    """
    _require_columns("table", table, ("layer", "attention_on_image_pct", "image_token_share_pct"))
    groups = table.groupby("checkpoint", sort=False) if "checkpoint" in table else [("model", table)]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for index, (name, rows) in enumerate(groups):
        color = f"C{index}"
        ax.plot(rows["layer"], rows["attention_on_image_pct"], marker="o", color=color, label=str(name))
        ax.plot(rows["layer"], rows["image_token_share_pct"], ls="--", color=color, lw=1)
    ax.plot([], [], ls="--", color="black", lw=1, label="image tokens' share of the prompt")
    ax.set_xticks(sorted(set(table["layer"])))
    ax.set_xlabel("language-model layer")
    ax.set_ylabel("attention on image tokens (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
