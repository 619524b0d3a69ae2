"""Sampling groups of answers and scoring their tokens: the two model calls of a GRPO step.

Chapter 10 explains both. Sampling is the evaluation's batched generation (``eval.generate``:
chat prompts, left padding, a KV cache, `transformers`' ``generate``) with sampling switched on:
each question is repeated ``group_size`` times in the batch, so one ``generate`` call gives
every group. The log-probabilities of the sampled tokens are then recomputed in one ordinary
forward pass over prompt + answer (left-padded prompts, right-padded answers), for the policy
that sampled, the policy being trained, and the frozen reference.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from infimed_lib.data.benchmark_prompts import build_prompt, prompt_images
from infimed_lib.data.images import load_image
from infimed_lib.data.tokenizer import encode_prompt
from infimed_lib.eval.generate import left_pad, stop_token_ids
from infimed_lib.eval.generate import decode_answer
from infimed_lib.model import preprocess_images


@dataclass
class Rollout:
    """A batch of sampled answers, ``rows = questions x group_size``, questions' groups contiguous.

    ``input_ids``/``attention_mask``: prompt (left-padded to ``prompt_width``) then answer;
    ``answer_mask``: the answer's tokens up to and including the stop token (the policy learns
    when to stop, too); ``answer_lengths``: tokens before the stop; ``vision_features``: one
    entry per row, its question's images through the frozen vision tower (computed once per
    question and shared by its group and by every forward pass of the step: the tower is the same
    frozen one in the policy and the reference); ``texts``: the decoded answers.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    answer_mask: torch.Tensor
    answer_lengths: torch.Tensor
    prompt_width: int
    vision_features: list[torch.Tensor | None]
    texts: list[str]
    task_indices: list[int]

    def rows(self, indices: Sequence[int]) -> "Rollout":
        """The sub-rollout of the given rows (for updates and micro-batches)."""
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return Rollout(self.input_ids[index], self.attention_mask[index], self.answer_mask[index],
                       self.answer_lengths[index], self.prompt_width, [self.vision_features[i] for i in indices],
                       [self.texts[i] for i in indices], [self.task_indices[i] for i in indices])

    def model_inputs(self, device) -> dict:
        features = [f for f in self.vision_features if f is not None]
        return {"input_ids": self.input_ids.to(device), "attention_mask": self.attention_mask.to(device),
                "vision_features": torch.cat(features).to(device) if features else None}


def _features(model, item, image_root, device) -> torch.Tensor | None:
    """The item's images through the frozen tower, in prompt order (None without images)."""
    images = [image if hasattr(image, "convert") else load_image(image, image_root) for image in prompt_images(item)]
    return model.vision_features(preprocess_images(images, model.config).to(device)) if images else None


def answer_mask(tokens: torch.Tensor, stops: Sequence[int]) -> torch.Tensor:
    """True on each row's answer tokens up to and including its first stop token (Chapter 10)."""
    is_stop = torch.isin(tokens, torch.as_tensor(list(stops), dtype=tokens.dtype))
    before_stop = torch.cumsum(is_stop.long(), dim=-1) - is_stop.long() == 0
    return before_stop


def _generate(model, tokenizer, prompt_ids, prompt_mask, row_features, stops, *, max_new_tokens: int,
              temperature: float, top_p: float) -> torch.Tensor:
    """Sampled answer tokens ``(rows, width)`` from `transformers`' ``generate`` with a KV cache."""
    device = next(model.parameters()).device
    present = [f for f in row_features if f is not None]
    was_training = model.training
    model.eval()
    output = model.generate(
        input_ids=prompt_ids.to(device), attention_mask=prompt_mask.to(device),
        vision_features=torch.cat(present) if present else None, do_sample=True, temperature=temperature,
        top_p=top_p, top_k=0, max_new_tokens=max_new_tokens, use_cache=True, eos_token_id=stops,
        pad_token_id=tokenizer.pad_token_id, suppress_tokens=[model.config.image_token_id])
    model.train(was_training)
    return output[:, prompt_ids.shape[1]:].cpu()


