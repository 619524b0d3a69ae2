"""Ablation and comparison tables in the paper's layouts, and case-study selection (Chapter 09)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from infimed_lib.common import ParameterError, atomic_write_json, atomic_write_jsonl
from infimed_lib.data.benchmarks import BenchmarkItem, write_benchmark
from infimed_lib.report import load_paper_table
from infimed_lib.report.ablation import (COMBINATIONS, ablation_side_by_side, ablation_table, effect_agreement,
                                         macro_standard_error, main_results_table, percent_row,
                                         plot_ablation_comparison, plot_loss_comparison, stage_effects)
from infimed_lib.train.stages import run_extra_combination
from infimed_lib.report.cases import case_images, case_table, kind_summary, load_predictions, pick_cases, plot_cases
from infimed_lib.report.paper import BENCHMARK_TO_COLUMN

BENCHES = list(BENCHMARK_TO_COLUMN)


def _scores(accuracies: dict[str, float]) -> dict:
    """A scores dict shaped like scores.json, from accuracies (fractions) per benchmark."""
    return {"benchmarks": {b: {"accuracy": a, "n": 10} for b, a in accuracies.items()}, "order": list(accuracies),
            "average": sum(accuracies.values()) / len(accuracies)}


def _from_paper_row(row: pd.Series) -> dict:
    return _scores({b: row[BENCHMARK_TO_COLUMN[b]] / 100 for b in BENCHES})


def test_ablation_table_has_the_paper_layout_and_reproduces_its_numbers():
    paper = load_paper_table("sft_ablation")
    labels = ["1", "1+2", "1+3", "1+2+3"]
    ours = ablation_table({label: _from_paper_row(row) for label, (_, row) in zip(labels, paper.iterrows())})
    assert list(ours.columns) == list(paper.columns)
    assert ours[["stage1", "stage2", "stage3"]].equals(paper[["stage1", "stage2", "stage3"]])
    columns = list(BENCHMARK_TO_COLUMN.values())
    np.testing.assert_allclose(ours[columns].to_numpy(), paper[columns].to_numpy())
    # Our "Avg." is the plain mean; the paper prints 56.4 for the 1+2+3 row whose mean is 56.8.
    np.testing.assert_allclose(ours["Avg."].iloc[-1], paper[columns].iloc[-1].mean())
    assert set(effect_agreement(ours, paper).query("benchmark != 'Avg.'")["same direction"]) == {True}


def test_partial_runs_side_by_side_and_effects():
    ours = ablation_table({"1": _scores({"vqa-rad": 0.5, "slake": 0.4}), "1+2": _scores({"vqa-rad": 0.6, "slake": 0.3})})
    assert ours["MMMU-Med"].isna().all() and ours["Avg."].tolist() == pytest.approx([45.0, 45.0])
    both = ablation_side_by_side(ours)
    assert list(both.index) == list(COMBINATIONS)  # the paper's four rows; ours missing where not run
    assert both[("VQA-RAD", "paper")].tolist() == [53.7, 53.0, 53.4, 57.9]
    assert both[("VQA-RAD", "ours")].tolist()[:2] == pytest.approx([50.0, 60.0])
    assert both[("VQA-RAD", "ours")].iloc[2:].isna().all()
    effects = stage_effects(ours)
    assert list(effects.index) == ["+ stage 2 (1 → 1+2)"]
    assert effects.loc["+ stage 2 (1 → 1+2)", "SLAKE"] == pytest.approx(-10)
    agreement = effect_agreement(ours).set_index("benchmark")
    # paper: VQA-RAD 53.7 -> 53.0 (down), SLAKE 62.3 -> 73.1 (up); ours: up, down
    assert not agreement.loc["VQA-RAD", "same direction"] and not agreement.loc["SLAKE", "same direction"]
    assert set(agreement.index) == {"VQA-RAD", "SLAKE", "Avg."}
    fig = plot_ablation_comparison(ours, baseline={"VQA-RAD": 40.0})
    assert len(fig.axes) == 2
    with pytest.raises(ParameterError, match="SFT combinations"):
        ablation_table({"2+3": _scores({"slake": 0.5})})
    with pytest.raises(ParameterError, match="scores dict"):
        ablation_table({"1": {"average": 0.5}})


def test_noise_level_percent_row_and_loss_figure():
    scores = _scores({"vqa-rad": 0.5, "slake": 0.9})
    scores["benchmarks"]["vqa-rad"]["n"], scores["benchmarks"]["slake"]["n"] = 100, 100
    # sqrt(0.25/100 + 0.09/100) / 2 = 0.02915...
    assert macro_standard_error(scores) == pytest.approx(100 * np.sqrt(0.0034) / 2)
    row = percent_row(scores)
    assert row["VQA-RAD"] == pytest.approx(50) and np.isnan(row["MMMU-Med"]) and row["Avg."] == pytest.approx(70)
    frame = pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.0, 1.0]})
    assert len(plot_loss_comparison({"a": frame, "b": frame}).axes[0].lines) == 2
    with pytest.raises(ParameterError, match="frames"):
        plot_loss_comparison({"a": frame.iloc[:0]})


def test_main_results_table_layout():
    table = main_results_table({"SFT 1+2+3": _scores({"vqa-rad": 0.7}), "majority class": _scores({"vqa-rad": 0.55})})
    paper = load_paper_table("main_results")
    assert list(table.columns) == ["model", "source", *paper.columns[3:]]
    assert table["source"].tolist()[:2] == ["ours (miniature)"] * 2 and table["VQA-RAD"].iloc[0] == pytest.approx(70)
    assert table.set_index("model").loc["InfiMed-Foundation-4B", "Avg."] == 56.4
    with pytest.raises(ParameterError, match="Table 2"):
        main_results_table({}, paper_models=["GPT-9"])


def _predictions(folder, verdicts: dict[str, list[str]]):
    """``"guess"`` stands for MMMU's random fallback landing on the right letter."""
    for bench, marks in verdicts.items():
        atomic_write_jsonl(folder / bench / "predictions.jsonl", [
            {"benchmark": bench, "id": f"{bench}-{i}", "question_type": "yes_no", "modality": "", "question": f"q{i}?",
             "options": {}, "gold": "yes", "response": "yes" if m != "incorrect" else "no", "extracted": None,
             "verdict": "correct" if m == "guess" else m, "fallback": "random" if m == "guess" else None}
            for i, m in enumerate(marks)])
    return load_predictions(folder)


