"""One optimizer step over a global batch: token-weighted loss, accumulation, clipping.

Chapter 04 explains the loss normalisation. Each micro-batch contributes the *sum* of its
token losses, and the sum is divided by the number of label tokens in the whole global batch
(all micro-batches of all processes). Averaging per-micro-batch means instead would weight a
token of a short SFT answer more than a token of a long one, and would make the optimisation
depend on how the global batch happens to be split across devices and accumulation steps;
with the global-token normalisation, 1 process x 4 accumulation steps and 2 processes x 2 give
the same gradient (a test checks this).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from infimed_lib.data.tokenizer import IGNORE_INDEX
from infimed_lib.train.batches import Batch, load_batch_images


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor, kept: torch.Tensor | None = None) -> torch.Tensor:
    """Summed next-token cross-entropy over label tokens, in float32. Chapter 04.

    Computed here rather than by the model so the trainer works with any causal LM and so a
    micro-batch without label tokens contributes an exact 0 (a model's mean would be 0/0).
    ``kept``: the positions ``logits`` were computed at (`predicting_positions`); None means all.
    """
    if kept is None:
        shifted, targets = logits[:, :-1, :].float(), labels[:, 1:]
    else:
        shifted, targets = logits.float(), labels[:, kept.to(labels.device) + 1]
    targets = targets.to(shifted.device)
    return F.cross_entropy(shifted.reshape(-1, shifted.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum")


def predicting_positions(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose next token is a target in any row of the batch. Chapter 04.

    Only these need logits. An image placeholder or a prompt token predicts nothing that is
    scored, yet projecting it onto the whole vocabulary costs more than a decoder layer of the
    tiny model (vocabulary 2,048 x width 160): in an SFT batch nine positions in ten are image
    or prompt tokens. The model's ``logits_to_keep`` takes these indices.
    """
    return (labels[:, 1:] != IGNORE_INDEX).any(dim=0).nonzero().flatten()


def to_device(inputs: dict, device: torch.device) -> dict:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}


def train_step(accelerator, model, optimizer, batches: Sequence[Batch], *,
               to_pixels: Callable | None, image_root=None, max_grad_norm: float = 1.0) -> dict:
    """Forward/backward over this process's micro-batches, then one optimizer step. Chapter 04.

    Returns the global batch's loss (mean over all its label tokens), the gradient norm before
    clipping and the global token counts. ``accelerator.backward`` divides by the accumulation
    steps and DDP/FSDP average over processes; the scale below undoes both so the update is
    exactly ``sum(token losses) / label tokens of the global batch``.
    """
    device = accelerator.device
    local = torch.tensor([sum(b.label_tokens for b in batches), sum(b.num_tokens for b in batches),
                          sum(b.real_tokens for b in batches)], dtype=torch.float64, device=device)
    label_tokens, tokens, real_tokens = accelerator.reduce(local, reduction="sum").tolist()
    scale = accelerator.num_processes * accelerator.gradient_accumulation_steps / max(label_tokens, 1.0)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    grad_norm = None  # DeepSpeed may not report one
    for batch in batches:
        with accelerator.accumulate(model):
            pixels = load_batch_images(batch, image_root, to_pixels)
            kept = predicting_positions(batch.labels)
            outputs = model(**to_device(batch.model_inputs(pixels), device), logits_to_keep=kept.to(device))
            summed = token_loss_sum(outputs.logits, batch.labels, kept)
            accelerator.backward(summed * scale)
            loss_sum += summed.detach().double()
            if accelerator.sync_gradients:
                norm_limit = max_grad_norm if max_grad_norm > 0 else math.inf
                # All parameters (frozen ones have no gradient and are skipped): accelerate's FSDP
                # path recognises the model only by its full parameter list.
                norm = accelerator.clip_grad_norm_(model.parameters(), norm_limit)
                grad_norm = float(norm) if norm is not None else None
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    total_loss = float(accelerator.reduce(loss_sum, reduction="sum"))
    return {"loss": total_loss / max(label_tokens, 1.0), "grad_norm": grad_norm,
            "label_tokens": int(label_tokens), "tokens": int(tokens), "non_pad_tokens": int(real_tokens)}
