"""Baselines that need no model: the majority-class answer of each benchmark.

Chapter 08 (evaluation) compares every model with it. Definition: within one benchmark, for
each question type and language, the baseline always gives the answer that is most frequent
among that group's gold answers -- the most frequent gold letter for multiple choice, "yes"
or "no" (是/否 in Chinese) for yes/no questions, the most frequent normalised gold text for
short-answer and open questions. Ties go to the answer that sorts first. Its answers are
scored by the very same rules as a model's, so it is what a model that ignores the image
*and* the question would score at best: it knows each benchmark's answer distribution, which
no real model is told. Above it, a model has learned something from the inputs.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from infimed_lib.common import ParameterError
from infimed_lib.eval.text_metrics import normalize_answer

MAJORITY_DEFINITION = (
    "per benchmark, question type and language: always answer the most frequent gold answer "
    "(the most frequent letter for multiple choice); ties go to the answer that sorts first"
)


def _group_key(item: Any) -> tuple[str, str, str]:
    return item.benchmark, item.question_type, getattr(item, "lang", "en") or "en"


def _answer_key(item: Any) -> str:
    return item.answer if item.question_type == "multiple_choice" else normalize_answer(str(item.answer))


def majority_answers(items: Iterable[Any]) -> dict[tuple[str, str, str], str]:
    """``(benchmark, question_type, lang) -> answer`` the majority baseline gives (Chapter 08).

    The answer is returned as written in the first gold answer with the winning normalised
    form (so "Yes" and "yes" count together and the baseline answers in the data's own words).
    """
    counts: dict[tuple, Counter] = {}
    spelling: dict[tuple, dict[str, str]] = {}
    for item in items:
        key, answer = _group_key(item), _answer_key(item)
        if answer == "":
            raise ParameterError("items", f"item {item.id!r} of {item.benchmark} has an empty gold answer")
        counts.setdefault(key, Counter())[answer] += 1
        spelling.setdefault(key, {}).setdefault(answer, str(item.answer))
    if not counts:
        raise ParameterError("items", "is empty; the majority baseline needs benchmark items")
    result = {}
    for key, counter in counts.items():
        best = max(counter.values())
        winner = min(answer for answer, n in counter.items() if n == best)
        result[key] = spelling[key][winner]
    return result


def majority_responses(items: Sequence[Any]) -> list[str]:
    """The majority baseline's response to each item, in order (Chapter 08)."""
    answers = majority_answers(items)
    return [answers[_group_key(item)] for item in items]