def test_cases_pick_disagreements_round_robin_and_deterministically(tmp_path):
    c, w, g = "correct", "incorrect", "guess"
    a = _predictions(tmp_path / "a", {"vqa-rad": [c, c, c, w, c, g], "slake": [c, w, c]})
    b = _predictions(tmp_path / "b", {"vqa-rad": [w, w, c, c, c, w], "slake": [w, c, c]})
    cases = pick_cases(a, b, n=3, seed=1)
    assert cases["kind"].tolist() == ["a_right_b_wrong"] * 3  # vqa-rad 0, 1 and slake 0
    assert sorted(cases["benchmark"].tolist()) == ["slake", "vqa-rad", "vqa-rad"]
    assert cases.equals(pick_cases(a, b, n=3, seed=1))
    more = pick_cases(a, b, n=5, seed=1)  # 3 a-only, then the 2 b-only cases fill up
    assert more["kind"].tolist() == ["a_right_b_wrong"] * 3 + ["b_right_a_wrong"] * 2
    expected = "3 where full is right and base is not, 2 where base is right and full is not"
    assert kind_summary(more, ("full", "base")) == expected
    table = case_table(cases, ("full", "base"))
    assert {"ground truth", "full answer", "base verdict"} <= set(table.columns)
    assert set(table["full verdict"]) == {"correct"} and set(table["base verdict"]) == {"incorrect"}
    guessed = pick_cases(a, b, n=9, kind="both_wrong")
    assert guessed["id"].tolist()[0] == "vqa-rad-5"  # right only by a random guess: not a win for model a
    assert case_table(guessed, ("full", "base"))["full verdict"].iloc[0] == "guess"
    with pytest.raises(ParameterError, match="kind"):
        pick_cases(a, b, kind="anything")


