"""Chapter 10's figures and tables: training curves, held-out accuracy with intervals, answers
before and after, and the InfiMed RL paper's reported numbers beside ours.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources

import matplotlib.pyplot as plt
import pandas as pd

from infimed_lib.eval.extract import parse_response
from infimed_lib.eval.scoring import gold_yes_no
from infimed_lib.eval.text_metrics import normalize_answer
from infimed_lib.eval.uncertainty import margin_interval, record_verdicts
from infimed_lib.rl.rewards import reward
from infimed_lib.train.metrics_log import load_metrics

PAPER_FILE = "infimed_rl_model_card.csv"
CURVES = {"reward": "reward (mean over the step's answers)", "answer_tokens": "answer length (tokens)",
          "kl": "KL to the start (k3, per token)"}


def paper_rl_table() -> pd.DataFrame:
    """InfiMed-SFT-3B and InfiMed-RL-3B per benchmark (%), from the data file and its source line (Chapter 10)."""
    with resources.files("infimed_lib.resources.paper").joinpath(PAPER_FILE).open(encoding="utf-8") as handle:
        return pd.read_csv(handle, comment="#").set_index("model")


def paper_rl_source() -> str:
    """The source line of the paper data file."""
    text = resources.files("infimed_lib.resources.paper").joinpath(PAPER_FILE).read_text(encoding="utf-8")
    return text.splitlines()[0].lstrip("# ").strip()


def paper_rl_gain() -> float:
    """InfiMed-RL-3B's average minus InfiMed-SFT-3B's, in points (Chapter 10)."""
    table = paper_rl_table()
    return float(table.loc["InfiMed-RL-3B", "Avg."] - table.loc["InfiMed-SFT-3B", "Avg."])


def training_frames(runs: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Per-step metrics of each run folder, by label."""
    return {label: load_metrics(folder) for label, folder in runs.items()}


