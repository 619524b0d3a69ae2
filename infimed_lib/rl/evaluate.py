"""Held-out accuracy before and after RL, with bootstrap intervals. Chapter 10.

Answers are generated greedily with the evaluation's own batched generation (``eval.generate``)
and scored with its rules (``eval.score_item``), on the reasoning prompts RL trains with (or on
the direct prompts chapter 08 uses). Intervals are ``eval.uncertainty``'s stratified percentile
bootstrap, the questions resampled within each source family, so that the accuracy is the macro
average over the families, as chapter 08's closed-question accuracy is over benchmarks; a
difference between two models is a paired bootstrap over the same questions.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from infimed_lib.common import ParameterError, read_jsonl
from infimed_lib.eval.uncertainty import macro_interval, margin_interval, record_verdicts
from infimed_lib.eval.validation import answer_and_score
from infimed_lib.rl.rewards import format_reward

def predict(checkpoint: str | Path, tokenizer_dir: str | Path, tasks: Sequence, out_path: str | Path, *,
            reasoning: bool = True, max_new_tokens: int = 48, batch_size: int = 32, num_threads: int = 1,
            device: str = "auto", desc: str = "answering") -> list[dict]:
    """Greedy answers of a checkpoint to ``tasks``, scored, with each answer's ``format`` (the
    committed-answer layout) and ``answer_tokens``; written to ``out_path`` as JSONL (Chapter 10)."""
    def annotate(answer: str, tokenizer) -> dict:
        return {"format": format_reward(answer), "answer_tokens": len(tokenizer.encode(answer))}

    return answer_and_score(checkpoint, tokenizer_dir, tasks, out_path, reasoning=reasoning,
                            max_new_tokens=max_new_tokens,
                            batch_size=batch_size, num_threads=num_threads, device=device, desc=desc,
                            annotate=annotate)


def accuracy_table(predictions: Mapping[str, str | Path | Sequence[dict]], baseline: str, seed: int = 0,
                   n_resamples: int = 2000) -> pd.DataFrame:
    """Per model: macro accuracy (%) with its 95% interval, and its difference from ``baseline`` (Chapter 10).

    ``predictions``: model name -> records or a predictions JSONL file (``predict``). Columns:
    ``accuracy, low, high, format (%), answer tokens, vs <baseline>, vs low, vs high``.
    """
    loaded = {name: read_jsonl(p) if isinstance(p, (str, Path)) else list(p) for name, p in predictions.items()}
    if baseline not in loaded:
        raise ParameterError("baseline", f"{baseline!r} is not one of {list(loaded)}")
    base = record_verdicts(loaded[baseline])
    rows = []
    for name, records in loaded.items():
        mine = record_verdicts(records)
        level = macro_interval(mine, n_resamples=n_resamples, seed=seed)
        margin = margin_interval(mine, base, n_resamples=n_resamples, seed=seed)
        rows.append({"model": name, "accuracy": level.estimate, "low": level.low, "high": level.high,
                     "format (%)": 100.0 * sum(r["format"] for r in records) / len(records),
                     "answer tokens": sum(r["answer_tokens"] for r in records) / len(records),
                     f"vs {baseline}": margin.estimate, "vs low": margin.low, "vs high": margin.high})
    return pd.DataFrame(rows).set_index("model")


def chance_accuracy(tasks: Sequence) -> float:
    """Macro accuracy (%) of a uniform guess among each question's alternatives (Chapter 10).

    Yes/no and the corpus's closed questions have two alternatives (yes or no; the two the
    question names), multiple choice one per option: a model below or at this line has learned
    nothing the question does not already tell.
    """
    by_family: dict[str, list[float]] = {}
    for task in tasks:
        alternatives = len(task.options) if task.question_type == "multiple_choice" else 2
        by_family.setdefault(task.benchmark, []).append(1.0 / alternatives)
    if not by_family:
        raise ParameterError("tasks", "no tasks to compute a chance level for")
    return 100.0 * sum(sum(v) / len(v) for v in by_family.values()) / len(by_family)
