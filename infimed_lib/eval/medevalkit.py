"""MedEvalKit's verdicts, reproduced quirk for quirk (``rules="medevalkit"``; Chapter 08).

The paper's Table 2 was scored by MedEvalKit (alibaba-damo-academy/MedEvalKit, commit 9b12e3b),
so a number meant to sit beside it must be scored the same way, faults included. This module
re-implements, from reading that commit, what each benchmark's ``cal_metrics`` decides; no code
is copied. Each behaviour below names the MedEvalKit file and function it comes from.

Shared readers (``utils/utils.py``):

* ``parse_response``: lower-case; if the text holds "boxed", keep the content of the last
  ``\\boxed{`` (mathruler's ``extract_boxed_content``: balanced braces, stripped; the string
  ``"None"`` when there is no complete box); else, if it holds ``<answer>``, the contents of all
  complete ``<answer>`` tags joined by a space (``extract``; the whole text when none is
  complete); then, for each marker in the order "**answer**:", "**answer**", "*answer*:",
  "**answer:**", "answer is", "answer:", "答案:", "final answer", "final answer is", keep what
  follows its last occurrence. Nothing is stripped afterwards.
* ``judge_judgement`` (yes/no): after ``parse_response`` and removing newlines and periods,
  correct iff exactly one of the *substrings* "yes"/"no" occurs and the gold occurs: "I don't
  know" is a correct "no" ("know"), "A nodule is seen" too ("nodule").
* ``judge_close_end_vqa``: the parsed text, newlines and periods removed, equals the lower-cased
  gold exactly ("yes, it is" is wrong for "yes").
* ``judge_multi_choice``: on the lower-cased response, a first paragraph (split on a blank line)
  that is exactly a letter is used alone, else a last paragraph whose text before its first
  period is a letter; then ``parse_response``, strip, newlines removed, and the *piece*
  ``text.split(".")[0].split(":")[-1]`` is compared: equal to the gold, or a letter, or an option
  string ("a. ct" / PMC-VQA's "a:ct"; a piece never holds "." or ":", so only the gold letter
  itself counts). A letter that is not the gold is wrong. Anything else goes to the ``difflib``
  fallback (``find_most_similar_index``): the option string with the highest
  ``SequenceMatcher(option, text).ratio()``, the first one on ties and option A when every ratio
  is 0, so an empty response "answers" A.
* ``judge_open_end_vqa``: correct iff the parsed text equals the lower-cased gold (exact match;
  nothing stripped, so "Answer: lung" leaves " lung" and is wrong). Where MedEvalKit raises
  instead (``rouge`` on an empty hypothesis, ``calculate_f1`` returning a bare 0 to a 3-tuple
  unpacking), the verdict here is incorrect.

Per benchmark (``cal_metrics`` of ``utils/<NAME>/<NAME>.py``):

* VQA-RAD, PathVQA: box (mathruler, on the raw text) else ``<answer>`` tag extracted first,
  then response and gold lower-cased and stripped; a gold of "yes"/"no" takes
  ``judge_judgement``, any other gold ``judge_open_end_vqa``.
* SLAKE: box or tag extracted, nothing lower-cased or stripped; OPEN takes
  ``judge_open_end_vqa``; CLOSED takes ``judge_judgement`` only when the gold is exactly "yes"
  or "no" in lower case. SLAKE's published golds are capitalised ("Yes"), so its English yes/no
  questions fall to ``judge_close_end_vqa``, where "Yes, it is." is wrong; Chinese 是/否 too.
* PMC-VQA: ``judge_multi_choice`` on the raw response with the CSV's choice cells (" A:CT ")
  and its ``Answer`` cell.
* OmniMedVQA, MedXpertQA-MM: ``extract(response, "answer")`` first, then
  ``judge_multi_choice`` with "A. text" options.
* MMMU (``utils/MMMU/eval_val.py: run_model``, ``eval_utils.py``): ``<answer>`` content, then a
  complete box's content; multiple choice takes MedEvalKit's copy of MMMU's
  ``parse_multi_choice_response`` (which first strips the text, and turns a "\\boxed" without a
  complete box into "None") with a random letter when nothing parses; open questions store the
  raw string as ``parsed_pred`` and ``eval_open`` then iterates over its *characters*, so no
  open MMMU answer can be right (only an empty gold would match).

With an LLM judge (``use_llm_judge``; passed to :func:`~infimed_lib.eval.scoring.score_item`), the
open questions of VQA-RAD, PathVQA and SLAKE take the judge's verdict, and a failed call counts
as wrong (``utils/utils.py: openai_llm.generate_output`` returns None, which ``extract`` turns
into "", not "0"); MMMU's open questions never reach it (``eval_val.py``).

Not reproduced, because they are errors in the tallies rather than in the verdicts (see
:mod:`~infimed_lib.eval.scoring`): the judge double counting SLAKE's closed questions and zeroing
PathVQA's, ``calculate_f1``'s swapped return order. MMMU's random letter is seeded per question
(:func:`~infimed_lib.eval.mmmu.item_seed`) rather than drawn from one global sequence, so a
guessed verdict matches MedEvalKit's in distribution, not draw for draw.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from infimed_lib.data.benchmark_vqa_formats import pmc_published
from infimed_lib.eval.mmmu import item_seed, normalize_open, parse_multi_choice_response

__all__ = ["boxed_content", "judge_close_end", "judge_judgement", "judge_multi_choice", "medevalkit_record",
           "mmmu_open_correct", "parse_response_medevalkit", "tag_content"]

_MARKERS = ("**answer**:", "**answer**", "*answer*:", "**answer:**", "answer is", "answer:", "答案:",
            "final answer", "final answer is")
_YES_NO_GOLD = ("yes", "no")


def boxed_content(text: str) -> str:
    """mathruler's ``extract_boxed_content``: the last complete ``\\boxed{...}``, stripped, else "None"."""
    start = text.rfind("\\boxed{")
    if start == -1:
        return "None"
    depth = 0
    content = text[start + len("\\boxed{"):]
    for position, char in enumerate(content):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == -1:
            return content[:position].strip()
    return "None"


