"""Sampling, dataset summaries, keep/drop thresholds, the keep-list, ground-truth comparison,
weighted kappa and the figures, on small hand-made judgements."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from infimed_lib.common import ParameterError
from infimed_lib.curation.defect_agreement import compare_with_ground_truth, judge_agreement, weighted_kappa
from infimed_lib.curation.assess import list_sources, sample_source
from infimed_lib.report.curation_figures import plot_dataset_means, plot_ground_truth, plot_score_distributions
from infimed_lib.curation.selection import (
    Thresholds, build_keep_list, dataset_summary, flag_samples, judgements_frame, read_keep_list,
    score_distribution, write_keep_list,
)
from infimed_lib.curation.rubric import SCORE_KEYS


def record(sid, source, score, n_images=1, status="ok", **override):
    scores = {k: score for k in SCORE_KEYS} | override
    return {"sample_id": sid, "source": source, "judge_id": "j", "status": status, "n_images": n_images,
            "scores": scores if status == "ok" else None}


def frame():
    rows = [record(f"good-{i}", "good", 5) for i in range(9)] + [record("good-9", "good", 4, **{"Practicality": 2})]
    rows += [record(f"bad-{i}", "bad", 2) for i in range(4)] + [record(f"bad-{i}", "bad", 4) for i in range(4, 10)]
    rows += [record(f"text-{i}", "text", 4, n_images=0, **{"Medical Imaging Relevance": 1}) for i in range(5)]
    rows += [record(f"flaky-{i}", "flaky", 5) for i in range(2)]
    rows += [record(f"flaky-{i}", "flaky", 0, status="request_error") for i in range(2, 5)]
    return judgements_frame(rows)


def test_summary_decisions_and_reasons():
    summary = dataset_summary(frame(), Thresholds())
    assert summary.loc["good", "decision"] == "keep" and summary.loc["good", "practicality"] == pytest.approx(4.7)
    assert summary.loc["bad", "decision"] == "drop"
    assert "40% of samples flagged > 15%" in summary.loc["bad", "reasons"]
    assert "mean overall 3.20 < 3.5" in summary.loc["bad", "reasons"]
    # Text-only sources: imaging 1 by rule says nothing; it is neither averaged nor flagged.
    assert summary.loc["text", "decision"] == "keep" and math.isnan(summary.loc["text", "imaging"])
    assert summary.loc["flaky", "decision"] == "undecided" and summary.loc["flaky", "failed"] == 3


def test_flags_follow_the_threshold():
    data = frame()
    assert flag_samples(data, Thresholds()).groupby(data["source"]).sum().to_dict() == {"bad": 4, "flaky": 0, "good": 1, "text": 0}
    assert flag_samples(data, Thresholds(flag_at_or_below=1)).sum() == 0


@pytest.mark.parametrize("field, value", [("min_mean_overall", 6), ("flag_at_or_below", 2.5),
                                          ("max_flagged_fraction", 1.5), ("min_judged_fraction", True)])
def test_bad_thresholds_name_the_parameter(field, value):
    with pytest.raises(ParameterError, match=field):
        Thresholds(**{field: value})


def test_keep_list_round_trip(tmp_path):
    summary = dataset_summary(frame(), Thresholds())
    keep = build_keep_list(summary, Thresholds(), ["good", "bad", "text", "flaky", "general-captions"], "j", "abc", 10)
    assert keep["keep"] == ["general-captions", "good", "text"] and keep["drop"] == ["bad"]
    assert keep["undecided"] == ["flaky"] and keep["not_assessed"] == ["general-captions"]
    path = write_keep_list(keep, tmp_path)
    assert path == tmp_path / "curation" / "keep_list.json" and read_keep_list(path) == keep
    path.write_text(json.dumps({"keep": ["a"], "drop": ["a"]}))
    with pytest.raises(ParameterError, match="both kept and dropped"):
        read_keep_list(path)


def test_ground_truth_comparison():
    data = frame()
    labels = pd.DataFrame({"sample_id": data["sample_id"], "source": data["source"],
                           "defect": [None] * 9 + ["wrong_fact"] + ["garbled_language"] * 5 + [None] * 5 + [None] * 10})
    summary = dataset_summary(data, Thresholds())
    truth = compare_with_ground_truth(data, flag_samples(data, Thresholds()), summary, labels, high_defect_rate=0.3)
    s = truth["samples"]
    assert (s["tp"], s["fp"], s["fn"]) == (5, 0, 1) and s["precision"] == 1.0 and s["recall"] == pytest.approx(5 / 6)
    assert truth["by_defect"].loc["garbled_language", "flag_rate"] == 0.8
    assert truth["by_source"].loc["bad", "defect_rate"] == 0.5
    d = truth["datasets"]
    assert d["high_defect_sources"] == ["bad"] == d["dropped_sources"] and d["precision"] == d["recall"] == 1.0


def brute_force_kappa(a, b, power):
    """Weighted kappa from its pairwise definition: 1 - mean w(a_i, b_i) / mean over all i, j of w(a_i, b_j)."""
    w = lambda x, y: (abs(x - y) / 4) ** power
    observed = np.mean([w(x, y) for x, y in zip(a, b)])
    chance = np.mean([w(x, y) for x in a for y in b])
    return 1 - observed / chance


def test_weighted_kappa():
    assert weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == 1.0
    assert weighted_kappa([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    a = rng.integers(1, 6, 200)
    b = np.clip(a + rng.integers(-1, 2, 200), 1, 5)
    for weights, power in (("linear", 1), ("quadratic", 2)):
        assert weighted_kappa(a, b, weights) == pytest.approx(brute_force_kappa(a, b, power))
    assert 0.6 < weighted_kappa(a, b) < 1.0 and abs(weighted_kappa(a, rng.permutation(b))) < 0.2
    assert math.isnan(weighted_kappa([3, 3], [3, 3]))
    with pytest.raises(ValueError, match="not among the categories"):
        weighted_kappa([0, 1], [1, 1])
    with pytest.raises(ParameterError, match="weights"):
        weighted_kappa([1], [1], "cubic")


def test_judge_agreement_matches_by_sample():
    a = frame()
    b = a.sample(frac=1.0, random_state=0).copy()  # order must not matter
    table = judge_agreement(a, b)
    assert table.loc["overall", "n"] == 27 and table.loc["overall", "exact_agreement"] == 1.0
    assert table.loc["overall", "kappa_quadratic"] == pytest.approx(1.0)
    b.loc[b["source"].eq("bad"), "overall"] = 5  # the second judge misses the bad samples
    table = judge_agreement(a, b)
    assert table.loc["overall", "exact_agreement"] == pytest.approx(17 / 27)
    assert table.loc["overall", "kappa_quadratic"] < 0.5 and table.loc["accuracy", "kappa_quadratic"] == pytest.approx(1.0)


def test_sampling_is_seeded_and_per_source(tmp_path):
    (tmp_path / "sources").mkdir()
    for name, family in (("med-a", "medical_caption"), ("gen-b", "general_caption")):
        rows = [json.dumps({"id": f"{name}-{i}", "family": family}) for i in range(50)]
        (tmp_path / "sources" / f"{name}.jsonl").write_text("\n".join(rows) + "\n")
    assert list(list_sources(tmp_path)) == ["med-a"] and len(list_sources(tmp_path, None)) == 2
    first = sample_source(tmp_path / "sources" / "med-a.jsonl", 10, seed=1)
    assert [r["id"] for r in first] == [r["id"] for r in sample_source(tmp_path / "sources" / "med-a.jsonl", 10, seed=1)]
    assert len({r["id"] for r in first}) == 10
    assert first != sample_source(tmp_path / "sources" / "med-a.jsonl", 10, seed=2)
    assert len(sample_source(tmp_path / "sources" / "med-a.jsonl", 500, seed=1)) == 50
    with pytest.raises(ParameterError, match="samples_per_dataset"):
        sample_source(tmp_path / "sources" / "med-a.jsonl", 0, seed=1)
    with pytest.raises(ParameterError, match="families"):
        list_sources(tmp_path, ["medical_instruction"])


def test_figures_are_saved(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    data = frame()
    summary = dataset_summary(data, Thresholds())
    plot_score_distributions(score_distribution(data), tmp_path / "dist.png")
    plot_dataset_means(summary, tmp_path / "means.png")
    labels = pd.DataFrame({"sample_id": data["sample_id"], "source": data["source"], "defect": None})
    truth = compare_with_ground_truth(data, flag_samples(data, Thresholds()), summary, labels)
    plot_ground_truth(truth["by_source"], truth["by_defect"], tmp_path / "truth.png")
    for name in ("dist.png", "means.png", "truth.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
