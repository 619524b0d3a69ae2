"""Our SFT-stage ablation and model comparison, in the layout of the paper's Tables 3 and 2.

Chapter 09 (ablation and case studies) runs the four SFT combinations of the paper's section
5.3 from one pretrained checkpoint -- stage 1; 1+2; 1+3; 1+2+3 -- and puts our scores beside the
paper's. Miniature scores are not comparable with the paper's in level (other data, other
model size), so besides the two tables this module measures what *can* be compared: the
direction in which adding a stage moves each benchmark (:func:`effect_agreement`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from infimed_lib.common import ParameterError
from infimed_lib.eval.uncertainty import closed_verdicts
from infimed_lib.eval.uncertainty import macro_interval
from infimed_lib.eval.uncertainty import margin_interval
from infimed_lib.report.paper import BENCHMARK_COLUMNS, BENCHMARK_TO_COLUMN, ablation_label, load_paper_table

COMBINATIONS = ("1", "1+2", "1+3", "1+2+3")
COLUMNS = BENCHMARK_COLUMNS + ["Avg."]
# The comparisons the paper's section 5.3 draws, as (from, to) rows of Table 3.
EFFECTS = {
    "+ stage 2 (1 → 1+2)": ("1", "1+2"),
    "+ stage 3 (1 → 1+3)": ("1", "1+3"),
    "+ stage 3 after 2 (1+2 → 1+2+3)": ("1+2", "1+2+3"),
    "+ stage 2 after 3 (1+3 → 1+2+3)": ("1+3", "1+2+3"),
}
# Paper rows shown beside ours in the Table 2 comparison: our two models, the size-matched
# general model, and the oldest medical baseline.
DEFAULT_PAPER_MODELS = ("InfiMed-Foundation-4B", "InfiMed-Foundation-1.7B", "Qwen2.5VL-3B", "LLaVA-Med-7B")


def _scores_row(scores: Mapping[str, Any], where: str) -> dict[str, float]:
    if not isinstance(scores, Mapping) or "benchmarks" not in scores or "average" not in scores:
        raise ParameterError(where, "expected a scores dict (scores.json) with 'benchmarks' and 'average'")
    row = {column: np.nan for column in COLUMNS}
    for bench, entry in scores["benchmarks"].items():
        if bench not in BENCHMARK_TO_COLUMN:
            raise ParameterError(where, f"benchmark {bench!r} has no column in the paper's tables")
        row[BENCHMARK_TO_COLUMN[bench]] = 100.0 * entry["accuracy"]
    row["Avg."] = 100.0 * scores["average"]
    return row


def percent_row(scores: Mapping[str, Any]) -> pd.Series:
    """One model's accuracy (%) in the paper's columns (seven benchmarks, ``Avg.``); NaN where not run (Chapter 09)."""
    return pd.Series(_scores_row(scores, "scores"), index=COLUMNS, dtype=float)


def ablation_table(scores: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Our Table 3: one row per SFT combination ("1", "1+2", "1+3", "1+2+3"), accuracy in % (Chapter 09).

    Columns as the paper's: ``stage1, stage2, stage3``, the seven benchmarks, ``Avg.`` (the
    plain mean over the benchmarks we evaluated). A benchmark we did not evaluate is NaN.
    """
    unknown = [label for label in scores if label not in COMBINATIONS]
    if unknown or not scores:
        raise ParameterError("scores", f"keys must be SFT combinations {list(COMBINATIONS)}, got {list(scores)}")
    rows = []
    for label in (c for c in COMBINATIONS if c in scores):
        flags = {f"stage{i}": str(i) in label.split("+") for i in (1, 2, 3)}
        rows.append({**flags, **_scores_row(scores[label], f"scores[{label!r}]")})
    return pd.DataFrame(rows, columns=["stage1", "stage2", "stage3", *COLUMNS])


