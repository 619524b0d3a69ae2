"""The configuration of one GRPO run, written beside its outputs as ``config.json``.

Chapter 10 explains every field. Defaults are the miniature's; the paper profile sets EasyR1's
defaults where the InfiMed RL paper (arXiv 2505.23867) states nothing itself.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from infimed_lib.common import ParameterError, config_from_mapping, read_config_json, require_choice, require_type

AGGREGATIONS = ("sequence", "token")
SCHEDULES = ("constant", "cosine", "linear")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
ROLLOUT_ENGINES = ("transformers", "vllm", "auto")
# Fields that may change between an interrupted run and its resumption without changing its numbers.
RESUME_MAY_DIFFER = frozenset({"save_every", "keep_checkpoints", "micro_batch_size"})


@dataclass
class RLConfig:
    """One GRPO run (group relative policy optimisation, Shao et al. 2024); chapter 10.

    Each *step* samples ``group_size`` answers to each of ``prompts_per_step`` questions from
    the current policy (temperature ``temperature``, nucleus ``top_p``, at most
    ``max_new_tokens``), rewards them (``rl.rewards``), normalises the rewards within each
    group into advantages, and then makes ``updates_per_step`` optimizer steps, each on an
    equal slice of the questions (with their whole groups), ``epochs`` times over. From the
    second update on the policy has moved away from the one that sampled, which is what the
    clipped ratio ``[1 - clip_low, 1 + clip_high]`` limits. ``kl_coef`` weighs the k3 estimate
    of the KL divergence to the frozen starting model (the reference).

    ``loss_aggregation``: ``"sequence"`` averages each answer's token losses and then the
    answers (the GRPO paper's formula); ``"token"`` averages over all answer tokens of the
    update (DAPO, EasyR1's default), so long answers weigh more.

    ``rollout_engine``: ``"transformers"`` samples with ``generate`` (exactly resumable);
    ``"vllm"`` with a colocated vLLM engine (``rl.vllm_rollout``, GPU only); ``"auto"`` takes
    vLLM where it is installed and a GPU is present, ``generate`` otherwise.

    Paths: ``init_from`` is the starting ``save_pretrained`` folder (also the reference);
    ``tasks_path`` a JSONL file of tasks (``rl.tasks.write_tasks``); ``image_root`` resolves
    relative image paths (the corpus folder).
    """

    output_dir: str
    init_from: str
    tokenizer_path: str
    tasks_path: str
    image_root: str | None = None
    max_steps: int = 20
    prompts_per_step: int = 8
    group_size: int = 4
    updates_per_step: int = 2
    epochs: int = 1
    micro_batch_size: int = 16
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    clip_low: float = 0.2
    clip_high: float = 0.2
    kl_coef: float = 0.01
    loss_aggregation: str = "sequence"
    format_weight: float = 0.1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 48
    num_visual_tokens: int | None = None
    rollout_engine: str = "transformers"
    seed: int = 0
    save_every: int = 0
    keep_checkpoints: int = 2
    mixed_precision: str = "auto"
    gradient_checkpointing: str = "auto"

    def __post_init__(self) -> None:
        for name in ("output_dir", "init_from", "tokenizer_path", "tasks_path"):
            value = getattr(self, name)
            if not isinstance(value, (str, Path)) or str(value) == "":
                raise ParameterError(name, f"expected a non-empty path, got {value!r}")
            setattr(self, name, str(value))
        if self.image_root is not None:
            self.image_root = str(self.image_root)
        self._check_counts()
        self._check_numbers()
        require_choice("loss_aggregation", self.loss_aggregation, AGGREGATIONS)
        require_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        require_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        require_choice("rollout_engine", self.rollout_engine, ROLLOUT_ENGINES)
        require_choice("gradient_checkpointing", self.gradient_checkpointing, ("auto", "on", "off"))
        if self.prompts_per_step % self.updates_per_step:
            raise ParameterError("updates_per_step", f"{self.updates_per_step} does not divide "
                                 f"prompts_per_step={self.prompts_per_step} (each update takes whole groups)")

    def _check_counts(self) -> None:
        for name in ("max_steps", "prompts_per_step", "updates_per_step", "epochs", "micro_batch_size",
                     "max_new_tokens", "keep_checkpoints"):
            if require_type(name, getattr(self, name), int) < 1:
                raise ParameterError(name, f"must be >= 1, got {getattr(self, name)}")
        if require_type("group_size", self.group_size, int) < 2:
            raise ParameterError("group_size", "GRPO compares answers within a group: needs >= 2, "
                                 f"got {self.group_size}")
        for name in ("save_every", "seed"):
            if require_type(name, getattr(self, name), int) < 0:
                raise ParameterError(name, f"must be >= 0, got {getattr(self, name)}")
        if self.num_visual_tokens is not None and require_type("num_visual_tokens", self.num_visual_tokens, int) < 1:
            raise ParameterError("num_visual_tokens", f"must be >= 1 or None, got {self.num_visual_tokens}")

    def _check_numbers(self) -> None:
        # name: (lowest, lowest allowed?, highest, highest allowed?)
        ranges = {"learning_rate": (0.0, False, math.inf, False), "warmup_ratio": (0.0, True, 1.0, False),
                  "weight_decay": (0.0, True, math.inf, False), "adam_beta1": (0.0, True, 1.0, False),
                  "adam_beta2": (0.0, True, 1.0, False), "adam_epsilon": (0.0, False, math.inf, False),
                  "max_grad_norm": (0.0, True, math.inf, False), "clip_low": (0.0, True, 1.0, False),
                  "clip_high": (0.0, True, math.inf, False), "kl_coef": (0.0, True, math.inf, False),
                  "format_weight": (0.0, True, 1.0, True), "temperature": (0.0, False, math.inf, False),
                  "top_p": (0.0, False, 1.0, True)}
        for name, (low, low_ok, high, high_ok) in ranges.items():
            value = float(require_type(name, getattr(self, name), (int, float)))
            above = value > low or (low_ok and value == low)
            below = value < high or (high_ok and value == high)
            if not (math.isfinite(value) and above and below):
                raise ParameterError(name, f"{value} is outside the allowed range")
            setattr(self, name, value)

    @property
    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.group_size

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def differences(self, other: "RLConfig") -> list[str]:
        """Fields (outside ``RESUME_MAY_DIFFER``) whose values differ from ``other``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if k not in RESUME_MAY_DIFFER and mine[k] != theirs.get(k))


def rl_config(values: dict, **overrides) -> RLConfig:
    """An RLConfig from a dict (a profile section, a config.json), naming any unknown key."""
    return config_from_mapping(RLConfig, values, "RL parameter", **overrides)


def load_rl_config(path: str | Path, **overrides) -> RLConfig:
    """Read a run's ``config.json`` back into an RLConfig."""
    return rl_config(read_config_json(path), **overrides)
