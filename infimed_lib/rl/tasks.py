"""Closed questions for reinforcement learning: from the corpus's training split, and fresh draws.

Chapter 10 explains where each set comes from. RL needs questions whose answer a rule can check,
so only the closed types count (multiple choice, yes/no, closed short answer; open answers would
need a judge). Two sources:

* :func:`corpus_tasks` reads the VQA sources of the corpus on disk (the training split: never
  the benchmarks) and turns each sample back into a question with options and a gold answer;
* :func:`~infimed_lib.data.corpus.corpus_draws.drawn_tasks` (re-exported here) draws new questions with the corpus generator's own question builders on
  a random stream no corpus file uses, keeping each image's true findings. Chapter 10 builds the
  reflective warm-up traces from such draws, and measures accuracy on a held-out draw that no
  training stage has seen.

A task is an :class:`~infimed_lib.data.benchmarks.BenchmarkItem` named after the benchmark its
source imitates (``vqa-rad-mini`` -> ``vqa-rad``), so that the evaluation's prompts and rules
apply to it unchanged. Tasks are stored as JSON Lines, images as paths relative to the corpus or
as data URLs, so a launched job on another machine reads the same file.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from infimed_lib.common import ParameterError, atomic_write_jsonl, read_jsonl, require_path
from infimed_lib.data.benchmarks import BENCHMARKS, BenchmarkItem
from infimed_lib.data.corpus.corpus_draws import CLOSED_TYPES, MIRRORS, drawn_tasks
from infimed_lib.data.images import image_to_data_url
from infimed_lib.data.mixtures import load_keep_list
from infimed_lib.eval.text_metrics import normalize_answer
from infimed_lib.train.data_order import JsonlRecords

_OPTION = re.compile(r"^\s*\(?([A-E])[.)]\s+(.+?)\s*$")
_INSTRUCTION_HINTS = ("Please output", "Answer the question", "Answer with the option", "Please answer",
                      "请输出", "请用一个", "请直接", "请简要")
_MMMU_SENTENCE = re.compile(r"^The option that fits the question best is (.+?)\.?$")


def _strip_instruction(lines: list[str]) -> list[str]:
    """Drop the answer-format instruction line(s) the corpus closes its prompts with."""
    return [line for line in lines if not line.strip().startswith(_INSTRUCTION_HINTS)]


def _gold_letter(answer: str, options: dict[str, str]) -> str | None:
    """The gold letter: the answer itself when it is a letter (real training splits), else the
    letter of the one option whose text it names (the miniature answers with the text), or None."""
    if answer.strip() in options:
        return answer.strip()
    match = _MMMU_SENTENCE.match(answer.strip())
    text = normalize_answer(match.group(1) if match else answer)
    letters = [k for k, v in options.items() if normalize_answer(v) == text]
    return letters[0] if len(letters) == 1 else None


def sample_to_task(sample: dict, benchmark: str | None = None) -> BenchmarkItem | None:
    """The closed question of one corpus VQA sample, or None when it is not one (Chapter 10).

    ``benchmark``: the benchmark whose rules score it; None takes ``meta.benchmark`` (imported
    training splits carry it). None for open questions, samples without exactly one image,
    multiple choice whose answer names no single option, and yes/no whose answer is not yes or
    no: defects of the corpus (chapter 01) that a reward could not check.
    """
    benchmark = benchmark or (sample.get("meta") or {}).get("benchmark")
    if benchmark not in BENCHMARKS:
        return None
    qtype = (sample.get("meta") or {}).get("question_type")
    turns = sample.get("conversations") or []
    if qtype not in CLOSED_TYPES or len(sample.get("images") or []) != 1 or len(turns) < 2:
        return None
    human, answer = turns[0]["value"], turns[1]["value"].strip()
    if human.count("<image>") != 1:
        return None
    lines = _strip_instruction(human.replace("<image>", "").strip().splitlines())
    options = {m.group(1): m.group(2) for m in map(_OPTION.match, lines) if m}
    question = "\n".join(line for line in lines if not _OPTION.match(line) and line.strip()
                         and line.strip() not in ("Options:", "选项："))
    question = re.sub(r"^(Question|问题)[:：]\s*", "", question).strip()
    if qtype == "multiple_choice":
        answer = _gold_letter(answer, options) if len(options) >= 2 else None
    elif qtype == "yes_no" and answer.lower() not in ("yes", "no"):
        answer = None
    if not answer or not question:
        return None
    return BenchmarkItem(benchmark, sample["id"], question, list(sample["images"]), options if qtype ==
                         "multiple_choice" else {}, answer, qtype, (sample.get("meta") or {}).get("lang", "en"),
                         (sample.get("meta") or {}).get("modality", ""), {"source": sample.get("source", "")})


def corpus_tasks(corpus_dir: str | Path, sources: Sequence[str] = tuple(MIRRORS), keep_list: str | Path | None = None,
                 per_source: int | None = None, seed: int = 0) -> list[BenchmarkItem]:
    """Closed questions of the corpus's VQA sources (training split), a seeded sample of each (Chapter 10).

    ``sources``: the miniature's four VQA sources by default; imported real training splits
    (``data.importer``) work too, their samples naming their benchmark in ``meta``.
    ``keep_list`` (curation's keep-list) skips sources that curation dropped; ``per_source``
    caps each source at that many questions, taken in a seeded random order (only those lines
    are parsed, so a few hundred questions cost no more than reading the file once). Image
    paths stay relative to ``corpus_dir``, the trainer's ``image_root``.
    """
    keep = load_keep_list(keep_list) if keep_list and Path(keep_list).exists() else None
    folder = require_path("corpus_dir", corpus_dir, "dir")
    rng = np.random.default_rng(seed)
    tasks: list[BenchmarkItem] = []
    for source in sources:
        if keep is not None and source not in keep:
            continue
        records = JsonlRecords([require_path("rl_sources", folder / "sources" / f"{source}.jsonl", "file")])
        found = []
        for index in rng.permutation(len(records)):
            task = sample_to_task(records[int(index)], MIRRORS.get(source))
            if task is not None:
                found.append(task)
            if per_source is not None and len(found) == per_source:
                break
        tasks.extend(found)
    if not tasks:
        raise ParameterError("rl_sources", f"no closed questions found in {list(sources)} of {corpus_dir}")
    return tasks


def task_row(item: BenchmarkItem) -> dict:
    """A task as one JSON object; PIL images become data URLs."""
    images = [image if isinstance(image, str) else image_to_data_url(image) for image in item.images]
    return {"benchmark": item.benchmark, "id": item.id, "question": item.question, "images": images,
            "options": item.options, "answer": item.answer, "question_type": item.question_type,
            "lang": item.lang, "modality": item.modality, "meta": item.meta}


def write_tasks(path: str | Path, tasks: Iterable[BenchmarkItem]) -> Path:
    """Write tasks as JSON Lines, atomically (Chapter 10)."""
    return atomic_write_jsonl(path, [task_row(t) for t in tasks])


def read_tasks(path: str | Path) -> list[BenchmarkItem]:
    """Tasks written by :func:`write_tasks` (Chapter 10)."""
    rows = read_jsonl(require_path("tasks_path", path, "file"))
    if not rows:
        raise ParameterError("tasks_path", f"{path} holds no tasks")
    return [BenchmarkItem(**row) for row in rows]
