"""How often each rule set agrees with a careful human grade (Chapter 08).

A graded table holds responses a person has read and graded ``correct``, ``incorrect`` (commits
to another answer) or ``unanswered`` (commits to none, or to two). Scoring each row under
``strict`` and ``medevalkit`` and comparing "correct or not" with the human grade measures what
each rule set's accuracy is worth: MedEvalKit's number is the one comparable with the paper,
``strict``'s the one that says what the model answered. The repository's table is
``tests/data/graded_responses.csv`` (written before the strict rules were tuned).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from infimed_lib.common import ParameterError, require_path
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.eval.scoring import RULES, VERDICTS, score_item

__all__ = ["GRADED_COLUMNS", "graded_item", "load_graded", "rule_agreement", "rule_disagreements", "score_graded"]

GRADED_COLUMNS = ("case", "benchmark", "question_type", "lang", "question", "options", "gold", "response", "human")


def load_graded(path: str | Path) -> list[dict[str, str]]:
    """Rows of a graded CSV (columns :data:`GRADED_COLUMNS`, plus an optional ``note``), checked (Chapter 08)."""
    path = require_path("graded_path", path, "file")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in GRADED_COLUMNS if column not in table.columns]
    if missing:
        raise ParameterError("graded_path", f"{path} lacks column(s) {missing}")
    rows = table.to_dict("records")
    for number, row in enumerate(rows, 2):  # line 1 is the header
        if row["human"] not in VERDICTS:
            raise ParameterError("graded_path", f"{path} line {number}: human grade {row['human']!r} is not one of "
                                                f"{list(VERDICTS)}")
    if len({row["case"] for row in rows}) != len(rows):
        raise ParameterError("graded_path", f"{path}: case ids repeat")
    return rows


def graded_item(row: Mapping[str, str]) -> BenchmarkItem:
    """The benchmark item a graded row asks about (no image: verdicts never look at one)."""
    try:
        options = json.loads(row["options"]) if row["options"] else {}
    except json.JSONDecodeError as error:
        raise ParameterError("graded_path", f"case {row['case']}: options is not JSON ({error})") from None
    return BenchmarkItem(benchmark=row["benchmark"], id=row["case"], question=row["question"], options=options,
                         answer=row["gold"], question_type=row["question_type"], lang=row["lang"] or "en")


def score_graded(rows: Iterable[Mapping[str, str]], rules: Sequence[str] = RULES, seed: int = 0) -> pd.DataFrame:
    """One row per graded response: ``case, benchmark, question_type, human`` and, per rule set,
    ``<rules>_verdict`` and ``<rules>_agrees`` (its correct-or-not equals the human's)."""
    unknown = [name for name in rules if name not in RULES]
    if unknown or not rules:
        raise ParameterError("rules", f"{list(rules)} must be a non-empty list from {list(RULES)}")
    out = []
    for row in rows:
        item = graded_item(row)
        record: dict[str, Any] = {key: row[key] for key in ("case", "benchmark", "question_type", "human")}
        for name in rules:
            verdict = score_item(item, row["response"], rules=name, seed=seed)["verdict"]
            record[f"{name}_verdict"] = verdict
            record[f"{name}_agrees"] = (verdict == "correct") == (row["human"] == "correct")
        out.append(record)
    if not out:
        raise ParameterError("rows", "is empty; give at least one graded response")
    return pd.DataFrame(out)


def rule_agreement(rows: Iterable[Mapping[str, str]], rules: Sequence[str] = RULES, seed: int = 0) -> pd.DataFrame:
    """Share of graded responses (%) on which each rule set agrees with the human, per benchmark
    and over all rows (last row ``all``), with ``n`` (Chapter 08)."""
    scored = score_graded(rows, rules, seed)
    columns = [f"{name}_agrees" for name in rules]
    table = scored.groupby("benchmark", sort=False)[columns].mean() * 100.0
    table.loc["all"] = scored[columns].mean() * 100.0
    table.columns = list(rules)
    table["n"] = scored.groupby("benchmark", sort=False).size().tolist() + [len(scored)]
    table.index.name = "benchmark"
    return table


def rule_disagreements(rows: Iterable[Mapping[str, str]], rules: str = "strict", seed: int = 0) -> pd.DataFrame:
    """The graded responses on which ``rules`` disagrees with the human, with both grades (Chapter 08)."""
    rows = list(rows)
    scored = score_graded(rows, [rules], seed)
    responses = {row["case"]: row["response"] for row in rows}
    wrong = scored[~scored[f"{rules}_agrees"]].copy()
    wrong["response"] = wrong["case"].map(responses)
    return wrong[["case", "benchmark", "question_type", "response", "human", f"{rules}_verdict"]].reset_index(drop=True)
