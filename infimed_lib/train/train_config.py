"""The resolved configuration of one training stage (continual pretraining or one SFT stage).

Chapter 04 (continual pretraining) and chapters 05-07 (the three SFT stages) explain every field;
the defaults are the paper's Table 5 and Appendix A.5. Chapter 10's reflective warm-up is one
more SFT-kind stage (``"warmup"``), run by the same trainer in a folder of its own.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from infimed_lib.common import ParameterError, config_from_mapping, read_config_json, require_choice, require_type

STAGES = ("cpt", "sft1", "sft2", "sft3", "warmup")  # warmup: chapter 10's short SFT on reasoning traces
SCHEDULES = ("cosine", "linear", "constant")
SWITCHES = ("auto", "on", "off")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")

# Table 5: peak learning rate, global batch size and visual tokens per image, by stage kind.
PAPER_DEFAULTS = {
    "cpt": {"learning_rate": 5e-5, "global_batch_size": 256, "num_visual_tokens": 144},
    "sft": {"learning_rate": 2e-5, "global_batch_size": 128, "num_visual_tokens": 729},
}

# Fields that may change between an interrupted run and its resumption without changing the
# numbers it computes (how often to save, how to spend memory, how the batch is split).
RESUME_MAY_DIFFER = frozenset({
    "save_every", "keep_checkpoints", "gradient_checkpointing", "validate_shards",
    "micro_batch_size", "find_unused_parameters",
})


@dataclass
class TrainConfig:
    """One stage's training configuration; chapter 04 (CPT) and chapters 05-07 (SFT).

    Paths: ``init_from`` is a ``save_pretrained`` folder (``model/init/`` or the previous
    stage's ``checkpoint/``); ``data_path`` is the packed shard folder for ``cpt`` and a JSONL
    file (or folder of JSONL files) of schema samples for the SFT stages (the stage mixture,
    written by the notebook); ``image_root`` resolves relative image paths of SFT samples.

    Fields left ``None`` take the paper's Table 5 value for the stage: peak learning rate 5e-5
    (CPT) / 2e-5 (SFT), global batch size 256 / 128, visual tokens per image 144 / 729.

    Weight decay: Table 5 gives 0.01 for both pretraining and SFT, while Appendix A.5 says 0.1
    for SFT. We default to 0.01 for every stage, because the table is the paper's consolidated
    hyperparameter list and the appendix sentence is the only place that disagrees; set
    ``weight_decay=0.1`` to follow the appendix instead. Decay applies to matrices only (biases
    and normalisation weights are exempt, the usual AdamW practice).

    Schedule: linear warm-up over ``ceil(warmup_ratio * total_steps)`` optimizer steps (3% in
    the paper), then cosine decay to 0 at the last step. The paper gives only the warm-up
    ratio; cosine-to-zero is our choice (the common one for LLaVA-style recipes).

    Batches: ``global_batch_size = micro_batch_size * num_processes * accumulation``, so the
    same config gives the same optimisation on 1 CPU or 64 GPUs. One optimizer step consumes
    one global batch of packed rows (CPT: one bin is one row) or of samples (SFT); a last
    incomplete global batch of an epoch is dropped. The paper trains 1 epoch per stage.
    """

    stage: str
    output_dir: str
    init_from: str
    tokenizer_path: str
    data_path: str
    image_root: str | None = None
    global_batch_size: int | None = None
    micro_batch_size: int = 1
    learning_rate: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.03
    lr_schedule: str = "cosine"
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    num_epochs: int = 1
    max_steps: int | None = None
    num_visual_tokens: int | None = None
    max_length: int = 4096
    save_every: int = 0
    keep_checkpoints: int = 2
    seed: int = 0
    mixed_precision: str = "auto"
    gradient_checkpointing: str = "auto"
    find_unused_parameters: bool = True
    validate_shards: bool = True

    def __post_init__(self) -> None:
        require_choice("stage", self.stage, STAGES)
        for name in ("output_dir", "init_from", "tokenizer_path", "data_path"):
            if not isinstance(getattr(self, name), (str, Path)) or str(getattr(self, name)) == "":
                raise ParameterError(name, f"expected a non-empty path, got {getattr(self, name)!r}")
            setattr(self, name, str(getattr(self, name)))
        if self.image_root is not None:
            self.image_root = str(self.image_root)
        defaults = PAPER_DEFAULTS[self.kind]
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        self._check_numbers()
        require_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        require_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        require_choice("gradient_checkpointing", self.gradient_checkpointing, SWITCHES)
        for name in ("find_unused_parameters", "validate_shards"):
            require_type(name, getattr(self, name), bool)
        if self.global_batch_size % self.micro_batch_size:
            raise ParameterError("global_batch_size", f"{self.global_batch_size} is not a multiple "
                                 f"of micro_batch_size={self.micro_batch_size}")

    def _check_numbers(self) -> None:
        positive_ints = ("global_batch_size", "micro_batch_size", "num_epochs", "num_visual_tokens",
                         "max_length", "keep_checkpoints")
        for name in positive_ints:
            if require_type(name, getattr(self, name), int) < 1:
                raise ParameterError(name, f"must be >= 1, got {getattr(self, name)}")
        for name in ("save_every", "seed"):
            if require_type(name, getattr(self, name), int) < 0:
                raise ParameterError(name, f"must be >= 0, got {getattr(self, name)}")
        if self.max_steps is not None and require_type("max_steps", self.max_steps, int) < 1:
            raise ParameterError("max_steps", f"must be >= 1 or None, got {self.max_steps}")
        ranges = {"learning_rate": (0.0, False, math.inf), "weight_decay": (0.0, True, math.inf),
                  "warmup_ratio": (0.0, True, 1.0), "adam_beta1": (0.0, True, 1.0),
                  "adam_beta2": (0.0, True, 1.0), "adam_epsilon": (0.0, False, math.inf),
                  "max_grad_norm": (0.0, True, math.inf)}
        for name, (low, low_ok, high) in ranges.items():
            value = float(require_type(name, getattr(self, name), (int, float)))
            above_low = value > low or (low_ok and value == low)
            if not (math.isfinite(value) and above_low and value < high):
                raise ParameterError(name, f"{value} is outside the allowed range")
            setattr(self, name, value)

    @property
    def kind(self) -> str:
        """``"cpt"`` (packed rows, plain template) or ``"sft"`` (padded batches, chat template)."""
        return "cpt" if self.stage == "cpt" else "sft"

    @property
    def template(self) -> str:
        return "plain" if self.kind == "cpt" else "chat"

    def accumulation_steps(self, num_processes: int) -> int:
        """Micro-batches each process runs per optimizer step; chapter 04 (global batch)."""
        per_step = self.micro_batch_size * num_processes
        if self.global_batch_size % per_step:
            raise ParameterError("global_batch_size", f"{self.global_batch_size} is not divisible by "
                                 f"micro_batch_size * num_processes = {self.micro_batch_size} * "
                                 f"{num_processes}")
        return self.global_batch_size // per_step

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def differences(self, other: "TrainConfig") -> list[str]:
        """Fields (outside ``RESUME_MAY_DIFFER``) whose values differ from ``other``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if k not in RESUME_MAY_DIFFER and mine[k] != theirs[k])


