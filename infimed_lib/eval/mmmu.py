"""MMMU's official answer parsers, reproduced for the MMMU Health & Medicine questions.

Chapter 08 (evaluation) explains why MMMU keeps its own parser: MedEvalKit scores MMMU with
the benchmark's official ``parse_multi_choice_response`` (MMMU-Benchmark/MMMU,
``eval/eval_utils.py``), and our MMMU numbers are only comparable if we do the same. The
algorithm is re-implemented here from its description; only the random fallback differs, in
that it is seeded per call instead of by the global ``random`` state. Open questions use MMMU's
``parse_open_response`` and ``eval_open`` (the ``strict`` rules; MedEvalKit skips the parser,
see :mod:`~infimed_lib.eval.medevalkit`), so "1,000", "Approximately 0.25 mg/kg" and "The dose
is 5 mg." are read as the numbers they state.
"""
from __future__ import annotations

import ast
import random
import re
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


# --- open questions: MMMU's parse_open_response + eval_open ----------------------------------
# The number patterns are MMMU's (thousands with commas, scientific notation, plain decimals);
# they define which numbers the official scorer sees, so they are matched rather than improved.
_NUMBER_PATTERNS = (
    re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b"),
    re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+"),
    re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])"),
)
_KEY_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}


def normalize_open(value: str) -> list:
    """MMMU's ``normalize_str``: a number becomes one float rounded to 2 decimals; a one-character
    string becomes " x" and "x " (so it only matches as a word); other strings are lower-cased."""
    value = value.strip()
    try:
        return [round(float(value.replace(",", "")), 2)]
    except ValueError:
        value = value.lower()
        return [" " + value, value + " "] if len(value) == 1 else [value]


def _key_phrases(response: str) -> list[str]:
    text = response.strip().strip(".").lower()
    # MMMU splits on ". " before a capital *after* lower-casing, so in effect only on newlines.
    pieces = re.split(r"\.\s(?=[A-Z])|\n", text)
    found = []
    for position, piece in enumerate(pieces):
        indicators = _KEY_INDICATORS + (("=",) if position == len(pieces) - 1 else ())
        shortest = None
        for indicator in indicators:
            if indicator in piece:
                tail = piece.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            found.append(shortest)
    return found or [text]


def parse_open_response(response: str) -> list:
    """MMMU's official ``parse_open_response`` (Chapter 08): the tails after "is", "so",
    "therefore", "=" ... of each line (else the whole lower-cased text), plus every number in
    them, each through :func:`normalize_open`. Returns the candidate predictions."""
    if not isinstance(response, str):
        raise ParameterError("response", f"expected str, got {type(response).__name__}")
    phrases = _key_phrases(response)
    candidates = list(phrases)
    for phrase in phrases:
        for pattern in _NUMBER_PATTERNS:
            candidates += pattern.findall(phrase)
    normalized = []
    for candidate in candidates:
        for value in normalize_open(candidate):
            if value not in normalized:
                normalized.append(value)
    return normalized


def open_golds(gold: str) -> list[str]:
    """The accepted answers of an MMMU open question: a gold written as a list literal
    ("['6.25', '6.2']") gives each element, any other gold itself (Chapter 08)."""
    text = str(gold).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            values = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return [text]
        if isinstance(values, (list, tuple)) and values:
            return [str(value) for value in values]
    return [text]


def eval_open(golds: Sequence[str], predictions: Sequence) -> bool:
    """MMMU's official ``eval_open`` (Chapter 08): a string prediction is right when a string gold
    occurs *inside* it ("the radial nerve" holds "radial nerve"); a number must equal a gold number."""
    accepted = [value for gold in golds for value in normalize_open(str(gold))]
    for prediction in predictions:
        if isinstance(prediction, str):
            if any(isinstance(value, str) and value in prediction for value in accepted):
                return True
        elif prediction in accepted:
            return True
    return False
