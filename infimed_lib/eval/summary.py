"""Scores as numbers and tables: closed-ended accuracy, per-benchmark and breakdown tables.

Chapter 08 (evaluation) shows these tables; chapter 09 builds the paper-style tables on them.
:func:`summarize_records` extends :func:`~infimed_lib.eval.aggregate.aggregate` with the
closed-ended accuracy (multiple choice, yes/no and short answers: the questions with a single
right answer that rules can check), because the miniature run's success criterion is stated
on it: macro accuracy over benchmarks, closed questions only.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.data.benchmarks import QUESTION_TYPES
from infimed_lib.eval.aggregate import aggregate

CLOSED_TYPES = ("multiple_choice", "yes_no", "closed")


def _closed(benchmark: Mapping[str, Any]) -> dict[str, Any] | None:
    groups = [g for q, g in benchmark["by_question_type"].items() if q in CLOSED_TYPES]
    n = sum(g["n"] for g in groups)
    if n == 0:
        return None
    right = sum(g["correct"] for g in groups)
    return {"n": n, "correct": right, "accuracy": right / n}


def summarize_records(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`aggregate` plus ``closed`` per benchmark and ``closed_macro_accuracy`` (Chapter 08).

    ``closed_macro_accuracy`` is the plain mean, over benchmarks that have closed questions,
    of each benchmark's accuracy on those questions (None if no benchmark has any).
    """
    scores = aggregate(records)
    closed = {}
    for name, bench in scores["benchmarks"].items():
        bench["closed"] = _closed(bench)
        if bench["closed"] is not None:
            closed[name] = bench["closed"]["accuracy"]
    scores["closed_macro_accuracy"] = sum(closed.values()) / len(closed) if closed else None
    return scores


def records_under(records: Iterable[Mapping[str, Any]], rules: str) -> list[dict[str, Any]]:
    """Copies of scored records whose ``verdict``/``correct`` are those of rule set ``rules``, read
    from each record's ``verdicts`` (what :func:`~infimed_lib.eval.run.evaluate` writes); a record
    without ``verdicts`` must already be under ``rules`` (Chapter 08)."""
    out = []
    for index, record in enumerate(records):
        if "verdicts" in record:
            if rules not in record["verdicts"]:
                raise ParameterError("rules", f"record {index} has no verdict under {rules!r}: {list(record['verdicts'])}")
            verdict = record["verdicts"][rules]
        elif record.get("rules", rules) == rules:
            verdict = record.get("verdict", "correct" if record.get("correct") else "incorrect")
        else:
            raise ParameterError("records", f"record {index} was scored under {record['rules']!r} only, not {rules!r}")
        out.append({**record, "verdict": verdict, "correct": verdict == "correct"})
    return out


def scores_under(scores: Mapping[str, Any], rules: str) -> Mapping[str, Any]:
    """The scores of one evaluation under rule set ``rules`` ("strict" or "medevalkit"), from
    ``scores["rule_sets"]`` (Chapter 08). Feed them to :func:`scores_table` and friends."""
    scores = _check_scores("scores", scores)
    sets = scores.get("rule_sets")
    if not sets:
        raise ParameterError("scores", "has no 'rule_sets'; evaluate again (scores written before both rule sets were kept)")
    if rules not in sets:
        raise ParameterError("rules", f"{rules!r} is not one of {list(sets)}")
    return sets[rules]


def rules_table(scores: Mapping[str, Any], closed_only: bool = False) -> pd.DataFrame:
    """Accuracy (%) per benchmark under both rule sets, and their difference (Chapter 08).

    Rows are the benchmarks and ``Avg.``; columns ``strict``, ``medevalkit`` and
    ``strict - medevalkit`` (positive: MedEvalKit's quirks cost the model that much).
    """
    tables = {rules: scores_table({rules: scores_under(scores, rules)}, closed_only).T[rules]
              for rules in ("strict", "medevalkit")}
    frame = pd.DataFrame(tables)
    frame["strict - medevalkit"] = frame["strict"] - frame["medevalkit"]
    frame.index.name = "benchmark"
    return frame


def _check_scores(name: str, scores: Any) -> Mapping[str, Any]:
    if not isinstance(scores, Mapping) or "benchmarks" not in scores:
        raise ParameterError(name, "expected a scores dict (scores.json / EvalResult.scores) with 'benchmarks'")
    return scores


