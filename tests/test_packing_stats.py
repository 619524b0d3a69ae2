"""Packing statistics by hand, the algorithm table, the timing curve's budget, visual-token effect."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from infimed_lib.common import ParameterError
from infimed_lib.packing import (compare_algorithms, ffd, packing_stats, synthetic_lengths, timing_curve,
                                 visual_token_effect)
from infimed_lib.report.packing_figures import plot_comparison, plot_length_histogram, plot_timing
from infimed_lib.packing.stats import _predicted


def test_packing_stats_by_hand():
    stats = packing_stats([3, 3, 4], ffd([3, 3, 4], 5), 5)  # bins {4}, {3}, {3}
    assert stats == {"samples": 3, "tokens": 10, "rows": 3, "row_length": 5, "lower_bound_rows": 2,
                     "row_tokens": 15, "padding_tokens": 5, "fill_ratio": 10 / 15, "max_row_tokens": 4}
    padded = packing_stats([3, 3, 4], [0, 1, 2], 5, row_length=4)
    assert padded["padding_tokens"] == 2 and padded["row_tokens"] == 12
    with pytest.raises(ValueError, match="row 0 holds 7 tokens > row length 5"):
        packing_stats([3, 4], [0, 0], 5)


def test_compare_algorithms_table():
    lengths = [4, 3, 3, 2, 2, 1, 1]  # 16 tokens, capacity 8: FFD reaches the bound of 2 rows
    table = compare_algorithms(lengths, 8).set_index("algorithm")
    assert set(table.index) == {"ffd", "pad_to_longest", "next_fit", "first_fit", "best_fit_decreasing", "greedy_knapsack"}
    assert table.loc["ffd", "rows"] == 2 and table.loc["ffd", "padding_tokens"] == 0
    assert table.loc["pad_to_longest", "rows"] == 7 and table.loc["pad_to_longest", "row_tokens"] == 28
    assert table.loc["pad_to_longest", "compute_saved_pct"] == 0
    assert table.loc["ffd", "compute_saved_pct"] == pytest.approx(100 * (1 - 16 / 28))
    assert table.loc["next_fit", "rows"] == 3  # 4+3 | 3+2+2+1 | 1
    assert (table["pack_time_s"] >= 0).all() and (table["fill_pct"] <= 100).all()
    with pytest.raises(ParameterError, match="unknown algorithm"):
        compare_algorithms(lengths, 8, names=["ffd", "magic"])


def test_synthetic_lengths_are_clipped_and_seeded():
    values = synthetic_lengths(10_000, median=500, sigma=1.5, capacity=4096, seed=1)
    assert values.min() >= 1 and values.max() == 4096 and 400 < np.median(values) < 600
    assert np.array_equal(values, synthetic_lengths(10_000, median=500, sigma=1.5, capacity=4096, seed=1))


def test_timing_curve_respects_the_budget():
    assert _predicted([], 10) == 0
    assert _predicted([(100, 1.0)], 200) == pytest.approx(4.0)  # quadratic when unsure
    assert _predicted([(100, 1.0), (200, 2.0)], 400) == pytest.approx(4.0)  # measured: linear
    timing = timing_curve([100, 1000], names=["ffd", "next_fit"], budget_s=0.0)
    assert timing.groupby("algorithm")["n"].apply(list).to_dict() == {"ffd": [100], "next_fit": [100], "numpy_sort": [100]}
    timing = timing_curve([100, 300], names=["ffd"], budget_s=60.0, with_sort=False)
    assert timing["n"].tolist() == [100, 300] and (timing["seconds"] > 0).all()


def test_visual_token_effect():
    table = visual_token_effect(np.array([100, 200, 50]), np.array([1, 0, 6]), 4096, (144, 729)).set_index(
        "visual_tokens_per_image")
    assert table.loc[144, "total_tokens"] == 350 + 7 * 144 and table.loc[729, "image_tokens"] == 7 * 729
    assert table.loc[144, "overlong_samples"] == 0 and table.loc[729, "overlong_samples"] == 1  # 50 + 6 * 729
    assert table.loc[144, "rows"] == 1 and table.loc[729, "rows"] == 2


def test_plots_draw(tmp_path):
    lengths = synthetic_lengths(500, seed=0)
    ax = plot_length_histogram({"144": lengths, "729": lengths + 585}, 4096)
    assert len(ax.patches) > 0
    ax = plot_comparison(compare_algorithms(lengths, 4096))
    assert len(ax.patches) == 6
    ax = plot_timing(timing_curve([100, 1000], names=["ffd"], budget_s=60.0))
    assert {line.get_label() for line in ax.get_lines()} == {"ffd", "numpy_sort"}
    ax.figure.savefig(tmp_path / "timing.png")
    assert (tmp_path / "timing.png").stat().st_size > 0
