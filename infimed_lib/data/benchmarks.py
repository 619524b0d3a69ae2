"""The seven evaluation benchmarks, read from and written in their published file formats.

Chapter 08 (evaluation) explains how each benchmark is typed and scored.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass
class BenchmarkItem:
    """One benchmark question, whatever its source format (Chapter 08).

    ``answer`` is the gold option letter for multiple choice, else the answer text.
    ``images`` holds file paths (str) or ``PIL.Image`` objects.
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
