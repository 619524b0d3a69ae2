"""Question banks of the miniature corpus: yes/no, closed, open and multiple-choice questions.

Chapter 00 (overview) explains the design: every question asks about one *facet* of an image's true
attributes (modality, body part, tissue, lesion presence, side, level, size, diagnosis), so each
answer can be read off the image. Callers choose the facet and the wanted answer (yes or no,
the gold letter) from balanced lists, which keeps majority-class baselines weak.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from infimed_lib.data.corpus.corpus_text import DIAGNOSES, MODALITY_PHRASES, ZH, article, location, pick, subject

VALUES = {
    "modality": ("CT", "MRI", "X-ray", "histopathology", "dermoscopy", "ultrasound", "nuclear medicine"),
    "body_part": ("head", "chest", "abdomen", "knee"),
    "tissue": ("colon", "liver", "lymph node"),
    "side": ("left", "right"), "level": ("upper", "lower"), "size": ("small", "large"),
    "location": ("upper left", "upper right", "lower left", "lower right"),
    "diagnosis": ("benign nevus", "melanoma"),
}
LESION_FACETS = ("side", "level", "size", "location", "diagnosis")
LETTERS = "ABCDE"
YES_NO_EN = {
    "lesion": ("Is there a lesion in this image?", "Is any abnormality seen?", "Does the image show a focal lesion?"),
    "side": ("Is the lesion on the {v} side of the image?", "Is the abnormality located on the {v}?"),
    "level": ("Is the lesion in the {v} part of the image?", "Is the abnormality in the {v} half?"),
    "size": ("Is the lesion {v}?", "Is the abnormality {v} in size?"),
    "modality": ("Is this {a} {v} image?", "Was this image acquired with {v}?"),
    "body_part": ("Does this image show the {v}?", "Is the {v} shown here?"),
    "tissue": ("Is this tissue from the {v}?", "Does this section show {v} tissue?"),
    "diagnosis": ("Is this lesion a {v}?", "Does the image suggest {v}?"),
}
OPEN_EN = {
    "modality": ("What imaging modality is used?", "What kind of image is this?", "How was this image acquired?"),
    "body_part": ("Which body part is shown?", "What part of the body is imaged?"),
    "tissue": ("Which organ is this tissue from?", "What tissue is shown?"),
    "location": ("Where is the lesion located?", "In which part of the image is the abnormality?"),
    "size": ("How large is the lesion?", "What is the size of the abnormality?"),
    "side": ("On which side is the lesion?",), "level": ("Is the lesion in the upper or lower part?",),
    "diagnosis": ("What is the most likely diagnosis?", "What does this lesion most likely represent?"),
}
CLOSED_EN = {
    "modality": "Was this image taken with {x} or {y}?", "body_part": "Does this image show the {x} or the {y}?",
    "side": "Is the lesion on the {x} or the {y}?", "level": "Is the lesion in the {x} or the {y} part?",
    "size": "Is the lesion {x} or {y}?", "tissue": "Is this {x} or {y} tissue?",
}
YES_NO_ZH = {
    "lesion": ("图中是否有病灶？", "这张图像有异常吗？"), "side": ("病灶在图像{v}吗？",), "level": ("病灶在图像{v}吗？",),
    "size": ("病灶是{v}的吗？",), "modality": ("这是{v}图像吗？",), "body_part": ("图像显示的是{v}吗？",),
}
OPEN_ZH = {
    "modality": ("这张图像是什么成像方式？", "这是什么类型的医学图像？"), "body_part": ("图像显示的是哪个身体部位？",),
    "location": ("病灶位于图像的哪个位置？",), "size": ("病灶是大还是小？",), "side": ("病灶位于图像的哪一侧？",),
    "level": ("病灶位于图像的上部还是下部？",),
}
CLOSED_ZH = {"modality": "这是{x}还是{y}图像？", "side": "病灶在{x}还是{y}？", "level": "病灶在{x}还是{y}？",
             "body_part": "图像显示的是{x}还是{y}？"}


@dataclass
class QA:
    """One question about an image, with its gold answer and a plausible wrong one (Chapter 00)."""

    facet: str
    question_type: str  # "yes_no" | "closed" | "open" | "multiple_choice"
    question: str
    answer: str  # yes/no, short text, or the gold letter
    wrong: str  # an answer of the same form that the image contradicts
    lang: str = "en"
    options: dict[str, str] = field(default_factory=dict)


def truth(attrs: dict, facet: str) -> str:
    """The true value of ``facet`` for an image, as the answer text."""
    if facet == "location":
        return location(attrs)
    if facet == "diagnosis":
        return DIAGNOSES[attrs["pattern"]]
    if facet == "lesion":
        return "yes" if attrs["lesion"] else "no"
    return str(attrs[facet])


def facets(attrs: dict) -> list[str]:
    """The facets a question may ask about for this image (Chapter 00)."""
    if attrs.get("origin") == "dicom":
        return ["modality"] + (["body_part"] if attrs.get("body_part") in VALUES["body_part"] else [])
    found = ["modality", "tissue" if attrs.get("tissue") else "body_part", "lesion"]
    if attrs["modality"] == "dermoscopy":
        found.remove("body_part")
    if attrs.get("lesion"):
        found += ["side", "level", "size", "location"] + (["diagnosis"] if attrs.get("pattern") else [])
    return found


def needs(facet: str, question_type: str, answer: str | None) -> dict:
    """Attribute values an image must have for (facet, wanted answer) to be askable."""
    if facet == "lesion" and question_type == "yes_no":
        return {"lesion": answer == "yes"}
    return {"lesion": True} if facet in LESION_FACETS else {}


def _other(rng: np.random.Generator, facet: str, value: str, pool: tuple[str, ...] | None = None) -> str:
    choices = [v for v in (pool or VALUES[facet]) if v != value]
    return pick(rng, choices)


def _modality_pool(attrs: dict) -> tuple[str, ...]:
    # Distractors from the same family of images, so a wrong guess is not absurd.
    if attrs["modality"] in ("histopathology", "dermoscopy"):
        return ("histopathology", "dermoscopy", "CT", "X-ray")
    return ("CT", "MRI", "X-ray", "ultrasound")


def _zh(value: str) -> str:
    return ZH.get(value, value)


def yes_no(attrs: dict, facet: str, answer: str, rng: np.random.Generator, lang: str = "en") -> QA:
    """A yes/no question about ``facet`` whose true answer is ``answer`` (Chapter 00)."""
    value = truth(attrs, facet)
    pool = _modality_pool(attrs) if facet == "modality" else None
    asked = value if (answer == "yes" or facet == "lesion") else _other(rng, facet, value, pool)
    bank = (YES_NO_ZH if lang == "zh" else YES_NO_EN)[facet]
    shown = _zh(asked) if lang == "zh" else asked
    question = pick(rng, bank).format(v=shown, a=article(asked))
    if lang == "zh":
        return QA(facet, "closed", question, ZH[answer], ZH["no" if answer == "yes" else "yes"], lang)
    return QA(facet, "yes_no", question, answer, "no" if answer == "yes" else "yes", lang)


def open_question(attrs: dict, facet: str, rng: np.random.Generator, lang: str = "en") -> QA:
    """An open question with a short answer (a word or phrase) (Chapter 00)."""
    value = truth(attrs, facet)
    wrong = _other(rng, facet, value, _modality_pool(attrs) if facet == "modality" else None)
    if lang == "zh":
        return QA(facet, "open", pick(rng, OPEN_ZH[facet]), _zh(value), _zh(wrong), lang)
    return QA(facet, "open", pick(rng, OPEN_EN[facet]), value, wrong, lang)


def closed_question(attrs: dict, facet: str, rng: np.random.Generator, lang: str = "en") -> QA:
    """A closed question naming two alternatives ("CT or MRI?"), the true one in random order (Chapter 00)."""
    value = truth(attrs, facet)
    wrong = _other(rng, facet, value, _modality_pool(attrs) if facet == "modality" else None)
    pair = [value, wrong] if rng.uniform() < 0.5 else [wrong, value]
    if lang == "zh":
        text = CLOSED_ZH[facet].format(x=_zh(pair[0]), y=_zh(pair[1]))
        return QA(facet, "closed", text, _zh(value), _zh(wrong), lang)
    return QA(facet, "closed", CLOSED_EN[facet].format(x=pair[0], y=pair[1]), value, wrong, lang)


def choice_question(facet: str, value: str, candidates, gold: str, n_options: int,
                    rng: np.random.Generator, question: str) -> QA:
    """A multiple-choice question with ``value`` at letter ``gold`` among distractors from ``candidates`` (Chapter 00).

    The number of options shrinks when too few distinct candidates exist, and ``gold`` moves
    inside the range.
    """
    pool = list(dict.fromkeys(str(c) for c in candidates if c != value))
    n_options = max(2, min(n_options, len(pool) + 1))
    distractors = [pool[i] for i in rng.permutation(len(pool))[: n_options - 1]]
    index = min(LETTERS.index(gold), n_options - 1)
    texts = distractors[:index] + [value] + distractors[index:]
    wrong = LETTERS[(index + 1 + int(rng.integers(0, n_options - 1))) % n_options]
    return QA(facet, "multiple_choice", question, LETTERS[index], wrong, "en",
              {LETTERS[i]: t for i, t in enumerate(texts)})


def multiple_choice(attrs: dict, facet: str, gold: str, n_options: int, rng: np.random.Generator,
                    question: str | None = None) -> QA:
    """A multiple-choice question about one facet of the image (Chapter 00)."""
    return choice_question(facet, truth(attrs, facet), VALUES[facet], gold, n_options, rng,
                           question or pick(rng, OPEN_EN[facet]))


def finding_question(attrs: dict, gold: str, n_options: int, rng: np.random.Generator, question: str) -> QA:
    """Multiple choice over whole-image descriptions (modality, subject, lesion and where) (Chapter 00)."""
    value = finding_text(attrs)
    candidates = []
    for _ in range(40):
        other = dict(attrs)
        # "skin" has no alternative a dermoscope could show, so a dermoscopy subject never changes
        key = pick(rng, [k for k in ("lesion", "side", "level", "size", "body_part", "tissue", "modality")
                         if other.get(k) is not None and not (k == "body_part" and other[k] == "skin")])
        if key == "lesion":
            other.update(lesion=not other["lesion"], side=pick(rng, VALUES["side"]),
                         level=pick(rng, VALUES["level"]), size=pick(rng, VALUES["size"]))
        elif key == "modality":
            other["modality"] = pick(rng, [m for m in ("CT", "MRI", "X-ray") if m != attrs["modality"]]) \
                if attrs["modality"] in ("CT", "MRI", "X-ray") else attrs["modality"]
        else:
            other[key] = _other(rng, key, str(other[key]))
        candidates.append(finding_text(other))
    return choice_question("finding", value, candidates, gold, n_options, rng, question)


# MMMU's official parser reads an answer's option text only when the answer is longer than five
# words (a shorter one without a letter gets a random letter), so in MMMU's layout the corpus
# answers with a sentence around the option's text.
MMMU_SENTENCE = "The option that fits the question best is {}."


def mc_answer(text: str, layout: str) -> str:
    """How the corpus answers multiple choice: the option's text, in a sentence for MMMU's layout (Chapter 00)."""
    return MMMU_SENTENCE.format(text) if layout == "mmmu-med" else text


def format_mc(qa: QA) -> str:
    """The question with its options listed one per line, as LLaVA-style data writes them.

    The miniature corpus answers its multiple-choice questions with the right option's *text*
    ("MRI"), where real datasets answer with the letter ("B"). Finding the letter written beside
    a known answer is a two-step lookup that the random-initialised miniature language model does
    not learn within the book's CPU budget (chapter 08's option-lookup probe measures it), so
    letter answers taught it nothing about the image. The benchmarks' rules (MedEvalKit's
    included) map an answer that names one option's text to that option's letter.
    """
    return qa.question + "\n" + "\n".join(f"{k}. {v}" for k, v in qa.options.items())


def finding_text(attrs: dict) -> str:
    """A one-line description of an image's findings, used as a compound answer option (Chapter 00)."""
    mod = MODALITY_PHRASES[attrs["modality"]][0]
    if attrs.get("lesion"):
        return f"{mod} {subject(attrs)} with a {attrs['size']} lesion in the {location(attrs)}".replace("  ", " ")
    return f"{mod} {subject(attrs)} without a lesion".replace("  ", " ")
