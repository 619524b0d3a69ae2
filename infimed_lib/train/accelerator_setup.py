"""The `accelerate` set-up shared by the stage trainer and chapter 10's GRPO loop: one Accelerator
per run, the optimizer, schedule, metrics log and resume state.

Chapter 04 explains the set-up. ``accelerate`` fixes the precision once per process (its state is
process-wide), so a process that has trained in one precision cannot train in another: we say so
with one clear error instead of resetting accelerate's private state. Notebooks train every stage
in the precision of their ``mixed_precision`` parameter, and a launched job is its own process.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState

from infimed_lib.common import ParameterError, write_config
from infimed_lib.train import checkpoint as ckpt
from infimed_lib.train.metrics_log import METRICS_FILE, MetricsLog
from infimed_lib.train.schedule import build_optimizer, build_scheduler


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


def prepare_run(accelerator: Accelerator, model, config, updates: int, resume: bool) -> tuple:
    """Optimizer, schedule over ``updates`` optimizer steps, the prepared model, the metrics log and
    the trainer state of a fresh or resumed run; the run's ``config.json`` written. Chapter 04.

    Shared by the stage trainer and chapter 10's GRPO loop (``config`` a TrainConfig or an RLConfig).
    """
    out = Path(config.output_dir)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, updates, config.warmup_ratio, config.lr_schedule)
    model, optimizer = accelerator.prepare(model, optimizer)
    # Stepped once per optimizer step by us: accelerate's wrapper would step it once per process.
    accelerator.register_for_checkpointing(scheduler)
    log = MetricsLog(out / METRICS_FILE, enabled=accelerator.is_main_process)
    state = ckpt.start_or_resume(accelerator, config, resume, log)
    if accelerator.is_main_process:
        write_config(config, out)
    return model, optimizer, scheduler, log, state
