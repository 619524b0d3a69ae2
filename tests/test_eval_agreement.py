"""Agreement of each rule set with a careful human grade (Chapter 08), measured on the graded
tables in tests/data. The numbers are pinned so that a rule change shows up here and is reported
(with the new numbers) rather than drifting silently."""
from __future__ import annotations

from pathlib import Path

import pytest

from infimed_lib.common import ParameterError
from infimed_lib.data.benchmarks import BENCHMARKS, QUESTION_TYPES
from infimed_lib.eval.human_grades import load_graded, rule_agreement, rule_disagreements, score_graded

DATA = Path(__file__).parent / "data"


def test_graded_table_covers_every_benchmark_and_question_type():
    rows = load_graded(DATA / "graded_responses.csv")
    assert len(rows) >= 80
    kinds = {(row["benchmark"], row["question_type"]) for row in rows}
    assert {b for b, _ in kinds} == set(BENCHMARKS)
    assert {q for _, q in kinds} == set(QUESTION_TYPES)
    assert {("slake", "yes_no"), ("slake", "closed"), ("slake", "open"), ("mmmu-med", "closed")} <= kinds
    assert {row["lang"] for row in rows} == {"en", "zh"}
    assert {row["human"] for row in rows} == {"correct", "incorrect", "unanswered"}


def test_measured_agreement_on_the_graded_table():
    table = rule_agreement(load_graded(DATA / "graded_responses.csv"))
    assert table.loc["all", "n"] == 138
    # 137 of 138 for strict (the miss: "intravenous contrast" for "iv contrast"), 87 for MedEvalKit.
    assert table.loc["all", "strict"] == pytest.approx(100 * 137 / 138)
    assert table.loc["all", "medevalkit"] == pytest.approx(100 * 87 / 138)
    assert table.loc["all", "strict"] >= 90.0
    assert (table.drop(index="all")["strict"] >= 90.0).all()


def test_measured_agreement_on_the_held_out_table():
    # Graded after the rules were written and never used to tune them: the honest estimate.
    table = rule_agreement(load_graded(DATA / "graded_responses_heldout.csv"))
    assert table.loc["all", "n"] == 50
    assert table.loc["all", "strict"] == pytest.approx(100 * 38 / 50)
    assert table.loc["all", "medevalkit"] == pytest.approx(100 * 24 / 50)


def test_disagreements_and_bad_tables(tmp_path):
    rows = load_graded(DATA / "graded_responses.csv")
    misses = rule_disagreements(rows, "strict")
    assert list(misses["case"]) == ["g029"] and misses.loc[0, "strict_verdict"] == "incorrect"
    scored = score_graded(rows[:3], ["medevalkit"])
    assert list(scored.columns) == ["case", "benchmark", "question_type", "human", "medevalkit_verdict",
                                    "medevalkit_agrees"]
    bad = tmp_path / "bad.csv"
    bad.write_text("case,benchmark,question_type,lang,question,options,gold,response,human\n"
                   "x1,vqa-rad,yes_no,en,Is it?,,yes,Yes,maybe\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="line 2.*'maybe'"):
        load_graded(bad)
    bad.write_text("case,benchmark,response\nx1,vqa-rad,Yes\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="lacks column"):
        load_graded(bad)
    with pytest.raises(ParameterError, match="rules"):
        score_graded(rows, ["lenient"])
