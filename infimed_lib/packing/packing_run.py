"""Chapter 02's step as one call: lengths, over-long policy, FFD, shards.

The chapter notebook and any batch job call :func:`pack_corpus` with a :class:`PackingConfig`
and write the shards that chapter 04 trains on.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from transformers import PreTrainedTokenizerBase

from infimed_lib.common import ParameterError, require_choice

from infimed_lib.packing.ffd import bins_from_assignment, check_capacity, ffd
from infimed_lib.packing.lengths import TEMPLATES, multimodal_lengths
from infimed_lib.packing.overlong import OVERLONG_POLICIES, handle_overlong
from infimed_lib.packing.shards import write_shards
from infimed_lib.packing.stats import packing_stats


@dataclass
class PackingConfig:
    """Parameters of the packing step (Chapter 02); checked on creation."""

    capacity: int = 4096
    num_visual_tokens: int = 144
    template: str = "plain"
    overlong: str = "truncate"
    bins_per_shard: int = 256

    def __post_init__(self):
        check_capacity(self.capacity)
        for name, smallest in (("num_visual_tokens", 0), ("bins_per_shard", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                raise ParameterError(name, f"must be an int >= {smallest}, got {value!r}")
        if self.num_visual_tokens >= self.capacity:
            raise ParameterError("num_visual_tokens", f"{self.num_visual_tokens} leaves no room for text in "
                                 f"capacity {self.capacity}")
        require_choice("template", self.template, TEMPLATES)
        require_choice("overlong", self.overlong, OVERLONG_POLICIES)


@dataclass
class PackingResult:
    """What :func:`pack_corpus` produced: the packed samples, their bins, and the reports (Chapter 02)."""

    samples: list[dict]
    lengths: np.ndarray
    assignment: np.ndarray
    bins: list[list[int]]
    overlong: dict
    stats: dict
    manifest: dict
    seconds: dict = field(default_factory=dict)


def pack_corpus(samples: Sequence[dict], tokenizer: PreTrainedTokenizerBase, config: PackingConfig,
                shard_dir: str | os.PathLike, image_root: str | os.PathLike | None = None,
                progress: bool = False) -> PackingResult:
    """Measure, apply the over-long policy, pack with FFD and write the shards (Chapter 02)."""
    if not samples:
        raise ParameterError("samples", "is empty; the mixture selected no sample")
    seconds = {}
    start = time.perf_counter()
    lengths = multimodal_lengths(tokenizer, samples, config.num_visual_tokens, config.template, progress=progress)
    seconds["lengths"] = time.perf_counter() - start
    kept, lengths, report = handle_overlong(tokenizer, samples, lengths, config.num_visual_tokens,
                                            config.capacity, config.overlong, config.template)
    if not kept:
        raise ParameterError("overlong", f"policy {config.overlong!r} left no sample to pack")
    start = time.perf_counter()
    assignment = ffd(lengths, config.capacity)
    seconds["ffd"] = time.perf_counter() - start
    bins = bins_from_assignment(assignment, lengths)
    start = time.perf_counter()
    manifest = write_shards(Path(shard_dir), kept, lengths, bins, capacity=config.capacity,
                            num_visual_tokens=config.num_visual_tokens, tokenizer=tokenizer,
                            template=config.template, bins_per_shard=config.bins_per_shard,
                            image_root=image_root, extra={"overlong": report}, progress=progress)
    seconds["shards"] = time.perf_counter() - start
    stats = packing_stats(lengths, assignment, config.capacity)
    return PackingResult(kept, lengths, assignment, bins, report, stats, manifest, seconds)
