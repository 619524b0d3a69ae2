"""The search structure behind first-fit: a 16-ary max-tree over the bins' free space. Chapter 02.

First-fit asks one question over and over: "which is the lowest-numbered open bin with at least
``s`` free tokens?". A max-tree answers it by walking down from the root, always into the first
child whose subtree still has a bin with room. Why 16 children per node rather than 2: sixteen
int32 values fill one 64-byte cache line, so a query over two million bins reads about six lines
instead of twenty-one, and the upper levels stay in cache between queries.

The tree lives in one flat int32 array, level by level from the leaves (one per bin) to the
root; ``offsets[level]`` is where a level starts. Every level is padded to a multiple of
``FANOUT`` so a node's children are always a full, in-bounds group. Unopened bins hold 0, which
no item (length >= 1) can fit.
"""
from __future__ import annotations

import numpy as np
from numba import njit

FANOUT = 16


def tree_new(max_leaves: int) -> tuple[np.ndarray, np.ndarray]:
    """An all-zero tree with room for ``max_leaves`` bins; returns (values, offsets). Chapter 02.

    Allocated by NumPy, not inside the compiled code, on purpose: NumPy asks the kernel for
    huge pages on large arrays, and first-touch page faults on 4 KiB pages otherwise cost more
    than the packing itself on small virtual machines.
    """
    sizes = [max(int(max_leaves), 1)]
    while sizes[-1] > 1:
        sizes.append(-(-sizes[-1] // FANOUT))
    padded = [-(-size // FANOUT) * FANOUT for size in sizes]
    offsets = np.concatenate([[0], np.cumsum(padded)]).astype(np.int64)
    return np.zeros(int(offsets[-1]), np.int32), offsets


@njit(cache=True)
def tree_find(values, offsets, need):
    """Lowest-numbered leaf holding at least ``need``, or -1 if none does (Chapter 02)."""
    top = offsets.size - 2
    if values[offsets[top]] < need:
        return -1
    return _descend(values, offsets, need, top, 0)


@njit(cache=True)
def _descend(values, offsets, need, level, node):
    """From ``node`` at ``level`` (whose subtree has room), down to its first leaf with room."""
    for below in range(level - 1, -1, -1):
        base = offsets[below] + node * FANOUT
        child = 0
        while values[base + child] < need:
            child += 1
        node = node * FANOUT + child
    return node


@njit(cache=True)
def _node_max(values, base):
    best = values[base]
    for child in range(1, FANOUT):
        if values[base + child] > best:
            best = values[base + child]
    return best


@njit(cache=True)
def tree_set(values, offsets, leaf, value):
    """Set one leaf and repair its ancestors, stopping as soon as one is unchanged (Chapter 02)."""
    values[offsets[0] + leaf] = value
    node = leaf
    for level in range(1, offsets.size - 1):
        parent = node // FANOUT
        best = _node_max(values, offsets[level - 1] + parent * FANOUT)
        if values[offsets[level] + parent] == best:
            return
        values[offsets[level] + parent] = best
        node = parent


@njit(cache=True)
def tree_refresh(values, offsets, lo, hi):
    """Recompute the ancestors of leaves ``lo..hi-1`` after they were written directly (Chapter 02).

    Opening a run of bins writes many leaves at once; repairing their parents level by level
    costs one pass over the run instead of one root-ward walk per bin.
    """
    if hi <= lo:
        return
    for level in range(1, offsets.size - 1):
        lo, hi = lo // FANOUT, (hi - 1) // FANOUT + 1
        for parent in range(lo, hi):
            values[offsets[level] + parent] = _node_max(values, offsets[level - 1] + parent * FANOUT)


@njit(cache=True)
def tree_find_after(values, offsets, need, leaf):
    """Lowest-numbered leaf after ``leaf`` holding at least ``need``, or -1 (Chapter 02).

    Searching onward from the last bin touched, rather than from the root, keeps a run of
    neighbouring bins (the common case: bins opened together have the same free space) inside
    one or two cache lines.
    """
    top = offsets.size - 2
    node = leaf
    for level in range(top):
        base = offsets[level] + (node // FANOUT) * FANOUT
        for child in range(node % FANOUT + 1, FANOUT):
            if values[base + child] >= need:
                return _descend(values, offsets, need, level, (node // FANOUT) * FANOUT + child)
        node //= FANOUT
    return -1
