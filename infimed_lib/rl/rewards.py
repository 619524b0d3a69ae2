"""Verifiable rewards: correctness by the evaluation's own rules, plus a format reward.

Chapter 10 explains the choice. A reward model would have to be trained and can be fooled; a
rule cannot drift, and using the very rules chapter 08 scores with means that the reward the
policy climbs is the accuracy the book reports. Correctness is 1 when
:func:`infimed_lib.eval.score_item` calls the answer correct, else 0.

The format reward asks for the *committed-answer layout* that the reasoning prompts request:
reasoning text (optional) and then exactly one ``\\boxed{...}`` holding a non-empty answer,
with nothing but punctuation after it. That is what the scorer reads as an explicit
commitment (``eval.extract``); an answer without a box is still scored, from its whole text,
but it earns no format reward. The two are mixed as ``(1 - w) * correct + w * format``, with
``w = 0.1`` by default as in EasyR1, the trainer the InfiMed authors used.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from infimed_lib.common import ParameterError
from infimed_lib.eval.scoring import score_item

_BOX = re.compile(r"\\boxed\s*\{")
_TRAILING = re.compile(r"^[\s.!。！)\]]*$")


def boxed_answer(response: str) -> str | None:
    """Content of the response's single ``\\boxed{...}``; None without exactly one (Chapter 10)."""
    starts = [m.end() for m in _BOX.finditer(response)]
    if len(starts) != 1:
        return None
    depth = 1
    for position in range(starts[0], len(response)):
        depth += {"{": 1, "}": -1}.get(response[position], 0)
        if depth == 0:
            tail = response[position + 1:]
            return response[starts[0]:position] if _TRAILING.match(tail) else None
    return None


def format_reward(response: str) -> float:
    """1.0 for the committed-answer layout (one final, non-empty ``\\boxed{}``), else 0.0 (Chapter 10)."""
    if not isinstance(response, str):
        raise ParameterError("response", f"expected str, got {type(response).__name__}")
    inside = boxed_answer(response)
    return float(inside is not None and inside.strip() != "")


def correctness_reward(item: Any, response: str) -> float:
    """1.0 when the evaluation's rules (``eval.score_item``) call the response correct (Chapter 10)."""
    return float(score_item(item, response)["correct"])


def reward(item: Any, response: str, format_weight: float = 0.1) -> dict:
    """``{"reward", "correct", "format"}`` for one response; reward = (1-w)*correct + w*format (Chapter 10)."""
    if not 0.0 <= format_weight <= 1.0:
        raise ParameterError("format_weight", f"must be in [0, 1], got {format_weight}")
    correct, layout = correctness_reward(item, response), format_reward(response)
    return {"reward": (1.0 - format_weight) * correct + format_weight * layout, "correct": correct,
            "format": layout}


def rewards(items: Sequence[Any], responses: Sequence[str], format_weight: float = 0.1) -> list[dict]:
    """:func:`reward` over paired items and responses (Chapter 10)."""
    if len(items) != len(responses):
        raise ParameterError("responses", f"{len(responses)} responses for {len(items)} items")
    return [reward(item, response, format_weight) for item, response in zip(items, responses)]
