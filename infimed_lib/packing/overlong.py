"""Samples longer than the packing capacity: truncate or drop them, and count what was done. Chapter 02.

Open-Qwen2VL silently gives an over-long sample a bin of its own that overflows the context
(reference/anchors.md). Here FFD refuses such a sample, and the pipeline decides by a parameter:
``"drop"`` removes it; ``"truncate"`` keeps the longest prefix of its content that fits, cutting
text at a token boundary and never cutting through an image (an image that does not fit goes,
with everything after it). A truncated sample is a real, shorter sample, so re-encoding it gives
exactly the length recorded in the shards. Both are counted in the chapter's report.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from transformers import PreTrainedTokenizerBase

from infimed_lib.common import require_choice
from infimed_lib.data.tokenizer import IMAGE_MARKER, encode_sample

OVERLONG_POLICIES = ("truncate", "drop")
_REPORTED_IDS = 50  # enough to find examples; the counts are complete


def _candidate(sample: dict, turns: list[dict], original: int) -> dict:
    """``sample`` restricted to ``turns`` (images cut to the markers that remain)."""
    markers = sum(turn["value"].count(IMAGE_MARKER) for turn in turns)
    meta = dict(sample.get("meta") or {}, truncated_from=original)
    return dict(sample, conversations=turns, images=list(sample.get("images") or [])[:markers], meta=meta)


def _longest_text_prefix(tokenizer, text: str, fits) -> str:
    """Longest token-prefix of ``text`` for which ``fits(prefix)`` holds (binary search)."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    low, high = 0, len(ids)
    while low < high:
        middle = (low + high + 1) // 2
        # A prefix may end inside a multi-byte character; drop the half character.
        prefix = tokenizer.decode(ids[:middle], clean_up_tokenization_spaces=False).rstrip("\ufffd")
        if fits(prefix):
            low = middle
        else:
            high = middle - 1
    prefix = tokenizer.decode(ids[:low], clean_up_tokenization_spaces=False).rstrip("\ufffd")
    return prefix if fits(prefix) else ""


def truncate_sample(tokenizer: PreTrainedTokenizerBase, sample: dict, num_visual_tokens: int,
                    capacity: int, template: str = "plain") -> dict | None:
    """The longest prefix of ``sample`` whose encoding fits ``capacity`` tokens, or None (Chapter 02).

    Whole turns are kept while they fit; inside the first turn that does not, text pieces and
    whole images are kept in order, and the last text piece is cut at a token boundary. None
    when not even the start of the first turn fits (an image alone longer than ``capacity``).
    The result records the original length in ``meta.truncated_from``.
    """
    def length(candidate: dict) -> int:
        return len(encode_sample(tokenizer, candidate, num_visual_tokens, template))

    original = length(sample)
    if original <= capacity:
        return sample
    turns = sample["conversations"]
    kept: list[dict] = []
    for turn in turns:
        if length(_candidate(sample, kept + [turn], original)) > capacity:
            break
        kept.append(turn)
    cut = turns[len(kept)]
    parts = cut["value"].split(IMAGE_MARKER)
    value = ""

    def fits(text: str) -> bool:
        return length(_candidate(sample, kept + [dict(cut, value=text)], original)) <= capacity

    for index, part in enumerate(parts):
        head = value + (IMAGE_MARKER if index > 0 else "")
        if index > 0 and not fits(head):
            break
        if fits(head + part):
            value = head + part
            continue
        value = head + _longest_text_prefix(tokenizer, part, lambda text: fits(head + text))
        break
    if value.strip() == "" and IMAGE_MARKER not in value:
        return _candidate(sample, kept, original) if kept else None
    return _candidate(sample, kept + [dict(cut, value=value)], original)


def handle_overlong(tokenizer: PreTrainedTokenizerBase, samples: Sequence[dict], lengths: np.ndarray,
                    num_visual_tokens: int, capacity: int, overlong: str = "truncate",
                    template: str = "plain") -> tuple[list[dict], np.ndarray, dict]:
    """Apply the ``overlong`` policy; returns (samples, lengths, report) ready for FFD (Chapter 02).

    ``report`` counts the over-long samples, how many were truncated and dropped, and the
    tokens removed, and lists the first few ids of each.
    """
    require_choice("overlong", overlong, OVERLONG_POLICIES)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (len(samples),):
        raise ValueError(f"lengths has shape {lengths.shape} but there are {len(samples)} samples")
    kept_samples: list[dict] = []
    kept_lengths: list[int] = []
    truncated: list[str] = []
    dropped: list[str] = []
    removed_tokens = 0
    for sample, length in zip(samples, lengths.tolist()):
        if length <= capacity:
            kept_samples.append(sample)
            kept_lengths.append(length)
            continue
        short = truncate_sample(tokenizer, sample, num_visual_tokens, capacity, template) \
            if overlong == "truncate" else None
        if short is None:
            dropped.append(str(sample.get("id")))
            removed_tokens += length
            continue
        new_length = len(encode_sample(tokenizer, short, num_visual_tokens, template))
        truncated.append(str(sample.get("id")))
        removed_tokens += length - new_length
        kept_samples.append(short)
        kept_lengths.append(new_length)
    report = {
        "policy": overlong, "capacity": capacity, "samples_in": len(samples),
        "overlong": len(truncated) + len(dropped), "truncated": len(truncated), "dropped": len(dropped),
        "samples_out": len(kept_samples), "tokens_removed": removed_tokens,
        "truncated_ids": truncated[:_REPORTED_IDS], "dropped_ids": dropped[:_REPORTED_IDS],
    }
    return kept_samples, np.asarray(kept_lengths, dtype=np.int64), report
