"""Optimizer and learning-rate schedule of a stage (Table 5: AdamW, 3% warm-up).

Chapter 04 plots the schedule and explains the choices documented in ``TrainConfig``.
"""
from __future__ import annotations

import math

import torch
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup, \
    get_linear_schedule_with_warmup

from infimed_lib.common import ParameterError

_SCHEDULES = {
    "cosine": get_cosine_schedule_with_warmup,
    "linear": get_linear_schedule_with_warmup,
    "constant": get_constant_schedule_with_warmup,
}


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    """Warm-up length in optimizer steps: ``ceil(ratio * total)``, at least 1 when ratio > 0."""
    if total_steps < 1:
        raise ParameterError("total_steps", f"must be >= 1, got {total_steps}")
    return math.ceil(warmup_ratio * total_steps) if warmup_ratio > 0 else 0


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into decayed (matrices) and not decayed (biases, norms).

    Parameters with ``requires_grad=False`` (the frozen vision tower) never reach the optimizer,
    so they carry no optimizer state either. Chapter 03 counts both kinds.
    """
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters")
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: torch.nn.Module, config) -> torch.optim.AdamW:
    """AdamW over the trainable parameters with the config's peak LR and betas. Chapter 04."""
    return torch.optim.AdamW(
        parameter_groups(model, config.weight_decay), lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2), eps=config.adam_epsilon,
    )


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float,
                    kind: str = "cosine"):
    """Linear warm-up then ``kind`` decay (cosine/linear reach 0 at ``total_steps``). Chapter 04."""
    if kind not in _SCHEDULES:
        raise ParameterError("lr_schedule", f"{kind!r} is not one of {sorted(_SCHEDULES)}")
    warmup = warmup_steps(total_steps, warmup_ratio)
    if kind == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    return _SCHEDULES[kind](optimizer, warmup, total_steps)


def schedule_curve(total_steps: int, peak_lr: float, warmup_ratio: float = 0.03,
                   kind: str = "cosine") -> list[float]:
    """The learning rate used at each optimizer step 1..total_steps, for plotting. Chapter 04."""
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak_lr)
    scheduler = build_scheduler(dummy, total_steps, warmup_ratio, kind)
    rates = []
    for _ in range(total_steps):
        rates.append(scheduler.get_last_lr()[0])
        dummy.step()
        scheduler.step()
    return rates
