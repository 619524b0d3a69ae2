"""Multimodal length of every sample, in batches, for corpora of millions. Chapter 02.

A sample's multimodal length is ``len(encode_sample(tokenizer, sample, num_visual_tokens,
template))``: its text tokens under the template plus ``num_visual_tokens`` placeholders per
image (paper section 3.3, step 1). Encoding sample by sample costs one tokenizer call per text
piece; here all pieces of a batch go to the tokenizer in one call, and because the template
encodes every piece on its own, the per-sample sums are exactly the same numbers. The text part
does not depend on ``num_visual_tokens``, so :func:`length_parts` returns it separately and the
chapter can compare 144 and 729 visual tokens per image without tokenizing twice.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from infimed_lib.common import ParameterError
from infimed_lib.data.tokenizer import END_OF_TEXT, IM_END, IM_START, IMAGE_MARKER, ROLES

TEMPLATES = ("plain", "chat")


def _check_sample(sample: dict, template: str) -> list[dict]:
    """The sample's turns, after the same checks ``encode_sample`` makes."""
    conversations = sample.get("conversations")
    if not conversations:
        raise ValueError(f"sample {sample.get('id')!r}: no conversations")
    markers = sum(turn["value"].count(IMAGE_MARKER) for turn in conversations)
    images = len(sample.get("images") or [])
    if markers != images:
        raise ValueError(f"sample {sample.get('id')!r}: {markers} <image> markers but {images} images")
    if template == "chat":
        for turn in conversations:
            if ROLES.get(turn.get("from")) is None:
                raise ValueError(f"sample {sample.get('id')!r}: unknown speaker {turn.get('from')!r}")
    return conversations


def _template_overhead(tokenizer: PreTrainedTokenizerBase, template: str) -> dict[str, int]:
    """Tokens the template adds around each turn (chat) or at the end (plain), by role."""
    if template == "plain":
        return {"end": len(tokenizer.encode(END_OF_TEXT, add_special_tokens=False))}
    newline = len(tokenizer.encode("\n", add_special_tokens=False))
    specials = len(tokenizer.encode(IM_START, add_special_tokens=False)) + \
        len(tokenizer.encode(IM_END, add_special_tokens=False))
    return {role: specials + newline + len(tokenizer.encode(f"{role}\n", add_special_tokens=False))
            for role in set(ROLES.values())} | {"end": 0}


def length_parts(tokenizer: PreTrainedTokenizerBase, samples: Sequence[dict], template: str = "plain",
                 batch_size: int = 4096, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Text tokens (template included) and number of images of every sample (Chapter 02).

    ``multimodal length = text_tokens + num_images * num_visual_tokens``. ``template`` is
    ``"plain"`` (continual pretraining, the packing default) or ``"chat"``.
    """
    if template not in TEMPLATES:
        raise ParameterError("template", f"{template!r} is not one of {list(TEMPLATES)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError("batch_size", f"must be a positive int, got {batch_size!r}")
    overhead = _template_overhead(tokenizer, template)
    text = np.zeros(len(samples), np.int64)
    images = np.zeros(len(samples), np.int64)
    starts = range(0, len(samples), batch_size)
    for start in tqdm(starts, desc="lengths", disable=not progress):
        pieces: list[str] = []
        owners: list[int] = []
        for index in range(start, min(start + batch_size, len(samples))):
            turns = _check_sample(samples[index], template)
            fixed = overhead["end"]
            for turn in turns:
                if template == "chat":
                    fixed += overhead[ROLES[turn["from"]]]
                parts = turn["value"].split(IMAGE_MARKER)
                images[index] += len(parts) - 1
                for part in parts:
                    if part:
                        pieces.append(part)
                        owners.append(index - start)
            text[index] = fixed
        if pieces:
            encoded = tokenizer(pieces, add_special_tokens=False, return_attention_mask=False)["input_ids"]
            counts = np.fromiter((len(ids) for ids in encoded), np.int64, len(encoded))
            stop = min(start + batch_size, len(samples))
            text[start:stop] += np.bincount(np.asarray(owners), weights=counts,
                                            minlength=stop - start).astype(np.int64)
    return text, images


def multimodal_lengths(tokenizer: PreTrainedTokenizerBase, samples: Sequence[dict], num_visual_tokens: int,
                       template: str = "plain", batch_size: int = 4096, progress: bool = False) -> np.ndarray:
    """``len(encode_sample(tokenizer, s, num_visual_tokens, template))`` for every sample, batched (Chapter 02)."""
    if isinstance(num_visual_tokens, bool) or not isinstance(num_visual_tokens, int) or num_visual_tokens < 0:
        raise ParameterError("num_visual_tokens", f"must be an int >= 0, got {num_visual_tokens!r}")
    text, images = length_parts(tokenizer, samples, template, batch_size, progress)
    return text + images * num_visual_tokens
