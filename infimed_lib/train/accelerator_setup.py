"""One `accelerate.Accelerator` per run, shared by the stage trainer and chapter 10's GRPO loop.

Chapter 04 explains the set-up. ``accelerate`` fixes the precision once per process (its state is
process-wide), so a process that has trained in one precision cannot train in another: we say so
with one clear error instead of resetting accelerate's private state. Notebooks train every stage
in the precision of their ``mixed_precision`` parameter, and a launched job is its own process.
"""
from __future__ import annotations

import os

import torch
from accelerate import Accelerator, PartialState

from infimed_lib.common import ParameterError


def resolved_precision(mixed_precision: str) -> str:
    """``"auto"`` becomes bf16 on a GPU and ``"no"`` (float32) on the CPU. Chapter 04."""
    if mixed_precision == "auto":
        return "bf16" if torch.cuda.is_available() else "no"
    return mixed_precision


def process_count() -> tuple[bool, int]:
    """(run on the CPU, number of processes) of this launch. Chapter 04.

    Under torchrun without GPUs, accelerate sets up gloo only when told to use the CPU.
    """
    cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    return cpu, PartialState(cpu=cpu).num_processes


def build_accelerator(mixed_precision: str, cpu: bool, **options) -> Accelerator:
    """An Accelerator in ``mixed_precision`` (resolved), or a ParameterError naming the clash. Chapter 04."""
    precision = resolved_precision(mixed_precision)
    try:
        return Accelerator(cpu=cpu, mixed_precision=precision, **options)
    except ValueError as error:
        if "already been initialized" not in str(error):
            raise
        raise ParameterError("mixed_precision", f"{precision!r}: this process already trained in another precision "
                             "and accelerate fixes it once per process; restart the kernel, or launch the run "
                             "as its own process (launcher='accelerate' or 'torchrun')") from None