def test_case_images_come_from_the_benchmark_files(tmp_path):
    image = Image.new("RGB", (8, 8), (200, 10, 10))
    items = [BenchmarkItem("vqa-rad", f"vqa-rad-{i}", f"q{i}?", [image], answer="yes", question_type="yes_no")
             for i in range(2)]
    path = write_benchmark("vqa-rad", items, tmp_path / "bench")
    c, w = "correct", "incorrect"
    a = _predictions(tmp_path / "a", {"vqa-rad": [c, w]})
    cases = pick_cases(a, _predictions(tmp_path / "b", {"vqa-rad": [w, w]}), n=1)
    images = case_images(cases, {"vqa-rad": path})
    assert images[0].getpixel((0, 0)) == (200, 10, 10)
    assert len(plot_cases(cases, images, ("a", "b")).axes) == 2
    with pytest.raises(ParameterError, match="benchmark_paths"):
        case_images(cases, {})


def test_extra_combination_reuses_a_finished_run_and_checks_paths(tmp_path):
    from infimed_lib.train.train_config import load_config

    stage1 = tmp_path / "stage1" / "checkpoint"
    stage1.mkdir(parents=True)
    config_path = tmp_path / "stage3" / "config.json"
    atomic_write_json(config_path, {"stage": "sft3", "output_dir": str(tmp_path / "stage3"), "init_from": "x",
                                    "tokenizer_path": "t", "data_path": "d.jsonl", "global_batch_size": 4})
    out = tmp_path / "ablation"
    expected = load_config(config_path, init_from=str(stage1), output_dir=str(out))
    atomic_write_json(out / "config.json", expected.to_dict())
    atomic_write_json(out / "summary.json", {"final_loss": 1.0})
    (out / "checkpoint").mkdir()
    result = run_extra_combination(config_path, stage1, out)
    assert result.summary == {"final_loss": 1.0} and result.checkpoint_dir == out / "checkpoint"
    with pytest.raises(ParameterError, match="stage1_checkpoint"):
        run_extra_combination(config_path, tmp_path / "missing", out)
    assert COMBINATIONS == ("1", "1+2", "1+3", "1+2+3")


def _write_predictions(folder, correct_by_benchmark):
    files = {}
    for name, correct in correct_by_benchmark.items():
        rows = [{"id": f"q{i}", "question_type": "yes_no", "correct": bool(c)} for i, c in enumerate(correct)]
        files[name] = atomic_write_jsonl(folder / f"{name}.jsonl", rows)
    return files


def test_combination_and_effect_intervals_pair_the_same_questions(tmp_path):
    from infimed_lib.report.ablation import combination_intervals, effect_intervals

    rng = np.random.default_rng(0)
    majority = {b: rng.random(200) < 0.5 for b in ("vqa-rad", "slake")}
    strong = {b: np.where(rng.random(200) < 0.4, True, v) for b, v in majority.items()}  # flips 40% to right
    files = {}
    for label, answers in {"majority class": majority, "1": majority, "1+2": strong}.items():
        (tmp_path / label).mkdir()
        files[label] = _write_predictions(tmp_path / label, answers)
    table = combination_intervals(files).set_index("model")
    assert table.loc["1", "margin over majority class (points)"] == 0
    assert table.loc["1", "margin low"] == table.loc["1", "margin high"] == 0  # identical answers: no spread
    gain = table.loc["1+2", "margin over majority class (points)"]
    assert 10 < gain < 30 and table.loc["1+2", "margin low"] > 0
    assert table.loc["1+2", "low (%)"] < table.loc["1+2", "closed macro (%)"] < table.loc["1+2", "high (%)"]
    effects = effect_intervals(files).set_index("comparison")
    assert list(effects.index) == ["+ stage 2 (1 → 1+2)"]
    assert effects.iloc[0]["change (points)"] == pytest.approx(gain) and effects.iloc[0]["beyond noise"]
    with pytest.raises(ParameterError, match="baseline"):
        combination_intervals({"1": files["1"]})
    with pytest.raises(ParameterError, match="predictions"):
        effect_intervals({"1": files["1"]})
