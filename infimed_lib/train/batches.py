"""Turning samples into model inputs: packed rows (continual pretraining) and padded SFT batches.

Chapter 04 explains the packed row: a bin's samples re-encoded with the plain template and laid
end to end, positions restarting at 0 for each sample so that the model's attention stays
block-diagonal (the `transformers` masking code derives the blocks from ``position_ids`` when no
2-D attention mask is given). Chapter 05 explains the padded batch: chat template, right padding,
an attention mask. In both, image placeholders and prompts carry no loss, and the first token of
every sample is never a target, so a packed row's loss equals the sum of its samples' losses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from infimed_lib.data.images import load_image
from infimed_lib.data.tokenizer import IGNORE_INDEX, encode_sample


@dataclass
class Row:
    """One sequence before batching: ids, loss labels, positions (packed rows only), image refs."""

    input_ids: list[int]
    labels: list[int]
    images: list[str]
    position_ids: list[int] | None = None
    real_tokens: int = 0


@dataclass
class Batch:
    """A micro-batch: tensors for the model plus the token counts the trainer logs. Chapter 04."""

    input_ids: torch.Tensor
    labels: torch.Tensor
    images: list = field(default_factory=list)
    attention_mask: torch.Tensor | None = None
    position_ids: torch.Tensor | None = None
    real_tokens: int = 0

    @property
    def num_tokens(self) -> int:
        return self.input_ids.numel()

    @property
    def label_tokens(self) -> int:
        """Targets after the causal shift: what the summed loss is normalised by."""
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())

    def model_inputs(self, pixel_values: torch.Tensor | None) -> dict:
        """Keyword arguments for ``model(**inputs)`` (no labels: the trainer computes the loss)."""
        inputs = {"input_ids": self.input_ids, "pixel_values": pixel_values}
        if self.attention_mask is not None:
            inputs["attention_mask"] = self.attention_mask
        if self.position_ids is not None:
            inputs["position_ids"] = self.position_ids
        return inputs


def encode_for_training(tokenizer, sample: dict, num_visual_tokens: int, template: str,
                        max_length: int | None = None) -> Row:
    """Encode one schema sample; truncate to ``max_length`` without cutting an image. Chapter 05.

    A truncated sample ends before the first image run that would not fit whole, and that image
    and the ones after it are dropped, so placeholders always match ``pixel_values``.
    """
    encoded = encode_sample(tokenizer, sample, num_visual_tokens, template=template)
    ids, labels = list(encoded.input_ids), list(encoded.labels)
    images = list(sample.get("images") or [])
    if max_length is not None and len(ids) > max_length:
        cut = max_length
        kept = 0
        for start, end in encoded.image_spans:
            if end > max_length:
                cut = start
                break
            kept += 1
        ids, labels, images = ids[:cut], labels[:cut], images[:kept]
    if labels:
        labels[0] = IGNORE_INDEX
    return Row(ids, labels, images, real_tokens=len(ids))


def packed_row(tokenizer, bin_: dict, num_visual_tokens: int, row_length: int,
               pad_id: int, check_lengths: bool = True) -> Row:
    """One packed bin -> one row of exactly ``row_length`` tokens. Chapter 04.

    ``check_lengths`` compares each re-encoded length with the length the packer recorded: a
    mismatch means the tokenizer or ``num_visual_tokens`` differ from the packing run.
    """
    samples, lengths = bin_.get("data"), bin_.get("lengths")
    if not samples or lengths is None or len(samples) != len(lengths):
        raise ValueError("a packed bin needs non-empty 'data' and 'lengths' of equal size")
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    images: list[str] = []
    for sample, length in zip(samples, lengths):
        row = encode_for_training(tokenizer, sample, num_visual_tokens, "plain")
        if check_lengths and len(row.input_ids) != length:
            raise ValueError(f"sample {sample.get('id')!r}: re-encoded length {len(row.input_ids)} "
                             f"!= packed length {length}; tokenizer or num_visual_tokens differ "
                             "from the packing run")
        ids += row.input_ids
        labels += row.labels
        positions += range(len(row.input_ids))
        images += row.images
    real = len(ids)
    if real > row_length:
        raise ValueError(f"packed bin holds {real} tokens, more than the row length {row_length}")
    pad = row_length - real
    # The padding tail is a segment of its own (positions restart), so no sample attends to it.
    return Row(ids + [pad_id] * pad, labels + [IGNORE_INDEX] * pad, images,
               positions + list(range(pad)), real)


def collate_packed(rows: Sequence[Row]) -> Batch:
    """Stack packed rows (all of the same length) into a micro-batch. Chapter 04."""
    if len({len(r.input_ids) for r in rows}) != 1:
        raise ValueError("packed rows of one micro-batch must share one length")
    return Batch(
        input_ids=torch.tensor([r.input_ids for r in rows], dtype=torch.long),
        labels=torch.tensor([r.labels for r in rows], dtype=torch.long),
        images=[ref for r in rows for ref in r.images],
        position_ids=torch.tensor([r.position_ids for r in rows], dtype=torch.long),
        real_tokens=sum(r.real_tokens for r in rows),
    )


def collate_padded(rows: Sequence[Row], pad_id: int) -> Batch:
    """Right-pad rows to the longest one, with an attention mask. Chapter 05."""
    width = max(len(r.input_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        n = len(row.input_ids)
        ids[i, :n] = torch.tensor(row.input_ids, dtype=torch.long)
        labels[i, :n] = torch.tensor(row.labels, dtype=torch.long)
        mask[i, :n] = 1
    return Batch(ids, labels, [ref for r in rows for ref in r.images], attention_mask=mask,
                 real_tokens=sum(r.real_tokens for r in rows))


def build_batch(units: Sequence[dict], tokenizer, *, packed: bool, num_visual_tokens: int,
                row_length: int, pad_id: int, check_lengths: bool = True) -> Batch:
    """Bins (``packed=True``, plain template) or samples (chat template) -> one micro-batch."""
    if packed:
        rows = [packed_row(tokenizer, u, num_visual_tokens, row_length, pad_id, check_lengths)
                for u in units]
        return collate_packed(rows)
    rows = [encode_for_training(tokenizer, u, num_visual_tokens, "chat", row_length) for u in units]
    return collate_padded(rows, pad_id)


def load_batch_images(batch: Batch, root=None, to_pixels: Callable | None = None):
    """Open the batch's images in order and turn them into ``pixel_values`` (or None)."""
    if not batch.images:
        return None
    images = [load_image(ref, root) for ref in batch.images]
    return to_pixels(images) if to_pixels is not None else images
