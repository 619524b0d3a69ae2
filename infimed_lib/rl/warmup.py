"""The reflective warm-up: a small SFT set of reasoning traces, some with a corrected first guess.

Chapter 10 explains why (the InfiMed RL paper, arXiv 2505.23867, sections on reflective CoT): RL
can only reinforce behaviour the policy already shows sometimes. A model that answers with one
word gives GRPO nothing to work with beyond that word; a short SFT on traces that first describe
the image, then answer, and in some traces catch and correct a wrong first answer ("Wait, let me
re-check the image ..."), gives it a reasoning layout and a self-check to strengthen.

Traces are built from what the corpus generator knows about each drawn image (``rl.tasks``:
``drawn_tasks``): the facet the question asks about, its true value and a plausible wrong
answer. They end in the committed-answer layout the reward checks, ``\\boxed{}``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.images import image_to_data_url

# What each facet's true value says about the image: the one fact the question turns on.
FACET_CLAUSES = {
    "lesion": {"yes": "There is a lesion", "no": "There is no lesion"},
    "side": "The lesion is on the {} side", "level": "The lesion is in the {} part", "size": "The lesion is {}",
    "location": "The lesion is in the {}", "modality": "The modality is {}", "body_part": "It shows the {}",
    "tissue": "The tissue is {}", "diagnosis": "It looks like {}", "finding": "The image shows {}",
}
REFLECTION = "Wait, let me re-check the image."


def answer_text(item: BenchmarkItem, answer: str) -> str:
    """The answer as the corpus says it: an option's text for multiple choice (chapter 00), else itself."""
    return item.options.get(answer, answer) if item.options else answer


def fact_clause(item: BenchmarkItem) -> str:
    """The sentence that states the asked facet's true value ("The lesion is on the left side.")."""
    facet, value = item.meta.get("facet"), item.meta.get("value")
    template = FACET_CLAUSES.get(facet)
    if template is None or value is None:
        raise ParameterError("tasks", f"task {item.id!r} has no known facet/value in meta (use rl.tasks.drawn_tasks)")
    return (template[value] if isinstance(template, dict) else template.format(value)) + "."


def reasoning_trace(item: BenchmarkItem, reflective: bool) -> str:
    """The assistant's answer to one drawn task: the fact the question turns on, then the boxed
    answer (Chapter 10).

    ``reflective`` opens with the task's plausible wrong answer and corrects it after
    :data:`REFLECTION`, the pattern the InfiMed RL paper injects into part of its CoT data.
    The traces are short on purpose: every token is paid for in sampling and training time.
    """
    final = f"{fact_clause(item)} \\boxed{{{answer_text(item, item.answer)}}}"
    if not reflective:
        return final
    return f"My first guess is {answer_text(item, str(item.meta.get('wrong')))}. {REFLECTION} {final}"


def warmup_samples(items: Sequence[BenchmarkItem], reflective_share: float = 0.25, seed: int = 0) -> list[dict]:
    """SFT samples (the corpus schema) of reasoning traces; ``reflective_share`` of them reflective (Chapter 10).

    Prompts are the evaluation's reasoning prompts (``build_prompt(item, reasoning=True)``), the
    ones RL trains with; images travel as data URLs, so the file needs no image folder.
    """
    if not 0.0 <= reflective_share <= 1.0:
        raise ParameterError("reflective_share", f"must be in [0, 1], got {reflective_share}")
    rng = np.random.default_rng(seed)
    reflective = set(rng.permutation(len(items))[:round(reflective_share * len(items))].tolist())
    samples = []
    for index, item in enumerate(items):
        images = [image if isinstance(image, str) else image_to_data_url(image) for image in item.images]
        samples.append({
            "id": f"warmup-{item.id}", "source": "rl-warmup", "family": "medical_instruction", "kind": "reasoning",
            "domain": "medical", "images": images,
            "meta": {"reflective": index in reflective, "question_type": item.question_type},
            "conversations": [{"from": "human", "value": build_prompt(item, reasoning=True)},
                              {"from": "gpt", "value": reasoning_trace(item, index in reflective)}]})
    return samples