def plot_training(frames: Mapping[str, pd.DataFrame], window: int = 3):
    """Reward, answer length and KL per step for each run: dots per step, line = rolling mean (Chapter 10)."""
    fig, axes = plt.subplots(1, len(CURVES), figsize=(13, 3.6))
    for (column, label), ax in zip(CURVES.items(), axes):
        for (name, frame), color in zip(frames.items(), ("#1f77b4", "#d84315", "#2e7d32")):
            ax.plot(frame["step"], frame[column], "o", color=color, alpha=0.3, markersize=3)
            ax.plot(frame["step"], frame[column].rolling(window, min_periods=1).mean(), color=color, label=name)
        ax.set_xlabel("GRPO step")
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy(table: pd.DataFrame, chance: float | None = None, title: str = "Held-out closed questions"):
    """Macro accuracy of each model with its 95% bootstrap interval (``rl.evaluate.accuracy_table``),
    and the chance level as a dashed line."""
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(table) + 1.2))
    rows = list(range(len(table)))[::-1]
    if chance is not None:
        ax.axvline(chance, color="gray", linestyle="--", linewidth=1, label=f"chance ({chance:.1f})")
        ax.legend(fontsize=8, loc="lower right")
    ax.errorbar(table["accuracy"], rows, xerr=[table["accuracy"] - table["low"], table["high"] - table["accuracy"]],
                fmt="o", color="#1f77b4", capsize=4)
    for y, (accuracy, low, high) in zip(rows, table[["accuracy", "low", "high"]].itertuples(index=False)):
        ax.text(high + 1, y, f"{accuracy:.1f} [{low:.1f}, {high:.1f}]", va="center", fontsize=8)
    ax.set_yticks(rows, table.index)
    ax.set_xlim(0, 100)
    ax.set_xlabel("macro accuracy over the four question families (%)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def answer_examples(predictions: Mapping[str, Sequence[dict]], count: int = 6, width: int = 70) -> pd.DataFrame:
    """Held-out questions where the models' verdicts differ, taken from each question family in
    turn, with each model's answer (✓ correct, ✗ wrong): the table shows what changed (Chapter 10)."""
    names = list(predictions)
    first = predictions[names[0]]
    by_family: dict[str, list[int]] = {}
    for i, record in enumerate(first):
        if len({predictions[n][i]["correct"] for n in names}) > 1:
            by_family.setdefault(record["benchmark"], []).append(i)
    chosen = []
    while len(chosen) < count and any(by_family.values()):
        for family in list(by_family):
            if by_family[family] and len(chosen) < count:
                chosen.append(by_family[family].pop(0))
    rows = []
    for index in chosen:
        row = {"question": str(first[index].get("question", ""))[:width], "gold": first[index]["gold"]}
        for name in names:
            record = predictions[name][index]
            row[name] = ("✓ " if record["correct"] else "✗ ") + record["response"][:width]
        rows.append(row)
    return pd.DataFrame(rows)


def answer_concentration(records: Sequence[dict]) -> tuple[str | None, float]:
    """The most common answer a model commits to on yes/no questions, and its share (Chapter 10).

    Half the gold answers are yes and half no, so a share near 1 means the answer ignores the image.
    """
    said = pd.Series([r["extracted"] for r in records if r["question_type"] == "yes_no"], dtype=object)
    if said.empty:
        return None, 0.0
    counts = said.fillna("(none)").value_counts()
    return str(counts.index[0]), float(counts.iloc[0] / len(said))


def set_overview(sets: Mapping[str, Sequence]) -> pd.DataFrame:
    """Questions per set and benchmark family (Chapter 10)."""
    counts = {name: pd.Series([t.benchmark for t in tasks]).value_counts() for name, tasks in sets.items()}
    return pd.DataFrame(counts).fillna(0).astype(int).rename_axis("family")


def reward_examples(task, responses: Sequence[str], format_weight: float = 0.1) -> pd.DataFrame:
    """The reward of each candidate response to one task, with its two parts (Chapter 10)."""
    rows = [{"response": text, **reward(task, text, format_weight)} for text in responses]
    return pd.DataFrame(rows, columns=["response", "correct", "format", "reward"])


def rl_effects(predictions: Mapping[str, Sequence[dict]], pairs: Mapping[str, tuple[str, str]],
               seed: int = 0) -> pd.DataFrame:
    """Paired-bootstrap differences in macro accuracy (points, 95% interval) for named (after, before)
    pairs of models, each read against its noise (Chapter 10)."""
    rows = []
    for name, (after, before) in pairs.items():
        interval = margin_interval(record_verdicts(predictions[after]), record_verdicts(predictions[before]), seed=seed)
        rows.append({"comparison": name, "change": interval.estimate, "low": interval.low, "high": interval.high,
                     "reading": noise_reading(interval.low, interval.high)})
    return pd.DataFrame(rows).set_index("comparison")


def noise_reading(low: float, high: float) -> str:
    """How a difference's 95% interval reads: a gain, a loss, or within the noise (Chapter 10)."""
    if low > 0:
        return "a gain: the whole interval lies above zero"
    if high < 0:
        return "a loss: the whole interval lies below zero"
    return "within the noise: the interval includes zero"


def chance_reading(low: float, high: float, chance: float) -> str:
    """Where an accuracy's 95% interval lies against the chance level (Chapter 10)."""
    if low > chance:
        return "above chance"
    if high < chance:
        return "below chance: it often commits to no answer the rules can read"
    return "at chance: its interval includes the chance level"


def concentration_reading(share: float) -> str:
    """How to read the share of a model's yes/no answers that are its most common one (Chapter 10)."""
    if share >= 0.8:
        return "nearly always the same answer, whatever the image"
    if share >= 0.65:
        return "leaning strongly towards one answer"
    return "spread over both answers"


def yes_no_elsewhere(records: Sequence[dict]) -> float:
    """Share of the questions that are *not* yes/no questions (multiple choice, two named
    alternatives) which a model answers with a plain yes or no: an answer that fits no option,
    learned from the many yes/no questions it was rewarded on (Chapter 10)."""
    others = [r for r in records if r["question_type"] != "yes_no" and gold_yes_no(str(r["gold"])) is None]
    if not others:
        return 0.0
    said = [normalize_answer(parse_response(r["response"])) in ("yes", "no") for r in others]
    return sum(said) / len(others)


def yes_no_share(tasks: Sequence) -> float:
    """Share of tasks whose gold answer is yes or no (是/否 included) (Chapter 10)."""
    return sum(gold_yes_no(str(t.answer)) is not None for t in tasks) / max(len(tasks), 1)


def unanswered(records: Sequence[dict]) -> float:
    """Share of answers that commit to nothing the evaluation's rules can read (Chapter 10)."""
    return sum(r["verdict"] == "unanswered" for r in records) / max(len(records), 1)
