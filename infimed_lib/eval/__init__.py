"""Evaluation on the seven medical benchmarks, under two rule sets (Chapter 08).

The questions come from ``data.benchmark_prompts`` (the book's layout or MedEvalKit's; re-exported
here); ``extract``/``answers``/``scoring``/``mmmu``/``text_metrics`` turn answers into verdicts under
the ``strict`` rules, and ``medevalkit`` under MedEvalKit 9b12e3b's; ``human_grades`` measures both
against a human grade; ``aggregate``/``summary`` turn verdicts into scores; ``eval_config`` holds a
run's settings, ``generate`` and ``run`` drive a checkpoint over
the benchmarks, ``baselines`` gives the majority-class answers, ``judge`` the optional LLM
judge of open questions and ``uncertainty`` bootstrap intervals of the scores; ``lookup`` probes whether a model can find
an option's letter at all when the question names the option; ``diagnostics`` (with ``probes`` and
``attention_share``) asks where the image signal is lost between the pixels and the answer.
"""
from infimed_lib.data.benchmark_prompts import LAYOUTS, build_prompt, medevalkit_text, prompt_images
from infimed_lib.eval.aggregate import aggregate
from infimed_lib.eval.baselines import MAJORITY_DEFINITION, majority_answers, majority_responses
from infimed_lib.eval.diagnostics import (attention_share_by_checkpoint, benchmark_captions, benchmark_modalities,
                                          closed_items, diagnostic_headline, image_attention_share, image_swap_test, linear_probes, oracle_caption_test,
                                          probe_images, swap_pairs)
from infimed_lib.eval.extract import extract_choice, parse_response
from infimed_lib.eval.human_grades import load_graded, rule_agreement, rule_disagreements, score_graded
from infimed_lib.eval.judge import JudgeRejected, LLMJudge, make_open_judge, parse_judge_reply
from infimed_lib.eval.lookup import (chance_level, lookup_headline, lookup_items, lookup_probe, lookup_records,
                                     lookup_table)
from infimed_lib.eval.run import (EvalConfig, EvalResult, benchmark_folders, eval_name, evaluate, evaluate_majority,
                                  load_for_eval, load_scores)
from infimed_lib.eval.scoring import RULES, score_item, score_items
from infimed_lib.eval.summary import (CLOSED_TYPES, benchmark_overview, breakdown_table, compare_breakdown,
                                      example_prompts, open_metrics_table, records_under, rules_table,
                                      scores_table, scores_under, summarize_records, unanswered_share)
from infimed_lib.eval.uncertainty import Interval, closed_verdicts, macro_interval, margin_interval, record_verdicts
from infimed_lib.eval.validation import answer_and_score, validation_items, validation_table

__all__ = [
    "JudgeRejected", "LAYOUTS", "RULES", "load_graded", "medevalkit_text", "records_under", "rule_agreement",
    "rule_disagreements", "rules_table", "score_graded", "scores_under",
    "CLOSED_TYPES", "EvalConfig", "attention_share_by_checkpoint", "benchmark_captions", "benchmark_modalities",
    "closed_items", "diagnostic_headline", "image_attention_share", "image_swap_test", "linear_probes", "oracle_caption_test", "probe_images", "swap_pairs", "chance_level", "load_for_eval", "lookup_headline", "lookup_items", "lookup_probe",
    "lookup_records", "lookup_table", "EvalResult", "Interval", "LLMJudge", "MAJORITY_DEFINITION", "aggregate", "benchmark_overview",
    "benchmark_folders", "breakdown_table", "build_prompt", "closed_verdicts", "compare_breakdown", "eval_name", "evaluate", "evaluate_majority", "example_prompts",
    "extract_choice", "load_scores", "macro_interval", "majority_answers", "majority_responses", "make_open_judge",
    "margin_interval", "open_metrics_table",
    "parse_judge_reply", "parse_response", "prompt_images", "score_item", "score_items",
    "scores_table", "summarize_records", "unanswered_share",
    "answer_and_score", "record_verdicts", "validation_items", "validation_table",
]
