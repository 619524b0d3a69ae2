"""Chapter 08's option-lookup probe: its items, its chance level and its scoring."""
from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from infimed_lib.common import ParameterError
from infimed_lib.eval import build_prompt, score_item
from infimed_lib.eval.lookup import chance_level, lookup_headline, lookup_items, lookup_records, lookup_table

FULL_CYCLE = 2 * 4 * 60  # layouts x option counts x lcm(2, 3, 4, 5): every gold position equally often


def test_items_name_their_gold_option_and_use_both_prompt_layouts():
    items = lookup_items(40, seed=3)
    assert len(items) == 40 and len({item.id for item in items}) == 40
    for item in items:
        assert not item.images and item.question_type == "multiple_choice"
        assert f"'{item.options[item.answer]}'" in item.question
        assert len(set(item.options.values())) == len(item.options)
    prompts = {item.meta["layout"]: build_prompt(item) for item in items}
    assert "Options: \nA. " in prompts["options"] and "\n(A) " in prompts["mmmu"]
    assert Counter(len(item.options) for item in items) == {2: 10, 3: 10, 4: 10, 5: 10}
    assert [i.options for i in lookup_items(8, seed=3)] == [i.options for i in items[:8]]
    assert [i.options for i in lookup_items(8, seed=4)] != [i.options for i in items[:8]]


def test_a_constant_letter_scores_exactly_chance_and_the_gold_letter_everything():
    items = lookup_items(FULL_CYCLE)
    for k in (2, 3, 4, 5):
        golds = Counter(item.answer for item in items if len(item.options) == k)
        assert len(set(golds.values())) == 1 and len(golds) == k, golds  # every position equally often
    constant = [score_item(item, "A")["correct"] for item in items]
    assert sum(constant) / len(items) == pytest.approx(chance_level(items))
    assert chance_level(items) == pytest.approx((1 / 2 + 1 / 3 + 1 / 4 + 1 / 5) / 4)
    phrased = [f"The answer is ({item.answer}) {item.options[item.answer]}." for item in items[:40]]
    assert all(score_item(item, text)["correct"] for item, text in zip(items, phrased))


@pytest.mark.parametrize("kwargs, field", [(dict(count=0), "count"), (dict(count=2.0), "count"),
                                           (dict(count=4, option_counts=(1,)), "option_counts"),
                                           (dict(count=4, option_counts=(6,)), "option_counts"),
                                           (dict(count=4, option_counts=(3,), values=("CT", "CT", "MRI")),
                                            "option_counts"),
                                           (dict(count=4, option_counts=()), "option_counts")])
def test_bad_arguments_are_refused_naming_the_parameter(kwargs, field):
    with pytest.raises(ParameterError, match=field):
        lookup_items(**kwargs)
    with pytest.raises(ValueError, match="no lookup items"):
        chance_level([])


def test_records_score_the_models_own_answers(tmp_path):
    from infimed_lib.data.tokenizer import model_token_ids, train_tokenizer
    from infimed_lib.model import build_model

    items = lookup_items(12)
    text = " ".join(build_prompt(item) for item in items)
    tokenizer = train_tokenizer([text] * 20, vocab_size=300, out_dir=tmp_path / "tokenizer")
    model = build_model("tiny", token_ids=model_token_ids(tokenizer), num_visual_tokens=16, seed=2).eval()
    records = lookup_records(model, tokenizer, items, max_new_tokens=3)
    assert list(records.columns) == ["layout", "options", "gold", "response", "extracted", "correct"]
    assert len(records) == 12 and records["gold"].tolist() == [item.answer for item in items]
    for item, (_, row) in zip(items, records.iterrows()):
        assert row["correct"] == score_item(item, row["response"])["correct"]


def test_table_reports_accuracy_by_option_count_against_chance():
    records = pd.DataFrame({"options": [2, 2, 4, 4], "extracted": ["A", "A", "A", None],
                            "correct": [True, False, True, False]})
    table = lookup_table({"model": records})
    row = table.loc["model"]
    assert row["2 options"] == 50 and row["4 options"] == 50 and row["all"] == 50
    assert row["chance"] == pytest.approx(100 * (0.5 + 0.5 + 0.25 + 0.25) / 4)
    assert row["most frequent answer"] == "A (75%)"
    headline = lookup_headline(table, "model", 4)
    assert headline["lookup_final"] == 50 and headline["lookup_side"] == "above"
    assert headline["lookup_gap"] == pytest.approx(50 - 37.5) and headline["lookup_answer"] == "A (75%)"
    below = lookup_table({"model": records.assign(correct=False)})
    assert lookup_headline(below, "model", 4)["lookup_side"] == "below"
    skipped = lookup_headline(pd.DataFrame(), "model", 0)
    assert skipped["lookup_side"] == "not run" and skipped["lookup_final"] != skipped["lookup_final"]  # nan
    with pytest.raises(ValueError, match="'empty'"):
        lookup_table({"empty": records.iloc[:0]})


def test_probe_runs_each_checkpoint_and_writes_every_record(tmp_path):
    from infimed_lib.data.tokenizer import model_token_ids, train_tokenizer
    from infimed_lib.eval import lookup_probe
    from infimed_lib.model import build_model

    items = lookup_items(6)
    tokenizer = train_tokenizer([" ".join(build_prompt(i) for i in items)] * 20, vocab_size=300,
                                out_dir=tmp_path / "tokenizer")
    for seed in (1, 2):
        build_model("tiny", token_ids=model_token_ids(tokenizer), num_visual_tokens=16, seed=seed).save_pretrained(tmp_path / f"m{seed}")
    out = tmp_path / "probe" / "lookup.csv"
    results = lookup_probe({"one": str(tmp_path / "m1"), "two": str(tmp_path / "m2")}, str(tmp_path / "tokenizer"),
                           items, out, max_new_tokens=3, device="cpu", num_threads=1)
    written = pd.read_csv(out, keep_default_na=False)
    assert sorted(results) == ["one", "two"] and len(written) == 12
    assert written.groupby("model")["correct"].sum().to_dict() == {k: int(v["correct"].sum()) for k, v in results.items()}
    assert not list(out.parent.glob("*.tmp*")) and not list(out.parent.glob("*partial*"))
