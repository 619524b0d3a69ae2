"""A validation split for choosing settings, kept apart from the benchmarks (Chapter 08).

Every setting of the miniature recipe is a choice, and a choice made by looking at benchmark
scores leaks the benchmarks into the recipe: the reported numbers become slightly optimistic.
The usual cure is a validation split, questions of the training distribution that no stage
trains on. The miniature corpus can draw as many as it likes (``data.corpus.corpus_draws``, its
own stream), so chapter 08 scores the final model on such a draw beside the benchmarks, and
settings are compared there first.

:func:`answer_and_score` is also what chapter 10 answers its held-out questions with.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from infimed_lib.common import atomic_write_jsonl, require_positive_int
from infimed_lib.data.corpus.corpus_draws import VALIDATION_STREAM, drawn_tasks
from infimed_lib.eval.generate import build_prompts, cpu_threads, iter_answers, resolve_max_new_tokens
from infimed_lib.eval.run import load_for_eval
from infimed_lib.eval.scoring import score_item
from infimed_lib.eval.uncertainty import macro_interval, record_verdicts


def validation_items(per_source: int, seed: int = 0) -> list:
    """``per_source`` closed questions from each of the corpus's four VQA sources, on the validation stream (Chapter 08)."""
    require_positive_int("validation_per_source", per_source)
    return drawn_tasks(per_source, seed, VALIDATION_STREAM)


def answer_and_score(checkpoint: str | Path, tokenizer_dir: str | Path, tasks: Sequence, out_path: str | Path, *,
                     reasoning: bool = False, max_new_tokens: int | Mapping[str, int] = 48, batch_size: int = 32,
                     num_threads: int = 1, device: str = "auto", desc: str = "answering",
                     annotate: Callable[[str, object], dict] | None = None) -> list[dict]:
    """Greedy answers of a checkpoint to ``tasks``, scored; written to ``out_path`` as JSONL (Chapters 08, 10).

    Each record is ``score_item``'s plus the ``question``; ``annotate(answer, tokenizer)`` may add
    fields (chapter 10 adds the answer's format and length). The model runs where chapter 08's
    does (``load_for_eval``: cuda when available, in bfloat16 there).
    """
    model, tokenizer = load_for_eval(checkpoint, tokenizer_dir, device=device)
    prompts = build_prompts(tasks, tokenizer, model.config.num_visual_tokens, reasoning)
    records = [None] * len(tasks)
    with cpu_threads(num_threads):
        for prompt, answer in iter_answers(model, tokenizer, prompts, batch_size=batch_size,
                                           max_new_tokens=resolve_max_new_tokens(max_new_tokens), desc=desc):
            record = score_item(tasks[prompt.index], answer)
            record.update(question=tasks[prompt.index].question, **(annotate(answer, tokenizer) if annotate else {}))
            records[prompt.index] = record
    atomic_write_jsonl(out_path, records)
    return records


def validation_table(records: Mapping[str, Sequence[dict]], benchmark_closed: Mapping[str, float],
                     seed: int = 0) -> pd.DataFrame:
    """Per model: validation macro accuracy (%) with its 95% interval, beside its benchmark closed macro (Chapter 08)."""
    rows = []
    for name, found in records.items():
        level = macro_interval(record_verdicts(found), seed=seed)
        rows.append({"model": name, "validation (%)": level.estimate, "low": level.low, "high": level.high,
                     "questions": len(found), "benchmarks, closed (%)": benchmark_closed.get(name, float("nan"))})
    return pd.DataFrame(rows).set_index("model")
