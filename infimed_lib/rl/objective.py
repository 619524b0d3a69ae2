"""The GRPO objective: group-normalised advantages, the clipped ratio and the k3 KL term.

Chapter 10 derives each piece on a toy batch; the formulas are those of the GRPO paper
(Shao et al. 2024, DeepSeekMath, section 4.1), written out here because they are a few tensor
lines each and the tests check them against hand-computed values:

* advantage of answer ``i`` in its group: ``(r_i - mean(r)) / (std(r) + eps)``, the same for
  every token of the answer (outcome supervision). ``std`` is the sample standard deviation
  (``n - 1``), as in TRL and EasyR1; a group whose rewards are all equal gets zero advantages
  and teaches nothing;
* per token, with ``ratio = exp(logp - logp_old)``:
  ``min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A)``;
* KL to the reference, the k3 estimator (unbiased, always >= 0):
  ``exp(logp_ref - logp) - (logp_ref - logp) - 1``;
* loss per token ``-(surrogate - kl_coef * kl)``, averaged per answer and then over answers
  (``"sequence"``) or over all answer tokens at once (``"token"``).
"""
from __future__ import annotations

import torch

from infimed_lib.common import ParameterError


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-6) -> torch.Tensor:
    """Rewards of consecutive groups of ``group_size`` answers -> normalised advantages (Chapter 10)."""
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    if rewards.dim() != 1 or group_size < 2 or rewards.numel() % group_size:
        raise ParameterError("group_size", f"{rewards.numel()} rewards do not split into groups of {group_size} (>= 2)")
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    spread = grouped.std(dim=1, keepdim=True)
    # A flat group is exactly 0 whatever eps is (0 / 0 would be nan with eps = 0).
    return torch.where(spread > 0, centred / (spread + eps), torch.zeros_like(centred)).view(-1)


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(policy || reference) from sampled tokens' log-probs (Chapter 10)."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1.0


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                      clip_low: float, clip_high: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO/GRPO surrogate and a mask of the tokens where clipping took effect (Chapter 10).

    ``advantages`` holds one value per answer (shape ``(rows,)``) and is broadcast over tokens.
    A token counts as clipped when the clipped branch is the smaller one, i.e. the ratio left the
    band in the direction the advantage pushes it (no gradient flows through such a token).
    """
    ratio = torch.exp(logp - old_logp)
    advantage = advantages.unsqueeze(-1)
    unclipped = ratio * advantage
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * advantage
    return torch.minimum(unclipped, clipped), clipped < unclipped


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, mode: str, num_sequences: float | None = None,
              num_tokens: float | None = None) -> torch.Tensor:
    """Sum of ``per_token`` over answer tokens, normalised as ``mode`` says (Chapter 10).

    ``"sequence"``: each row's mean over its tokens, summed, divided by ``num_sequences``;
    ``"token"``: the sum over all tokens divided by ``num_tokens``. The denominators default to
    this batch's own counts; the trainer passes those of the whole update (all micro-batches
    and processes), so that splitting an update changes nothing.
    """
    mask = mask.to(per_token.dtype)
    if mode == "sequence":
        per_row = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        return per_row.sum() / (num_sequences if num_sequences is not None else per_token.shape[0])
    if mode == "token":
        return (per_token * mask).sum() / (num_tokens if num_tokens is not None else mask.sum().clamp(min=1.0))
    raise ParameterError("loss_aggregation", f"{mode!r} is not one of ['sequence', 'token']")


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor | None, advantages: torch.Tensor,
              mask: torch.Tensor, *, kl_coef: float, clip_low: float, clip_high: float, mode: str = "sequence",
              num_sequences: float | None = None, num_tokens: float | None = None) -> tuple[torch.Tensor, dict]:
    """The GRPO loss of a batch of answers and its statistics (Chapter 10).

    All log-prob tensors are ``(rows, tokens)`` over the answer positions, ``mask`` marks real
    answer tokens. Returns ``(loss, stats)``; ``stats`` holds sums over the masked tokens
    (``tokens``, ``kl_sum``, ``clipped``, ``ratio_sum``) so that callers can pool micro-batches.
    """
    surrogate, clipped = clipped_surrogate(logp, old_logp, advantages, clip_low, clip_high)
    per_token = -surrogate
    kl = kl_k3(logp, ref_logp) if ref_logp is not None else torch.zeros_like(logp)
    if ref_logp is not None and kl_coef > 0:
        per_token = per_token + kl_coef * kl
    loss = aggregate(per_token, mask, mode, num_sequences, num_tokens)
    with torch.no_grad():
        keep = mask.bool()
        stats = {"tokens": float(keep.sum()), "kl_sum": float(kl[keep].sum()),
                 "clipped": float(clipped[keep].sum()),
                 "ratio_sum": float(torch.exp(logp - old_logp)[keep].sum())}
    return loss, stats
