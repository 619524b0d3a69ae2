"""How good and how fast each packing is: the numbers behind chapter 02's tables and plots.

A packing turns samples into rows the model processes. Its quality is the padding it leaves:
``padding = rows x row length - tokens``; its floor is ``ceil(tokens / capacity)`` full rows.
Timings are wall-clock seconds of one call after a warm-up call, so the one-off compilation of
the numba kernels (cached on disk afterwards) is never counted.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from infimed_lib.common import ParameterError

from infimed_lib.packing.algorithms import ALGORITHMS
from infimed_lib.packing.ffd import DEFAULT_CAPACITY, check_lengths, ffd


def synthetic_lengths(n: int, median: float = 500.0, sigma: float = 1.0, capacity: int = DEFAULT_CAPACITY,
                      seed: int = 0) -> np.ndarray:
    """``n`` log-normal lengths around ``median`` tokens, rounded and clipped to 1..capacity (Chapter 02)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError("n", f"must be an int >= 0, got {n!r}")
    if median <= 0 or sigma < 0:
        raise ParameterError("median/sigma", f"need median > 0 and sigma >= 0, got {median}, {sigma}")
    raw = np.random.default_rng(seed).lognormal(math.log(median), sigma, int(n))
    return np.clip(np.rint(raw), 1, capacity).astype(np.int64)


def packing_stats(lengths: Sequence[int] | np.ndarray, assignment: Sequence[int] | np.ndarray,
                  capacity: int = DEFAULT_CAPACITY, row_length: int | None = None) -> dict:
    """Rows, lower bound, fill and padding of one packing (Chapter 02).

    ``row_length`` is the width every row is padded to: ``capacity`` for packed rows (the
    default), the longest sample for padding without packing. Raises ValueError if a row holds
    more tokens than its width.
    """
    values = check_lengths(lengths, capacity)
    bins = np.asarray(assignment, dtype=np.int64)
    if bins.shape != values.shape:
        raise ValueError(f"assignment has shape {bins.shape} but lengths has {values.shape}")
    width = capacity if row_length is None else int(row_length)
    tokens = int(values.sum())
    rows = int(bins.max()) + 1 if bins.size else 0
    loads = np.bincount(bins, weights=values, minlength=rows) if rows else np.zeros(0)
    if rows and loads.max() > width:
        row = int(np.argmax(loads))
        raise ValueError(f"row {row} holds {int(loads[row])} tokens > row length {width}")
    slots = rows * width
    return {
        "samples": int(values.size), "tokens": tokens, "rows": rows, "row_length": width,
        "lower_bound_rows": math.ceil(tokens / capacity), "row_tokens": slots,
        "padding_tokens": slots - tokens, "fill_ratio": tokens / slots if slots else 1.0,
        "max_row_tokens": int(loads.max()) if rows else 0,
    }


def timed(function: Callable[[], object], repeat_below_s: float = 0.05, repeats: int = 3) -> tuple[object, float]:
    """Result and wall-clock seconds of a call (Chapter 02); calls shorter than ``repeat_below_s`` are
    repeated and the fastest kept, since one short call mostly measures timer and cache noise."""
    best, result = math.inf, None
    for attempt in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
        if best >= repeat_below_s:
            break
    return result, best


def _run(name: str, values: np.ndarray, capacity: int) -> tuple[dict, float]:
    function, rule = ALGORITHMS[name]
    function(values[: min(values.size, 64)], capacity)  # warm-up: loads or compiles the kernel
    assignment, seconds = timed(lambda: function(values, capacity))
    row_length = capacity if rule == "capacity" else int(values.max())
    return packing_stats(values, assignment, capacity, row_length), seconds


