"""Checkpoints for exact resume, and the final ``save_pretrained`` folder of a stage.

Chapter 04 explains what "exact" needs: model weights, AdamW moments, the scheduler, every
process's RNG states (all saved by ``accelerate``), plus our own step counter, from which the
data position follows (see ``data.global_batch``). A checkpoint folder is written under a
temporary name and renamed when complete, so a run killed mid-save resumes from the previous one.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch

from infimed_lib.common import ParameterError, atomic_write_json, dumps_json, read_json
from infimed_lib.train.metrics_log import SUMMARY_FILE
from infimed_lib.train.stage_model import save_companions

STATE_FILE = "trainer_state.json"
_NAME = re.compile(r"^step-(\d+)$")


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run, oldest first, as (optimizer step, folder). Chapter 04."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        match = _NAME.match(folder.name)
        if match and (folder / STATE_FILE).exists():
            found.append((int(match.group(1)), folder))
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1][1] if checkpoints else None


def save_checkpoint(accelerator, output_dir: str | Path, step: int, state: dict, keep: int) -> Path:
    """Save the full training state after optimizer step ``step``; keep the newest ``keep``.

    Every process must call this (each saves its own RNG state; FSDP/DeepSpeed shards too).
    """
    root = checkpoint_root(output_dir)
    final = root / f"step-{step:08d}"
    # One name every process agrees on without communicating.
    temporary = root / f".step-{step:08d}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        atomic_write_json(temporary / STATE_FILE, {**state, "step": step})
        shutil.rmtree(final, ignore_errors=True)
        temporary.rename(final)
        for _, old in list_checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, folder: str | Path) -> dict:
    """Restore model, optimizer, scheduler and RNG states; return our trainer state. Chapter 04."""
    folder = Path(folder)
    state = read_json(folder / STATE_FILE)
    accelerator.load_state(str(folder))
    return state


def clear_checkpoints(accelerator, output_dir: str | Path) -> None:
    """Forget a previous run's checkpoints before a fresh start (main process only deletes)."""
    if accelerator.is_main_process:
        shutil.rmtree(checkpoint_root(output_dir), ignore_errors=True)
    accelerator.wait_for_everyone()


def save_final_model(accelerator, model, tokenizer, output_dir: str | Path,
                     dtype: torch.dtype = torch.float32) -> Path:
    """Write the trained model (with its tokenizer and image processor) with ``save_pretrained`` to
    ``<output_dir>/checkpoint/``, through a temporary folder and a rename. Chapters 04-07.

    ``accelerator.get_state_dict`` gathers FSDP / DeepSpeed ZeRO-3 shards into one state dict.
    ``dtype`` is the dtype written: the one the stage's starting checkpoint was stored in (the
    float32 master weights are cast on the way out, as a bf16 release is), so a bf16 chain of
    stages stays half the size on disk.
    """
    target = Path(output_dir) / "checkpoint"
    temporary = Path(output_dir) / ".checkpoint.tmp"
    state_dict = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
        unwrapped = accelerator.unwrap_model(model)
        if dtype != torch.float32:
            state_dict = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
        unwrapped.save_pretrained(str(temporary), state_dict=state_dict, save_function=accelerator.save)
        if dtype != torch.float32:  # save_pretrained names the in-memory (float32) dtype
            _write_config_dtype(unwrapped.config, temporary, dtype)
        save_companions(unwrapped, tokenizer, temporary)
        if target.exists():
            shutil.rmtree(target)
        temporary.rename(target)
    accelerator.wait_for_everyone()
    return target


def _write_config_dtype(config, folder: Path, dtype: torch.dtype) -> None:
    """Rewrite ``config.json`` with ``dtype`` (and the sub-configs'), leaving ``config`` as it was."""
    configs = [config, *(getattr(config, key) for key in getattr(config, "sub_configs", {}) if getattr(config, key, None))]
    before = [c.dtype for c in configs]
    try:
        for sub in configs:
            sub.dtype = str(dtype).removeprefix("torch.")
        config.save_pretrained(folder)
    finally:
        for sub, value in zip(configs, before):
            sub.dtype = value


def start_or_resume(accelerator, config, resume: bool, log) -> dict:
    """Restore the newest checkpoint (``resume``) or clear an earlier run; returns the trainer's
    state (``step``, ``elapsed_s``). ``config`` is a stage's TrainConfig or chapter 10's RLConfig:
    a resumed run must have the same values outside its ``RESUME_MAY_DIFFER``. Chapter 04."""
    latest = latest_checkpoint(config.output_dir) if resume else None
    state = {"step": 0, "elapsed_s": 0.0}
    if latest is not None:
        state = read_json(latest / STATE_FILE)
        changed = config.differences(type(config)(**state["config"]))
        if changed:
            raise ParameterError(changed[0], f"differs from the run being resumed ({latest}); "
                                 "start a fresh run or restore the old value")
    if accelerator.is_main_process:  # a summary always describes a finished run
        (Path(config.output_dir) / SUMMARY_FILE).unlink(missing_ok=True)
    if latest is None:
        clear_checkpoints(accelerator, config.output_dir)
        log.reset()
        return state
    load_checkpoint(accelerator, latest)
    log.truncate(state["step"])
    return state


def finished_run(config) -> bool:
    """True when ``config.output_dir`` holds a completed run of exactly this config. Chapter 04."""
    out = Path(config.output_dir)
    needed = (out / SUMMARY_FILE, out / "checkpoint", out / "config.json")
    if not all(path.exists() for path in needed):
        return False
    return read_json(out / "config.json") == json.loads(dumps_json(config))