def _generate_with(engine, model, prompts, features, group_size: int, pad_id: int, stops, **sampling) -> torch.Tensor:
    """Sampled answer tokens from a vLLM engine (``rl.vllm_rollout``), fed our prompt embeddings."""
    device = next(model.parameters()).device
    embeddings = [model.embed(torch.tensor([ids], device=device), None, feature)[0]
                  for ids, feature in zip(prompts, features)]
    answers = engine.sample(embeddings, group_size, stops=stops, **sampling)
    width = max(1, max(len(a) for a in answers))
    return torch.tensor([a + [pad_id] * (width - len(a)) for a in answers], dtype=torch.long)


@torch.no_grad()
def sample_groups(model, tokenizer, items: Sequence, task_indices: Sequence[int], *, group_size: int,
                  max_new_tokens: int, temperature: float = 1.0, top_p: float = 1.0, image_root=None,
                  engine=None) -> Rollout:
    """``group_size`` sampled answers to each item's reasoning prompt, all in one batch (Chapter 10).

    ``engine``: a ``rl.vllm_rollout.VLLMSampler`` to sample with instead of ``generate``.
    """
    visual = model.config.num_visual_tokens
    prompts = [encode_prompt(tokenizer, build_prompt(item, reasoning=True), visual) for item in items]
    features = [_features(model, item, image_root, next(model.parameters()).device) for item in items]
    rows = [i for i in range(len(items)) for _ in range(group_size)]
    prompt_ids, prompt_mask = left_pad([prompts[i] for i in rows], tokenizer.pad_token_id)
    row_features = [features[i] for i in rows]
    stops = stop_token_ids(tokenizer)
    sampling = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
    if engine is None:
        answers = _generate(model, tokenizer, prompt_ids, prompt_mask, row_features, stops, **sampling)
    else:
        answers = _generate_with(engine, model, prompts, features, group_size, tokenizer.pad_token_id, stops,
                                 **sampling)
    mask = answer_mask(answers, stops)
    lengths = (mask & ~torch.isin(answers, torch.as_tensor(stops, dtype=answers.dtype))).sum(-1)
    answers = torch.where(mask, answers, torch.full_like(answers, tokenizer.pad_token_id))
    return Rollout(torch.cat([prompt_ids, answers], dim=1), torch.cat([prompt_mask, mask.long()], dim=1), mask,
                   lengths, prompt_ids.shape[1], row_features, [decode_answer(tokenizer, row, stops) for row in answers],
                   [task_indices[i] for i in rows])


def selective_log_softmax(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log_softmax(logits)[tokens]`` row by row, in float32 (Chapter 10).

    One row at a time, because a full ``(rows, positions, vocabulary)`` float32 tensor is
    gigabytes at Qwen3's 151k-token vocabulary.
    """
    out = []
    for row_logits, row_tokens in zip(logits, tokens):
        row = row_logits.float()
        out.append(row.gather(-1, row_tokens.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(row, dim=-1))
    return torch.stack(out)


def answer_logprobs(model, rollout: Rollout, temperature: float = 1.0) -> torch.Tensor:
    """Log-probabilities of the answer tokens under ``model``, ``(rows, answer width)`` (Chapter 10).

    Logits are divided by the sampling temperature, so that the old policy's log-probs are those
    of the distribution the answers were drawn from (as TRL and EasyR1 do). Only the positions
    that predict answer tokens are projected onto the vocabulary (``logits_to_keep``).
    """
    device = next(model.parameters()).device
    width = rollout.input_ids.shape[1] - rollout.prompt_width
    outputs = model(**rollout.model_inputs(device), logits_to_keep=width + 1, use_cache=False)
    logits = outputs.logits[:, :-1, :] / temperature
    return selective_log_softmax(logits, rollout.input_ids[:, rollout.prompt_width:].to(device))
