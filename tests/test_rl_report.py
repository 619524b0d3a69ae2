"""Chapter 10's numbers: chance level, accuracy with intervals, paired RL effects read against their
noise, the held-out split of real data, and the paper's reported gain."""
import pytest

from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.rl.evaluate import accuracy_table, chance_accuracy
from infimed_lib.rl.grpo_launch import split_per_source
from infimed_lib.report.rl_results import (answer_concentration, answer_examples, chance_reading, noise_reading,
                                   paper_rl_gain, paper_rl_table, rl_effects, unanswered, yes_no_elsewhere,
                                   yes_no_share)


def _records(correct_flags, benchmark="vqa-rad"):
    return [{"benchmark": benchmark, "id": f"q{i}", "correct": flag, "format": 1.0, "answer_tokens": 3,
             "question": f"question {i}", "gold": "yes", "response": "\\boxed{yes}" if flag else "\\boxed{no}"}
            for i, flag in enumerate(correct_flags)]


def test_chance_level_is_a_macro_average_of_uniform_guesses():
    tasks = [BenchmarkItem("vqa-rad", "a", "q", answer="yes", question_type="yes_no"),
             BenchmarkItem("pmc-vqa", "b", "q", options={"A": "x", "B": "y", "C": "z", "D": "w"}, answer="A",
                           question_type="multiple_choice"),
             BenchmarkItem("pmc-vqa", "c", "q", options={"A": "x", "B": "y"}, answer="A",
                           question_type="multiple_choice")]
    assert chance_accuracy(tasks) == pytest.approx(100 * (0.5 + (0.25 + 0.5) / 2) / 2)


def test_accuracy_table_and_paired_effects():
    before = _records([True] * 10 + [False] * 30)
    after = _records([True] * 30 + [False] * 10)  # 20 more right answers, none lost
    table = accuracy_table({"before": before, "after": after}, baseline="before")
    assert table.loc["before", "accuracy"] == pytest.approx(25.0)
    assert table.loc["after", "accuracy"] == pytest.approx(75.0)
    assert table.loc["after", "low"] < 75.0 < table.loc["after", "high"]
    assert table.loc["after", "vs before"] == pytest.approx(50.0) and table.loc["before", "vs before"] == 0
    effects = rl_effects({"before": before, "after": after}, {"RL": ("after", "before")})
    assert effects.loc["RL", "change"] == pytest.approx(50.0) and effects.loc["RL", "low"] > 0
    assert effects.loc["RL", "reading"].startswith("a gain")


def test_readings_against_noise_and_chance():
    assert noise_reading(-1.0, 3.0).startswith("within the noise")
    assert noise_reading(-5.0, -1.0).startswith("a loss")
    assert chance_reading(40.0, 50.0, 43.75).startswith("at chance")
    assert chance_reading(50.0, 60.0, 43.75) == "above chance"
    assert chance_reading(20.0, 30.0, 43.75).startswith("below chance")


def test_answer_examples_show_questions_where_the_models_disagree_family_by_family():
    first = _records([True, True, False, False]) + _records([True, False], benchmark="pmc-vqa")
    second = _records([True, False, True, False]) + _records([False, False], benchmark="pmc-vqa")
    table = answer_examples({"SFT": first, "RL": second}, count=5)
    assert table["question"].tolist() == ["question 1", "question 0", "question 2"]  # vqa-rad, pmc-vqa, vqa-rad
    assert table["RL"].tolist()[0].startswith("✗") and table["SFT"].tolist()[0].startswith("✓")


def test_unanswered_share():
    assert unanswered([{"verdict": "unanswered"}, {"verdict": "correct"}, {"verdict": "incorrect"},
                       {"verdict": "unanswered"}]) == 0.5


def test_answer_concentration_on_yes_no_questions():
    records = [{"question_type": "yes_no", "extracted": e} for e in ("no", "no", "no", "yes")]
    records.append({"question_type": "multiple_choice", "extracted": "A"})
    assert answer_concentration(records) == ("no", 0.75)
    assert answer_concentration([{"question_type": "yes_no", "extracted": None}]) == ("(none)", 1.0)


def test_real_data_keeps_its_held_out_questions_out_of_rl():
    tasks = [BenchmarkItem("vqa-rad", f"{s}{i}", "q", answer="yes", question_type="yes_no", meta={"source": s})
             for s in ("a", "b") for i in range(5)]
    rest, held = split_per_source(tasks, 2)
    assert [t.id for t in held] == ["a0", "a1", "b0", "b1"] and len(rest) == 6
    assert not {t.id for t in held} & {t.id for t in rest}


def test_paper_numbers_match_their_averages():
    table = paper_rl_table()
    benchmarks = [c for c in table.columns if c not in ("stage", "Avg.")]
    assert len(benchmarks) == 7
    assert table[benchmarks].mean(axis=1).round(2).tolist() == table["Avg."].tolist()
    assert paper_rl_gain() == pytest.approx(59.18 - 57.02)


def test_yes_no_answers_to_questions_that_are_not_yes_no():
    records = [{"question_type": "multiple_choice", "gold": "A", "response": "The lesion is MRI. \\boxed{no}"},
               {"question_type": "multiple_choice", "gold": "B", "response": "\\boxed{MRI}"},
               {"question_type": "closed", "gold": "left", "response": "Yes."},
               {"question_type": "closed", "gold": "是", "response": "no"},  # a yes/no question in Chinese
               {"question_type": "yes_no", "gold": "no", "response": "no"}]
    assert yes_no_elsewhere(records) == pytest.approx(2 / 3)


def test_yes_no_share_counts_chinese_yes_no_golds():
    tasks = [BenchmarkItem("slake", "a", "q", answer="是", question_type="closed"),
             BenchmarkItem("slake", "b", "q", answer="left", question_type="closed"),
             BenchmarkItem("vqa-rad", "c", "q", answer="no", question_type="yes_no")]
    assert yes_no_share(tasks) == pytest.approx(2 / 3)


def test_held_out_questions_from_the_corpus_carry_absolute_image_paths(tmp_path):
    # the paper profile (heldout_from="corpus") answers them by plain generation, which has no image_root
    import json
    from pathlib import Path

    from PIL import Image

    from infimed_lib.rl.grpo_launch import RLPaths, prepare_sets

    corpus = tmp_path / "corpus"
    (corpus / "sources").mkdir(parents=True)
    (corpus / "images" / "vqa-rad").mkdir(parents=True)
    rows = []
    for index in range(6):
        Image.new("RGB", (8, 8), (index * 40, 0, 0)).save(corpus / "images" / "vqa-rad" / f"{index}.png")
        rows.append({"id": f"v{index}", "images": [f"images/vqa-rad/{index}.png"], "meta": {"benchmark": "vqa-rad",
                     "question_type": "yes_no"}, "conversations": [{"from": "human", "value": "<image>\nIs it red?"},
                                                                   {"from": "gpt", "value": "yes" if index % 2 else "no"}]})
    (corpus / "sources" / "vqa-rad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    traces = tmp_path / "traces.jsonl"
    traces.write_text(json.dumps(rows[0]) + "\n")
    sets = prepare_sets(RLPaths(tmp_path / "rl"), corpus, "", 4, 2, 0, 0.0, 0, ["vqa-rad"], "corpus", str(traces))
    assert len(sets["rl"]) == 4 and len(sets["heldout"]) == 2
    assert all(not Path(t.images[0]).is_absolute() for t in sets["rl"])  # the trainer's image_root resolves these
    assert all(Path(t.images[0]).is_absolute() and Path(t.images[0]).is_file() for t in sets["heldout"])
