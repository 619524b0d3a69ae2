"""Verdicts for one benchmark answer under two rule sets: ``strict`` and ``medevalkit`` (Chapter 08).

``rules="medevalkit"`` gives the verdict MedEvalKit (commit 9b12e3b, the framework behind the
paper's Table 2) would give, its quirks included: see :mod:`~infimed_lib.eval.medevalkit`, which
lists each one with the MedEvalKit file and function it comes from. Quote it beside the paper.

``rules="strict"`` (the default) reads what the response commits to, and says "unanswered"
when it commits to nothing or to two answers. Chapter 08 states each rule:

* multiple choice (MMMU included): :func:`~infimed_lib.eval.extract.extract_choice`: the letter,
  or the one option whose text the answer names; a copy of the option list, "A or B", a hedge
  are unanswered. MedEvalKit's ``difflib`` "most similar option" guess only when asked for
  (``difflib_fallback=True``);
* yes/no: :func:`~infimed_lib.eval.answers.read_yes_no`: the words yes/no (whole words, not the
  "no" of "nodule"), else the opening word, a negation ("It is not present.", "Negative.",
  "Nope"), an affirming statement; Chinese 是/否 by the opening. A closed question whose gold is
  yes/no (SLAKE's CLOSED type) takes this rule too;
* closed short answers and open answers:
  :func:`~infimed_lib.eval.answers.match_short_answer`: the gold phrase up to case, articles,
  plurals and surrounding words, not negated, with no alternative offered; MMMU's open
  questions take MMMU's official ``parse_open_response`` + ``eval_open`` ("1,000",
  "Approximately 0.25 mg/kg");
* open questions also get exact match, token precision/recall/F1 and BLEU-1; with an LLM judge
  the judge's verdict decides. Only open questions ever reach the judge, under either rule set,
  so closed counts never depend on whether a judge is on (MedEvalKit zeroes PathVQA's closed
  count and sends every SLAKE item to the judge, counting closed hits twice).

Nothing here reads the environment or makes a client: a judge is passed in as a callable.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tqdm.auto import tqdm

from infimed_lib.common import ParameterError
from infimed_lib.eval.aggregate import aggregate
from infimed_lib.eval.answers import match_short_answer, read_yes_no
from infimed_lib.eval.extract import extract_choice, parse_response
from infimed_lib.eval.medevalkit import medevalkit_record
from infimed_lib.eval.mmmu import eval_open, open_golds, parse_open_response
from infimed_lib.eval.text_metrics import bleu1, exact_match, normalize_answer, token_scores

__all__ = ["Judge", "RULES", "VERDICTS", "aggregate", "gold_yes_no", "score_item", "score_items"]

Judge = Callable[[str, str, str], "bool | None"]
"""``judge(question, answer_text, gold) -> True/False``, or None when the judge failed."""

RULES = ("strict", "medevalkit")
VERDICTS = ("correct", "incorrect", "unanswered")
_ZH_GOLD = {"是": "yes", "否": "no", "是的": "yes", "不是": "no", "有": "yes", "没有": "no"}


def gold_yes_no(gold: str) -> str | None:
    """"yes"/"no" when the gold is exactly a yes/no word (English or Chinese), else None (Chapter 08)."""
    norm = normalize_answer(gold)
    return norm if norm in ("yes", "no") else _ZH_GOLD.get(norm)


def _verdict(correct: bool | None) -> str:
    return "unanswered" if correct is None else ("correct" if correct else "incorrect")


def _difflib_choice(response: str, options: Mapping[str, str]) -> str:
    """MedEvalKit's last resort: the option ("A. text") most similar to the whole response."""
    ratios = {
        k: difflib.SequenceMatcher(None, f"{k}. {v}".lower(), response.lower()).ratio() for k, v in options.items()
    }
    return max(options, key=lambda k: ratios[k])  # first of ties, as MedEvalKit


def _strict_choice(item: Any, response: str, difflib_fallback: bool) -> dict:
    options = {str(k): str(v) for k, v in item.options.items()}
    extracted, fallback = extract_choice(response, options), None
    if extracted is None and difflib_fallback:
        extracted, fallback = _difflib_choice(response, options), "difflib"
    correct = None if extracted is None else extracted == item.answer
    return {"rule": "choice", "extracted": extracted, "correct": correct, "fallback": fallback}


def _strict_yes_no(item: Any, response: str) -> dict:
    gold = gold_yes_no(item.answer)
    if gold is None:
        raise ValueError(f"item {item.id!r}: yes/no question whose gold answer {item.answer!r} is not yes/no")
    said = read_yes_no(parse_response(response))
    return {"rule": "yes_no", "extracted": said, "correct": None if said is None else said == gold,
            "gold_normalized": gold}


def _strict_closed(item: Any, response: str) -> dict:
    if gold_yes_no(item.answer) is not None:
        return _strict_yes_no(item, response)
    if item.benchmark == "mmmu-med":
        answer = parse_response(response, markers=False)
        predictions = parse_open_response(answer)
        correct = eval_open(open_golds(item.answer), predictions) if answer.strip() else None
        return {"rule": "mmmu_open", "extracted": answer.strip() or None, "correct": correct}
    answer = parse_response(response)
    return {"rule": "short_answer", "extracted": normalize_answer(answer) or None,
            "correct": match_short_answer(answer, item.answer, item.question)}


