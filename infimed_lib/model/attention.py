"""Attention layout of packed and padded rows: segments, positions and block-diagonal masks.

Chapter 03 (model anatomy) and chapter 04 (packed continual pretraining) explain this. A packed
row holds several samples back to back (paper section 3.3); each sample must see only itself, and
its rotary positions restart at 0, so that a packed row gives the same per-sample logits as the
samples run one by one. Padding is just another segment that nobody attends to.

Why an explicit mask rather than `transformers`' own packed-sequence detection: that detection
only runs when the 2D ``attention_mask`` is ``None`` and no cache object exists (a ``use_cache``
default of True silently creates one), so a padded packed row, or a caller who forgets
``use_cache=False``, would leak attention across samples without any error. Building the mask
ourselves from the segments makes the layout independent of those switches. The mask itself is
made by the backend's own mask builder in `transformers.masking_utils`, so it has the right form
for every attention backend (bool for sdpa, additive float for eager, BlockMask for flex); we
call the builder directly because `create_causal_mask` switches custom masks to a `vmap` path
that is about 5x slower on a 4096-token row. Flash-attention
kernels take no dense mask; for them the batch is flattened into one row and the varlen kernel
splits it at the restarting positions (`flatten_for_varlen`).
"""
from __future__ import annotations

import torch
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, and_masks, causal_mask_function

def positions_from_attention_mask(attention_mask: torch.Tensor | None, shape: torch.Size,
                                  device: torch.device) -> torch.Tensor:
    """Positions 0, 1, ... over the real tokens of each row; pads get 0, as `generate` does. Chapter 04."""
    if attention_mask is None:
        return torch.arange(shape[1], device=device).unsqueeze(0).expand(shape[0], -1)
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 0)


def segment_ids(position_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Index of the sample each token belongs to, per row. Chapter 04.

    A new segment starts wherever the position does not continue the previous one (a packed
    sample restarting at 0, or a pad given position 0) and wherever padding starts or stops.
    """
    breaks = position_ids[:, 1:] != position_ids[:, :-1] + 1
    if attention_mask is not None:
        breaks = breaks | (attention_mask[:, 1:] != attention_mask[:, :-1])
    first = torch.zeros_like(position_ids[:, :1], dtype=torch.long)
    return torch.cat([first, breaks.long()], dim=1).cumsum(dim=1)


def segment_starts(segments: torch.Tensor) -> torch.Tensor:
    """True at the first token of every segment. Chapter 04."""
    starts = torch.ones_like(segments, dtype=torch.bool)
    starts[:, 1:] = segments[:, 1:] != segments[:, :-1]
    return starts


def is_plain_causal(segments: torch.Tensor, attention_mask: torch.Tensor | None) -> bool:
    """True when every row is one unpadded sample, so the backend's plain causal path is exact. Chapter 04."""
    single = bool((segments[:, -1] == 0).all())
    return single and (attention_mask is None or bool(attention_mask.all()))


def only_right_padding(segments: torch.Tensor, attention_mask: torch.Tensor | None) -> bool:
    """True when every row is one sample followed by nothing but padding. Chapter 05.

    Plain causal attention is then exact for every real token: the pads come after it, so it
    could never see them anyway. Only the pads' own outputs change, and they carry no loss. On
    a CPU this spares the attention a dense mask (the unmasked kernel is much faster).
    """
    if attention_mask is None:
        return bool((segments[:, -1] == 0).all())
    valid = attention_mask.to(device=segments.device, dtype=torch.bool)
    return bool((valid[:, 1:] <= valid[:, :-1]).all()) and bool((segments[valid] == 0).all())


def several_samples_per_row(segments: torch.Tensor, attention_mask: torch.Tensor | None) -> bool:
    """True when some row packs more than one real (non-pad) sample. Chapter 04."""
    starts = segment_starts(segments)
    if attention_mask is not None:
        starts &= attention_mask.to(device=segments.device, dtype=torch.bool)
    return bool((starts.sum(dim=1) > 1).any())


def block_causal_mask(config, inputs_embeds: torch.Tensor, segments: torch.Tensor,
                      attention_mask: torch.Tensor | None):
    """Causal attention restricted to each token's own segment, with pad keys hidden. Chapter 04.

    A pad query still sees itself: a fully masked row would make softmax return NaN, which
    poisons gradients even though pads carry no loss.
    """
    valid = (torch.ones_like(segments, dtype=torch.bool) if attention_mask is None
             else attention_mask.to(device=segments.device, dtype=torch.bool))

    def same_segment(batch_idx, head_idx, q_idx, kv_idx):
        same = segments[batch_idx, q_idx] == segments[batch_idx, kv_idx]
        return same & (valid[batch_idx, kv_idx] | (q_idx == kv_idx))

    builder = ALL_MASK_ATTENTION_FUNCTIONS[config._attn_implementation]
    batch, length = segments.shape
    return builder(batch_size=batch, q_length=length, kv_length=length,
                   mask_function=and_masks(causal_mask_function, same_segment), attention_mask=None,
                   allow_is_causal_skip=False, use_vmap=False, dtype=inputs_embeds.dtype,
                   device=inputs_embeds.device, config=config)


def segment_positions(segments: torch.Tensor) -> torch.Tensor:
    """Position of each token inside its segment (0 at every segment start). Chapter 04."""
    index = torch.arange(segments.shape[1], device=segments.device).expand_as(segments)
    start_index = torch.where(segment_starts(segments), index, torch.zeros_like(index)).cummax(dim=1).values
    return index - start_index


def flatten_for_varlen(inputs_embeds: torch.Tensor, segments: torch.Tensor):
    """One row holding the whole batch, positions restarting per segment (flash varlen). Chapter 04."""
    batch, length, width = inputs_embeds.shape
    offsets = (segments[:, -1:] + 1).cumsum(0) - (segments[:, -1:] + 1)
    flat_segments = (segments + offsets).reshape(1, batch * length)
    return inputs_embeds.reshape(1, batch * length, width), segment_positions(flat_segments)
