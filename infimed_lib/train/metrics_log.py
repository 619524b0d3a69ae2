"""Per-step training metrics (``metrics.jsonl``) and the stage summary (``summary.json``).

Chapters 04-07 plot the loss curve and the throughput from these files.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from infimed_lib.common import atomic_write_jsonl, read_jsonl

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
COLUMNS = ["step", "epoch", "loss", "lr", "grad_norm", "tokens", "non_pad_tokens", "label_tokens",
           "tokens_per_s", "non_pad_tokens_per_s", "step_time_s", "elapsed_s"]


class MetricsLog:
    """Appends one JSON line per optimizer step, flushed at once.

    The file grows while the stage runs (a notebook or ``tail -f`` can follow it; a crash keeps
    the curve so far). On resume, ``truncate(step)`` rewrites it atomically without the rows
    after the checkpoint, so the resumed run continues it without duplicates.
    """

    def __init__(self, path: str | Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def reset(self) -> None:
        if self.enabled:
            atomic_write_jsonl(self.path, [])

    def truncate(self, step: int) -> None:
        if self.enabled:
            rows = read_jsonl(self.path) if self.path.exists() else []
            atomic_write_jsonl(self.path, [r for r in rows if r["step"] <= step])

    def append(self, row: dict) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row, sort_keys=True) + "\n")
                handle.flush()


def load_metrics(path: str | Path) -> pd.DataFrame:
    """A stage's per-step metrics as a DataFrame (``path``: the file or the stage folder).

    Chapters 04-07 plot ``loss`` and ``lr`` against ``step`` from it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no training metrics at {path}")
    rows = read_jsonl(path)
    frame = pd.DataFrame(rows, columns=COLUMNS if not rows else None)
    steps = frame["step"].tolist() if rows else []
    if len(set(steps)) != len(steps):
        raise ValueError(f"{path}: duplicate steps; the file was not written by one run")
    return frame.sort_values("step").reset_index(drop=True) if rows else frame


def summarize(frame: pd.DataFrame, extra: dict | None = None) -> dict:
    """The numbers a chapter quotes: first/last loss, steps, tokens, wall time, throughput."""
    if frame.empty:
        raise ValueError("no training steps were logged")
    busy = float(frame["step_time_s"].sum())
    summary = {
        "steps": int(frame["step"].iloc[-1]),
        "first_loss": float(frame["loss"].iloc[0]),
        "last_loss": float(frame["loss"].iloc[-1]),
        "min_loss": float(frame["loss"].min()),
        "tokens": int(frame["tokens"].sum()),
        "non_pad_tokens": int(frame["non_pad_tokens"].sum()),
        "label_tokens": int(frame["label_tokens"].sum()),
        "wall_time_s": float(frame["elapsed_s"].iloc[-1]),
        "mean_step_time_s": busy / len(frame),
        "tokens_per_s": float(frame["tokens"].sum()) / busy if busy > 0 else 0.0,
        "non_pad_tokens_per_s": float(frame["non_pad_tokens"].sum()) / busy if busy > 0 else 0.0,
        "pad_fraction": 1.0 - float(frame["non_pad_tokens"].sum()) / max(1, int(frame["tokens"].sum())),
    }
    return {**summary, **(extra or {})}
