"""Bootstrap intervals of the closed-question macro accuracy and of a margin over a baseline."""
import json
import math

import numpy as np
import pytest

from infimed_lib.common import ParameterError
from infimed_lib.eval.summary import summarize_records
from infimed_lib.eval.uncertainty import closed_verdicts, macro_interval, margin_interval


def verdicts(rng, accuracies, n):
    return {f"b{k}": {f"q{i}": bool(rng.uniform() < acc) for i in range(n)} for k, acc in enumerate(accuracies)}


def write_predictions(tmp_path, name, rows):
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_estimate_is_the_closed_macro_accuracy_of_the_scores(tmp_path):
    rows = [{"benchmark": "vqa-rad", "id": f"v{i}", "question_type": "yes_no", "correct": i % 4 == 0} for i in range(40)]
    rows += [{"benchmark": "vqa-rad", "id": f"o{i}", "question_type": "open", "correct": True} for i in range(10)]
    rows += [{"benchmark": "pmc-vqa", "id": f"p{i}", "question_type": "multiple_choice", "correct": i % 2 == 0}
             for i in range(6)]
    paths = {b: write_predictions(tmp_path, b, [r for r in rows if r["benchmark"] == b]) for b in ("vqa-rad", "pmc-vqa")}
    found = closed_verdicts(paths)
    assert {b: len(v) for b, v in found.items()} == {"vqa-rad": 40, "pmc-vqa": 6}  # open questions left out
    interval = macro_interval(found)
    # equal weight per benchmark: (25% + 50%) / 2, not the 27.6% of a pooled mean over questions
    assert interval.estimate == pytest.approx(100 * summarize_records(rows)["closed_macro_accuracy"]) == 37.5
    assert interval.low < interval.estimate < interval.high


def test_closed_verdicts_under_either_rule_set(tmp_path):
    both = [{"benchmark": "vqa-rad", "id": f"v{i}", "question_type": "yes_no", "correct": i < 3, "verdict": "x",
             "verdicts": {"strict": "correct" if i < 3 else "unanswered", "medevalkit": "correct" if i < 1 else
                          "incorrect"}} for i in range(4)]
    paths = {"vqa-rad": write_predictions(tmp_path, "vqa-rad", both)}
    assert sum(closed_verdicts(paths)["vqa-rad"].values()) == 3
    assert sum(closed_verdicts(paths, "strict")["vqa-rad"].values()) == 3
    assert sum(closed_verdicts(paths, "medevalkit")["vqa-rad"].values()) == 1
    with pytest.raises(ValueError, match="rules"):
        closed_verdicts(paths, "lenient")


def test_interval_narrows_with_more_questions():
    rng = np.random.default_rng(0)
    small = macro_interval(verdicts(rng, [0.6] * 3, 30))
    large = macro_interval(verdicts(rng, [0.6] * 3, 3000))
    assert large.high - large.low < (small.high - small.low) / 5


def test_intervals_cover_the_true_macro_accuracy_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    accuracies = [0.3, 0.5, 0.6, 0.8]
    truth = 100 * np.mean(accuracies)
    covered = 0
    for seed in range(120):
        interval = macro_interval(verdicts(rng, accuracies, 80), n_resamples=500, seed=seed)
        covered += interval.low <= truth <= interval.high
    assert 0.88 <= covered / 120 <= 0.99


def test_paired_margin_cancels_shared_questions():
    rng = np.random.default_rng(2)
    model = verdicts(rng, [0.5] * 4, 100)
    model["b0"]["q0"] = model["b0"]["q1"] = False
    same = margin_interval(model, model)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    better = {b: dict(v) for b, v in model.items()}
    better["b0"]["q0"] = better["b0"]["q1"] = True
    margin = margin_interval(better, model)
    assert margin.estimate == pytest.approx(100 * 2 / 100 / 4)
    # paired: the interval reflects the two changed answers, far narrower than either accuracy's
    unpaired = macro_interval(better)
    assert margin.high - margin.low < (unpaired.high - unpaired.low) / 4
    right = {b: {q: True for q in v} for b, v in model.items()}
    wrong = {b: {q: False for q in v} for b, v in model.items()}
    certain = margin_interval(right, wrong)
    assert (certain.estimate, certain.low, certain.high) == (100.0, 100.0, 100.0)


def test_margin_needs_the_same_questions_on_both_sides():
    model = {"vqa-rad": {"a": True, "b": False}, "slake": {"c": True, "d": True}}
    with pytest.raises(ParameterError, match="vqa-rad: 2 question"):
        margin_interval(model, {"vqa-rad": {"a": True, "x": True}, "slake": {"c": True, "d": False}})
    with pytest.raises(ParameterError, match="covers benchmarks"):
        margin_interval(model, {"vqa-rad": {"a": True, "b": True}})


def test_degenerate_inputs(tmp_path):
    lone = macro_interval({"vqa-rad": {"a": True}, "slake": {"b": False, "c": True}})
    assert lone.estimate == 75.0 and math.isnan(lone.low) and math.isnan(lone.high)
    with pytest.raises(ParameterError, match="confidence"):
        macro_interval({"vqa-rad": {"a": True, "b": False}}, confidence=95)
    with pytest.raises(ParameterError, match="no benchmarks"):
        macro_interval({})
    only_open = write_predictions(tmp_path, "open", [{"id": "1", "question_type": "open", "correct": True}])
    with pytest.raises(ParameterError, match="no closed questions"):
        closed_verdicts({"vqa-rad": only_open})
    twice = write_predictions(tmp_path, "twice", [{"id": "1", "question_type": "yes_no", "correct": c} for c in (True, False)])
    with pytest.raises(ParameterError, match="ids repeat"):
        closed_verdicts({"vqa-rad": twice})
