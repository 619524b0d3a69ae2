"""The answer format the prompts ask for, shared by training data, evaluation and curation.

MedEvalKit's instruction sentences (``utils/question_formats.py``, Chapter 08), in English and
Chinese, with their ``\\boxed{}`` reasoning variants; the ``<image>`` marker that stands for an
image in a prompt; and :func:`parse_response`, which finds the part of a reply that states the
answer those instructions ask for (a ``\\boxed{}``, an ``<answer>`` tag or an "answer is" marker).
"""
from __future__ import annotations

import re

from infimed_lib.common import ParameterError

IMAGE_MARKER = "<image>"

_INSTRUCTIONS = {
    ("multiple_choice", "en", False): "Answer with the option's letter from the given choices directly.",
    ("multiple_choice", "en", True): 'Answer with the option\'s letter from the given choices and put the letter in one "\\boxed{}".',
    ("yes_no", "en", False): "Please output 'yes' or 'no'(no extra output).",
    ("yes_no", "en", True): 'Please output "yes" or "no" and put the answer in one "\\boxed{}".',
    ("closed", "en", False): "Answer the question using a single word or phrase.",
    ("closed", "en", True): 'Answer the question using a single word or phrase and put the answer in one "\\boxed{}".',
    ("open", "en", False): "Please answer the question concisely.",
    ("open", "en", True): 'Please answer the question concisely and put the answer in one "\\boxed{}".',
    ("multiple_choice", "zh", False): "请直接使用给定选项中的选项字母来回答该问题。",
    ("multiple_choice", "zh", True): '请直接使用给定选项中的选项字母来回答该问题,并将答案包裹在"\\boxed{}"里',
    ("yes_no", "zh", False): "请输出'是'或'否'(不要有任何其它输出)。",
    ("yes_no", "zh", True): "请输出'是'或'否'，并将答案放在一个'\\boxed{}'中。",
    ("closed", "zh", False): "请用一个单词或者短语回答该问题。",
    ("closed", "zh", True): "请用一个单词或者短语回答该问题，并将答案放在一个'\\boxed{}'中。",
    ("open", "zh", False): "请简要回答该问题。",
    ("open", "zh", True): "请简要回答该问题，并将答案放在一个'\\boxed{}'中。",
}


def instruction(question_type: str, lang: str = "en", reasoning: bool = False) -> str:
    """MedEvalKit's answer instruction for one question type (Chapter 08)."""
    key = (question_type, "zh" if lang == "zh" else "en", bool(reasoning))
    if key not in _INSTRUCTIONS:
        raise ParameterError("question_type", f"{question_type!r} is not one of multiple_choice, yes_no, closed, open")
    return _INSTRUCTIONS[key]


_THINK_END = re.compile(r"</think\s*>", re.I)
_BOXED = re.compile(r"(?<![A-Za-z])\\?boxed\s*\{")
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.I | re.S)
# MedEvalKit's markers ("answer is", "answer:", "**answer**:", "final answer", "答案:") as one
# pattern, so that the *last* marker in the text wins, whichever of them it is.
_MARKER = re.compile(
    r"\*{0,2}\b(?:(?:final|simple|short|correct|my)\s+)?answer\s*\*{0,2}\s*(?:is\b\s*:?|[:：])\s*\*{0,2}"
    r"|\bfinal\s+answer\b\s*\*{0,2}"
    r"|答案\s*(?:是|为|[:：])"
    r"|(?:选择|选项|选)\s*[:：]?",
    re.I,
)


def _strip_think(text: str) -> str:
    """Keep what follows the last ``</think>``: the reasoning before it is not a commitment."""
    parts = _THINK_END.split(text)
    return parts[-1] if len(parts) > 1 and parts[-1].strip() else text


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}``, braces balanced (LaTeX answers nest them)."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for pos in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[pos], 0)
            if depth == 0:
                return text[start:pos]
    return None


def explicit_segment(response: str, markers: bool = True) -> tuple[str, bool]:
    """The answer-stating part of ``response`` and whether a box, tag or marker pointed at it (Chapter 08)."""
    text = _strip_think(response)
    explicit = False
    boxed = _last_boxed(text)
    tags = _ANSWER_TAG.findall(text)
    if boxed is not None:
        text, explicit = boxed, True
    elif tags:
        text, explicit = tags[-1], True
    found = list(_MARKER.finditer(text)) if markers else []
    if found and text[found[-1].end():].strip():
        text, explicit = text[found[-1].end():], True
    return text.strip(), explicit


def parse_response(response: str, markers: bool = True) -> str:
    """The part of ``response`` that states the answer (Chapter 08), as MedEvalKit's rule.

    In order: drop a ``<think>...</think>`` preamble; take the last ``\\boxed{...}`` content,
    else the last ``<answer>...</answer>`` content, else the whole text; then keep what
    follows the last answer marker ("answer is", "Answer:", "**Answer:**", "Final answer",
    "答案:" ...). Unlike MedEvalKit the case is kept (so "A" and "a" stay distinct) and the
    last marker wins rather than the last in a fixed marker list. ``markers=False`` stops
    after the box/tag step (the MMMU parser wants the rest of the sentence).
    """
    if not isinstance(response, str):
        raise ParameterError("response", f"expected str, got {type(response).__name__}")
    return explicit_segment(response, markers)[0]