def _open_metrics(item: Any, answer: str) -> dict:
    scores = token_scores(answer, item.answer)
    return {"exact_match": exact_match(answer, item.answer), "precision": scores.precision,
            "recall": scores.recall, "f1": scores.f1, "bleu1": bleu1(answer, item.answer), "judge": None}


def _ask(judge: Judge | None, item: Any, answer: str) -> bool | None:
    return None if judge is None or not answer else judge(str(item.question), answer, str(item.answer))


def _strict_open(item: Any, response: str, judge: Judge | None) -> dict:
    answer = parse_response(response)
    record = {"rule": "open", "extracted": answer or None, **_open_metrics(item, answer),
              "correct": match_short_answer(answer, item.answer, item.question)}
    verdict = _ask(judge, item, answer)
    if verdict is not None:  # a failed judge call keeps the rule's verdict
        record["judge"], record["correct"] = bool(verdict), bool(verdict)
    return record


def _medevalkit(item: Any, response: str, seed: int, judge: Judge | None) -> dict:
    record = medevalkit_record(item, response, seed)
    if item.question_type == "open":
        answer = parse_response(response)
        record.update(_open_metrics(item, answer))
        if judge is not None:  # MedEvalKit's judge decides every open answer; a failed call reads as wrong
            verdict = _ask(judge, item, answer)
            record["judge"], record["correct"] = verdict, bool(verdict)
    return record


def _check(response: Any, rules: Any, difflib_fallback: Any, seed: Any, judge: Any) -> None:
    if not isinstance(response, str):
        raise ParameterError("response", f"expected str, got {type(response).__name__}")
    if rules not in RULES:
        raise ParameterError("rules", f"{rules!r} is not one of {list(RULES)}")
    if not isinstance(difflib_fallback, bool):
        raise ParameterError("difflib_fallback", f"expected bool, got {difflib_fallback!r}")
    if difflib_fallback and rules == "medevalkit":
        raise ParameterError("difflib_fallback", "is part of the medevalkit rules already; it only applies to strict")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", f"expected int, got {seed!r}")
    if judge is not None and not callable(judge):
        raise ParameterError("judge", "expected a callable judge(question, answer, gold) or None")


def score_item(
    item: Any,
    response: str,
    *,
    rules: str = "strict",
    seed: int = 0,
    judge: Judge | None = None,
    difflib_fallback: bool = False,
) -> dict:
    """Score one model response to one benchmark item under ``rules`` (Chapter 08).

    ``rules`` is "strict" (what the answer commits to; the default, because every caller in
    the library -- the evaluation, the diagnostics, the option-lookup probe -- asks what the
    model meant) or "medevalkit" (MedEvalKit 9b12e3b's verdicts, quirks included: use it for
    any number set beside the paper's Table 2). Returns a JSON-ready record: ``benchmark, id,
    question_type, lang, modality, gold, response, rules, rule, extracted`` (what the rule read),
    ``verdict`` ("correct" | "incorrect" | "unanswered"; MedEvalKit knows no "unanswered") and
    ``correct`` (bool); multiple choice adds ``fallback`` (None, "difflib" or MMMU's "random");
    open questions add ``exact_match, precision, recall, f1, bleu1`` and ``judge`` (None when
    no judge decided). ``seed`` drives MMMU's random guess (medevalkit), per question.
    """
    _check(response, rules, difflib_fallback, seed, judge)
    qtype = getattr(item, "question_type", None)
    if qtype not in ("multiple_choice", "yes_no", "closed", "open"):
        raise ValueError(f"item {getattr(item, 'id', '?')!r}: unknown question_type {qtype!r}")
    if rules == "medevalkit":
        if qtype == "yes_no" and gold_yes_no(item.answer) is None:
            raise ValueError(f"item {item.id!r}: yes/no question whose gold answer {item.answer!r} is not yes/no")
        record = _medevalkit(item, response, seed, judge)
    elif qtype == "multiple_choice":
        record = _strict_choice(item, response, difflib_fallback)
    elif qtype == "yes_no":
        record = _strict_yes_no(item, response)
    elif qtype == "closed":
        record = _strict_closed(item, response)
    else:
        record = _strict_open(item, response, judge)
    verdict = _verdict(record["correct"])
    record.update(
        benchmark=item.benchmark, id=item.id, question_type=qtype, lang=getattr(item, "lang", "en"),
        modality=getattr(item, "modality", ""), gold=item.answer, response=response, rules=rules,
        verdict=verdict, correct=verdict == "correct",
    )
    return record


def score_items(items: Sequence[Any], responses: Sequence[str], **kwargs: Any) -> list[dict]:
    """:func:`score_item` over paired items and responses, with a progress bar (Chapter 08).

    Keyword arguments (``rules``, ``seed``, ``judge``, ``difflib_fallback``) pass through.
    """
    if len(items) != len(responses):
        raise ParameterError("responses", f"{len(responses)} responses for {len(items)} items")
    pairs = zip(items, responses)
    return [score_item(item, response, **kwargs) for item, response in tqdm(pairs, total=len(items), desc="scoring")]
