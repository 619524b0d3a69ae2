"""Fresh draws of the corpus's closed VQA questions: new questions no corpus file holds.

The generator that writes the corpus can draw more questions of the same kind on random streams
that no corpus file uses. Each stream is a distinct set of images and questions, so one stream
can be a validation split (chapter 08 chooses settings on it instead of on the benchmarks),
another chapter 10's held-out set, a third its reflective warm-up. Only the miniature's four VQA
sources can be drawn anew; real data takes its held-out questions from its own training split.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.corpus.corpus_medical import Context, qa_parts
from infimed_lib.data.corpus.corpus_questions import finding_text, truth
from infimed_lib.data.corpus.corpus_sources import build_sources

CLOSED_TYPES = ("multiple_choice", "yes_no", "closed")
# Corpus VQA source -> the benchmark whose training data it imitates (chapter 00).
MIRRORS = {"vqa-rad-mini": "vqa-rad", "slake-mini": "slake", "pathvqa-mini": "pathvqa", "pmc-vqa-mini": "pmc-vqa"}
DRAW_STREAM_BASE = 100  # corpus files use streams 0 (sources) and 1 (benchmarks); draws start far above
# The streams the book draws on, one home so that no two sets share images: chapter 10's warm-up
# and held-out sets, chapter 08's validation split.
WARMUP_STREAM, HELDOUT_STREAM, VALIDATION_STREAM = 0, 1, 2


def drawn_tasks(per_source: int, seed: int, stream: int,
                sources: Sequence[str] = tuple(MIRRORS)) -> list[BenchmarkItem]:
    """``per_source`` new closed questions per source, drawn as the corpus draws them (Chapters 08, 10).

    Each source's own plan (question types, balanced answers, languages) is followed on the
    random stream ``(seed, DRAW_STREAM_BASE + stream, source index)``, which no corpus file uses,
    with procedural images only (no real scans, which the corpus shares between samples). Each
    task keeps its image (a PIL image) and, in ``meta``, the image's findings, the facet asked
    about, its true value and a plausible wrong answer: what a reasoning trace can state.
    """
    specs = {spec.name: (index, spec) for index, spec in enumerate(build_sources())}
    unknown = [s for s in sources if s not in MIRRORS]
    if unknown:
        raise ParameterError("rl_sources", f"{unknown[0]!r}: only the miniature's VQA sources can be drawn "
                             f"anew ({sorted(MIRRORS)}); real data takes its held-out questions from the corpus")
    tasks = []
    for source in sources:
        index, spec = specs[source]
        rng = np.random.default_rng([seed, DRAW_STREAM_BASE + stream, index])
        slots = [s for s in spec.plan(rng, 4 * per_source + 8) if s["qtype"] in CLOSED_TYPES][:per_source]
        for number, slot in enumerate(slots):
            image, attrs, qa = qa_parts(rng, {**slot, "real": False}, Context([]))
            meta = {"source": source, "finding": finding_text(attrs), "facet": qa.facet, "wrong": qa.wrong,
                    "value": truth(attrs, qa.facet) if qa.facet != "finding" else finding_text(attrs)}
            tasks.append(BenchmarkItem(MIRRORS[source], f"{source}-draw{stream}-{number:05d}", qa.question, [image],
                                       dict(qa.options), qa.answer, qa.question_type, qa.lang, attrs["modality"], meta))
    return tasks
