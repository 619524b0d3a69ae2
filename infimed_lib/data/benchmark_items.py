"""The seven evaluation benchmarks as items: their names, question types, what each published
format can hold, and :class:`BenchmarkItem`, the one type every reader returns (Chapter 08)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BENCHMARKS: tuple[str, ...] = (
    "mmmu-med",
    "vqa-rad",
    "slake",
    "pathvqa",
    "pmc-vqa",
    "omnimedvqa",
    "medxpertqa-mm",
)

QUESTION_TYPES: tuple[str, ...] = ("multiple_choice", "yes_no", "closed", "open")

# The five MMMU subjects of its "Health & Medicine" discipline.
MMMU_MED_SUBJECTS: tuple[str, ...] = (
    "Basic_Medical_Science",
    "Clinical_Medicine",
    "Diagnostics_and_Laboratory_Medicine",
    "Pharmacy",
    "Public_Health",
)


@dataclass(frozen=True)
class FormatSpec:
    """What a published format can hold: an item outside this cannot survive a round trip."""

    question_types: tuple[str, ...]
    meta_keys: tuple[str, ...] = ()
    has_modality: bool = False
    has_lang: bool = False
    images: tuple[int, int] = (1, 1)  # (fewest, most) images per question
    options: tuple[int, int] = (0, 0)  # (fewest, most) options of a multiple-choice question


# meta keys are the formats' own field names, kept verbatim.
FORMATS: dict[str, FormatSpec] = {
    "mmmu-med": FormatSpec(("multiple_choice", "closed"), ("subject", "subfield", "topic_difficulty", "explanation"),
                           has_modality=True, images=(1, 7), options=(2, 26)),
    "vqa-rad": FormatSpec(("yes_no", "open")),
    "pathvqa": FormatSpec(("yes_no", "open")),
    "slake": FormatSpec(("yes_no", "closed", "open"), ("location", "content_type"),
                        has_modality=True, has_lang=True),
    "pmc-vqa": FormatSpec(("multiple_choice",), ("Caption",), options=(4, 4)),
    "omnimedvqa": FormatSpec(("multiple_choice",), ("dataset", "question_type"), has_modality=True, options=(2, 4)),
    "medxpertqa-mm": FormatSpec(("multiple_choice",), ("medical_task", "body_system", "question_type"),
                                images=(1, 26), options=(2, 26)),
}


@dataclass
class BenchmarkItem:
    """One benchmark question, whatever its source format (Chapter 08).

    ``answer`` is the gold option letter for multiple choice, else the answer text.
    ``images`` holds file paths (str) or ``PIL.Image`` objects; ``meta`` keeps the format's
    own extra fields under their published names. ``published`` keeps, byte for byte, the
    fields a reader had to clean up (PMC-VQA's ``Question``, ``Choice A``-``D`` and ``Answer``,
    MedXpertQA's question with its "Answer Choices:" tail), because MedEvalKit's prompts and
    rules read those raw strings; it takes no part in equality, and items built in memory leave
    it empty (the format modules then rebuild what the writer would write).
    """

    benchmark: str
    id: str
    question: str
    images: list[Any] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    answer: str = ""
    question_type: str = "open"
    lang: str = "en"
    modality: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"BenchmarkItem.benchmark: {self.benchmark!r} is not one of {list(BENCHMARKS)}")
        if self.question_type not in QUESTION_TYPES:
            raise ValueError(
                f"BenchmarkItem {self.id!r}: question_type {self.question_type!r} is not one of {list(QUESTION_TYPES)}"
            )
        if self.question_type == "multiple_choice" and self.answer not in self.options:
            raise ValueError(
                f"BenchmarkItem {self.id!r}: gold answer {self.answer!r} is not an option letter {sorted(self.options)}"
            )


def is_yes_no(answer: str) -> bool:
    """MedEvalKit's rule: a question is a yes/no judgement when its gold answer is yes or no."""
    return str(answer).strip().lower() in ("yes", "no")


def option_letters(count: int) -> list[str]:
    return [chr(ord("A") + index) for index in range(count)]
