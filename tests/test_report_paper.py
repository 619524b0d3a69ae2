"""The paper's numbers as data files: complete, as printed, and the recomputed averages."""
import pytest

from infimed_lib.report import BENCHMARK_COLUMNS, check_reported_averages, load_paper_table, paper_table_source


def test_table2_has_every_model_and_the_printed_values():
    table = load_paper_table("main_results").set_index("model")
    assert len(table) == 17 and table["ours"].sum() == 2
    assert table.loc["InfiMed-Foundation-4B", "Avg."] == 56.4
    assert table.loc["GPT-5", "MedXVQA"] == 71.0
    assert list(table.columns[2:9]) == BENCHMARK_COLUMNS


def test_table3_rows_are_the_four_stage_combinations():
    table = load_paper_table("sft_ablation")
    combos = {tuple(r) for r in table[["stage1", "stage2", "stage3"]].itertuples(index=False)}
    assert combos == {(True, False, False), (True, True, False), (True, False, True), (True, True, True)}


def test_only_the_4b_average_disagrees_with_its_scores():
    for name in ("main_results", "sft_ablation"):
        off = check_reported_averages(load_paper_table(name))
        assert len(off) == 1 and off["mean of 7"].iloc[0] == pytest.approx(56.8, abs=0.01)


def test_every_file_cites_its_source_and_unknown_names_fail():
    for name in ("main_results", "sft_ablation", "hyperparameters", "inconsistencies"):
        assert "2509.22261" in paper_table_source(name) or "arXiv" in paper_table_source(name)
    with pytest.raises(ValueError, match="unknown paper table"):
        load_paper_table("table9")


def test_levers_table_reads_the_data_file_with_its_intervals():
    from infimed_lib.report.levers import levers_source, load_levers

    table = load_levers()
    assert list(table.columns[:5]) == ["lever", "closed_macro_pct", "margin_points", "95% interval", "extra_minutes"]
    assert "paired bootstrap" in levers_source()
    # the margin is the accuracy less the majority class's 34.9%, and sits inside its interval
    scored = table.dropna(subset=["closed_macro_pct"])  # "(probe only)" rows have no benchmark score
    assert len(scored) >= 10 and table.loc[table["closed_macro_pct"].isna(), "lever"].str.contains("probe only|drill").all()
    assert ((scored["closed_macro_pct"] - scored["margin_points"] - 34.9).abs() <= 0.15).all()  # both rounded
    for _, row in table[table["95% interval"] != ""].iterrows():
        low, high = (float(x) for x in row["95% interval"].strip("[]").split(","))
        assert low <= row["margin_points"] <= high
