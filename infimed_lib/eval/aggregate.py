"""Benchmark scores from scored records: per benchmark, question type, modality and language.

Chapter 08 (evaluation) reads these numbers; Chapter 09 compares them with the paper's
Tables 2 and 3. Each benchmark's score is the share of its questions judged correct
(every question counted once, whatever rule or judge decided it), and the paper's "Avg." is
the plain mean of the benchmark scores, not a mean over questions.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmarks import BENCHMARKS

_REQUIRED = ("benchmark", "question_type", "correct")
_OPEN_METRICS = ("exact_match", "precision", "recall", "f1", "bleu1")


def _frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    rows = list(records)
    if not rows:
        raise ParameterError("records", "is empty; score at least one item first")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ParameterError("records", f"record {index} is a {type(row).__name__}, not a dict")
        missing = [key for key in _REQUIRED if key not in row]
        if missing:
            raise ParameterError("records", f"record {index} lacks {missing}")
        if not isinstance(row["correct"], bool):
            raise ParameterError("records", f"record {index}: 'correct' is {row['correct']!r}, not a bool")
    frame = pd.DataFrame(rows)
    for column, default in (("modality", ""), ("lang", "en"), ("verdict", None)):
        if column not in frame:
            frame[column] = default
    frame["modality"] = frame["modality"].fillna("").astype(str)
    frame["lang"] = frame["lang"].fillna("en").astype(str)
    return frame


def _counts(frame: pd.DataFrame) -> dict[str, Any]:
    n, right = len(frame), int(frame["correct"].sum())
    return {"n": n, "correct": right, "accuracy": right / n}


def _breakdown(frame: pd.DataFrame, column: str) -> dict[str, dict[str, Any]]:
    return {str(key): _counts(group) for key, group in frame.groupby(column, sort=True)}


def _benchmark_summary(frame: pd.DataFrame) -> dict[str, Any]:
    summary = _counts(frame)
    summary["unanswered"] = int((frame["verdict"] == "unanswered").sum())
    summary["by_question_type"] = _breakdown(frame, "question_type")
    if (frame["modality"] != "").any():
        summary["by_modality"] = _breakdown(frame, "modality")
    if frame["lang"].nunique() > 1:
        summary["by_lang"] = _breakdown(frame, "lang")
    open_rows = frame[frame["question_type"] == "open"]
    if len(open_rows):
        means = {m: float(open_rows[m].mean()) for m in _OPEN_METRICS if m in open_rows}
        judged = int(open_rows["judge"].notna().sum()) if "judge" in open_rows else 0
        summary["open"] = {"n": len(open_rows), "judged": judged, **means}
    return summary


def _canonical_order(names: Iterable[str]) -> list[str]:
    names = set(names)  # the registry fixes the paper's column order; unknown names follow, sorted
    return [b for b in BENCHMARKS if b in names] + sorted(names - set(BENCHMARKS))


def aggregate(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Scores from :func:`~infimed_lib.eval.scoring.score_item` records (Chapter 08).

    Returns ``{"benchmarks": {name: {n, correct, accuracy, unanswered, by_question_type,
    by_modality?, by_lang?, open?}}, "by_question_type": ..., "order": [names],
    "average": plain mean of the benchmark accuracies, "n": questions}``. Accuracies are
    fractions in [0, 1]; multiply by 100 for the paper's tables.
    """
    frame = _frame(records)
    order = _canonical_order(frame["benchmark"].astype(str).unique())
    benchmarks = {name: _benchmark_summary(frame[frame["benchmark"] == name]) for name in order}
    return {
        "benchmarks": benchmarks,
        "by_question_type": _breakdown(frame, "question_type"),
        "order": order,
        "average": sum(b["accuracy"] for b in benchmarks.values()) / len(benchmarks),
        "n": len(frame),
    }
