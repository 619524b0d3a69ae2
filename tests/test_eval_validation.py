"""Chapter 08's validation split: fresh draws apart from chapter 10's, and how it is answered and tabled."""
from __future__ import annotations

import hashlib
import math

import pytest

from infimed_lib.common import ParameterError, read_jsonl
from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.data.corpus.corpus_draws import HELDOUT_STREAM, MIRRORS, VALIDATION_STREAM, WARMUP_STREAM, drawn_tasks
from infimed_lib.data.tokenizer import model_token_ids, train_tokenizer
from infimed_lib.eval import answer_and_score, score_item, validation_items, validation_table
from infimed_lib.model import build_model


def image_digests(items):
    return {hashlib.sha256(item.images[0].tobytes()).hexdigest() for item in items}


def test_validation_draws_are_repeatable_and_share_no_image_with_chapter_10s_sets():
    assert len({WARMUP_STREAM, HELDOUT_STREAM, VALIDATION_STREAM}) == 3
    first, again = validation_items(5, seed=0), validation_items(5, seed=0)
    assert [i.id for i in first] == [i.id for i in again] and image_digests(first) == image_digests(again)
    assert {i.benchmark for i in first} == set(MIRRORS.values()) and len(first) == 5 * len(MIRRORS)
    assert all(i.question_type in ("multiple_choice", "yes_no", "closed") for i in first)
    for stream in (WARMUP_STREAM, HELDOUT_STREAM):
        assert not image_digests(first) & image_digests(drawn_tasks(5, 0, stream))


@pytest.mark.parametrize("count", [0, -1, 2.5, True, "3"])
def test_a_bad_size_is_refused_by_name(count):
    with pytest.raises(ParameterError, match="validation_per_source"):
        validation_items(count)


def test_table_is_the_macro_accuracy_over_source_families():
    records = {"m": [{"benchmark": "slake", "id": "a", "correct": True}, {"benchmark": "slake", "id": "b", "correct": False},
                     {"benchmark": "vqa-rad", "id": "c", "correct": True}]}
    table = validation_table(records, {"m": 40.0})
    assert table.loc["m", "validation (%)"] == pytest.approx(75.0)  # (50 + 100) / 2, not 2 of 3
    assert table.loc["m", "benchmarks, closed (%)"] == 40.0 and table.loc["m", "questions"] == 3
    assert math.isnan(validation_table(records, {}).loc["m", "benchmarks, closed (%)"])


def test_answers_are_scored_in_task_order_annotated_and_written(tmp_path):
    tasks = validation_items(2)
    tokenizer = train_tokenizer([" ".join(build_prompt(t) for t in tasks)] * 20, vocab_size=300,
                                out_dir=tmp_path / "tokenizer")
    build_model("tiny", token_ids=model_token_ids(tokenizer), num_visual_tokens=16, seed=3).save_pretrained(tmp_path / "m")
    out = tmp_path / "val" / "answers.jsonl"
    records = answer_and_score(tmp_path / "m", tmp_path / "tokenizer", tasks, out, max_new_tokens=4, device="cpu",
                               annotate=lambda answer, tok: {"chars": len(answer)})
    assert [r["id"] for r in records] == [t.id for t in tasks] and read_jsonl(out) == records
    for task, record in zip(tasks, records):
        assert record["correct"] == score_item(task, record["response"])["correct"]
        assert record["question"] == task.question and record["chars"] == len(record["response"])