def _by_label(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(combination=[ablation_label(row) for _, row in table.iterrows()]).set_index("combination")


def ablation_side_by_side(ours: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Paper and ours, one row per combination, columns ``(benchmark, "paper" | "ours")`` (Chapter 09)."""
    paper = load_paper_table("sft_ablation") if paper is None else paper
    both = pd.concat({"paper": _by_label(paper)[COLUMNS], "ours": _by_label(ours)[COLUMNS]}, axis=1)
    both = both.swaplevel(axis=1)[[(c, s) for c in COLUMNS for s in ("paper", "ours")]]
    return both.reindex([c for c in COMBINATIONS if c in both.index])


def stage_effects(table: pd.DataFrame) -> pd.DataFrame:
    """Change in accuracy (points) for each stage comparison of the paper's section 5.3 (Chapter 09)."""
    rows = _by_label(table)[COLUMNS]
    effects = {name: rows.loc[to] - rows.loc[start] for name, (start, to) in EFFECTS.items()
               if start in rows.index and to in rows.index}
    return pd.DataFrame.from_dict(effects, orient="index")[COLUMNS]


def effect_agreement(ours: pd.DataFrame, paper: pd.DataFrame | None = None, tolerance: float = 0.0) -> pd.DataFrame:
    """Per stage comparison and benchmark: the paper's and our change, and whether they agree (Chapter 09).

    A change within ``tolerance`` points counts as "no change"; two changes agree when they
    have the same sign (both up, both down, or both unchanged).
    """
    paper_effects = stage_effects(load_paper_table("sft_ablation") if paper is None else paper)
    our_effects = stage_effects(ours)
    rows = []
    for effect in our_effects.index.intersection(paper_effects.index, sort=False):
        for column in COLUMNS:
            mine, theirs = our_effects.at[effect, column], paper_effects.at[effect, column]
            if pd.isna(mine):
                continue
            sign = [0 if abs(x) <= tolerance else int(np.sign(x)) for x in (theirs, mine)]
            rows.append({"effect": effect, "benchmark": column, "paper Δ": theirs, "ours Δ": mine,
                         "same direction": sign[0] == sign[1]})
    return pd.DataFrame(rows, columns=["effect", "benchmark", "paper Δ", "ours Δ", "same direction"])


def plot_ablation_comparison(ours: pd.DataFrame, paper: pd.DataFrame | None = None,
                             baseline: Mapping[str, float] | None = None, baseline_label: str = "majority class"):
    """Grouped bars per benchmark for the four combinations: the paper (top) and ours (bottom) (Chapter 09).

    ``baseline`` (column -> accuracy %, e.g. one row of :func:`main_results_table`) is drawn
    over our bars as black ticks, since miniature scores mean little without their floor.
    """
    paper = load_paper_table("sft_ablation") if paper is None else paper
    fig, axes = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    colors = dict(zip(COMBINATIONS, ("#90caf9", "#42a5f5", "#ffb74d", "#d84315")))
    x = np.arange(len(COLUMNS))
    width = 0.8 / len(COMBINATIONS)
    for ax, (title, table) in zip(axes, (("paper, Table 3 (4B model)", paper), ("ours (miniature run)", ours))):
        rows = _by_label(table)
        for k, label in enumerate(c for c in COMBINATIONS if c in rows.index):
            values = rows.loc[label, COLUMNS].astype(float).to_numpy()
            ax.bar(x + (k - 1.5) * width, values, width, label=f"SFT {label}", color=colors[label])
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    if baseline is not None:
        values = [float(baseline.get(column, np.nan)) for column in COLUMNS]
        axes[1].hlines(values, x - 0.45, x + 0.45, colors="black", linewidth=2, label=baseline_label)
        axes[1].legend(fontsize=8, loc="upper right")
    axes[0].legend(ncol=4, fontsize=8, loc="upper right")
    axes[1].set_xticks(x, COLUMNS, rotation=30, ha="right")
    fig.tight_layout()
    return fig


def main_results_table(ours: Mapping[str, Mapping[str, Any]], paper_models: Sequence[str] = DEFAULT_PAPER_MODELS,
                       paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """A Table 2-style comparison: our models and baselines, then the paper's chosen rows (Chapter 09).

    ``ours`` maps a row name (e.g. "SFT 1+2+3", "pretrained only", "majority class") to its
    scores. Columns: ``model, source, <seven benchmarks>, Avg.``; our rows say "ours (miniature)".
    """
    paper = load_paper_table("main_results") if paper is None else paper
    missing = [m for m in paper_models if m not in set(paper["model"])]
    if missing:
        raise ParameterError("paper_models", f"{missing} are not rows of the paper's Table 2")
    rows = [{"model": name, "source": "ours (miniature)", **_scores_row(s, f"ours[{name!r}]")} for name, s in ours.items()]
    chosen = paper.set_index("model").loc[list(paper_models)]
    rows += [{"model": name, "source": "paper", **chosen.loc[name, COLUMNS].to_dict()} for name in paper_models]
    return pd.DataFrame(rows, columns=["model", "source", *COLUMNS])


def plot_main_comparison(table: pd.DataFrame):
    """Per-benchmark accuracy of every row of :func:`main_results_table`, ours solid, paper's hollow (Chapter 09)."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for _, row in table.iterrows():
        ours = row["source"] != "paper"
        ax.plot(COLUMNS, row[COLUMNS].astype(float).to_numpy(), "-" if ours else "--", marker="o",
                markerfacecolor=None if ours else "white", label=f"{row['model']} ({row['source']})")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Our models and baselines beside the paper's Table 2 rows")
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_loss_comparison(frames: Mapping[str, pd.DataFrame], window: int | None = None):
    """Training loss per step of several runs on one axis, smoothed (Chapter 09: stage 3 after 1+2 vs after 1)."""
    fig, ax = plt.subplots(figsize=(9, 4))
    for label, frame in frames.items():
        if frame.empty:
            raise ParameterError("frames", f"run {label!r} logged no steps")
        span = window or max(1, len(frame) // 15)
        ax.plot(frame["step"], frame["loss"].rolling(span, min_periods=1, center=True).mean(), label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (rolling mean)")
    ax.set_title("The same stage-3 data and settings, from two starting checkpoints")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def macro_standard_error(scores: Mapping[str, Any]) -> float:
    """Standard error (points) of the plain mean of benchmark accuracies, from each one's n (Chapter 09).

    Each benchmark's accuracy is a proportion over its ``n`` questions, with binomial standard
    error sqrt(p (1 - p) / n); the mean of B independent benchmarks has sqrt(sum SE^2) / B.
    Differences between two runs' averages of less than about twice this are within noise.
    """
    _scores_row(scores, "scores")  # validates the shape
    benches = list(scores["benchmarks"].values())
    variances = [b["accuracy"] * (1 - b["accuracy"]) / b["n"] for b in benches]
    return 100.0 * float(np.sqrt(sum(variances))) / len(variances)


def combination_intervals(predictions: Mapping[str, Mapping[str, str | Path]], baseline: str = "majority class",
                          seed: int = 0) -> pd.DataFrame:
    """Closed-question macro accuracy of each model with its 95% interval, and its margin over ``baseline`` (Chapter 09).

    ``predictions`` maps a model label to its ``{benchmark: predictions file}`` (an ``EvalResult``'s
    ``predictions``) and must include ``baseline``. Intervals are chapter 08's stratified bootstrap
    (`eval.uncertainty`); the margin is paired, question by question.
    """
    if baseline not in predictions:
        raise ParameterError("baseline", f"{baseline!r} is not among the models {sorted(predictions)}")
    verdicts = {label: closed_verdicts(files) for label, files in predictions.items()}
    rows = []
    for label, answers in verdicts.items():
        accuracy, margin = macro_interval(answers, seed=seed), margin_interval(answers, verdicts[baseline], seed=seed)
        rows.append({"model": label, "closed macro (%)": accuracy.estimate, "low (%)": accuracy.low,
                     "high (%)": accuracy.high, f"margin over {baseline} (points)": margin.estimate,
                     "margin low": margin.low, "margin high": margin.high})
    return pd.DataFrame(rows)


def effect_intervals(predictions: Mapping[str, Mapping[str, str | Path]], seed: int = 0) -> pd.DataFrame:
    """Each stage comparison of the paper's section 5.3 as a paired closed-macro difference with its 95% interval (Chapter 09).

    A comparison whose interval contains 0 is not an effect this benchmark size can show.
    """
    verdicts = {label: closed_verdicts(files) for label, files in predictions.items()}
    rows = []
    for name, (start, to) in EFFECTS.items():
        if start in verdicts and to in verdicts:
            change = margin_interval(verdicts[to], verdicts[start], seed=seed)
            rows.append({"comparison": name, "change (points)": change.estimate, "low": change.low,
                         "high": change.high, "beyond noise": not change.low <= 0 <= change.high})
    if not rows:
        raise ParameterError("predictions", f"need at least one pair of {list(COMBINATIONS)}")
    return pd.DataFrame(rows)