# The run-folder layout of CONTRIBUTING.md: where each stage writes, and what it starts from.
STAGE_DIRS = {"cpt": "stage0_cpt", "sft1": "stage1", "sft2": "stage2", "sft3": "stage3"}
STARTS_FROM = {"cpt": "model/init", "sft1": "stage0_cpt/checkpoint", "sft2": "stage1/checkpoint",
               "sft3": "stage2/checkpoint"}
MIXTURE_FILE = "mixture.jsonl"


def stage_config(stage: str, run_dir: str | Path, **overrides) -> TrainConfig:
    """A stage's config with the standard run-folder paths filled in. Chapters 04-07.

    ``output_dir`` = ``<run_dir>/<stage folder>``; ``init_from`` = the previous stage's
    ``checkpoint/`` (``model/init`` for CPT); ``tokenizer_path`` = ``<run_dir>/tokenizer``;
    ``data_path`` = ``<run_dir>/packing/shards`` (CPT) or ``<output_dir>/mixture.jsonl`` (SFT,
    written by the notebook from the stage mixture). Any field can be overridden.
    """
    require_choice("stage", stage, tuple(STAGE_DIRS))
    run_dir = Path(run_dir)
    output_dir = run_dir / STAGE_DIRS[stage]
    paths = {
        "output_dir": str(output_dir), "init_from": str(run_dir / STARTS_FROM[stage]),
        "tokenizer_path": str(run_dir / "tokenizer"),
        "data_path": str(run_dir / "packing" / "shards" if stage == "cpt" else output_dir / MIXTURE_FILE),
    }
    return config_from_dict({"stage": stage, **paths}, **overrides)


def config_from_dict(values: dict, **overrides) -> TrainConfig:
    """Build a TrainConfig from a dict (e.g. a profile section), naming any unknown key."""
    return config_from_mapping(TrainConfig, values, "training parameter", **overrides)


def load_config(path: str | Path, **overrides) -> TrainConfig:
    """Read a ``config.json`` written by a run (or by hand) back into a TrainConfig."""
    return config_from_dict(read_config_json(path), **overrides)
