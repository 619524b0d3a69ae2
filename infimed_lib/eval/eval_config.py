"""What one evaluation run is given (:class:`EvalConfig`) and what it leaves (:class:`EvalResult`).

Chapter 08 sets these from its parameters; ``run.evaluate`` writes the config beside the
predictions and fingerprints the checkpoint and tokenizer with :func:`folder_digest` to resume.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infimed_lib.common import ParameterError, require_path, require_type
from infimed_lib.data.benchmark_prompts import LAYOUTS
from infimed_lib.data.benchmarks import BENCHMARKS
from infimed_lib.eval.generate import DEFAULT_MAX_NEW_TOKENS, resolve_max_new_tokens
from infimed_lib.eval.scoring import RULES

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class EvalConfig:
    """Settings of one evaluation run, validated; written as ``<out_dir>/config.json`` (Chapter 08).

    ``model`` is ``"checkpoint"`` (generate with ``checkpoint_dir``) or ``"majority"`` (the
    majority-class baseline of :mod:`infimed_lib.eval.baselines`, no model at all). ``rules``
    names the rule set behind ``correct`` and the headline scores (both are always kept);
    ``prompts`` the prompt layout ("book" or MedEvalKit's, see :mod:`~infimed_lib.data.benchmark_prompts`).
    """

    benchmarks: dict[str, str]
    out_dir: str
    model: str = "checkpoint"
    checkpoint_dir: str | None = None
    tokenizer_dir: str | None = None
    batch_size: int = 8
    max_new_tokens: Any = field(default_factory=lambda: dict(DEFAULT_MAX_NEW_TOKENS))
    reasoning: bool = False
    limit: int | None = None
    seed: int = 0
    judge: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    num_threads: int = 0
    rules: str = "strict"
    prompts: str = "book"

    def __post_init__(self) -> None:
        require_type("benchmarks", self.benchmarks, Mapping)
        if not self.benchmarks:
            raise ParameterError("benchmarks", "is empty; give at least one {name: path}")
        unknown = [name for name in self.benchmarks if name not in BENCHMARKS]
        if unknown:
            raise ParameterError("benchmarks", f"unknown benchmark(s) {unknown}; known: {list(BENCHMARKS)}")
        ordered = [name for name in BENCHMARKS if name in self.benchmarks]
        self.benchmarks = {name: str(require_path(f"benchmarks[{name!r}]", self.benchmarks[name]))
                           for name in ordered}
        if self.model not in ("checkpoint", "majority"):
            raise ParameterError("model", f"{self.model!r} is not 'checkpoint' or 'majority'")
        if self.model == "checkpoint":
            self.checkpoint_dir = str(require_path("checkpoint_dir", self.checkpoint_dir, "dir"))
            self.tokenizer_dir = str(require_path("tokenizer_dir", self.tokenizer_dir, "dir"))
        self.out_dir = str(self.out_dir)
        self.max_new_tokens = resolve_max_new_tokens(self.max_new_tokens)
        require_type("batch_size", self.batch_size, int)
        if self.batch_size < 1:
            raise ParameterError("batch_size", f"must be >= 1, got {self.batch_size}")
        require_type("reasoning", self.reasoning, bool)
        if self.limit is not None and require_type("limit", self.limit, int) < 1:
            raise ParameterError("limit", f"must be a positive int or None, got {self.limit}")
        require_type("seed", self.seed, int)
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ParameterError("device", f"{self.device!r} is not 'auto', 'cpu', 'cuda[:n]' or 'mps'")
        if self.dtype not in DTYPES:
            raise ParameterError("dtype", f"{self.dtype!r} is not one of {list(DTYPES)}")
        if require_type("num_threads", self.num_threads, int) < 0:
            raise ParameterError("num_threads", f"must be >= 0 (0: PyTorch's default), got {self.num_threads}")
        if self.rules not in RULES:
            raise ParameterError("rules", f"{self.rules!r} is not one of {list(RULES)}")
        if self.prompts not in LAYOUTS:
            raise ParameterError("prompts", f"{self.prompts!r} is not one of {list(LAYOUTS)}")


@dataclass
class EvalResult:
    """What :func:`evaluate` leaves behind (Chapter 08)."""

    out_dir: Path
    scores: dict
    predictions: dict[str, Path]
    resumed: list[str]
    seconds: dict[str, float]


def folder_digest(path: str | Path, patterns: tuple[str, ...]) -> str:
    """sha256 over the files of ``path`` matching ``patterns`` (names and bytes), in name order."""
    digest = hashlib.sha256()
    files = sorted({f for pattern in patterns for f in Path(path).glob(pattern) if f.is_file()})
    for file in files:
        digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()
