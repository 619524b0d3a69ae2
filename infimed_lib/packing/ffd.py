"""Exact First-Fit-Decreasing (FFD) at corpus scale. Chapter 02 explains the method and its speed.

Textbook FFD (Johnson, 1973; paper section 3.3) takes items by length, longest first (ties: lower
index first), and puts each into the lowest-numbered open bin with room, opening a new bin when
none has room. Done item by item this costs one bin search per item: tens of millions of
searches for the paper's corpus.

Why this is fast and still exact: lengths are integers between 1 and ``capacity``, so FFD order
is a counting sort, and all items of one length form one consecutive group. Inside a group,
first-fit fills the lowest bin with room with ``free // length`` items at once before it moves
on (the bins before it have too little room, and placing items there never adds room), and once
no open bin has room it opens new bins of ``capacity // length`` items each. So the work is one
tree search per (group, bin touched), not per item, and the result is a list of "runs" (a bin
range and how many items of that length each bin takes). One sequential pass over the items then
hands the j-th item of each length the j-th slot of its group's runs, which is the index order
FFD places ties in. The tests check the result against a plain item-by-item FFD.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numba import njit

from infimed_lib.common import ParameterError

from infimed_lib.packing._tree import tree_find, tree_find_after, tree_new, tree_refresh, tree_set

DEFAULT_CAPACITY = 4096


def check_capacity(capacity) -> int:
    """``capacity`` as an int; ParameterError unless it is a positive integer below 2**31 (Chapter 02)."""
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
        raise ParameterError("capacity", f"must be a positive integer, got {capacity!r}")
    if not 1 <= int(capacity) < 2**31:
        raise ParameterError("capacity", f"must be between 1 and 2**31 - 1, got {capacity}")
    return int(capacity)


def check_lengths(lengths: Sequence[int] | np.ndarray, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """Lengths as a contiguous int64 array; ValueError naming the first bad item otherwise (Chapter 02).

    Every length must be an integer in ``1..capacity``. An over-long item is an error, not a bin
    of its own: the pipeline decides (``overlong="truncate"|"drop"``) and reports what it did.
    """
    capacity = check_capacity(capacity)
    values = np.asarray(lengths)
    if values.ndim != 1:
        raise ValueError(f"lengths must be one-dimensional, got shape {values.shape}")
    if values.size == 0:  # [] arrives as float64; there is nothing to check
        return np.zeros(0, np.int64)
    if values.dtype.kind not in "iu" or values.dtype == np.bool_:
        items = values.tolist()
        # Name a non-whole value if there is one (2.5 says more than 3.0); else the first non-int.
        bad = next((i for i, v in enumerate(items) if isinstance(v, float) and not float(v).is_integer()),
                   next((i for i, v in enumerate(items) if isinstance(v, bool) or not isinstance(v, int)), 0))
        raise ValueError(f"lengths must be integers; item {bad} is {items[bad]!r} (dtype {values.dtype})")
    if values.dtype.kind == "u" and values.max() > np.iinfo(np.int64).max:
        raise ValueError("lengths: a value does not fit in int64")
    values = np.ascontiguousarray(values, dtype=np.int64)
    low, high = values.min(), values.max()
    if low < 1:
        index = int(np.argmax(values < 1))
        raise ValueError(f"lengths: item {index} has length {values[index]}; lengths must be positive")
    if high > capacity:
        index = int(np.argmax(values > capacity))
        raise ValueError(f"lengths: item {index} has length {values[index]} > capacity {capacity}; "
                         f"truncate or drop over-long samples before packing (parameter 'overlong')")
    return values


def max_bins_bound(counts: np.ndarray, capacity: int) -> int:
    """An upper bound on the bins any first-fit variant opens (Chapter 02).

    Such an algorithm never leaves two bins at most half full (the later one's items would have
    fitted in the earlier one), so it opens at most ``2 * total / capacity + 1`` bins.
    """
    total = int(np.dot(np.arange(counts.size, dtype=np.int64), counts))
    return int(min(int(counts.sum()), 2 * total // capacity + 2))


@njit(cache=True)
def _append(runs, count, first_bin, num_bins, per_bin, last_bin):
    """Store a run at row ``count``, doubling the array when full; returns the array."""
    if count == runs.shape[0]:
        bigger = np.empty((2 * count, 4), np.int32)
        bigger[:count] = runs
        runs = bigger
    runs[count, 0] = first_bin
    runs[count, 1] = num_bins
    runs[count, 2] = per_bin
    runs[count, 3] = last_bin
    return runs


@njit(cache=True)
def _ffd_runs(counts, capacity, free, offsets, runs):
    """FFD over length groups, on an empty tree ``free``. Returns (runs, group_start, bins opened).

    A run (one row of ``runs``) is ``num_bins`` consecutive bins from ``first_bin``, each taking
    ``per_bin`` items of the group's length except the last, which takes ``last_bin``. The runs
    of length ``s`` are rows ``group_start[s]`` to ``group_start[s - 1] - 1``, in slot order.
    """
    max_bins = offsets[1] - offsets[0]
    group_start = np.zeros(capacity + 2, np.int64)
    count = 0
    opened = 0
    for size in range(capacity, 0, -1):
        group_start[size] = count
        left = counts[size]
        target = -1
        while left > 0:
            # Bins before the last target have too little room for this length, so the search
            # goes on from there; only the group's first search starts at the root.
            if target < 0:
                target = tree_find(free, offsets, size)
            else:
                target = tree_find_after(free, offsets, size, target)
            if target < 0:
                break
            room = free[target]
            take = min(room // size, left)
            left -= take
            tree_set(free, offsets, target, room - take * size)
            runs = _append(runs, count, target, 1, take, take)
            count += 1
        if left > 0:
            per_bin = capacity // size
            full, last = left // per_bin, left % per_bin
            new_bins = full + (1 if last > 0 else 0)
            if opened + new_bins > max_bins:
                raise RuntimeError("ffd: more bins than the first-fit bound (internal error)")
            free[opened:opened + full] = capacity - per_bin * size
            if last > 0:
                free[opened + full] = capacity - last * size
            tree_refresh(free, offsets, opened, opened + new_bins)
            runs = _append(runs, count, opened, new_bins, per_bin, last if last > 0 else per_bin)
            count += 1
            opened += new_bins
    group_start[0] = count
    return runs[:count], group_start, opened


@njit(cache=True)
def _load_run(state, size, runs, run):
    state[size, 0] = runs[run, 0]
    state[size, 2] = runs[run, 1] - 1
    state[size, 1] = runs[run, 2] if runs[run, 1] > 1 else runs[run, 3]
    state[size, 3] = run


@njit(cache=True)
def assign_from_runs(values, runs, group_start, capacity, out):
    """Bin of every item into ``out``: the j-th item of each length gets the j-th slot of its group's runs (Chapter 02).

    One pass in index order. The per-length cursors (``state`` row: current bin, items still to
    place there, bins left in the run, run) fit in cache, so this streams like a copy.
    ``group_start`` is as returned by ``_ffd_runs``: group ``s`` ends where group ``s - 1`` starts.
    """
    state = np.zeros((capacity + 1, 4), np.int64)
    for size in range(1, capacity + 1):
        if group_start[size - 1] > group_start[size]:
            _load_run(state, size, runs, group_start[size])
    for i in range(values.size):
        size = values[i]
        out[i] = state[size, 0]
        left = state[size, 1] - 1
        if left > 0:
            state[size, 1] = left
        elif state[size, 2] > 0:
            state[size, 0] += 1
            state[size, 2] -= 1
            state[size, 1] = runs[state[size, 3], 2] if state[size, 2] > 0 else runs[state[size, 3], 3]
        else:
            state[size, 1] = 0
            if state[size, 3] + 1 < group_start[size - 1]:
                _load_run(state, size, runs, state[size, 3] + 1)
    for size in range(1, capacity + 1):
        used = group_start[size - 1] > group_start[size]
        if used and (state[size, 1] != 0 or state[size, 3] + 1 != group_start[size - 1]):
            raise RuntimeError("runs do not match the item counts (internal error)")


def ffd(lengths: Sequence[int] | np.ndarray, capacity: int = DEFAULT_CAPACITY) -> np.ndarray:
    """Exact First-Fit-Decreasing: the bin number of every item (Chapter 02).

    Items are taken longest first, ties by lower index; each goes to the lowest-numbered open
    bin with room; bins are numbered 0, 1, 2, ... in the order they are opened. Inside a bin the
    items sit in that same order (longest first), see :func:`bins_from_assignment`.
    ``lengths`` is a list or 1-D array of integers in ``1..capacity``; anything else raises
    ValueError naming the first bad item. Returns an int64 array of bin numbers.
    """
    values = check_lengths(lengths, capacity)
    if values.size == 0:
        return np.zeros(0, np.int64)
    if values.size >= 2**31:
        raise ValueError(f"{values.size} items: pack at most 2**31 - 1 at once (split the corpus)")
    counts = np.bincount(values, minlength=capacity + 1)
    max_bins = max_bins_bound(counts, capacity)
    free, offsets = tree_new(max_bins)
    # Big arrays come from NumPy (huge pages, see ``tree_new``); the run buffer is sized so that
    # it does not grow on realistic data, and rows never written cost no memory.
    runs = np.empty((max_bins + capacity + 16, 4), np.int32)
    runs, group_start, _ = _ffd_runs(counts, capacity, free, offsets, runs)
    out = np.empty(values.size, np.int64)
    assign_from_runs(values, runs, group_start, capacity, out)
    return out


def bins_from_assignment(assignment: Sequence[int] | np.ndarray,
                         lengths: Sequence[int] | np.ndarray | None = None) -> list[list[int]]:
    """Item indices of every bin, bin 0 first (Chapter 02).

    With ``lengths``, the items of a bin come in the order FFD placed them (longest first, ties
    by index); without, in index order, which is the placement order of algorithms that scan
    the items as given (next-fit, first-fit). Bin numbers must run 0..B-1 with no bin empty.
    """
    bins = np.asarray(assignment)
    if bins.ndim != 1 or (bins.size and bins.dtype.kind not in "iu"):
        raise ValueError(f"assignment must be a 1-D integer array, got shape {bins.shape} dtype {bins.dtype}")
    if bins.size == 0:
        return []
    if bins.min() < 0:
        raise ValueError(f"assignment: item {int(np.argmax(bins < 0))} has a negative bin number")
    sizes = np.bincount(bins)
    if (sizes == 0).any():
        raise ValueError(f"assignment: bin {int(np.argmax(sizes == 0))} holds no item; bins must be numbered 0..B-1")
    if lengths is None:
        order = np.argsort(bins, kind="stable")
    else:
        values = np.asarray(lengths)
        if values.shape != bins.shape:
            raise ValueError(f"lengths has shape {values.shape} but assignment has {bins.shape}")
        order = np.lexsort((np.arange(bins.size), -values.astype(np.int64), bins))
    return [chunk.tolist() for chunk in np.split(order, np.cumsum(sizes)[:-1])]
