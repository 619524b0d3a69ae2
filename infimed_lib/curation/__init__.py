"""Data curation with the paper's five-dimension quality assessment (section 3.2, Appendix A.2).

Chapter 01 (data curation) walks through it: sample each dataset, ask a judge to score every
sample on the A.2 rubric, parse the replies, summarise per dataset, keep or drop datasets, and
measure the judge against the bundled corpus's injected defects.

Modules: ``rubric`` (dimensions, prompt, rendering), ``parse`` (reading replies), ``judges``
(the protocol, the local transformers judge), ``openai_client`` (the judge behind an
OpenAI-compatible endpoint, through ``data.chat_client``), ``reference_judge`` /
``reference_rules`` / ``reference_lexicon`` (the offline judge), ``assess`` (sampling, cache,
resume), ``selection`` (summaries, thresholds, keep-list), ``defect_agreement`` (kappa, ground
truth), ``curation_config`` and ``curation_steps`` (notebook 01); its figures are in
``report.curation_figures``.
"""
from infimed_lib.curation.assess import JudgeRejectedError, JudgementCache, assess, cache_key, list_sources, sample_corpus, sample_source, write_judgements
from infimed_lib.curation.curation_config import CurationConfig, JudgeSpec, make_judge
from infimed_lib.curation.defect_agreement import compare_with_ground_truth, judge_agreement, load_defect_labels, weighted_kappa
from infimed_lib.curation.judges import Judge, JudgeError, JudgeReply, RequestRejected, TransformersJudge
from infimed_lib.curation.openai_client import ChatClient, ChatResult, OpenAIJudge
from infimed_lib.curation.parse import parse_judgement
from infimed_lib.curation.reference_judge import ReferenceJudge
from infimed_lib.curation.rubric import (
    DIMENSIONS, IMAGING, OVERALL, SCORE_KEYS, SHORT_NAMES, apply_no_image_rule, load_prompt_template,
    prompt_hash, render_prompt, render_sample,
)
from infimed_lib.curation.selection import (
    Thresholds, build_keep_list, dataset_summary, flag_samples, judgements_frame, read_keep_list,
    score_distribution, write_keep_list,
)

__all__ = [
    "ChatClient", "ChatResult", "CurationConfig", "DIMENSIONS", "IMAGING", "Judge", "JudgeError", "JudgeReply",
    "JudgeRejectedError", "JudgeSpec", "JudgementCache", "OVERALL", "OpenAIJudge", "ReferenceJudge", "RequestRejected", "SCORE_KEYS", "SHORT_NAMES",
    "Thresholds", "TransformersJudge", "apply_no_image_rule", "assess", "build_keep_list", "cache_key",
    "compare_with_ground_truth", "dataset_summary", "flag_samples", "judge_agreement", "judgements_frame",
    "list_sources", "load_defect_labels", "load_prompt_template", "make_judge", "parse_judgement", "prompt_hash",
    "read_keep_list", "render_prompt", "render_sample", "sample_corpus", "sample_source", "score_distribution",
    "weighted_kappa", "write_judgements", "write_keep_list",
]
