"""The GRPO loop on `accelerate`: sample groups, reward them, update the policy, log, checkpoint.

Chapter 10 walks through one step. The same code runs in a notebook on one CPU and under
``accelerate launch`` on many GPUs (each process samples and scores its share of the step's
questions, whole groups each, so that group statistics never cross processes). Checkpoints hold
the policy, AdamW moments, the scheduler and every process's RNG states (``accelerate``), plus
our step counter; the step's questions are a pure function of (seed, step) and its samples are
drawn from the restored RNG, so a resumed run repeats an uninterrupted one exactly.
"""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from tqdm.auto import tqdm

from infimed_lib.common import ParameterError, atomic_write_json, read_json, seed_everything
from infimed_lib.rl.grpo_config import RLConfig
from infimed_lib.rl.grpo_summary import summarize_rl
from infimed_lib.rl.tasks import read_tasks
from infimed_lib.rl.update import StepContext, grpo_step
from infimed_lib.rl.vllm_rollout import VLLMSampler
from infimed_lib.train import checkpoint as ckpt
from infimed_lib.train.accelerator_setup import build_accelerator, prepare_run, process_count
from infimed_lib.train.data_order import global_batch
from infimed_lib.train.metrics_log import METRICS_FILE, SUMMARY_FILE, MetricsLog, load_metrics
from infimed_lib.train.stage_model import load_stage_model, load_stage_tokenizer, prepare_model_for_training, \
    restore_inference_settings
from infimed_lib.train.trainer import StageResult


class RLResult(StageResult):
    """What a GRPO run leaves behind, laid out as a training stage's result; chapter 10 reads it."""


def make_rl_accelerator(config: RLConfig) -> Accelerator:
    """An Accelerator for the run's precision; one optimizer step per update, no accumulation plugin."""
    cpu, _ = process_count()
    accelerator = build_accelerator(config.mixed_precision, cpu)
    if config.prompts_per_step % (config.updates_per_step * accelerator.num_processes):
        raise ParameterError("prompts_per_step", f"{config.prompts_per_step} is not divisible by updates_per_step "
                             f"* processes = {config.updates_per_step} * {accelerator.num_processes}")
    if getattr(accelerator.state, "distributed_type", None) == DistributedType.FSDP:
        raise ParameterError("accelerate_config", "sampling needs the whole policy on every process: use ddp or "
                             "deepspeed_zero2, not FSDP")
    return accelerator


def resolve_engine(name: str) -> str:
    """``"auto"`` -> ``"vllm"`` when vLLM is installed and a GPU is present, else ``"transformers"``."""
    if name != "auto":
        return name
    return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None else "transformers"


def _load_models(config: RLConfig, device):
    """Policy (trainable) and reference (frozen copy of the start), at the run's visual tokens."""
    policy = load_stage_model(config.init_from)
    visual = config.num_visual_tokens or policy.config.num_visual_tokens
    switches = SimpleNamespace(num_visual_tokens=visual, gradient_checkpointing=config.gradient_checkpointing)
    settings = prepare_model_for_training(policy, switches, device)
    reference = None
    if config.kl_coef > 0:
        reference = load_stage_model(config.init_from)
        reference.set_num_visual_tokens(visual)
        reference.requires_grad_(False).eval().to(device)
    return policy, reference, settings


def run_grpo(config: RLConfig, *, resume: bool = False, stop_after_steps: int | None = None) -> RLResult:
    """Train with GRPO and write ``checkpoint/``, ``metrics.jsonl``, ``summary.json``, ``config.json``
    under ``config.output_dir``. Chapter 10.

    ``resume=True`` returns a finished run of the same config as it is, else continues from the
    newest checkpoint (or starts fresh); ``resume=False`` starts over. ``stop_after_steps`` ends
    early without a final model, as a crash would (the resume test uses it).
    """
    if resume and ckpt.finished_run(config):
        return load_rl_result(config.output_dir)
    seed_everything(config.seed)
    accelerator = make_rl_accelerator(config)
    out = Path(config.output_dir)
    tokenizer = load_stage_tokenizer(config.tokenizer_path)
    tasks = read_tasks(config.tasks_path)
    if len(tasks) < config.prompts_per_step:
        raise ParameterError("prompts_per_step", f"{config.prompts_per_step} exceeds the {len(tasks)} tasks")
    policy, reference, settings = _load_models(config, accelerator.device)
    updates = config.max_steps * config.updates_per_step * config.epochs
    policy, optimizer, scheduler, log, state = prepare_run(accelerator, policy, config, updates, resume)
    engine = None
    if resolve_engine(config.rollout_engine) == "vllm":
        engine = VLLMSampler(accelerator.unwrap_model(policy), tokenizer, out, config.seed + accelerator.process_index)
    context = StepContext(config, accelerator, policy, reference, optimizer, scheduler, tokenizer, tasks, engine)
    if not _loop(context, log, int(state["step"]), float(state["elapsed_s"]), stop_after_steps):
        return RLResult(out, None, out / METRICS_FILE, {}, completed=False)
    restore_inference_settings(accelerator.unwrap_model(policy), settings)
    final = ckpt.save_final_model(accelerator, policy, tokenizer, out)
    summary = {}
    if accelerator.is_main_process:
        parameters = list(accelerator.unwrap_model(policy).parameters())
        summary = summarize_rl(load_metrics(out / METRICS_FILE), {
            "num_processes": accelerator.num_processes, "tasks": len(tasks), "resumed_from_step": int(state["step"]),
            "trainable_parameters": sum(p.numel() for p in parameters if p.requires_grad),
            "mixed_precision": accelerator.mixed_precision})
        atomic_write_json(out / SUMMARY_FILE, summary)
    accelerator.wait_for_everyone()
    return RLResult(out, final, out / METRICS_FILE, summary)


def _loop(context: StepContext, log: MetricsLog, start: int, elapsed: float, stop_after: int | None) -> bool:
    """Steps ``start+1 .. max_steps``; False when stopped early by ``stop_after``."""
    config, accelerator = context.config, context.accelerator
    bar = tqdm(total=config.max_steps, initial=start, desc="GRPO", disable=not accelerator.is_main_process)
    clock = time.perf_counter()
    for step in range(start, config.max_steps):
        began = time.perf_counter()
        indices = global_batch(len(context.tasks), config.prompts_per_step, config.seed, step)
        row = grpo_step(context, indices[accelerator.process_index::accelerator.num_processes])
        done = step + 1
        row.update(step=done, step_time_s=time.perf_counter() - began,
                   elapsed_s=elapsed + time.perf_counter() - clock)
        log.append(row)
        bar.update(1)
        bar.set_postfix(reward=f"{row['reward']:.3f}", kl=f"{row['kl']:.4f}")
        if config.save_every and done % config.save_every == 0 and done < config.max_steps:
            ckpt.save_checkpoint(accelerator, config.output_dir, done,
                                 {"config": config.to_dict(), "elapsed_s": row["elapsed_s"]}, config.keep_checkpoints)
        if stop_after is not None and stop_after <= done < config.max_steps:
            bar.close()
            return False
    bar.close()
    return True


def load_rl_result(output_dir: str | Path) -> RLResult:
    """A finished GRPO run read back from its folder (chapter 10)."""
    out = Path(output_dir)
    if not (out / SUMMARY_FILE).exists():
        raise FileNotFoundError(f"{out} holds no finished GRPO run (no {SUMMARY_FILE})")
    return RLResult(out, out / "checkpoint", out / METRICS_FILE, read_json(out / SUMMARY_FILE))
