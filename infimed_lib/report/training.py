"""Figures and tables of the training chapters (04-07): loss curves, schedules, throughput."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from infimed_lib.train.metrics_log import load_metrics


def smoothed(values: pd.Series, window: int) -> pd.Series:
    """Centred rolling mean, so a noisy small-batch curve shows its trend."""
    return values.rolling(max(1, window), min_periods=1, center=True).mean()


def plot_training(frame: pd.DataFrame, title: str, ax=None):
    """Loss per optimizer step (raw and smoothed) with the learning rate on a second axis."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    window = max(1, len(frame) // 15)
    ax.plot(frame["step"], frame["loss"], color="#90caf9", lw=1, label="loss")
    ax.plot(frame["step"], smoothed(frame["loss"], window), color="#1565c0", lw=2,
            label=f"loss, rolling mean of {window}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (nats per label token)")
    ax.set_title(title)
    lr_ax = ax.twinx()
    lr_ax.plot(frame["step"], frame["lr"], color="#ef6c00", lw=1, ls="--", label="learning rate")
    lr_ax.set_ylabel("learning rate")
    lines = ax.get_lines() + lr_ax.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    return ax


def loss_drop(frame: pd.DataFrame, fraction: float = 0.1) -> dict:
    """Mean loss over the first and last ``fraction`` of steps (robust to single noisy steps)."""
    count = max(1, int(np.ceil(len(frame) * fraction)))
    first, last = float(frame["loss"].head(count).mean()), float(frame["loss"].tail(count).mean())
    return {"first_loss": first, "last_loss": last, "relative_drop": (first - last) / first,
            "steps_averaged": count}


def plot_stages(frames: dict[str, pd.DataFrame], ax=None):
    """All stages' smoothed loss curves one after the other on a shared step axis."""
    ax = ax or plt.subplots(figsize=(10, 4))[1]
    offset = 0
    for name, frame in frames.items():
        window = max(1, len(frame) // 15)
        ax.plot(frame["step"] + offset, smoothed(frame["loss"], window), lw=2, label=name)
        offset += int(frame["step"].max())
        ax.axvline(offset, color="#bdbdbd", lw=0.8)
    ax.set_xlabel("optimizer step (all stages)")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    return ax


def plot_throughput(table: pd.DataFrame, value: str, label: str, title: str, ax=None):
    """A bar per setting of a throughput comparison (e.g. packed vs padded)."""
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    bars = ax.bar(table.iloc[:, 0].astype(str), table[value], color=["#1565c0", "#ef6c00", "#2e7d32"][: len(table)])
    for bar, number in zip(bars, table[value]):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{number:,.1f}", ha="center", va="bottom")
    ax.set_ylabel(label)
    ax.set_title(title)
    return ax


def stage_outcome(result, title: str):
    """A finished stage's metrics, its loss drop and its loss-curve figure (saved as loss.png).

    Chapters 04-07 show every stage the same way; returns ``(frame, drop, ax)``.
    """
    frame = load_metrics(result.metrics_path)
    ax = plot_training(frame, title)
    ax.figure.savefig(f"{result.output_dir}/loss.png", bbox_inches="tight", dpi=110)
    return frame, loss_drop(frame), ax
