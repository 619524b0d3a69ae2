"""Figures of Chapter 01 (data curation): score distributions, dataset means, and the judge
against the ground truth. Each function saves its figure to ``path`` and returns it."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from infimed_lib.curation.selection import OVERALL_COLUMN, SCORE_COLUMNS

_SCORE_COLOURS = ["#b2182b", "#ef8a62", "#f7f7f7", "#67a9cf", "#2166ac"]  # 1 (bad) .. 5 (good)
_DECISION_COLOURS = {"keep": "#2166ac", "drop": "#b2182b", "undecided": "#888888"}


def _save(fig, path: str | os.PathLike | None):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Saved to a temporary name then renamed, so a reader never sees half a PNG.
        tmp = Path(path).with_name(f".tmp.{Path(path).name}")
        fig.savefig(tmp, dpi=120, bbox_inches="tight", metadata={"Software": None})
        os.replace(tmp, path)
    return fig


def plot_score_distributions(distribution: pd.DataFrame, path=None):
    """One panel per score: for every source, a stacked bar of the fraction of samples at
    scores 1-5 (from ``report.score_distribution``). Chapter 01."""
    sources = sorted(distribution.index.get_level_values("source").unique())
    fig, axes = plt.subplots(1, len(SCORE_COLUMNS), figsize=(3.0 * len(SCORE_COLUMNS), 0.45 * len(sources) + 1.6), sharey=True)
    for ax, column in zip(axes, SCORE_COLUMNS):
        left = np.zeros(len(sources))
        table = distribution.xs(column, level="dimension").reindex(sources).fillna(0.0)
        for score, colour in zip(range(1, 6), _SCORE_COLOURS):
            ax.barh(sources, table[score], left=left, color=colour, edgecolor="#444444", linewidth=0.3, label=str(score))
            left += table[score].to_numpy()
        ax.set_title(column)
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of samples")
    axes[0].invert_yaxis()
    axes[-1].legend(title="score", bbox_to_anchor=(1.02, 1), loc="upper left", frameon=False)
    fig.suptitle("Judge scores per dataset and dimension")
    fig.tight_layout()
    return _save(fig, path)


def plot_dataset_means(summary: pd.DataFrame, path=None):
    """Heat map of mean scores (sources x scores), each row labelled with its decision. Chapter 01."""
    means = summary[list(SCORE_COLUMNS)]
    fig, ax = plt.subplots(figsize=(1.1 * len(SCORE_COLUMNS) + 3, 0.45 * len(means) + 1.4))
    image = ax.imshow(means.to_numpy(dtype=float), cmap="RdBu", vmin=1, vmax=5, aspect="auto")
    for (i, j), value in np.ndenumerate(means.to_numpy(dtype=float)):
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(SCORE_COLUMNS)), SCORE_COLUMNS, rotation=30, ha="right")
    ax.set_yticks(range(len(means)), [f"{s}  [{d}]" for s, d in zip(means.index, summary["decision"])])
    for label, decision in zip(ax.get_yticklabels(), summary["decision"]):
        label.set_color(_DECISION_COLOURS[decision])
    fig.colorbar(image, ax=ax, label="mean score")
    ax.set_title("Mean score per dataset (label colour: decision)")
    fig.tight_layout()
    return _save(fig, path)


def plot_ground_truth(by_source: pd.DataFrame, by_defect: pd.DataFrame, path=None):
    """Left: each source's true defect rate against its mean overall score, coloured by the
    decision. Right: the share of samples flagged, per injected defect type. Chapter 01."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for decision, group in by_source.groupby("decision"):
        left.scatter(group["defect_rate"], group[OVERALL_COLUMN], color=_DECISION_COLOURS[decision], label=decision, s=40)
    # Kept sources crowd together; name the dropped ones and the weakest kept one.
    kept = by_source[by_source["decision"].eq("keep")]
    named = by_source[~by_source["decision"].eq("keep")].index.tolist()
    if len(kept):
        named.append(kept[OVERALL_COLUMN].idxmin())
    for source in named:
        row = by_source.loc[source]
        left.annotate(source, (row["defect_rate"], row[OVERALL_COLUMN]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    left.set_xlabel("injected defect rate in the sampled rows")
    left.set_ylabel("mean overall score")
    left.legend(frameon=False)
    left.set_title("Datasets: ground truth vs judge")
    order = by_defect.sort_values("flag_rate").index
    right.barh(order, by_defect.loc[order, "flag_rate"], color=["#888888" if d == "clean" else "#b2182b" for d in order])
    for y, defect in enumerate(order):
        rate, n = by_defect.loc[defect, "flag_rate"], int(by_defect.loc[defect, "n"])
        inside = rate > 0.8  # no room right of a long bar: write inside it, in white
        right.text(rate - 0.01 if inside else rate + 0.01, y, f"{rate:.0%} of {n}", va="center", fontsize=8,
                   ha="right" if inside else "left", color="white" if inside else "black")
    right.set_xlim(0, 1)
    right.set_xlabel("fraction flagged by the judge")
    right.set_title("Samples: flag rate per defect type")
    fig.tight_layout()
    return _save(fig, path)
