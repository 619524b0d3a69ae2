"""Benchmark prompts in two layouts: ``"book"`` (the default) and ``"medevalkit"`` (Chapter 08).

Both use MedEvalKit's instruction sentences (``utils/question_formats.py``), in English and
Chinese (SLAKE has both), with its ``\\boxed{}`` reasoning variants.

``layout="medevalkit"`` is MedEvalKit 9b12e3b's prompt text byte for byte, per benchmark and
question type: multiple choice opens with a newline ("\\nQuestion: ...\\nOptions: \\n..."),
lists the options as MedEvalKit builds them ("A. text"; PMC-VQA's CSV cells as they are, " A:CT ")
and prints MedXpertQA's question with its own "Answer Choices:" tail, so the options appear twice;
VQA-RAD and PathVQA ask yes/no questions with the yes/no instruction and the rest with the open
one; SLAKE's CLOSED questions, yes/no ones included, get "Answer the question using a single word
or phrase." (``utils/SLAKE/SLAKE.py: load_data``); MMMU uses its own template
(``utils/MMMU/data_utils.py: construct_prompt``): a leading newline, "(A) text" lines, blank
lines and eight spaces before the instruction, ``<image 1>`` left in the text and only the first
image passed. The one addition is ours: one ``<image>`` marker per passed image opens the
prompt, where MedEvalKit's model wrappers put the image before the text.

``layout="book"`` is the cleaner layout the book trains and evaluates with by default; it
differs from MedEvalKit's on purpose: no leading newline; question text stripped; options
always "A. text" (PMC-VQA's letter prefix removed); options the question already lists
(MedXpertQA) not listed a second time; SLAKE's CLOSED questions with a yes/no gold get the
yes/no instruction; MMMU's ``<image k>`` references become the ``<image>`` markers in place
(every image passed, in the order referred to) and its instruction follows one blank line.
"""
from __future__ import annotations

import re
from typing import Any

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmark_exam_formats import medxpert_published_question
from infimed_lib.data.benchmark_vqa_formats import pmc_published
from infimed_lib.data.prompt_format import IMAGE_MARKER, instruction

LAYOUTS = ("book", "medevalkit")
_MMMU_REF = re.compile(r"<image\s*(\d+)>")

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


def _medevalkit_choices(item: Any) -> tuple[str, list[str]]:
    if item.benchmark == "pmc-vqa":
        published = pmc_published(item)
        return published["Question"], published["choices"]
    question = medxpert_published_question(item) if item.benchmark == "medxpertqa-mm" else str(item.question)
    return question, [f"{key}. {text}" for key, text in item.options.items()]


def medevalkit_text(item: Any, reasoning: bool = False) -> str:
    """MedEvalKit 9b12e3b's prompt text for ``item``, byte for byte, without image markers (Chapter 08)."""
    _validate(item, reasoning)
    qtype, lang = item.question_type, ("zh" if getattr(item, "lang", "en") == "zh" else "en")
    if item.benchmark == "mmmu-med":  # utils/MMMU/data_utils.py: construct_prompt
        if qtype == "multiple_choice":
            listed = "".join(f"({key}) {text}\n" for key, text in item.options.items())
            return f"\n{item.question}\n\n{listed}\n\n        {instruction('multiple_choice', 'en', reasoning)}"
        return f"\n{item.question}\n\n        {instruction('closed', 'en', reasoning)}"
    if qtype == "multiple_choice":  # utils/question_formats.py: get_multiple_choice_prompt
        if not item.options:
            raise ValueError(f"item {item.id!r}: multiple_choice question without options")
        question, choices = _medevalkit_choices(item)
        listed = "\n".join(choices)
        if lang == "zh":
            return f"\n问题： {question}\n选项： \n{listed}\n{instruction(qtype, lang, reasoning)}"
        return f"\nQuestion: {question}\nOptions: \n{listed}\n{instruction(qtype, lang, reasoning)}"
    if item.benchmark == "slake":  # CLOSED (yes/no or not) -> close-ended prompt, OPEN -> open
        kind = "open" if qtype == "open" else "closed"
    elif item.benchmark == "vqa-rad":
        kind = "yes_no" if str(item.answer).lower() in ("yes", "no") else "open"
    elif item.benchmark == "pathvqa":  # PATH_VQA.construct_messages tests the raw gold
        kind = "yes_no" if str(item.answer) in ("yes", "no") else "open"
    else:
        kind = qtype
    return f"{item.question}\n{instruction(kind, lang, reasoning)}"


def _medevalkit_images(item: Any) -> list[int]:
    # MMMU passes image_1 only (process_single_sample); every other benchmark all its images.
    return [0] if item.benchmark == "mmmu-med" and item.images else list(range(len(item.images)))


def _validate(item: Any, reasoning: Any, layout: Any = "book") -> None:
    if not isinstance(reasoning, bool):
        raise ParameterError("reasoning", f"expected bool, got {type(reasoning).__name__} {reasoning!r}")
    if layout not in LAYOUTS:
        raise ParameterError("prompts", f"{layout!r} is not one of {list(LAYOUTS)}")
    for name in ("benchmark", "id", "question", "question_type", "options", "images"):
        if not hasattr(item, name):
            raise ValueError(f"item: missing field {name!r} (expected a BenchmarkItem)")


def build_prompt(item: Any, reasoning: bool = False, layout: str = "book") -> str:
    """The user prompt for one benchmark item (Chapter 08).

    ``layout="book"`` (default): multiple choice as "Question: ...", "Options:" with one
    "A. text" line each, then the letter instruction (MMMU keeps its "(A) text" layout);
    yes/no, closed and open questions as the question, then one instruction line; one
    ``<image>`` per image opens the prompt, except where the text refers to MMMU-style
    ``<image 1>``: those references become the markers in place; markers a loader already put
    in the question are kept when there is one per image. ``layout="medevalkit"``: one
    ``<image>`` per image MedEvalKit passes, then :func:`medevalkit_text`. ``reasoning=True``
    asks for the final answer inside ``\\boxed{}``. Pair it with :func:`prompt_images` (same
    ``layout``) for the images in marker order.
    """
    _validate(item, reasoning, layout)
    if layout == "medevalkit":
        return f"{IMAGE_MARKER}\n" * len(_medevalkit_images(item)) + medevalkit_text(item, reasoning)
    text, _ = _place_images(_layout(item, reasoning), len(item.images), item.id)
    return text


def prompt_images(item: Any, layout: str = "book") -> list[Any]:
    """``item.images`` in the order of the ``<image>`` markers of :func:`build_prompt` (Chapter 08)."""
    _validate(item, False, layout)
    if layout == "medevalkit":
        return [item.images[i] for i in _medevalkit_images(item)]
    _, order = _place_images(_layout(item, False), len(item.images), item.id)
    return [item.images[i] for i in order]