def scores_table(models: Mapping[str, Mapping[str, Any]], closed_only: bool = False) -> pd.DataFrame:
    """Accuracy (%) per benchmark, one row per model, plus ``Avg.`` (plain mean) (Chapter 08).

    ``closed_only`` scores each benchmark on its closed questions only (``Avg.`` is then the
    closed-ended macro accuracy). Benchmarks are columns in the registry's order.
    """
    rows = {}
    for model, scores in models.items():
        scores = _check_scores(f"models[{model!r}]", scores)
        row = {}
        for bench in scores["order"]:
            entry = scores["benchmarks"][bench]
            if closed_only:
                entry = entry.get("closed")
            row[bench] = None if entry is None else 100.0 * entry["accuracy"]
        average = scores["closed_macro_accuracy"] if closed_only else scores["average"]
        row["Avg."] = None if average is None else 100.0 * average
        rows[model] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame[[c for c in frame.columns if c != "Avg."] + ["Avg."]].astype(float)


def breakdown_table(scores: Mapping[str, Any], by: str = "question_type") -> pd.DataFrame:
    """Long table ``benchmark, <by>, n, correct, accuracy (%)`` (Chapter 08).

    ``by`` is ``"question_type"``, ``"modality"`` (only benchmarks that record one) or ``"lang"``.
    """
    if by not in ("question_type", "modality", "lang"):
        raise ParameterError("by", f"{by!r} is not 'question_type', 'modality' or 'lang'")
    scores = _check_scores("scores", scores)
    rows = []
    for bench in scores["order"]:
        for key, group in scores["benchmarks"][bench].get(f"by_{by}", {}).items():
            rows.append({"benchmark": bench, by: key, "n": group["n"], "correct": group["correct"],
                         "accuracy (%)": 100.0 * group["accuracy"]})
    return pd.DataFrame(rows, columns=["benchmark", by, "n", "correct", "accuracy (%)"])


def open_metrics_table(scores: Mapping[str, Any]) -> pd.DataFrame:
    """Token-overlap metrics of the open questions, per benchmark that has them (Chapter 08)."""
    scores = _check_scores("scores", scores)
    rows = {b: scores["benchmarks"][b]["open"] for b in scores["order"] if "open" in scores["benchmarks"][b]}
    return pd.DataFrame.from_dict(rows, orient="index")


def benchmark_overview(items: Mapping[str, Iterable[Any]]) -> pd.DataFrame:
    """Items per benchmark and question type, with languages and modalities (Chapter 08)."""
    rows = {}
    for name, bench_items in items.items():
        bench_items = list(bench_items)
        row = {q: sum(item.question_type == q for item in bench_items) for q in QUESTION_TYPES}
        row.update(items=len(bench_items), languages=", ".join(sorted({item.lang for item in bench_items})),
                   modalities=len({item.modality for item in bench_items if item.modality}))
        rows[name] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "benchmark"
    return frame[["items", *QUESTION_TYPES, "languages", "modalities"]]


def example_prompts(items: Mapping[str, Iterable[Any]], reasoning: bool = False, layout: str = "book") -> pd.DataFrame:
    """The first prompt of each (benchmark, question type), as the model receives it (Chapter 08);
    ``layout="medevalkit"`` shows MedEvalKit's text instead of the book's."""
    rows, seen = [], set()
    for name, bench_items in items.items():
        for item in bench_items:
            if (name, item.question_type) not in seen:
                seen.add((name, item.question_type))
                rows.append({"benchmark": name, "question_type": item.question_type,
                             "prompt": build_prompt(item, reasoning, layout), "gold": item.answer})
    return pd.DataFrame(rows, columns=["benchmark", "question_type", "prompt", "gold"])


def compare_breakdown(models: Mapping[str, Mapping[str, Any]], by: str = "question_type") -> pd.DataFrame:
    """Accuracy (%) per ``(benchmark, <by>)`` for several models side by side, plus ``n`` (Chapter 08)."""
    if not models:
        raise ParameterError("models", "is empty; give at least one {name: scores}")
    tables = {name: breakdown_table(scores, by).set_index(["benchmark", by]) for name, scores in models.items()}
    frame = pd.concat({name: table["accuracy (%)"] for name, table in tables.items()}, axis=1)
    return frame.join(next(iter(tables.values()))["n"])


def unanswered_share(scores: Mapping[str, Any]) -> float:
    """Fraction of all questions whose answer committed to nothing the rules could read (Chapter 08)."""
    scores = _check_scores("scores", scores)
    benches = scores["benchmarks"].values()
    return sum(b.get("unanswered", 0) for b in benches) / sum(b["n"] for b in benches)
