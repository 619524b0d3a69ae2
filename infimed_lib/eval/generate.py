"""Batched greedy answers to benchmark prompts: left padding, a KV cache, one progress bar.

Chapter 08 (evaluation) explains the batching. Generation itself is `transformers`'
``GenerationMixin.generate`` (greedy, KV cache), which our model inherits; this module only
turns benchmark items into left-padded batches of token ids and ``pixel_values`` and decodes
the answers. Items are batched by question type (each type has its own answer length) and by
prompt length, so that rows in a batch need little or no padding: on a CPU a padded batch
costs about half as much again as an unpadded one, because the attention then needs a mask.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmark_prompts import build_prompt, prompt_images
from infimed_lib.data.benchmarks import QUESTION_TYPES
from infimed_lib.data.images import load_image
from infimed_lib.data.tokenizer import END_OF_TEXT
from infimed_lib.data.tokenizer import IM_END
from infimed_lib.data.tokenizer import encode_prompt
from infimed_lib.model import preprocess_images

# Answer lengths that fit every answer format of MedEvalKit's direct (non-reasoning) prompts:
# a letter, yes/no, a short phrase; open answers get a sentence.
DEFAULT_MAX_NEW_TOKENS = {"multiple_choice": 24, "yes_no": 8, "closed": 16, "open": 32}


@dataclass
class Prompt:
    """One item ready for the model: its prompt text, token ids and images in marker order."""

    index: int
    question_type: str
    text: str
    input_ids: list[int]
    images: list[Any]


def resolve_max_new_tokens(value: int | Mapping[str, int]) -> dict[str, int]:
    """Answer-length budget per question type from an int (all types) or a dict (Chapter 08)."""
    if isinstance(value, Mapping):
        missing = [q for q in QUESTION_TYPES if q not in value]
        extra = sorted(set(value) - set(QUESTION_TYPES))
        if missing or extra:
            raise ParameterError("max_new_tokens", f"a dict needs exactly the keys {list(QUESTION_TYPES)}; "
                                 f"missing {missing}, unknown {extra}")
        budget = {q: value[q] for q in QUESTION_TYPES}
    else:
        budget = {q: value for q in QUESTION_TYPES}
    for qtype, tokens in budget.items():
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise ParameterError("max_new_tokens", f"{qtype}: expected a positive int, got {tokens!r}")
    return budget


def _open_image(image: Any):
    return image.convert("RGB") if hasattr(image, "convert") else load_image(image)


def build_prompts(items: Sequence[Any], tokenizer, num_visual_tokens: int, reasoning: bool,
                  layout: str = "book") -> list[Prompt]:
    """Benchmark prompts (``layout`` "book" or "medevalkit", see :mod:`~infimed_lib.data.benchmark_prompts`)
    as chat token ids, one user turn each (Chapter 08)."""
    prompts = []
    for index, item in enumerate(items):
        text = build_prompt(item, reasoning, layout)
        ids = encode_prompt(tokenizer, text, num_visual_tokens)
        prompts.append(Prompt(index, item.question_type, text, ids, prompt_images(item, layout)))
    return prompts


def plan_batches(prompts: Sequence[Prompt], batch_size: int) -> list[list[Prompt]]:
    """Batches of one question type each, rows of similar length together; deterministic."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError("batch_size", f"expected a positive int, got {batch_size!r}")
    ordered = sorted(prompts, key=lambda p: (QUESTION_TYPES.index(p.question_type), len(p.input_ids), p.index))
    batches: list[list[Prompt]] = []
    for prompt in ordered:
        if batches and len(batches[-1]) < batch_size and batches[-1][0].question_type == prompt.question_type:
            batches[-1].append(prompt)
        else:
            batches.append([prompt])
    return batches


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` with every row right-aligned, as generation needs (Chapter 08)."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        if row:
            ids[r, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[r, width - len(row):] = 1
    return ids, mask


def stop_token_ids(tokenizer) -> list[int]:
    """The ids that end an answer: ``<|im_end|>`` (end of turn) and the tokenizer's EOS."""
    vocab = tokenizer.get_vocab()
    ids = [vocab[token] for token in (IM_END, END_OF_TEXT) if token in vocab]
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted(set(ids))


def decode_answer(tokenizer, tokens: torch.Tensor, stops: Sequence[int]) -> str:
    """Generated ids up to the first stop token, as text (Chapters 08, 10)."""
    ids = tokens.tolist()
    for position, token in enumerate(ids):
        if token in stops:
            ids = ids[:position]
            break
    return tokenizer.decode(ids, skip_special_tokens=True).strip()


@torch.inference_mode()
def generate_batch(model, tokenizer, batch: Sequence[Prompt], max_new_tokens: int) -> list[str]:
    """Greedy answers for one batch: left-padded prefill, then cached decoding (Chapter 08)."""
    device = next(model.parameters()).device
    input_ids, attention_mask = left_pad([p.input_ids for p in batch], tokenizer.pad_token_id)
    images = [_open_image(image) for p in batch for image in p.images]
    pixel_values = preprocess_images(images, model.config).to(device) if images else None
    stops = stop_token_ids(tokenizer)
    output = model.generate(
        input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), pixel_values=pixel_values,
        max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, use_cache=True,
        eos_token_id=stops, pad_token_id=tokenizer.pad_token_id,
    )
    new_tokens = output[:, input_ids.shape[1]:].cpu()
    return [decode_answer(tokenizer, row, stops) for row in new_tokens]


@contextmanager
def cpu_threads(count: int):
    """Run the block with ``count`` PyTorch CPU threads (0: leave the setting alone), then restore it.

    A miniature model's matrices are small, so each operation is over before extra threads pay
    off; on a busy machine, threads that wait for each other at every operation make generation
    many times slower than a single thread does (Chapter 08 measures it).
    """
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def iter_answers(model, tokenizer, prompts: Sequence[Prompt], *, batch_size: int,
                 max_new_tokens: Mapping[str, int], desc: str = "generating") -> Iterator[tuple[Prompt, str]]:
    """``(prompt, answer)`` pairs, batch by batch, with a progress bar over items (Chapter 08)."""
    with tqdm(total=len(prompts), desc=desc, unit="item") as bar:
        for batch in plan_batches(prompts, batch_size):
            answers = generate_batch(model, tokenizer, batch, max_new_tokens[batch[0].question_type])
            yield from zip(batch, answers)
            bar.update(len(batch))
