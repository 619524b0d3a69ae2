"""FFD is exactly textbook First-Fit-Decreasing; the baselines are valid packings; errors are clear."""
import bisect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infimed_lib.packing import (ALGORITHMS, best_fit_decreasing, bins_from_assignment, decreasing_order, ffd,
                                 first_fit, greedy_knapsack, next_fit)
from infimed_lib.packing.ffd import _ffd_runs, assign_from_runs, max_bins_bound
from infimed_lib.packing._tree import tree_new


def reference_ffd(lengths, capacity):
    """Item by item, exactly as the textbook states it."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    loads, out = [], [None] * len(lengths)
    for i in order:
        for number, load in enumerate(loads):
            if load + lengths[i] <= capacity:
                loads[number] += lengths[i]
                out[i] = number
                break
        else:
            loads.append(lengths[i])
            out[i] = len(loads) - 1
    return out


def reference_first_fit(lengths, capacity):
    loads, out = [], []
    for length in lengths:
        number = next((b for b, load in enumerate(loads) if load + length <= capacity), len(loads))
        if number == len(loads):
            loads.append(0)
        loads[number] += length
        out.append(number)
    return out


def reference_llama_factory(lengths, capacity):
    """LLaMA-Factory's greedy_knapsack, restated: per bin, the longest remaining item that fits."""
    remaining, bins = sorted(lengths), []
    while remaining:
        room, current = capacity, []
        while (index := bisect.bisect(remaining, room) - 1) >= 0:
            room -= remaining[index]
            current.append(remaining.pop(index))
        bins.append(sorted(current))
    return bins


@st.composite
def tied_lengths(draw, max_items=120):
    """Capacities and lengths drawn from a few values, so ties are everywhere."""
    capacity = draw(st.integers(1, 64))
    pool = draw(st.lists(st.integers(1, capacity), min_size=1, max_size=5))
    lengths = draw(st.lists(st.sampled_from(pool), min_size=0, max_size=max_items))
    return lengths, capacity


@settings(max_examples=300, deadline=None)
@given(tied_lengths())
def test_ffd_equals_reference_and_bins_fit(case):
    lengths, capacity = case
    got = ffd(lengths, capacity)
    assert got.tolist() == reference_ffd(lengths, capacity)
    if lengths:
        loads = np.bincount(got, weights=lengths)
        assert loads.max() <= capacity
        assert (np.bincount(got) > 0).all()  # bins numbered 0..B-1 without gaps


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4096), min_size=1, max_size=400), st.sampled_from([4096, 5000, 8192]))
def test_ffd_equals_reference_on_wide_lengths(lengths, capacity):
    assert ffd(np.array(lengths), capacity).tolist() == reference_ffd(lengths, capacity)


def test_ffd_equals_reference_on_a_realistic_corpus():
    rng = np.random.default_rng(3)
    lengths = np.clip(np.rint(rng.lognormal(np.log(500), 1.0, 3000)), 1, 4096).astype(int)
    assert ffd(lengths).tolist() == reference_ffd(lengths.tolist(), 4096)


def test_ffd_equals_the_plain_loop_on_a_deep_tree():
    # ~10,000 bins: five tree levels, so searches cross several node boundaries.
    lengths = np.random.default_rng(5).integers(1, 51, 20_000)
    assert np.array_equal(ffd(lengths, 50), ALGORITHMS["linear_scan_ffd"][0](lengths, 50))


def test_run_buffer_growth_gives_the_same_bins():
    lengths = np.random.default_rng(0).integers(1, 100, 5000)
    counts = np.bincount(lengths, minlength=101)
    free, offsets = tree_new(max_bins_bound(counts, 100))
    runs, starts, _ = _ffd_runs(counts, 100, free, offsets, np.empty((1, 4), np.int32))
    out = np.empty(lengths.size, np.int64)
    assign_from_runs(lengths, runs, starts, 100, out)
    assert (out == ffd(lengths, 100)).all()


def test_ffd_accepts_lists_and_integer_dtypes():
    lengths = [5, 3, 3, 2, 7]
    expected = ffd(lengths, 8)
    for dtype in (np.int8, np.int32, np.uint16, np.int64):
        assert (ffd(np.array(lengths, dtype=dtype), 8) == expected).all()
    assert ffd([], 8).shape == (0,)
    assert expected.dtype.kind == "i"


@pytest.mark.parametrize("lengths, message", [
    ([3, 9, 2], "item 1 has length 9 > capacity 8"),
    ([3, 0, 2], "item 1 has length 0; lengths must be positive"),
    ([3, 2, -4], "item 2 has length -4"),
    ([3, 2.5, 1], "item 1 is 2.5"),
    (np.array([True, False]), "must be integers"),
    ([[1, 2]], "one-dimensional"),
])
def test_bad_lengths_raise_naming_the_item(lengths, message):
    with pytest.raises(ValueError, match=message):
        ffd(lengths, 8)


@pytest.mark.parametrize("capacity", [0, -1, 2.0, True, "4096"])
def test_bad_capacity_raises(capacity):
    with pytest.raises(ValueError, match="capacity"):
        ffd([1, 2], capacity)


def test_bins_from_assignment_orders():
    lengths = [2, 5, 2, 3, 5]
    assignment = ffd(lengths, 7)  # 5(1)->0, 5(4)->1, 3(3)->2, 2(0)->0, 2(2)->1
    assert assignment.tolist() == [0, 0, 1, 2, 1]
    assert bins_from_assignment(assignment, lengths) == [[1, 0], [4, 2], [3]]
    assert bins_from_assignment(assignment) == [[0, 1], [2, 4], [3]]
    with pytest.raises(ValueError, match="bin 1 holds no item"):
        bins_from_assignment([0, 2, 2])
    with pytest.raises(ValueError, match="negative"):
        bins_from_assignment([0, -1])


@settings(max_examples=150, deadline=None)
@given(tied_lengths(max_items=80))
def test_baselines_are_valid_and_match_their_references(case):
    lengths, capacity = case
    for name, (function, _) in ALGORITHMS.items():
        got = function(lengths, capacity)
        assert got.shape == (len(lengths),), name
        if lengths:
            assert np.bincount(got, weights=lengths).max() <= capacity, name
            assert (np.bincount(got) > 0).all(), name
    assert first_fit(lengths, capacity).tolist() == reference_first_fit(lengths, capacity)
    assert ALGORITHMS["linear_scan_ffd"][0](lengths, capacity).tolist() == reference_ffd(lengths, capacity)
    knapsack = greedy_knapsack(lengths, capacity)
    ours = [sorted(np.asarray(lengths)[knapsack == b].tolist()) for b in range(knapsack.max() + 1)] if lengths else []
    assert ours == reference_llama_factory(lengths, capacity)


@settings(max_examples=150, deadline=None)
@given(tied_lengths(max_items=80))
def test_best_fit_decreasing_always_takes_a_tightest_bin(case):
    lengths, capacity = case
    got = best_fit_decreasing(lengths, capacity)
    loads = []
    for item in decreasing_order(lengths, capacity):
        fitting = [capacity - load - lengths[item] for load in loads if load + lengths[item] <= capacity]
        if not fitting:
            assert got[item] == len(loads)
            loads.append(0)
        else:
            assert capacity - loads[got[item]] - lengths[item] == min(fitting)
        loads[got[item]] += lengths[item]


def test_next_fit_and_decreasing_order_by_hand():
    assert next_fit([4, 4, 3, 1, 5], 8).tolist() == [0, 0, 1, 1, 2]
    assert decreasing_order([2, 5, 2, 3, 5], 8).tolist() == [1, 4, 3, 0, 2]