def compare_algorithms(lengths: Sequence[int] | np.ndarray, capacity: int = DEFAULT_CAPACITY,
                       names: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per algorithm: rows against the lower bound, fill, padding, time (Chapter 02).

    ``compute_saved_pct`` is the share of row tokens (what the model processes) saved against
    padding every sample to the longest one.
    """
    values = check_lengths(lengths, capacity)
    if values.size == 0:
        raise ParameterError("lengths", "is empty; nothing to compare")
    names = list(names) if names is not None else [n for n in ALGORITHMS if n != "linear_scan_ffd"]
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown:
        raise ParameterError("names", f"unknown algorithm(s) {unknown}; known: {list(ALGORITHMS)}")
    records = []
    for name in names:
        stats, seconds = _run(name, values, capacity)
        records.append({"algorithm": name, **stats, "pack_time_s": seconds})
    table = pd.DataFrame(records)
    table["rows_over_lower_bound_pct"] = 100.0 * (table["rows"] / table["lower_bound_rows"] - 1.0)
    table["fill_pct"] = 100.0 * table["fill_ratio"]
    unpacked = values.size * int(values.max())  # row tokens when every sample is padded to the longest
    table["compute_saved_pct"] = 100.0 * (1.0 - table["row_tokens"] / unpacked)
    return table


def timing_curve(ns: Sequence[int], names: Iterable[str] | None = None, capacity: int = DEFAULT_CAPACITY,
                 seed: int = 0, budget_s: float = 2.0, with_sort: bool = True,
                 median: float = 500.0, sigma: float = 1.0) -> pd.DataFrame:
    """Seconds per algorithm against the number of items, on synthetic lengths (Chapter 02).

    Sizes are tried from small to large; an algorithm stops at the first size its previous
    timings predict to take longer than ``budget_s`` (slow algorithms are quadratic, and one
    oversized call would stall the chapter). ``with_sort`` adds ``numpy.sort`` as a yardstick.
    Columns: algorithm, n, seconds.
    """
    names = list(names) if names is not None else list(ALGORITHMS)
    ns = sorted(int(n) for n in ns)
    records = []
    history: dict[str, list[tuple[int, float]]] = {name: [] for name in names + ["numpy_sort"]}
    for n in ns:
        values = synthetic_lengths(n, median, sigma, capacity, seed)
        for name in names + (["numpy_sort"] if with_sort else []):
            if _predicted(history[name], n) > budget_s:
                continue
            if name == "numpy_sort":
                _, seconds = timed(lambda: np.sort(values))
            else:
                ALGORITHMS[name][0](values[:64], capacity)
                _, seconds = timed(lambda: ALGORITHMS[name][0](values, capacity))
            history[name].append((n, seconds))
            records.append({"algorithm": name, "n": n, "seconds": seconds})
    return pd.DataFrame(records, columns=["algorithm", "n", "seconds"])


def _predicted(history: list[tuple[int, float]], n: int) -> float:
    """Seconds a call on ``n`` items should take, extrapolated from earlier sizes (quadratic when unsure)."""
    if not history:
        return 0.0
    (n1, t1) = history[-1]
    exponent = 2.0
    if len(history) >= 2 and history[-2][1] > 0 and t1 > 0 and n1 > history[-2][0]:
        exponent = min(2.0, max(1.0, math.log(t1 / history[-2][1]) / math.log(n1 / history[-2][0])))
    return t1 * (n / n1) ** exponent


def visual_token_effect(text_tokens: np.ndarray, num_images: np.ndarray, capacity: int = DEFAULT_CAPACITY,
                        visual_tokens: Sequence[int] = (144, 729)) -> pd.DataFrame:
    """Total tokens and FFD rows of one corpus at several visual-token counts per image (Chapter 02).

    Over-long samples are counted, then packed as if cut to ``capacity`` (what truncation keeps
    at most), so the row counts are comparable.
    """
    text_tokens, num_images = np.asarray(text_tokens, np.int64), np.asarray(num_images, np.int64)
    records = []
    for per_image in visual_tokens:
        lengths = text_tokens + num_images * int(per_image)
        clipped = np.minimum(lengths, capacity)
        stats = packing_stats(clipped, ffd(clipped, capacity), capacity) if lengths.size else {}
        records.append({
            "visual_tokens_per_image": int(per_image), "samples": int(lengths.size),
            "text_tokens": int(text_tokens.sum()), "image_tokens": int((num_images * per_image).sum()),
            "total_tokens": int(lengths.sum()),
            "image_share_pct": 100.0 * (num_images * per_image).sum() / max(int(lengths.sum()), 1),
            "overlong_samples": int((lengths > capacity).sum()),
            "rows": stats.get("rows", 0), "lower_bound_rows": stats.get("lower_bound_rows", 0),
            "fill_pct": 100.0 * stats.get("fill_ratio", 1.0),
        })
    return pd.DataFrame(records)
