"""The two efficiency measurements of chapter 04: packed vs padded rows, 144 vs 729 visual tokens.

Both time real training steps (forward, backward, AdamW) of a copy of the model on the same
data, so the caller's model is left untouched. Wall-clock numbers depend on the machine; the
token counts (how much of each batch is padding, how long the sequences are) do not, and the
chapters quote both.
"""
from __future__ import annotations

import copy
import math
import time
from typing import Sequence

import pandas as pd
import torch

from infimed_lib.train.batches import (Batch, build_batch, collate_padded, encode_for_training,
                                      load_batch_images)
from infimed_lib.train.data_order import epoch_order
from infimed_lib.train.stage_model import pixel_function
from infimed_lib.train.steps import to_device, token_loss_sum


def _time_steps(model, batches: Sequence[Batch], to_pixels, image_root=None, warmup: int = 1,
                autocast: torch.dtype | None = None) -> list[float]:
    """Seconds per training step on each batch, after ``warmup`` untimed steps on the first;
    ``autocast`` is the arithmetic dtype (bf16 on a GPU, as the stages train), None for none."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    device = next(model.parameters()).device
    model.train()
    times = []
    for index, batch in enumerate([batches[0]] * warmup + list(batches)):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        began = time.perf_counter()
        pixels = load_batch_images(batch, image_root, to_pixels)
        with torch.autocast(device.type, dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            outputs = model(**to_device(batch.model_inputs(pixels), device))
        loss = token_loss_sum(outputs.logits, batch.labels) / max(batch.label_tokens, 1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index >= warmup:
            times.append(time.perf_counter() - began)
    return times


def _row(setting: dict, batches: Sequence[Batch], times: list[float], **extra) -> dict:
    """One table row; the setting compared comes first (plots label the bars with column 0)."""
    tokens = sum(b.num_tokens for b in batches)
    real = sum(b.real_tokens for b in batches)
    seconds = sum(times)
    return {**setting, **extra, "batches": len(batches), "tokens": tokens, "non_pad_tokens": real,
            "pad_fraction": 1 - real / tokens, "seconds": seconds,
            "mean_step_time_s": seconds / len(times), "tokens_per_s": tokens / seconds,
            "non_pad_tokens_per_s": real / seconds}


def compare_packed_padded(model, tokenizer, bins: Sequence[dict], *, num_visual_tokens: int,
                          capacity: int, rows_per_batch: int = 1, seed: int = 0, to_pixels=None,
                          image_root=None, autocast: torch.dtype | None = None) -> pd.DataFrame:
    """Non-pad tokens/s of the same samples trained packed and padded. Chapter 04.

    Packed: the bins as rows of ``capacity`` tokens, ``rows_per_batch`` rows per step (the
    continual-pretraining layout). Padded: the same samples in a seeded random order, in as many
    batches as the packed run has, each right-padded to its longest sample (the SFT layout).
    Same samples, same number of steps, so only the layout differs.
    """
    if not bins:
        raise ValueError("bins is empty; give some packed bins (e.g. from read_bins)")
    to_pixels = to_pixels or pixel_function(model)
    pad_id = tokenizer.pad_token_id
    packed = [build_batch(bins[i:i + rows_per_batch], tokenizer, packed=True,
                          num_visual_tokens=num_visual_tokens, row_length=capacity, pad_id=pad_id)
              for i in range(0, len(bins), rows_per_batch)]
    samples = [s for b in bins for s in b["data"]]
    samples = [samples[i] for i in epoch_order(len(samples), seed, 0)]
    per_batch = math.ceil(len(samples) / len(packed))
    padded = [collate_padded([encode_for_training(tokenizer, s, num_visual_tokens, "plain")
                              for s in samples[i:i + per_batch]], pad_id)
              for i in range(0, len(samples), per_batch)]
    rows = []
    for mode, batches in (("packed", packed), ("padded", padded)):
        trial = copy.deepcopy(model)
        if hasattr(trial, "set_num_visual_tokens"):
            trial.set_num_visual_tokens(num_visual_tokens)
        rows.append(_row({"mode": mode}, batches, _time_steps(trial, batches, to_pixels, image_root,
                                                              autocast=autocast), samples=len(samples)))
    return pd.DataFrame(rows)


def compare_visual_tokens(model, tokenizer, samples: Sequence[dict], *,
                          visual_tokens: Sequence[int] = (144, 729), batch_size: int = 2,
                          steps: int = 3, template: str = "chat", max_length: int = 4096,
                          to_pixels=None, image_root=None, autocast: torch.dtype | None = None) -> pd.DataFrame:
    """Step time of the same samples at each visual-token count (144 vs 729). Chapter 04.

    Each count re-encodes the samples (more placeholders per image, so longer sequences) and
    times ``steps`` training steps of ``batch_size`` samples on a copy of the model.
    """
    needed = batch_size * steps
    if len(samples) < needed:
        raise ValueError(f"need batch_size * steps = {needed} samples, got {len(samples)}")
    to_pixels = to_pixels or pixel_function(model)
    rows = []
    for count in visual_tokens:
        encoded = [encode_for_training(tokenizer, s, count, template, max_length) for s in samples[:needed]]
        batches = [collate_padded(encoded[i:i + batch_size], tokenizer.pad_token_id)
                   for i in range(0, needed, batch_size)]
        trial = copy.deepcopy(model)
        trial.set_num_visual_tokens(count)
        times = _time_steps(trial, batches, to_pixels, image_root, autocast=autocast)
        rows.append(_row({"num_visual_tokens": count}, batches, times,
                         mean_sequence_length=sum(b.input_ids.shape[1] for b in batches) / len(batches)))
    return pd.DataFrame(rows)
