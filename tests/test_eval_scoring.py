"""Verdict rules (``strict``, the default), metrics and aggregation (Chapter 08), and MedEvalKit's
known bugs, absent here. ``rules="medevalkit"`` has its own tables in test_eval_medevalkit.py."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from infimed_lib.common import ParameterError
from infimed_lib.eval.text_metrics import TokenScores, bleu1, exact_match, normalize_answer, token_scores
from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.eval.scoring import aggregate, score_item, score_items
from eval_items import make_item




@pytest.mark.parametrize(
    "response, gold, verdict",
    [
        ("yes", "yes", "correct"),
        ("Yes.", "yes", "correct"),
        ("YES", "yes", "correct"),
        ("No", "yes", "incorrect"),
        ("No nodule is seen.", "no", "correct"),
        ("\\boxed{yes}", "yes", "correct"),
        ("The answer is no.", "no", "correct"),
        ("<think>Maybe no?</think>yes", "yes", "correct"),
        ("I don't know", "no", "unanswered"),  # the "no" of "know" is not an answer
        ("There is a nodule.", "no", "incorrect"),  # nor the "no" of "nodule": it affirms
        ("Yes, but also no", "yes", "unanswered"),  # both committed: not exactly one
        ("Nope", "no", "correct"),  # a no without the word "no"
        ("", "yes", "unanswered"),
        ("是", "是", "correct"),
        ("否", "是", "incorrect"),
        ("不是", "否", "correct"),
        ("是的，有结节", "是", "correct"),
        ("答案：否", "否", "correct"),
        ("无法判断", "否", "unanswered"),
        ("这是CT图像", "是", "unanswered"),  # 是 as the copula "is" is no answer
    ],
)
def test_yes_no_rule(response, gold, verdict):
    lang = "zh" if gold in ("是", "否") else "en"
    record = score_item(make_item(answer=gold, question_type="yes_no", lang=lang), response)
    assert record["verdict"] == verdict and record["correct"] == (verdict == "correct")


@pytest.mark.parametrize(
    "response, gold, verdict",
    [
        ("Left lung.", "left lung", "correct"),
        ("the left lung", "left lung", "correct"),
        ("left  lung\n", "left lung", "correct"),
        ("Answer: left lung", "left lung", "correct"),
        ("\\boxed{Left Lung}", "left lung", "correct"),
        ("right lung", "left lung", "incorrect"),
        ("Left lung, with a mass", "left lung", "correct"),  # surrounding words
        ("Left or right lung", "left lung", "unanswered"),  # alternatives offered
        ("...", "left lung", "unanswered"),
        ("肝脏。", "肝脏", "correct"),
        ("肺", "肝脏", "incorrect"),
        # SLAKE's CLOSED questions with a yes/no gold take the yes/no rule, in both languages
        ("Yes, there is.", "yes", "correct"),
        ("否", "否", "correct"),
        ("是", "否", "incorrect"),
    ],
)
def test_closed_rule(response, gold, verdict):
    item = make_item(benchmark="slake", answer=gold, question_type="closed", lang="zh" if "否" in gold else "en")
    assert score_item(item, response)["verdict"] == verdict


PLEURA = {"A": "Pleural effusion", "B": "Pneumothorax", "C": "Consolidation"}


@pytest.mark.parametrize(
    "response, difflib_fallback, verdict, fallback",
    [
        ("\\boxed{A}", False, "correct", None),
        ("The answer is B", False, "incorrect", None),
        ("Pleural effusion", False, "correct", None),
        ("pleural effusions present", False, "correct", None),  # the option's text, plural
        ("fluid in the pleural space", False, "unanswered", None),
        ("fluid in the pleural space", True, "correct", "difflib"),  # MedEvalKit's fallback, opt-in
        ("A or C", False, "unanswered", None),
    ],
)
def test_multiple_choice_rule(response, difflib_fallback, verdict, fallback):
    item = make_item(benchmark="pmc-vqa", options=dict(PLEURA), answer="A", question_type="multiple_choice")
    record = score_item(item, response, difflib_fallback=difflib_fallback)
    assert (record["verdict"], record["fallback"], record["rule"]) == (verdict, fallback, "choice")


def test_mmmu_medevalkit_uses_the_official_parser_and_seeded_guess():
    item = make_item(benchmark="mmmu-med", options={"A": "x", "B": "y", "C": "z"}, answer="B",
                     question_type="multiple_choice")
    record = score_item(item, "I pick (B) here", rules="medevalkit")
    assert (record["rule"], record["extracted"], record["fallback"]) == ("medevalkit_mmmu_choice", "B", None)
    guesses = [score_item(item, "unsure", rules="medevalkit", seed=s) for s in range(30)]
    assert all(g["fallback"] == "random" for g in guesses)
    assert {g["extracted"] for g in guesses} == {"A", "B", "C"}
    assert score_item(item, "unsure", rules="medevalkit", seed=3) == score_item(item, "unsure", rules="medevalkit", seed=3)
    strict = score_item(item, "unsure")  # strict guesses nothing
    assert (strict["rule"], strict["verdict"], strict["fallback"]) == ("choice", "unanswered", None)


def test_open_rule_metrics_and_judge():
    item = make_item(answer="left lung", question_type="open")
    exact = score_item(item, "The left lung.")
    assert (exact["verdict"], exact["exact_match"], exact["f1"]) == ("correct", 1.0, 1.0)
    partial = score_item(item, "left upper lung")
    assert partial["verdict"] == "incorrect"
    assert (partial["precision"], partial["recall"]) == (pytest.approx(2 / 3), 1.0)
    assert partial["f1"] == pytest.approx(0.8)
    judged = score_item(item, "left upper lung", judge=lambda q, a, g: True)
    assert (judged["verdict"], judged["judge"]) == ("correct", True)
    failed = score_item(item, "left upper lung", judge=lambda q, a, g: None)  # judge call failed
    assert (failed["verdict"], failed["judge"]) == ("incorrect", None)
    with pytest.raises(ParameterError, match="judge"):
        score_item(item, "x", judge="gpt-4.1")


def test_score_item_rejects_bad_input():
    item = make_item(answer="yes", question_type="yes_no")
    with pytest.raises(ParameterError, match="response"):
        score_item(item, None)
    with pytest.raises(ParameterError, match="seed"):
        score_item(item, "yes", seed=1.5)
    with pytest.raises(ValueError, match="not yes/no"):
        score_item(make_item(answer="liver", question_type="yes_no"), "yes")
    with pytest.raises(ParameterError, match="responses"):
        score_items([item, item], ["yes"])


def test_metrics_values():
    assert token_scores("left upper lung", "left lung") == TokenScores(pytest.approx(2 / 3), 1.0, pytest.approx(0.8))
    assert token_scores("肝脏", "肝") == TokenScores(0.5, 1.0, pytest.approx(2 / 3))  # CJK: a character a token
    assert exact_match("The Liver!", "liver") == 1.0 and exact_match("", "") == 0.0
    assert normalize_answer("  An ENLARGED, heart. ") == "enlarged heart"
    assert bleu1("left upper lung", "left lung") == pytest.approx(2 / 3)
    assert bleu1("lung", "left lung") == pytest.approx(math.exp(-1))


def test_aggregate_plain_mean_over_benchmarks_and_breakdowns():
    records = [
        {"benchmark": "vqa-rad", "question_type": "yes_no", "correct": True, "modality": "CT", "verdict": "correct"},
        {"benchmark": "pathvqa", "question_type": "yes_no", "correct": False, "modality": "", "verdict": "incorrect"},
        {"benchmark": "pathvqa", "question_type": "open", "correct": False, "modality": "", "verdict": "unanswered",
         "exact_match": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.5, "bleu1": 0.0, "judge": None},
        {"benchmark": "pathvqa", "question_type": "open", "correct": False, "modality": "", "verdict": "incorrect",
         "exact_match": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "bleu1": 0.0, "judge": False},
    ]
    scores = aggregate(records)
    assert scores["average"] == pytest.approx(0.5)  # (1.0 + 0.0) / 2, not 1/4 over questions
    assert scores["order"] == ["vqa-rad", "pathvqa"]
    path = scores["benchmarks"]["pathvqa"]
    assert (path["n"], path["unanswered"], path["open"]["f1"], path["open"]["judged"]) == (3, 1, 0.25, 1)
    assert "by_modality" in scores["benchmarks"]["vqa-rad"] and "by_modality" not in path
    assert scores["by_question_type"]["yes_no"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    with pytest.raises(ParameterError, match="empty"):
        aggregate([])
    with pytest.raises(ParameterError, match="lacks"):
        aggregate([{"benchmark": "slake", "correct": True}])


# ---- MedEvalKit's known bugs, each shown absent ---------------------------------------------

def test_bug_f1_order_and_empty_return():
    scores = token_scores("left upper lung", "left lung")
    precision, recall, f1 = scores  # unpacking in the documented order gives the right values
    assert (precision, recall, f1) == (scores.precision, scores.recall, scores.f1)
    assert precision < recall and f1 == pytest.approx(0.8)
    empty = token_scores("", "left lung")
    assert empty == (0.0, 0.0, 0.0) and all(isinstance(v, float) for v in empty)
    assert isinstance(empty, TokenScores)


def test_bug_modules_import_without_any_api_key():
    env = {k: v for k, v in os.environ.items() if "KEY" not in k.upper() and "TOKEN" not in k.upper()}
    code = ("import sys, infimed_lib.eval.scoring, infimed_lib.data.benchmark_prompts, infimed_lib.eval.aggregate; "
            "assert 'openai' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _pathvqa_and_slake():
    return [
        (make_item(benchmark="pathvqa", id="p1", answer="yes", question_type="yes_no"), "yes"),
        (make_item(benchmark="pathvqa", id="p2", answer="no", question_type="yes_no"), "no"),
        (make_item(benchmark="pathvqa", id="p3", answer="necrosis", question_type="open"), "fibrosis"),
        (make_item(benchmark="slake", id="s1", answer="yes", question_type="closed"), "yes"),
        (make_item(benchmark="slake", id="s2", answer="liver", question_type="closed"), "liver"),
        (make_item(benchmark="slake", id="s3", answer="left", question_type="open"), "the left side"),
    ]


@pytest.mark.parametrize("rules", ["strict", "medevalkit"])
def test_bug_closed_questions_never_reach_the_judge_and_keep_their_counts(rules):
    calls = []

    def judge(question, answer, gold):
        calls.append(gold)
        return True

    pairs = _pathvqa_and_slake()
    plain = aggregate([score_item(item, r, rules=rules) for item, r in pairs])
    judged = aggregate([score_item(item, r, rules=rules, judge=judge) for item, r in pairs])
    assert sorted(calls) == ["left", "necrosis"]  # only the open questions were judged
    for name, closed_type in (("pathvqa", "yes_no"), ("slake", "closed")):
        before = plain["benchmarks"][name]["by_question_type"][closed_type]
        after = judged["benchmarks"][name]["by_question_type"][closed_type]
        assert before == after == {"n": 2, "correct": 2, "accuracy": 1.0}  # not zeroed, not doubled
        assert judged["benchmarks"][name]["n"] == 3
        assert judged["benchmarks"][name]["correct"] == 3  # 2 closed + 1 judged open, each once


def test_bug_medxpertqa_options_listed_once():
    question = ("A 45-year-old man has a painful rash. What is the diagnosis? "
                "Answer Choices: (A) Psoriasis (B) Eczema (C) Herpes zoster (D) Tinea (E) Urticaria")
    options = {"A": "Psoriasis", "B": "Eczema", "C": "Herpes zoster", "D": "Tinea", "E": "Urticaria"}
    item = make_item(benchmark="medxpertqa-mm", question=question, options=options, answer="C",
                     question_type="multiple_choice")
    for reasoning in (False, True):
        prompt = build_prompt(item, reasoning=reasoning)
        assert all(prompt.count(text) == 1 for text in options.values())
        assert "Options:" not in prompt and prompt.count("(C)") == 1
    bare = make_item(benchmark="medxpertqa-mm", question="What is the diagnosis?", options=options, answer="C",
                     question_type="multiple_choice")
    assert "C. Herpes zoster" in build_prompt(bare)  # listed when the question lacks them