def tag_content(text: str, tag: str = "answer") -> str:
    """MedEvalKit's ``extract(text, tag)``: every complete ``<tag>...</tag>`` joined by a space, else the text."""
    opening, closing, found = f"<{tag}>", f"</{tag}>", []
    start = text.find(opening)
    while start != -1:
        end = text.find(closing, start + len(opening))
        if end == -1:
            break
        found.append(text[start + len(opening):end])
        start = text.find(opening, end + len(closing))
    joined = " ".join(found).strip()
    return joined if joined else text


def parse_response_medevalkit(response: str) -> str:
    """MedEvalKit's ``parse_response`` (``utils/utils.py``), described in the module docstring."""
    text = response.lower()
    if "boxed" in text:
        text = boxed_content(text)
    elif "<answer>" in text:
        text = tag_content(text)
    for marker in _MARKERS:
        if marker in text:
            text = text.split(marker)[-1]
    return text


def judge_judgement(gold: str, response: str) -> tuple[bool, str]:
    """``judge_judgement``: (correct, the text it tested) -- substring yes/no."""
    text = parse_response_medevalkit(response).replace("\n", "").replace(".", "")
    gold = gold.lower()
    return (("yes" in text) != ("no" in text)) and gold in text, text


def judge_close_end(gold: str, response: str) -> tuple[bool, str]:
    """``judge_close_end_vqa``: (correct, the text it compared) -- exact string equality."""
    text = parse_response_medevalkit(response).replace("\n", "").replace(".", "")
    return text == gold.lower(), text


def _most_similar(choices: Sequence[str], text: str) -> int:
    # find_most_similar_index: the first strictly highest ratio, starting from 0 at index 0.
    best, best_ratio = 0, 0.0
    for index, choice in enumerate(choices):
        ratio = difflib.SequenceMatcher(None, choice, text).ratio()
        if ratio > best_ratio:
            best, best_ratio = index, ratio
    return best


