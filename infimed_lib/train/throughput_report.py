"""Chapter 04's efficiency measurements on the stage's own data and initial model."""
from __future__ import annotations

from itertools import islice

import torch

from infimed_lib.common import ParameterError
from infimed_lib.data.tokenizer import load_tokenizer
from infimed_lib.model import load_model
from infimed_lib.packing import read_bins, read_manifest
from infimed_lib.train.throughput import compare_packed_padded, compare_visual_tokens
from infimed_lib.train.train_config import TrainConfig

DEVICES = ("auto", "cpu", "cuda")


def measurement_device(device: str = "auto") -> torch.device:
    """Where to time the steps: ``auto`` is the GPU when there is one, as for training."""
    if device not in DEVICES:
        raise ParameterError("device", f"{device!r} is not one of {list(DEVICES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The arithmetic dtype the stage trains with on ``device`` (``mixed_precision``)."""
    wanted = config.mixed_precision if config.mixed_precision != "auto" else (
        "bf16" if device.type == "cuda" else "no")
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(wanted)


def measure_stage_throughput(config: TrainConfig, rows: int = 4, samples: int = 8, enabled: bool = True,
                             device: str = "auto"):
    """(packed vs padded, 144 vs 729) tables for the CPT stage's shards and starting checkpoint.

    Both start from ``config.init_from`` so neither measurement depends on how far training got.
    They run where the stage trains (the GPU when there is one) with float32 master weights and
    the stage's autocast. Returns ``(None, None)`` when ``enabled`` is False.
    """
    if not enabled:
        return None, None
    where = measurement_device(device)
    tokenizer = load_tokenizer(config.tokenizer_path)
    model = load_model(config.init_from, dtype="float32").to(where)
    arithmetic = autocast_dtype(config, where)
    manifest = read_manifest(config.data_path)
    bins = list(islice(read_bins(config.data_path, validate=False), rows))
    packed = compare_packed_padded(model, tokenizer, bins, num_visual_tokens=manifest["num_visual_tokens"],
                                   capacity=manifest["capacity"], seed=config.seed, autocast=arithmetic)
    chosen = [sample for bin_ in bins for sample in bin_["data"] if sample.get("images")][:samples]
    tokens = compare_visual_tokens(model, tokenizer, chosen, visual_tokens=(144, 729), batch_size=2,
                                   steps=max(1, len(chosen) // 2), template="plain", autocast=arithmetic)
    return packed, tokens
