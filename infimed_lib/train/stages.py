"""What the stage chapters (04-07) do around ``run_stage``: write the mixture, launch, report.

A stage runs in the notebook's own process (``launcher="inprocess"``, the tiny profile) or as a
separate ``accelerate launch`` / ``torchrun`` job on every GPU (``launcher="accelerate"``, the
paper profile); both read the same ``config.json`` and leave the same files behind.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from infimed_lib.common import ParameterError, atomic_write_jsonl, require_choice, require_path, require_type, write_config
from infimed_lib.data.mixtures import Mixture, MixtureSpec, build_mixture
from infimed_lib.train.train_config import TrainConfig, load_config
from infimed_lib.train.trainer import StageResult, load_result, run_stage

LAUNCHERS = ("inprocess", "accelerate", "torchrun")
ACCELERATE_CONFIGS = Path(__file__).parent / "accelerate_configs"


def prepare_mixture(config: TrainConfig, mixture: dict, corpus_dir: str, keep_list: str = "",
                    balance_to: int | None = None, seed: int = 0) -> Mixture:
    """Build an SFT stage's mixture (Table 4) and write it where the trainer reads it. Chapters 05-07.

    Sets ``config.image_root`` to the corpus, against which the mixture's image paths resolve.
    """
    spec = MixtureSpec(dict(mixture), balance_to, seed, name=f"{config.stage}_mixture")
    keep = keep_list if keep_list and Path(keep_list).exists() else None
    # Relative image paths + image_root keep mixture.jsonl identical across checkouts.
    built = build_mixture(spec, corpus_dir, keep, absolute_images=False)
    if not built.samples:
        raise ParameterError(f"{config.stage}_mixture", "selects no samples")
    config.image_root = str(corpus_dir)
    atomic_write_jsonl(config.data_path, built.samples)
    return built


def launch_command(config_path: Path, stage: str, launcher: str, accelerate_config: str = "",
                   num_processes: int = 1) -> list[str]:
    """The command line that runs one stage as its own job."""
    module = ["-m", "infimed_lib.train", "--stage", stage, "--config", str(config_path), "--resume"]
    return job_command(module, launcher, accelerate_config, num_processes)


def job_command(module: list[str], launcher: str, accelerate_config: str = "", num_processes: int = 1) -> list[str]:
    """``python -m <module ...>`` under torchrun or accelerate launch (chapters 04-07, 09 and 10's jobs).

    ``--num_processes`` is always given: an accelerate config file names its own count (the
    shipped ``ddp.yaml`` says 8), and the job's ``num_processes`` must win over it, 1 included.
    """
    if require_type("num_processes", num_processes, int) < 1:
        raise ParameterError("num_processes", f"must be >= 1, got {num_processes}")
    if launcher == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={num_processes}", *module]
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if accelerate_config:
        path = Path(accelerate_config)
        path = path if path.exists() else ACCELERATE_CONFIGS / f"{accelerate_config}.yaml"
        if not path.exists():
            raise ParameterError("accelerate_config", f"no such file or shipped config: {accelerate_config}")
        command += ["--config_file", str(path)]
    command += ["--num_processes", str(num_processes)]
    return [*command, *module]


def launch_stage(config: TrainConfig, launcher: str = "inprocess", accelerate_config: str = "",
                 num_processes: int = 1) -> StageResult:
    """Run a stage here or as a launched job; a finished stage with the same config is reused."""
    require_choice("launcher", launcher, LAUNCHERS)
    if launcher == "inprocess":
        return run_stage(config, resume=True)
    config_path = write_config(config, config.output_dir, "launch_config.json")
    command = launch_command(config_path, config.stage, launcher, accelerate_config, num_processes)
    print("$", shlex.join(command), flush=True)
    completed = subprocess.run(command, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if completed.returncode != 0:
        raise RuntimeError(f"stage {config.stage} failed under {launcher} (exit {completed.returncode}); "
                           f"see the output above and {config.output_dir}")
    return load_result(config.output_dir)


def run_extra_combination(stage3_config: str | Path, stage1_checkpoint: str | Path, output_dir: str | Path, *,
                          launcher: str = "inprocess", accelerate_config: str = "", num_processes: int = 1):
    """Train the "1+3" model: stage 3's recipe and data, started from the stage-1 checkpoint (Chapter 09).

    Reads the stage-3 run's ``config.json`` (so data, hyperparameters and seed are exactly
    stage 3's) and changes only ``init_from`` and ``output_dir``; the stage launcher of
    chapters 05-07 then runs it here or as an ``accelerate``/``torchrun`` job, and reuses a
    finished run of the same configuration. Returns the ``StageResult``.
    """
    require_path("stage3_config", stage3_config, "file")
    require_path("stage1_checkpoint", stage1_checkpoint, "dir")
    config = load_config(stage3_config, init_from=str(stage1_checkpoint), output_dir=str(output_dir))
    return launch_stage(config, launcher, accelerate_config, num_processes)
