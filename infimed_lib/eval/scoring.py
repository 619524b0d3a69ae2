"""Verdicts for one benchmark answer, by question type, following MedEvalKit's rules.

Chapter 08 (evaluation) states each rule and the MedEvalKit bug it avoids:

* multiple choice: :func:`~infimed_lib.eval.extract.extract_choice` (MMMU: the official
  parser); MedEvalKit's ``difflib`` "most similar option" fallback only when asked for;
* yes/no: correct iff the answer commits to exactly one of yes/no (words, not substrings:
  the "no" of "nodule" or "know" does not count) and it is the gold one; Chinese 是/否 too;
* closed short answer: exact match after normalisation (case, punctuation, articles, spaces);
  a closed question whose gold is yes/no (SLAKE's CLOSED type) takes the yes/no rule;
* open: exact match, token precision/recall/F1 and BLEU-1; with an LLM judge configured the
  judge's verdict decides correctness. Only open questions ever reach the judge, so closed
  counts never depend on whether a judge is on (MedEvalKit zeroes PathVQA's closed count and
  sends every SLAKE item to the judge, counting closed hits twice).

Nothing here reads the environment or makes a client: a judge is passed in as a callable.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tqdm.auto import tqdm

from infimed_lib.common import ParameterError
from infimed_lib.eval.aggregate import aggregate
from infimed_lib.eval.extract import extract_choice, parse_response
from infimed_lib.eval.metrics import bleu1, exact_match, normalize_answer, token_scores
from infimed_lib.eval.mmmu import item_seed, parse_multi_choice_response

__all__ = ["Judge", "VERDICTS", "aggregate", "gold_yes_no", "score_item", "score_items", "yes_no_commitments"]

Judge = Callable[[str, str, str], "bool | None"]
"""``judge(question, answer_text, gold) -> True/False``, or None when the judge failed."""

_YES_NO_EN = re.compile(r"(?<![\w'’-])(yes|no)(?![\w'’-])", re.I)
# Chinese has no word boundaries and 是 is also the copula ("这是CT"), so a Chinese answer
# counts only when it *opens* with one of these (longest first); the None entries stop
# "无法判断" (cannot tell) and "是否" (whether) from reading as 无 / 是.
_ZH_LEADING = {
    "无法": None, "不确定": None, "是否": None,
    "不是": "no", "没有": "no", "不对": "no", "否": "no", "无": "no",
    "是的": "yes", "是": "yes", "对": "yes", "有": "yes",
}
VERDICTS = ("correct", "incorrect", "unanswered")


def yes_no_commitments(text: str) -> set[str]:
    """Which of "yes"/"no" ``text`` states, as whole words (English) or a leading 是/否 (Chapter 08)."""
    found = {m.group(1).lower() for m in _YES_NO_EN.finditer(unicodedata.normalize("NFKC", text))}
    opening = re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text))[:3]
    for phrase in sorted(_ZH_LEADING, key=len, reverse=True):
        if opening.startswith(phrase):
            if _ZH_LEADING[phrase]:
                found.add(_ZH_LEADING[phrase])
            break
    return found


def gold_yes_no(gold: str) -> str | None:
    """"yes"/"no" when the gold is exactly a yes/no word (English or Chinese), else None (Chapter 08)."""
    norm = normalize_answer(gold)
    if norm in ("yes", "no"):
        return norm
    return {"是": "yes", "否": "no", "是的": "yes", "不是": "no", "有": "yes", "没有": "no"}.get(norm)


def _verdict(extracted: Any, correct: bool) -> str:
    if extracted is None or extracted == "":
        return "unanswered"
    return "correct" if correct else "incorrect"


def _difflib_choice(response: str, options: Mapping[str, str]) -> str:
    """MedEvalKit's last resort: the option ("A. text") most similar to the whole response."""
    ratios = {
        k: difflib.SequenceMatcher(None, f"{k}. {v}".lower(), response.lower()).ratio() for k, v in options.items()
    }
    return max(options, key=lambda k: ratios[k])  # first of ties, as MedEvalKit


