"""The curation step's configuration and the judge factory (Chapter 01, data curation).

Notebook 01's parameters become a :class:`CurationConfig`; :func:`make_judge` turns its judge
fields into one of the three judges. The API key itself is never a field: only the name of the
environment variable that holds it, since papermill writes parameters into executed notebooks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from infimed_lib.common import ParameterError, require_choice, require_type
from infimed_lib.curation.judges import Judge, TransformersJudge
from infimed_lib.curation.openai_client import ChatClient, OpenAIJudge
from infimed_lib.curation.reference_judge import ReferenceJudge
from infimed_lib.curation.reference_rules import known_vocabulary
from infimed_lib.curation.selection import Thresholds

JUDGE_KINDS = ("reference", "reference-text", "openai", "hf")


@dataclass(frozen=True)
class JudgeSpec:
    """Which judge, and how to reach it. ``model`` is the served model name (openai) or a
    local model folder (hf); unused by the reference judges. Chapter 01."""

    kind: str = "reference"
    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    send_images: bool = True
    timeout_s: float = 120.0
    max_retries: int = 4
    max_new_tokens: int = 1024
    concurrency: int = 8
    temperature: float | None = 0.0  # None: not sent (reasoning models reject any value)
    name: str = "judge"  # parameter prefix used in error messages

    def __post_init__(self):
        require_choice(self.name, self.kind, JUDGE_KINDS)
        if self.kind == "openai" and not self.base_url:
            raise ParameterError(f"{self.name}_base_url", "is empty; an OpenAI-compatible judge needs its server URL")
        if self.kind in ("openai", "hf") and not self.model:
            raise ParameterError(f"{self.name}_model", f"is empty; the {self.kind} judge needs a model")
        require_type("concurrency", self.concurrency, int)
        if self.concurrency < 1:
            raise ParameterError("concurrency", f"must be >= 1, got {self.concurrency}")


@dataclass(frozen=True)
class CurationConfig:
    """Everything notebook 01 needs, checked on construction; written to
    ``<run_dir>/curation/config.json``. Chapter 01."""

    run_dir: str
    corpus_dir: str
    seed: int = 0
    samples_per_dataset: int = 500
    families: tuple[str, ...] = ("medical_caption", "medical_instruction")
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    second_judge: JudgeSpec | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    high_defect_rate: float = 0.15
    prompt_path: str = ""

    def __post_init__(self):
        require_type("run_dir", self.run_dir, str)
        require_type("corpus_dir", self.corpus_dir, str)
        require_type("seed", self.seed, int)
        require_type("samples_per_dataset", self.samples_per_dataset, int)
        if self.samples_per_dataset < 1:
            raise ParameterError("samples_per_dataset", f"must be >= 1, got {self.samples_per_dataset}")
        if not self.families or not all(isinstance(f, str) for f in self.families):
            raise ParameterError("families", f"must be a non-empty list of family names, got {self.families!r}")
        if not 0 < self.high_defect_rate < 1:
            raise ParameterError("high_defect_rate", f"must be in (0, 1), got {self.high_defect_rate!r}")

    @property
    def out_dir(self) -> Path:
        return Path(self.run_dir) / "curation"


def make_judge(spec: JudgeSpec, samples: Sequence[dict[str, Any]] = ()) -> Judge:
    """Build the judge ``spec`` names. The reference judges learn their word list from
    ``samples`` (the assessment sample; see ``reference_rules.known_vocabulary``). Chapter 01."""
    if spec.kind in ("reference", "reference-text"):
        vocabulary = known_vocabulary(samples) if samples else None
        return ReferenceJudge(vocabulary=vocabulary, use_images=spec.kind == "reference")
    if spec.kind == "openai":
        client = ChatClient(spec.base_url, spec.model, api_key_env=spec.api_key_env or None,
                            timeout_s=spec.timeout_s, max_retries=spec.max_retries,
                            max_concurrency=spec.concurrency, temperature=spec.temperature)
        return OpenAIJudge(client, send_images=spec.send_images)
    return TransformersJudge(spec.model, max_new_tokens=spec.max_new_tokens)
