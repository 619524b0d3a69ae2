"""Benchmark prompts in MedEvalKit's formats, with its ``\\boxed{}`` reasoning variant.

Chapter 08 (evaluation) shows one prompt of each kind. The instruction sentences are
MedEvalKit's (``utils/question_formats.py``), in English and Chinese (SLAKE has both), so
that our scores are comparable with the paper's. Two things differ on purpose: options that
the question text already lists (MedXpertQA) are not listed a second time, and images are
marked with the ``<image>`` placeholder our model splices visual tokens into.
"""
from __future__ import annotations

import re
from typing import Any

from infimed_lib.common import ParameterError

IMAGE_MARKER = "<image>"
_MMMU_REF = re.compile(r"<image\s*(\d+)>")

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


def options_in_question(question: str, options: dict[str, str]) -> bool:
    """True when the question text already lists every option, letter and text (Chapter 08).

    MedXpertQA ships its questions as "... Answer Choices: (A) ... (B) ...": MedEvalKit then
    lists the options again, so the model reads them twice. We list them only when missing.
    """
    for letter, text in options.items():
        label = re.search(rf"(?:\(\s*{letter}\s*\)|(?<![\w(]){letter}[.:)])", question)
        if not label or str(text).strip().lower() not in question.lower():
            return False
    return bool(options)


def _layout(item: Any, reasoning: bool) -> str:
    question = str(item.question).strip()
    qtype, lang = item.question_type, getattr(item, "lang", "en") or "en"
    tail = instruction(qtype, lang, reasoning)
    if qtype != "multiple_choice":
        if item.benchmark == "mmmu-med":
            return f"{question}\n\n{instruction('closed', lang, reasoning)}"
        return f"{question}\n{tail}"
    if not item.options:
        raise ValueError(f"item {item.id!r}: multiple_choice question without options")
    if item.benchmark == "mmmu-med":  # MMMU's own layout: "(A) text" lines, blank lines around
        listed = "".join(f"({k}) {v}\n" for k, v in item.options.items())
        return f"{question}\n\n{listed}\n{tail}"
    if options_in_question(question, item.options):
        body = f"问题： {question}" if lang == "zh" else f"Question: {question}"
        return f"{body}\n{tail}"
    listed = "\n".join(f"{k}. {v}" for k, v in item.options.items())
    if lang == "zh":
        return f"问题： {question}\n选项： \n{listed}\n{tail}"
    return f"Question: {question}\nOptions: \n{listed}\n{tail}"


def _place_images(text: str, n_images: int, item_id: str) -> tuple[str, list[int]]:
    """Put one ``<image>`` per image; return the text and the image indices in marker order."""
    bare = text.count(IMAGE_MARKER)
    if bare:  # a loader already placed the markers: accept them only if they fit the images
        if bare != n_images or _MMMU_REF.search(text):
            raise ValueError(f"item {item_id!r}: {bare} {IMAGE_MARKER} marker(s) in the text for {n_images} image(s)")
        return text, list(range(n_images))
    order: list[int] = []

    def replace(match: re.Match) -> str:
        index = int(match.group(1)) - 1
        if not 0 <= index < n_images:
            raise ValueError(f"item {item_id!r}: text refers to <image {index + 1}> but it has {n_images} image(s)")
        if index in order:  # a second reference to the same image stays a textual reference
            return f"image {index + 1}"
        order.append(index)
        return IMAGE_MARKER

    text = _MMMU_REF.sub(replace, text)
    unplaced = [i for i in range(n_images) if i not in order]
    text = f"{IMAGE_MARKER}\n" * len(unplaced) + text
    return text, unplaced + order


def _validate(item: Any, reasoning: Any) -> None:
    if not isinstance(reasoning, bool):
        raise ParameterError("reasoning", f"expected bool, got {type(reasoning).__name__} {reasoning!r}")
    for name in ("benchmark", "id", "question", "question_type", "options", "images"):
        if not hasattr(item, name):
            raise ValueError(f"item: missing field {name!r} (expected a BenchmarkItem)")


def build_prompt(item: Any, reasoning: bool = False) -> str:
    """The user prompt for one benchmark item, in MedEvalKit's format (Chapter 08).

    Multiple choice: "Question: ...", "Options:" with one "A. text" line each, then the
    letter instruction (MMMU keeps its own "(A) text" layout). Yes/no, closed and open
    questions: the question, then one instruction line. ``reasoning=True`` asks for the final
    answer inside ``\\boxed{}``. One ``<image>`` per image opens the prompt, except where the
    text (question or options) refers to MMMU-style ``<image 1>``: those references become
    the markers in place; markers a loader already put in the question are kept when there
    is one per image. Pair it with :func:`prompt_images` for the images in marker order.
    """
    _validate(item, reasoning)
    text, _ = _place_images(_layout(item, reasoning), len(item.images), item.id)
    return text


def prompt_images(item: Any) -> list[Any]:
    """``item.images`` reordered to match the ``<image>`` markers of :func:`build_prompt` (Chapter 08)."""
    _validate(item, False)
    _, order = _place_images(_layout(item, False), len(item.images), item.id)
    return [item.images[i] for i in order]