def _score_choice(item: Any, response: str, difflib_fallback: bool, seed: int) -> dict:
    options = {str(k): str(v) for k, v in item.options.items()}
    fallback = None
    if item.benchmark == "mmmu-med":
        text = parse_response(response, markers=False)
        extracted, guessed = parse_multi_choice_response(text, list(options), options, item_seed(seed, item.id))
        rule, fallback = "mmmu_choice", "random" if guessed else None
    else:
        rule, extracted = "choice", extract_choice(response, options)
        if extracted is None and difflib_fallback:
            extracted, fallback = _difflib_choice(response, options), "difflib"
    correct = extracted == item.answer
    return {"rule": rule, "extracted": extracted, "correct": correct, "fallback": fallback}


def _score_yes_no(item: Any, response: str) -> dict:
    gold = gold_yes_no(item.answer)
    if gold is None:
        raise ValueError(f"item {item.id!r}: yes/no question whose gold answer {item.answer!r} is not yes/no")
    said = yes_no_commitments(parse_response(response))
    extracted = said.pop() if len(said) == 1 else None
    return {"rule": "yes_no", "extracted": extracted, "correct": extracted == gold, "gold_normalized": gold}


def _score_closed(item: Any, response: str) -> dict:
    if gold_yes_no(item.answer) is not None:
        return _score_yes_no(item, response)
    answer = parse_response(response)
    correct = bool(exact_match(answer, item.answer))
    return {"rule": "closed_exact", "extracted": normalize_answer(answer) or None, "correct": correct}


def _score_open(item: Any, response: str, judge: Judge | None) -> dict:
    answer = parse_response(response)
    scores = token_scores(answer, item.answer)
    record = {
        "rule": "open", "extracted": answer or None, "exact_match": exact_match(answer, item.answer),
        "precision": scores.precision, "recall": scores.recall, "f1": scores.f1,
        "bleu1": bleu1(answer, item.answer), "judge": None,
    }
    record["correct"] = bool(record["exact_match"])
    if judge is not None and answer:
        verdict = judge(str(item.question), answer, str(item.answer))
        if verdict is not None:  # a failed judge call keeps the exact-match verdict
            record["judge"], record["correct"] = bool(verdict), bool(verdict)
    return record


def score_item(
    item: Any,
    response: str,
    *,
    difflib_fallback: bool = False,
    seed: int = 0,
    judge: Judge | None = None,
) -> dict:
    """Score one model response to one benchmark item (Chapter 08).

    Returns a JSON-ready record: ``benchmark, id, question_type, lang, modality, gold,
    response, rule, extracted`` (letter, "yes"/"no", normalised answer, or None),
    ``verdict`` ("correct" | "incorrect" | "unanswered"), ``correct`` (bool); multiple choice
    adds ``fallback`` (None, "difflib" or MMMU's "random"); open questions add
    ``exact_match, precision, recall, f1, bleu1`` and ``judge`` (None when no judge decided).
    ``seed`` drives MMMU's random guess for unparseable answers, per question.
    """
    if not isinstance(response, str):
        raise ParameterError("response", f"expected str, got {type(response).__name__}")
    if not isinstance(difflib_fallback, bool):
        raise ParameterError("difflib_fallback", f"expected bool, got {difflib_fallback!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", f"expected int, got {seed!r}")
    if judge is not None and not callable(judge):
        raise ParameterError("judge", "expected a callable judge(question, answer, gold) or None")
    qtype = getattr(item, "question_type", None)
    if qtype == "multiple_choice":
        record = _score_choice(item, response, difflib_fallback, seed)
    elif qtype == "yes_no":
        record = _score_yes_no(item, response)
    elif qtype == "closed":
        record = _score_closed(item, response)
    elif qtype == "open":
        record = _score_open(item, response, judge)
    else:
        raise ValueError(f"item {getattr(item, 'id', '?')!r}: unknown question_type {qtype!r}")
    record.update(
        benchmark=item.benchmark, id=item.id, question_type=qtype, lang=getattr(item, "lang", "en"),
        modality=getattr(item, "modality", ""), gold=item.answer, response=response,
        verdict=_verdict(record["extracted"], record["correct"]),
    )
    return record


def score_items(items: Sequence[Any], responses: Sequence[str], **kwargs: Any) -> list[dict]:
    """:func:`score_item` over paired items and responses, with a progress bar (Chapter 08)."""
    if len(items) != len(responses):
        raise ParameterError("responses", f"{len(responses)} responses for {len(items)} items")
    pairs = zip(items, responses)
    return [score_item(item, response, **kwargs) for item, response in tqdm(pairs, total=len(items), desc="scoring")]
