"""A GRPO run's summary from its per-step metrics (``metrics.jsonl``). Chapter 10.

Single steps are noisy (a few questions each), so "first" and "last" are means over the first
and last ``window`` steps (a fifth of the run, at least one step).
"""
from __future__ import annotations

import pandas as pd

METRIC_COLUMNS = ("reward", "correct", "format", "answer_tokens", "kl", "clip_fraction", "flat_groups")


def edge_means(frame: pd.DataFrame, column: str, window: int | None = None) -> tuple[float, float]:
    """Mean of ``column`` over the first and the last ``window`` steps (default: a fifth of the run)."""
    if frame.empty:
        raise ValueError("no steps were logged")
    window = window or max(1, len(frame) // 5)
    return float(frame[column].iloc[:window].mean()), float(frame[column].iloc[-window:].mean())


def summarize_rl(frame: pd.DataFrame, extra: dict | None = None) -> dict:
    """``first_<metric>``/``last_<metric>`` for the logged metrics, steps, answers and wall time (Chapter 10)."""
    summary = {"steps": int(frame["step"].iloc[-1]), "answers": int(frame["answers"].sum()),
               "wall_time_s": float(frame["elapsed_s"].iloc[-1]),
               "mean_step_time_s": float(frame["step_time_s"].mean()),
               "mean_clip_fraction": float(frame["clip_fraction"].mean())}
    for column in METRIC_COLUMNS:
        summary[f"first_{column}"], summary[f"last_{column}"] = edge_means(frame, column)
    return {**summary, **(extra or {})}
