"""infimed_lib.packing: multimodal sequence packing (paper section 3.3). Chapter 02.

``ffd`` (exact First-Fit-Decreasing at corpus scale) and the comparison algorithms need only
NumPy and numba; the parts that touch the tokenizer and images (lengths, over-long policy,
shards, packing_run) are imported on first use, so that ``from infimed_lib.packing import ffd``
does not pay for importing transformers.
"""
from importlib import import_module

from infimed_lib.packing.algorithms import (ALGORITHMS, best_fit_decreasing, decreasing_order, first_fit, greedy_knapsack,
                         linear_scan_ffd, next_fit, pad_to_longest)
from infimed_lib.packing.ffd import DEFAULT_CAPACITY, bins_from_assignment, check_lengths, ffd

_LAZY = {
    "length_parts": "lengths", "multimodal_lengths": "lengths",
    "truncate_sample": "overlong", "handle_overlong": "overlong", "OVERLONG_POLICIES": "overlong",
    "write_shards": "shards", "read_bins": "shards", "read_manifest": "shards",
    "tokenizer_fingerprint": "shards", "inline_images": "shards",
    "PackingConfig": "packing_run", "PackingResult": "packing_run", "pack_corpus": "packing_run",
    "packing_stats": "stats", "compare_algorithms": "stats", "timing_curve": "stats",
    "synthetic_lengths": "stats", "visual_token_effect": "stats",
}

__all__ = ["ALGORITHMS", "DEFAULT_CAPACITY", "best_fit_decreasing", "bins_from_assignment", "check_lengths",
           "decreasing_order", "ffd", "first_fit", "greedy_knapsack", "linear_scan_ffd", "next_fit",
           "pad_to_longest", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