def judge_multi_choice(choices: Sequence[str], gold: str, response: str) -> tuple[bool, str, bool]:
    """``judge_multi_choice``: (correct, the letter or piece it read, whether difflib decided)."""
    letters = [chr(ord("a") + index) for index in range(len(choices))]
    text = response.lower()
    paragraphs = text.split("\n\n")
    if paragraphs[0] in letters:
        text = paragraphs[0]
    elif paragraphs[-1].split(".")[0] in letters:
        text = paragraphs[-1].split(".")[0]
    text = parse_response_medevalkit(text).strip().lower().replace("\n", "")
    piece = text.split(".")[0].split(":")[-1]
    lowered = [choice.lower() for choice in choices]
    gold = gold.strip().lower()
    if piece == gold:
        return True, piece, False
    if piece in letters:
        return lowered[letters.index(piece)] == gold, piece, False
    if piece in lowered:
        return gold in letters and piece == lowered[letters.index(gold)], piece, False
    index = _most_similar(lowered, text)
    return letters[index] == gold or lowered[index] == gold, letters[index], True


def mmmu_open_correct(gold: str, parsed_pred: str) -> bool:
    """``eval_open`` handed the raw string: it loops over characters, so a string gold almost never fits."""
    golds = normalize_open(gold)  # MMMU's normalize_str, which MedEvalKit copies
    return any(isinstance(norm, str) and norm in char for char in parsed_pred for norm in golds)


def _vqa_record(item: Any, response: str) -> dict:
    boxed = boxed_content(response)
    text = boxed if boxed != "None" else (tag_content(response) if "<answer>" in response else response)
    if item.benchmark == "slake":
        gold = item.answer
        if item.question_type == "open":
            parsed = parse_response_medevalkit(text)
            return {"rule": "medevalkit_open", "extracted": parsed, "correct": parsed == gold.lower()}
        if gold in _YES_NO_GOLD:
            correct, read = judge_judgement(gold, text)
            return {"rule": "medevalkit_judgement", "extracted": read, "correct": correct}
        correct, read = judge_close_end(gold, text)
        return {"rule": "medevalkit_close_end", "extracted": read, "correct": correct}
    gold, text = item.answer.lower().strip(), text.lower().strip()
    if gold in _YES_NO_GOLD:
        correct, read = judge_judgement(gold, text)
        return {"rule": "medevalkit_judgement", "extracted": read, "correct": correct}
    parsed = parse_response_medevalkit(text)
    return {"rule": "medevalkit_open", "extracted": parsed, "correct": parsed == gold}


def _choice_record(item: Any, response: str, seed: int) -> dict:
    if item.benchmark == "mmmu-med":
        text = tag_content(response) if "<answer>" in response else response
        boxed = boxed_content(text)
        text = boxed if boxed != "None" else text
        if item.question_type != "multiple_choice":
            return {"rule": "medevalkit_mmmu_open", "extracted": text, "correct": mmmu_open_correct(item.answer, text)}
        if "<answer>" in text:
            text = tag_content(text)
        elif "\\boxed" in text:
            text = boxed_content(text)
        letter, guessed = parse_multi_choice_response(text.strip(), list(item.options), item.options,
                                                      item_seed(seed, item.id))
        return {"rule": "medevalkit_mmmu_choice", "extracted": letter, "correct": letter == item.answer,
                "fallback": "random" if guessed else None}
    if item.benchmark == "pmc-vqa":
        published = pmc_published(item)
        choices, gold = published["choices"], published["Answer"]
    else:
        choices, gold = [f"{key}. {text}" for key, text in item.options.items()], item.answer
        response = tag_content(response) if response else response
    correct, read, by_difflib = judge_multi_choice(choices, gold, response)
    return {"rule": "medevalkit_choice", "extracted": read, "correct": correct,
            "fallback": "difflib" if by_difflib else None}


def medevalkit_record(item: Any, response: str, seed: int = 0) -> dict:
    """MedEvalKit's verdict on one response: ``rule``, ``extracted`` (what it read), ``correct``
    and, for multiple choice, ``fallback`` ("difflib", MMMU's "random" or None). Chapter 08."""
    if item.question_type == "multiple_choice" or item.benchmark == "mmmu-med":
        return _choice_record(item, response, seed)
    return _vqa_record(item, response)
