"""The paper's reported numbers, as data files with their source, and figures of them. Chapter 00.

Tables 2, 3 and 5 of arXiv 2509.22261 live in ``infimed_lib/resources/paper/*.csv`` exactly as
printed; the first line of each file names its source. Chapter 09 puts our runs beside them.
"""
from __future__ import annotations

from importlib import resources

import matplotlib.pyplot as plt
import pandas as pd

BENCHMARK_COLUMNS = ["MMMU-Med", "VQA-RAD", "SLAKE", "PathVQA", "PMC-VQA", "OMVQA", "MedXVQA"]
# Our benchmark registry names -> the paper's column names.
BENCHMARK_TO_COLUMN = {
    "mmmu-med": "MMMU-Med", "vqa-rad": "VQA-RAD", "slake": "SLAKE", "pathvqa": "PathVQA",
    "pmc-vqa": "PMC-VQA", "omnimedvqa": "OMVQA", "medxpertqa-mm": "MedXVQA",
}
TABLES = {
    "main_results": "table2_main_results.csv",
    "sft_ablation": "table3_sft_ablation.csv",
    "hyperparameters": "table5_hyperparameters.csv",
    "inconsistencies": "inconsistencies.csv",
}


def paper_table_source(name: str) -> str:
    """The source line (first line, after '# ') of a paper data file."""
    text = resources.files("infimed_lib.resources.paper").joinpath(TABLES[name]).read_text(encoding="utf-8")
    return text.splitlines()[0].lstrip("# ").strip()


def load_paper_table(name: str) -> pd.DataFrame:
    """One of ``main_results`` (Table 2), ``sft_ablation`` (Table 3), ``hyperparameters`` (Table 5),
    ``inconsistencies``, as a DataFrame."""
    if name not in TABLES:
        raise ValueError(f"unknown paper table {name!r}; known: {sorted(TABLES)}")
    with resources.files("infimed_lib.resources.paper").joinpath(TABLES[name]).open(encoding="utf-8") as handle:
        return pd.read_csv(handle, comment="#")


def ablation_label(row: pd.Series) -> str:
    """'1', '1+2', '1+3', '1+2+3' from the stage flags of a Table 3 row."""
    return "+".join(str(i) for i in (1, 2, 3) if bool(row[f"stage{i}"]))


def plot_main_results(table: pd.DataFrame, ax=None):
    """Average score per model (Table 2), grouped and coloured by model group, ours highlighted."""
    ax = ax or plt.subplots(figsize=(8, 5.5))[1]
    ordered = table.sort_values("Avg.")
    colors = {"proprietary": "#9e9e9e", "general open-source": "#64b5f6", "medical open-source": "#81c784"}
    bar_colors = ["#d84315" if ours else colors[g] for g, ours in zip(ordered["group"], ordered["ours"])]
    ax.barh(ordered["model"], ordered["Avg."], color=bar_colors)
    for y, value in enumerate(ordered["Avg."]):
        ax.text(value + 0.5, y, f"{value:.1f}", va="center", fontsize=8)
    ax.set_xlabel("average accuracy over 7 benchmarks (%)")
    ax.set_title("Paper Table 2: average score (InfiMed in orange)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in [*colors.values(), "#d84315"]]
    ax.legend(handles, [*colors, "InfiMed (paper)"], loc="lower right", fontsize=8)
    return ax


def plot_benchmark_heatmap(table: pd.DataFrame, ax=None):
    """Per-benchmark accuracy of every model of Table 2 as a heat map."""
    ax = ax or plt.subplots(figsize=(9, 6))[1]
    values = table.set_index("model")[BENCHMARK_COLUMNS]
    image = ax.imshow(values.to_numpy(), cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(BENCHMARK_COLUMNS)), BENCHMARK_COLUMNS, rotation=30, ha="right")
    ax.set_yticks(range(len(values)), values.index)
    for (i, j), value in pd.DataFrame(values.to_numpy()).stack().items():
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                color="white" if value < values.to_numpy().mean() else "black")
    ax.figure.colorbar(image, ax=ax, label="accuracy (%)")
    ax.set_title("Paper Table 2: accuracy per benchmark (%)")
    return ax


def plot_ablation(table: pd.DataFrame, ours: pd.DataFrame | None = None, ax=None):
    """Table 3 (SFT-stage ablation) as one line per stage combination; ``ours`` dashed beside it."""
    ax = ax or plt.subplots(figsize=(9, 4.5))[1]
    columns = BENCHMARK_COLUMNS + ["Avg."]
    for frame, style, suffix in ((table, "-", " (paper)"), (ours, "--", " (ours)")):
        if frame is None:
            continue
        for _, row in frame.iterrows():
            present = [c for c in columns if c in row and pd.notna(row[c])]
            ax.plot(present, [row[c] for c in present], style, marker="o", label=ablation_label(row) + suffix)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("SFT-stage ablation (paper Table 3)")
    ax.legend(title="SFT stages", fontsize=8, ncol=2)
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_pipeline(ax=None):
    """The pipeline of the book as boxes and arrows: one chapter per step."""
    steps = ["raw data\n(loaders)", "curation\n01", "stage\nmixtures", "packing\n02", "model\n03",
             "pretraining\n04", "SFT 1-3\n05-07", "evaluation\n08", "ablation\n09"]
    ax = ax or plt.subplots(figsize=(12, 1.8))[1]
    for index, label in enumerate(steps):
        ax.text(index * 1.35, 0, label, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc="#e3f2fd", ec="#1565c0"))
        if index:
            ax.annotate("", xy=(index * 1.35 - 0.5, 0), xytext=(index * 1.35 - 0.85, 0),
                        arrowprops=dict(arrowstyle="->", color="#1565c0"))
    ax.set_xlim(-0.7, len(steps) * 1.35 - 0.6)
    ax.set_ylim(-0.6, 0.6)
    ax.axis("off")
    return ax


def check_reported_averages(table: pd.DataFrame, tolerance: float = 0.051) -> pd.DataFrame:
    """Rows whose printed 'Avg.' differs from the mean of their seven scores by more than rounding."""
    recomputed = table[BENCHMARK_COLUMNS].mean(axis=1)
    frame = table.assign(**{"mean of 7": recomputed.round(2), "difference": (table["Avg."] - recomputed).round(2)})
    label = "model" if "model" in frame else None
    if label is None:
        frame = frame.assign(model=["SFT " + ablation_label(r) for _, r in frame.iterrows()])
    return frame.loc[frame["difference"].abs() > tolerance, ["model", "Avg.", "mean of 7", "difference"]]
