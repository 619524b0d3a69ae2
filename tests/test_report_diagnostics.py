"""Figures of chapter 08's "where is the image signal lost?" section."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from infimed_lib.common import ParameterError  # noqa: E402
from infimed_lib.report.diagnostic_figures import plot_attention_share, plot_probes  # noqa: E402


def test_probe_figure_has_one_bar_per_facet_and_feature_set_and_the_majority_marks():
    table = pd.DataFrame([{"facet": f, "features": s, "accuracy_pct": 10.0 * (i + k), "majority_pct": 50.0 + i}
                          for i, f in enumerate(["modality", "side"]) for k, s in enumerate(["pixels", "tower", "proj"])])
    fig = plot_probes(table)
    ax = fig.axes[0]
    assert sorted(bar.get_height() for bar in ax.patches) == sorted(table["accuracy_pct"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["modality", "side"]
    marks = [c for c in ax.collections if c.get_label() == "majority class"][0]
    assert [seg[0][1] for seg in marks.get_segments()] == [50.0, 51.0]
    plt.close(fig)


def test_attention_figure_has_a_line_and_a_reference_per_checkpoint():
    table = pd.DataFrame({"checkpoint": ["a"] * 3 + ["b"] * 3, "layer": [1, 2, 3] * 2,
                          "attention_on_image_pct": [5, 10, 20, 30, 40, 50], "image_token_share_pct": [80] * 3 + [90] * 3})
    fig = plot_attention_share(table)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert list(lines["b"].get_ydata()) == [30, 40, 50] and list(lines["a"].get_xdata()) == [1, 2, 3]
    assert len(fig.axes[0].get_lines()) == 5  # two curves, two references, one legend entry
    plt.close(fig)
    with pytest.raises(ParameterError, match="'table'"):
        plot_attention_share(table.drop(columns="layer"))
