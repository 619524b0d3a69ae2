"""The packing algorithms chapter 02 compares with First-Fit-Decreasing.

Each takes ``(lengths, capacity)`` and returns the bin (row) number of every item, like
:func:`~infimed_lib.packing.ffd`, so one statistics function scores them all:

- ``pad_to_longest``: no packing, one sample per row, every row padded to the longest sample
  (the baseline the paper's section 3.3 argues against).
- ``next_fit``: items in the given order; a new bin whenever the current one is full.
- ``first_fit``: items in the given order, each into the lowest-numbered bin with room.
- ``best_fit_decreasing``: FFD order, each into the bin it fills most tightly.
- ``greedy_knapsack``: what LLaMA-Factory's packing does: fill one bin at a time, always with
  the longest remaining item that still fits (its ``greedy_knapsack`` is O(n^2) through
  ``list.pop``; this one groups equal lengths so it runs at corpus scale).
- ``linear_scan_ffd``: FFD done the obvious way, scanning the bins for every item, O(n x bins),
  as Open-Qwen2VL packs (reference/anchors.md). Same result as ``ffd``, only slower.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from numba import njit

from infimed_lib.packing._tree import tree_find, tree_new, tree_refresh, tree_set
from infimed_lib.packing.ffd import DEFAULT_CAPACITY, _append, assign_from_runs, check_lengths, ffd, max_bins_bound

Lengths = Sequence[int] | np.ndarray


def pad_to_longest(lengths: Lengths, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """One row per sample, in order (Chapter 02); rows are padded to the longest sample."""
    return np.arange(check_lengths(lengths, capacity).size, dtype=np.int64)


@njit(cache=True)
def _next_fit(values, capacity, out):
    current, load = 0, 0
    for i in range(values.size):
        if load + values[i] > capacity:
            current += 1
            load = 0
        load += values[i]
        out[i] = current


def next_fit(lengths: Lengths, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """Next-fit in the given order: only the newest bin is ever open (Chapter 02)."""
    values = check_lengths(lengths, capacity)
    out = np.empty(values.size, np.int64)
    _next_fit(values, capacity, out)
    return out


@njit(cache=True)
def _first_fit(values, order, capacity, free, offsets, out):
    opened = 0
    for k in range(order.size):
        item = order[k]
        size = values[item]
        target = tree_find(free, offsets, size)
        room = free[target] if target >= 0 else capacity
        if target < 0:
            target = opened
            opened += 1
        tree_set(free, offsets, target, room - size)
        out[item] = target


def first_fit(lengths: Lengths, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """First-fit in the given order, one tree search per item (Chapter 02)."""
    values = check_lengths(lengths, capacity)
    out = np.empty(values.size, np.int64)
    if values.size:
        free, offsets = tree_new(values.size)
        _first_fit(values, np.arange(values.size), capacity, free, offsets, out)
    return out


@njit(cache=True)
def _decreasing_order(values, counts, capacity, order):
    """Counting sort: longest first, ties by index (the FFD order)."""
    position = np.empty(capacity + 1, np.int64)
    start = 0
    for size in range(capacity, 0, -1):
        position[size] = start
        start += counts[size]
    for i in range(values.size):
        order[position[values[i]]] = i
        position[values[i]] += 1


def decreasing_order(lengths: Lengths, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """Item indices longest first, ties by lower index: the order FFD takes items in (Chapter 02)."""
    values = check_lengths(lengths, capacity)
    order = np.empty(values.size, np.int64)
    _decreasing_order(values, np.bincount(values, minlength=capacity + 1), capacity, order)
    return order


@njit(cache=True)
def _best_fit(values, order, capacity, spaces, offsets, top, below, out):
    # Bins are kept in one stack per free-space value; leaf f of the tree holds f while that
    # stack is non-empty, so "the lowest leaf holding >= s" is the tightest bin that fits.
    opened = 0
    for k in range(order.size):
        item = order[k]
        size = values[item]
        space = tree_find(spaces, offsets, size)
        if space < 0:
            target = opened
            opened += 1
            space = capacity
        else:
            target = top[space]
            top[space] = below[target]
            if top[space] < 0:
                tree_set(spaces, offsets, space, 0)
        out[item] = target
        space -= size
        if space > 0:
            below[target] = top[space]
            if top[space] < 0:
                tree_set(spaces, offsets, space, space)
            top[space] = target


def best_fit_decreasing(lengths: Lengths, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """Best-fit-decreasing: FFD order, each item into the bin it leaves with least room (Chapter 02).

    Among equally tight bins it takes the one that reached that free space last.
    """
    values = check_lengths(lengths, capacity)
    out = np.empty(values.size, np.int64)
    if values.size:
        order = decreasing_order(values, capacity)
        spaces, offsets = tree_new(capacity + 1)
        top = np.full(capacity + 1, -1, np.int64)
        below = np.empty(values.size, np.int64)
        _best_fit(values, order, capacity, spaces, offsets, top, below, out)
    return out


@njit(cache=True)
def _knapsack_runs(counts, capacity, sizes, offsets, runs):
    # Leaf j stands for length capacity - j and holds j + 1 while items of that length remain,
    # so "the lowest leaf holding >= capacity - room + 1" is the longest remaining item <= room.
    left = counts.sum()
    count = 0
    opened = 0
    while left > 0:
        room = capacity
        while True:
            leaf = tree_find(sizes, offsets, capacity - room + 1)
            if leaf < 0:
                break
            size = capacity - leaf
            take = min(counts[size], room // size)
            counts[size] -= take
            left -= take
            room -= take * size
            if counts[size] == 0:
                tree_set(sizes, offsets, leaf, 0)
            runs = _append(runs, count, opened, size, take, take)
            count += 1
        opened += 1
    return runs[:count]


def greedy_knapsack(lengths: Lengths, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """LLaMA-Factory's packing: fill one bin at a time with the longest item that fits (Chapter 02).

    Items of equal length are handed out in index order.
    """
    values = check_lengths(lengths, capacity)
    out = np.empty(values.size, np.int64)
    if values.size == 0:
        return out
    counts = np.bincount(values, minlength=capacity + 1)
    sizes, offsets = tree_new(capacity)
    present = np.flatnonzero(counts[1:]) + 1
    sizes[capacity - present] = capacity - present + 1
    tree_refresh(sizes, offsets, 0, capacity)
    runs = _knapsack_runs(counts.copy(), capacity, sizes, offsets,
                          np.empty((2 * max_bins_bound(counts, capacity) + capacity, 4), np.int32))
    # Regroup the runs by length, longest first, keeping bin order inside a length.
    runs = runs[np.argsort(-runs[:, 1], kind="stable")]
    per_length = np.bincount(runs[:, 1], minlength=capacity + 1)
    group_start = np.zeros(capacity + 2, np.int64)
    group_start[:capacity + 1] = np.cumsum(per_length[::-1])[::-1] - per_length
    group_start[0] = runs.shape[0]
    runs[:, 1] = 1
    assign_from_runs(values, runs, group_start, capacity, out)
    return out


@njit(cache=True)
def _linear_scan_ffd(values, order, capacity, loads, out):
    opened = 0
    for k in range(order.size):
        item = order[k]
        target = 0
        while target < opened and loads[target] + values[item] > capacity:
            target += 1
        if target == opened:
            opened += 1
        loads[target] += values[item]
        out[item] = target


def linear_scan_ffd(lengths: Lengths, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """FFD scanning every open bin for every item, O(n x bins) (Chapter 02); same bins as ``ffd``."""
    values = check_lengths(lengths, capacity)
    out = np.empty(values.size, np.int64)
    if values.size:
        _linear_scan_ffd(values, decreasing_order(values, capacity), capacity,
                         np.zeros(values.size, np.int64), out)
    return out


# name -> (function, row length rule): "capacity" rows are full-width packed sequences;
# "longest" rows are as wide as the longest sample.
ALGORITHMS: dict[str, tuple[Callable[..., np.ndarray], str]] = {
    "ffd": (ffd, "capacity"),
    "pad_to_longest": (pad_to_longest, "longest"),
    "next_fit": (next_fit, "capacity"),
    "first_fit": (first_fit, "capacity"),
    "best_fit_decreasing": (best_fit_decreasing, "capacity"),
    "greedy_knapsack": (greedy_knapsack, "capacity"),
    "linear_scan_ffd": (linear_scan_ffd, "capacity"),
}
