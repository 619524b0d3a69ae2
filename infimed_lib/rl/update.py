"""One GRPO step: sample, reward, advantages, then the policy updates. Chapter 10.

The loss of an update is normalised by the number of answers (or answer tokens) of the whole
update, over all micro-batches and processes, as the SFT trainer normalises by the global batch's
label tokens (``train.steps``): DDP averages gradients over processes, so each process scales its
part by the process count, and splitting an update into micro-batches changes nothing.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from infimed_lib.rl import rollout as roll
from infimed_lib.rl.grpo_config import RLConfig
from infimed_lib.rl.objective import group_advantages, grpo_loss
from infimed_lib.rl.rewards import rewards


@dataclass
class StepContext:
    """What every step needs, set up once by ``run_grpo``."""

    config: RLConfig
    accelerator: object
    policy: object
    reference: object
    optimizer: object
    scheduler: object
    tokenizer: object
    tasks: list
    engine: object = None  # a vLLM sampler (rl.vllm_rollout), or None for generate


@torch.no_grad()
def _logprobs(model, rollout: roll.Rollout, config: RLConfig) -> torch.Tensor:
    """Answer-token log-probs of the whole rollout, ``micro_batch_size`` rows at a time."""
    size = config.micro_batch_size
    rows = range(len(rollout.texts))
    parts = [roll.answer_logprobs(model, rollout.rows(rows[i:i + size]), config.temperature)
             for i in range(0, len(rows), size)]
    return torch.cat(parts)


def _old_logprobs(policy, rollout: roll.Rollout, config: RLConfig, fresh_rows: int) -> torch.Tensor | None:
    """Log-probs under the policy that sampled, for the rows an update sees after the policy moved.

    The first ``fresh_rows`` rows (the first update of the first epoch) are trained on the
    sampling policy itself: their ratio is exactly 1 and their old log-probs are their own,
    detached, so this pass skips them (their entries stay zero and are never read).
    """
    if config.updates_per_step * config.epochs == 1:
        return None
    later = _logprobs(policy, rollout.rows(range(fresh_rows, len(rollout.texts))), config)
    return torch.cat([torch.zeros(fresh_rows, later.shape[1], dtype=later.dtype, device=later.device), later])


def _update(context: StepContext, rollout: roll.Rollout, rows: list[int], advantages: torch.Tensor,
            old_logp: torch.Tensor | None, ref_logp: torch.Tensor | None, fresh: bool) -> dict:
    """One optimizer step on ``rows`` of the rollout; returns summed statistics.

    ``fresh``: the policy has not moved since sampling, so the old log-probs are the current ones.
    """
    config, accelerator, policy = context.config, context.accelerator, context.policy
    device, processes = accelerator.device, accelerator.num_processes
    counts = torch.tensor([len(rows), float(rollout.answer_mask[rows].sum())], dtype=torch.float64, device=device)
    sequences, tokens = accelerator.reduce(counts, reduction="sum").tolist()
    stats: dict = defaultdict(float)
    chunks = [rows[i:i + config.micro_batch_size] for i in range(0, len(rows), config.micro_batch_size)]
    for number, chunk in enumerate(chunks):
        part = rollout.rows(chunk)
        with accelerator.no_sync(policy) if number < len(chunks) - 1 else nullcontext():
            logp = roll.answer_logprobs(policy, part, config.temperature)
            old = logp.detach() if fresh or old_logp is None else old_logp[chunk].to(device)
            loss, found = grpo_loss(
                logp, old, ref_logp[chunk].to(device) if ref_logp is not None else None,
                advantages[chunk].to(device), part.answer_mask.to(device), kl_coef=config.kl_coef,
                clip_low=config.clip_low, clip_high=config.clip_high, mode=config.loss_aggregation,
                num_sequences=sequences, num_tokens=tokens)
            accelerator.backward(loss * processes)
        stats["loss"] += float(loss.detach())
        for key, value in found.items():
            stats[key] += value
    norm = accelerator.clip_grad_norm_(policy.parameters(), config.max_grad_norm if config.max_grad_norm > 0
                                       else float("inf"))
    stats["grad_norm"] = float(norm) if norm is not None else float("nan")
    context.optimizer.step()
    context.scheduler.step()
    context.optimizer.zero_grad(set_to_none=True)
    return stats


def grpo_step(context: StepContext, indices: list[int]) -> dict:
    """Sample and score this process's questions, update the policy; the step's metrics row (Chapter 10).

    ``indices``: this process's task indices for the step. The row holds means over all
    processes: ``reward``, ``correct``, ``format``, ``answer_tokens``, ``flat_groups`` (share of
    groups whose rewards are all equal, which carry no signal), ``kl`` and ``clip_fraction``
    (per answer token, over the step's updates), ``ratio``, ``loss``, ``grad_norm`` and ``lr``.
    """
    config, accelerator = context.config, context.accelerator
    policy = accelerator.unwrap_model(context.policy)
    items = [context.tasks[i] for i in indices]
    rollout = roll.sample_groups(policy, context.tokenizer, items, indices, group_size=config.group_size,
                                 max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                 top_p=config.top_p, image_root=config.image_root, engine=context.engine)
    scored = rewards([context.tasks[i] for i in rollout.task_indices], rollout.texts, config.format_weight)
    reward = torch.tensor([s["reward"] for s in scored], dtype=torch.float32)
    advantages = group_advantages(reward, config.group_size)
    ref_logp = _logprobs(context.reference, rollout, config) if context.reference is not None else None
    lr = context.scheduler.get_last_lr()[0]
    per_update = len(rollout.texts) // config.updates_per_step
    old_logp = _old_logprobs(policy, rollout, config, fresh_rows=per_update if config.epochs == 1 else 0)
    totals: dict = defaultdict(float)
    for epoch in range(config.epochs):
        for update in range(config.updates_per_step):
            rows = list(range(update * per_update, (update + 1) * per_update))
            fresh = epoch == 0 and update == 0
            for key, value in _update(context, rollout, rows, advantages, old_logp, ref_logp, fresh).items():
                totals[key] += value
    if context.engine is not None:
        context.engine.sync(policy)
    flat = (reward.view(-1, config.group_size).std(dim=1) == 0).float()
    local = torch.tensor([reward.sum(), sum(s["correct"] for s in scored), sum(s["format"] for s in scored),
                          float(rollout.answer_lengths.sum()), len(scored), float(flat.sum()), len(flat),
                          totals["kl_sum"], totals["clipped"], totals["ratio_sum"], totals["tokens"], totals["loss"]],
                         dtype=torch.float64, device=accelerator.device)
    (reward_sum, correct, layout, lengths, answers, flat_sum, groups, kl, clipped, ratio, tokens,
     loss) = accelerator.reduce(local, reduction="sum").tolist()
    updates = config.updates_per_step * config.epochs
    return {"reward": reward_sum / answers, "correct": correct / answers, "format": layout / answers,
            "answer_tokens": lengths / answers, "flat_groups": flat_sum / groups, "kl": kl / max(tokens, 1.0),
            "clip_fraction": clipped / max(tokens, 1.0), "ratio": ratio / max(tokens, 1.0), "loss": loss / updates,
            "grad_norm": totals["grad_norm"] / updates, "lr": lr, "answers": int(answers)}
