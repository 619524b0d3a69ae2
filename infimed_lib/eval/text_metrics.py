"""Text-overlap metrics for open-ended answers: token precision/recall/F1, exact match, BLEU-1.

Chapter 08 (evaluation) explains when each one is reported. These are written by hand because
the usual packages (nltk, rouge-score, evaluate) are not dependencies of the book and the
metrics are a few lines each; they follow the SQuAD conventions rather than MedEvalKit's
``calculate_f1``, which returns ``(f1, p, r)`` to callers that unpack ``(p, r, f1)`` and
returns a bare ``0`` on empty input.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from typing import NamedTuple

from infimed_lib.common import ParameterError

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
# A CJK character is a token on its own: Chinese (SLAKE-zh) has no spaces between words.
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


class TokenScores(NamedTuple):
    """Token-overlap scores, always in this order (Chapter 08)."""

    precision: float
    recall: float
    f1: float


def _require_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ParameterError(name, f"expected str, got {type(value).__name__} {value!r}")
    return value


def strip_punctuation(text: str) -> str:
    """Replace every Unicode punctuation character (ASCII and CJK alike) by a space (Chapter 08)."""
    return "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation used by every rule-based verdict (Chapter 08).

    Lower-case, punctuation to spaces, drop English articles, collapse whitespace. Folding
    to NFKC first makes full-width characters (common in Chinese answers) compare equal to
    their ASCII forms.
    """
    text = unicodedata.normalize("NFKC", _require_str("text", text)).lower()
    text = _ARTICLES.sub(" ", strip_punctuation(text))
    return " ".join(text.split())


def tokenize(text: str) -> list[str]:
    """Tokens of the normalised text: words, each CJK character a token of its own (Chapter 08)."""
    return _TOKEN.findall(normalize_answer(text))


def token_scores(prediction: str, reference: str) -> TokenScores:
    """Token precision, recall and F1 of ``prediction`` against ``reference`` (Chapter 08).

    Tokens are counted with multiplicity (SQuAD), after :func:`normalize_answer`. When
    either side has no tokens, or nothing overlaps, all three are ``0.0``.
    """
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return TokenScores(0.0, 0.0, 0.0)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return TokenScores(0.0, 0.0, 0.0)
    precision, recall = overlap / len(pred), overlap / len(ref)
    return TokenScores(precision, recall, 2 * precision * recall / (precision + recall))


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised texts are equal and non-empty, else 0.0 (Chapter 08)."""
    pred, ref = normalize_answer(prediction), normalize_answer(reference)
    return float(bool(ref) and pred == ref)


def bleu1(prediction: str, reference: str) -> float:
    """Sentence BLEU-1: clipped unigram precision times the brevity penalty (Chapter 08).

    Matches ``nltk``'s ``sentence_bleu(weights=(1,))`` on normalised tokens; 0.0 when either
    side is empty.
    """
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return 0.0
    clipped = sum((Counter(pred) & Counter(ref)).values())
    brevity = 1.0 if len(pred) > len(ref) else math.exp(1 - len(ref) / len(pred))
    return brevity * clipped / len(pred)
