"""Chapter 04's efficiency measurements on the stage's own data and initial model."""
from __future__ import annotations

from itertools import islice

from infimed_lib.data.tokenizer import load_tokenizer
from infimed_lib.model import load_model
from infimed_lib.packing import read_bins, read_manifest
from infimed_lib.train.config import TrainConfig
from infimed_lib.train.throughput import compare_packed_padded, compare_visual_tokens


def measure_stage_throughput(config: TrainConfig, rows: int = 4, samples: int = 8, enabled: bool = True):
    """(packed vs padded, 144 vs 729) tables for the CPT stage's shards and starting checkpoint.

    Both start from ``config.init_from`` so neither measurement depends on how far training got.
    Returns ``(None, None)`` when ``enabled`` is False.
    """
    if not enabled:
        return None, None
    tokenizer = load_tokenizer(config.tokenizer_path)
    model = load_model(config.init_from)
    manifest = read_manifest(config.data_path)
    bins = list(islice(read_bins(config.data_path, validate=False), rows))
    packed = compare_packed_padded(model, tokenizer, bins, num_visual_tokens=manifest["num_visual_tokens"],
                                   capacity=manifest["capacity"], seed=config.seed)
    chosen = [sample for bin_ in bins for sample in bin_["data"] if sample.get("images")][:samples]
    tokens = compare_visual_tokens(model, tokenizer, chosen, visual_tokens=(144, 729), batch_size=2,
                                   steps=max(1, len(chosen) // 2), template="plain")
    return packed, tokens
