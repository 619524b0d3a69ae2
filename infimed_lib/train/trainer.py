"""The stage trainer: one `accelerate` loop for continual pretraining and the three SFT stages.

Chapter 04 walks through it on the packed shards; chapters 05-07 reuse it on padded batches.
The same code runs in a notebook on one CPU and under ``accelerate launch`` on many GPUs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, GradientAccumulationPlugin
from tqdm.auto import tqdm

from infimed_lib.common import ParameterError, atomic_write_json, read_json, seed_everything
from infimed_lib.train import checkpoint as ckpt
from infimed_lib.train.accelerator_setup import build_accelerator, prepare_run, process_count
from infimed_lib.train.batches import build_batch
from infimed_lib.train.data_order import global_batch, open_samples, open_shards, process_share
from infimed_lib.train.metrics_log import METRICS_FILE, SUMMARY_FILE, MetricsLog, load_metrics, summarize
from infimed_lib.train.stage_model import load_stage_model, load_stage_tokenizer, pixel_function, \
    prepare_model_for_training, restore_inference_settings
from infimed_lib.train.steps import train_step
from infimed_lib.train.train_config import TrainConfig


@dataclass
class StageResult:
    """What a stage leaves behind; chapters 04-07 read these paths and numbers."""

    output_dir: Path
    checkpoint_dir: Path | None
    metrics_path: Path
    summary: dict
    completed: bool = True


def make_accelerator(config: TrainConfig) -> Accelerator:
    """An Accelerator with the accumulation that keeps the global batch fixed. Chapter 04."""
    cpu, num_processes = process_count()
    plugin = GradientAccumulationPlugin(num_steps=config.accumulation_steps(num_processes),
                                        sync_with_dataloader=False)
    accelerator = build_accelerator(
        config.mixed_precision, cpu, gradient_accumulation_plugin=plugin,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=config.find_unused_parameters)],
    )
    deepspeed = accelerator.state.deepspeed_plugin
    if deepspeed is not None:
        # Without a prepared DataLoader DeepSpeed cannot infer these; the shipped ZeRO configs
        # leave them "auto" so the TrainConfig stays the one source of truth.
        deepspeed.deepspeed_config.update({
            "train_micro_batch_size_per_gpu": config.micro_batch_size,
            "gradient_accumulation_steps": accelerator.gradient_accumulation_steps,
            "gradient_clipping": config.max_grad_norm})
    return accelerator


def _open_data(config: TrainConfig, tokenizer):
    """(records, row_length, packed) for the stage; CPT checks the shard manifest first."""
    if config.kind == "sft":
        return open_samples(config.data_path), config.max_length, False
    records, manifest = open_shards(config.data_path, tokenizer, validate=config.validate_shards)
    capacity, packed_tokens = int(manifest["capacity"]), int(manifest["num_visual_tokens"])
    if packed_tokens != config.num_visual_tokens:
        raise ParameterError("num_visual_tokens", f"{config.num_visual_tokens} differs from the "
                             f"{packed_tokens} the shards were packed with; re-pack or change it")
    if capacity > config.max_length:
        raise ParameterError("max_length", f"{config.max_length} is shorter than the packed rows "
                             f"({capacity} tokens)")
    return records, capacity, True


def total_steps(config: TrainConfig, num_units: int) -> int:
    """Optimizer steps of the stage: whole global batches per epoch x epochs, capped by max_steps."""
    per_epoch = num_units // config.global_batch_size
    if per_epoch == 0:
        raise ParameterError("global_batch_size", f"{config.global_batch_size} exceeds the "
                             f"{num_units} training units in {config.data_path}")
    steps = per_epoch * config.num_epochs
    return min(steps, config.max_steps) if config.max_steps else steps


@dataclass
class _Run:
    """Everything one training loop needs, set up by ``run_stage``."""

    config: TrainConfig
    accelerator: Accelerator
    model: object
    optimizer: object
    scheduler: object
    tokenizer: object
    records: object
    row_length: int
    packed: bool
    to_pixels: object
    log: MetricsLog


def run_stage(config: TrainConfig, model=None, tokenizer=None, *, resume: bool = False,
              stop_after_steps: int | None = None, to_pixels=None) -> StageResult:
    """Train one stage and write ``checkpoint/``, ``metrics.jsonl``, ``summary.json``,
    ``config.json`` under ``config.output_dir``. Chapters 04-07.

    ``model``/``tokenizer`` default to loading ``config.init_from`` / ``config.tokenizer_path``.
    ``resume=True`` returns a finished run of the same config as it is, else continues from the
    newest checkpoint in ``output_dir/checkpoints`` (or starts fresh if there is none);
    ``resume=False`` discards earlier checkpoints and metrics and trains from the start.
    ``stop_after_steps`` ends the run early without a final model, as a crash would (tests and
    the resume demonstration use it). ``to_pixels`` overrides the model's image preprocessing.
    """
    if resume and ckpt.finished_run(config):
        return load_result(config.output_dir)
    seed_everything(config.seed)
    accelerator = make_accelerator(config)
    out = Path(config.output_dir)
    tokenizer = tokenizer if tokenizer is not None else load_stage_tokenizer(config.tokenizer_path)
    records, row_length, packed = _open_data(config, tokenizer)
    steps = total_steps(config, len(records))
    model = model if model is not None else load_stage_model(config.init_from)
    settings = prepare_model_for_training(model, config, accelerator.device)
    to_pixels = to_pixels or pixel_function(model)
    model, optimizer, scheduler, log, state = prepare_run(accelerator, model, config, steps, resume)
    run = _Run(config, accelerator, model, optimizer, scheduler, tokenizer, records, row_length,
               packed, to_pixels, log)
    completed = _loop(run, int(state["step"]), steps, float(state["elapsed_s"]), stop_after_steps)
    if not completed:
        return StageResult(out, None, out / METRICS_FILE, {}, completed=False)
    restore_inference_settings(accelerator.unwrap_model(model), settings)
    final = ckpt.save_final_model(accelerator, model, tokenizer, out, settings["storage_dtype"])
    summary = {}
    if accelerator.is_main_process:
        summary = summarize(load_metrics(out / METRICS_FILE),
                            _extra(config, accelerator, model, len(records), int(state["step"])))
        atomic_write_json(out / SUMMARY_FILE, summary)
    accelerator.wait_for_everyone()
    return StageResult(out, final, out / METRICS_FILE, summary)


def _loop(run: _Run, start_step: int, steps: int, elapsed: float, stop_after: int | None) -> bool:
    """Optimizer steps ``start_step+1 .. steps``; False if stopped early by ``stop_after``."""
    config, accelerator = run.config, run.accelerator
    run.model.train()
    bar = tqdm(total=steps, initial=start_step, desc=config.stage, disable=not accelerator.is_main_process)
    clock = time.perf_counter()
    for step in range(start_step, steps):
        began = time.perf_counter()
        indices = global_batch(len(run.records), config.global_batch_size, config.seed, step)
        share = process_share(indices, config.micro_batch_size, accelerator.num_processes,
                              accelerator.process_index)
        batches = [build_batch([run.records[i] for i in micro], run.tokenizer, packed=run.packed,
                               num_visual_tokens=config.num_visual_tokens, row_length=run.row_length,
                               pad_id=run.tokenizer.pad_token_id) for micro in share]
        lr = run.scheduler.get_last_lr()[0]
        result = train_step(accelerator, run.model, run.optimizer, batches, to_pixels=run.to_pixels,
                            image_root=config.image_root, max_grad_norm=config.max_grad_norm)
        run.scheduler.step()
        done, duration = step + 1, time.perf_counter() - began
        row = {**result, "step": done, "epoch": done * config.global_batch_size / len(run.records),
               "lr": lr, "step_time_s": duration, "elapsed_s": elapsed + time.perf_counter() - clock,
               "tokens_per_s": result["tokens"] / duration,
               "non_pad_tokens_per_s": result["non_pad_tokens"] / duration}
        run.log.append(row)
        bar.update(1)
        bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{lr:.2e}")
        if config.save_every and done % config.save_every == 0 and done < steps:
            ckpt.save_checkpoint(accelerator, config.output_dir, done,
                                 {"config": config.to_dict(), "elapsed_s": row["elapsed_s"]},
                                 config.keep_checkpoints)
        if stop_after is not None and stop_after <= done < steps:
            bar.close()
            return False
    bar.close()
    return True


def _extra(config: TrainConfig, accelerator, model, num_units: int, start_step: int) -> dict:
    parameters = list(accelerator.unwrap_model(model).parameters())
    return {
        "stage": config.stage, "num_processes": accelerator.num_processes,
        "global_batch_size": config.global_batch_size, "micro_batch_size": config.micro_batch_size,
        "gradient_accumulation_steps": accelerator.gradient_accumulation_steps,
        "num_visual_tokens": config.num_visual_tokens, "training_units": num_units,
        "packed": config.kind == "cpt", "resumed_from_step": start_step,
        "trainable_parameters": sum(p.numel() for p in parameters if p.requires_grad),
        "frozen_parameters": sum(p.numel() for p in parameters if not p.requires_grad),
        "mixed_precision": accelerator.mixed_precision,
    }


def load_result(output_dir: str | Path) -> StageResult:
    """The result of a finished stage, read back from its folder (chapters 05-09 use it)."""
    out = Path(output_dir)
    if not (out / SUMMARY_FILE).exists():
        raise FileNotFoundError(f"{out} holds no finished stage (no {SUMMARY_FILE})")
    return StageResult(out, out / "checkpoint", out / METRICS_FILE, read_json(out / SUMMARY_FILE))
