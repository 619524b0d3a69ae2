"""MMMU's official multiple-choice parser, reproduced for the MMMU Health & Medicine questions.

Chapter 08 (evaluation) explains why MMMU keeps its own parser: MedEvalKit scores MMMU with
the benchmark's official ``parse_multi_choice_response`` (MMMU-Benchmark/MMMU,
``eval/eval_utils.py``), and our MMMU numbers are only comparable if we do the same. The
algorithm is re-implemented here from its description; only the random fallback differs, in
that it is seeded per call instead of by the global ``random`` state.
"""
from __future__ import annotations

import random
import zlib
from collections.abc import Mapping, Sequence

from infimed_lib.common import ParameterError


def _rng(seed: int | random.Random) -> random.Random:
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", f"expected int or random.Random, got {type(seed).__name__}")
    return random.Random(seed)


def item_seed(seed: int, item_id: str) -> int:
    """A per-question seed, so unparsed answers get independent random guesses (Chapter 08)."""
    return (seed * 1_000_003 + zlib.crc32(str(item_id).encode("utf-8"))) % (2**32)


def parse_multi_choice_response(
    response: str,
    all_choices: Sequence[str],
    index2ans: Mapping[str, str],
    seed: int | random.Random = 0,
) -> tuple[str, bool]:
    """MMMU's official choice parser (Chapter 08). Returns ``(letter, guessed)``.

    1. Strip the characters ``, . ! ? ; : '`` from both ends (one after another, as the
       official code does), pad with one space each side.
    2. Candidates are the letters written as ``(A)``; if none, letters standing alone
       between spaces (`` A ``); if still none and the response has more than five words,
       the options whose text occurs in it (case-insensitive).
    3. Several candidates: the one whose last occurrence is furthest right (first of ties).
       None: a letter drawn at random from ``all_choices`` with ``seed`` (``guessed`` is
       True), which is why MMMU scores of an untrained model sit near chance, not at zero.
    """
    if not isinstance(response, str):
        raise ParameterError("response", f"expected str, got {type(response).__name__}")
    if not all_choices:
        raise ParameterError("all_choices", "is empty; MMMU questions have at least two options")
    for char in [",", ".", "!", "?", ";", ":", "'"]:
        response = response.strip(char)
    response = f" {response} "

    candidates = [c for c in all_choices if f"({c})" in response]
    pattern = "({})" if candidates else " {} "
    if not candidates:
        candidates = [c for c in all_choices if f" {c} " in response]
    by_text = False
    if not candidates and len(response.split()) > 5:
        lowered = response.lower()
        candidates = [c for c, text in index2ans.items() if str(text).lower() in lowered]
        by_text = True

    if not candidates:
        return _rng(seed).choice(list(all_choices)), True
    if len(candidates) == 1:
        return candidates[0], False
    if by_text:
        lowered = response.lower()
        starts = [lowered.rfind(str(index2ans[c]).lower()) for c in candidates]
    else:
        starts = [response.rfind(pattern.format(c)) for c in candidates]
    return candidates[starts.index(max(starts))], False
