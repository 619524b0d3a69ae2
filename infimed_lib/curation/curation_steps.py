"""The curation step end to end, in the pieces notebook 01 calls (Chapter 01, data curation).

Files written under ``<run_dir>/curation/``: ``config.json``, ``cache.jsonl`` (the resumable
journal of every judge's answers), ``judgements.jsonl`` (and ``judgements_second.jsonl``),
``summary.csv``, ``keep_list.json``, ``metrics.json`` and the figures.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from infimed_lib.common import atomic_write_json, atomic_write_text, require_path, write_config
from infimed_lib.curation.assess import assess, list_sources, sample_corpus, write_judgements
from infimed_lib.curation.curation_config import CurationConfig, JudgeSpec, make_judge
from infimed_lib.curation.parse import reply_comments
from infimed_lib.curation.rubric import load_prompt_template, prompt_hash
from infimed_lib.curation.selection import SCORE_COLUMNS


def prepare(config: CurationConfig) -> tuple[Path, str]:
    """Check the corpus, create the output folder, write the config; return the folder and the
    prompt template. A missing corpus names ``corpus_dir`` (chapter 00 makes the bundled one). Chapter 01."""
    require_path("corpus_dir", config.corpus_dir, kind="dir")
    template = load_prompt_template(config.prompt_path or None)
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    write_config(config, out)
    return out, template


def draw_samples(config: CurationConfig) -> tuple[list[dict], pd.DataFrame]:
    """The assessment sample and a table of how many rows each source gave. Chapter 01."""
    samples = sample_corpus(config.corpus_dir, config.samples_per_dataset, config.seed, tuple(config.families))
    counts = pd.Series([s["source"] for s in samples]).value_counts().sort_index()
    table = pd.DataFrame({"sampled": counts, "family": {s["source"]: s.get("family") for s in samples}})
    return samples, table.rename_axis("source")


def run_judge(config: CurationConfig, spec: JudgeSpec, samples: Sequence[dict], template: str,
              name: str = "judgements", progress: bool = True) -> list[dict]:
    """Build the judge, assess every sample through the shared cache, write ``<name>.jsonl``. Chapter 01."""
    judge = make_judge(spec, samples)
    records = assess(samples, judge, config.out_dir / "cache.jsonl", template=template,
                     corpus_root=config.corpus_dir, concurrency=spec.concurrency, progress=progress)
    write_judgements(records, config.out_dir / f"{name}.jsonl")
    return records


def status_counts(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many judgements succeeded, could not be parsed, or got no answer. Chapter 01."""
    counts = {"ok": 0, "parse_error": 0, "request_error": 0}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    return counts


def example_reply(records: Sequence[Mapping[str, Any]], samples: Sequence[dict], index: int = 0) -> tuple[dict, pd.DataFrame]:
    """The ``index``-th successfully judged sample and a table of its scores and the judge's
    comments, for display. Chapter 01."""
    judged = [r for r in records if r["status"] == "ok"]
    if not judged:
        raise ValueError("no sample was judged successfully; see the 'error' field in judgements.jsonl")
    record = judged[index % len(judged)]
    sample = next(s for s in samples if s["id"] == record["sample_id"])
    comments = reply_comments(record["raw"])
    table = pd.DataFrame({"score": record["scores"], "comment": {k: comments.get(k, "") for k in record["scores"]}})
    return sample, table


def all_source_names(corpus_dir: str) -> list[str]:
    return sorted(list_sources(corpus_dir, None))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_outputs(config: CurationConfig, template: str, summary: pd.DataFrame, keep_list: Mapping[str, Any],
                  statuses: Mapping[str, int], truth: Mapping[str, Any] | None = None,
                  agreement: pd.DataFrame | None = None) -> dict[str, Any]:
    """Write ``summary.csv`` and ``metrics.json`` (what later chapters and the book read). Chapter 01."""
    atomic_write_text(config.out_dir / "summary.csv", summary.round(4).to_csv())
    metrics: dict[str, Any] = {
        "judge_id": keep_list["judge_id"], "prompt_hash": prompt_hash(template),
        "samples_per_dataset": config.samples_per_dataset, "judgements": dict(statuses),
        "kept": keep_list["keep"], "dropped": keep_list["drop"], "undecided": keep_list["undecided"],
        "dataset_means": summary[list(SCORE_COLUMNS)].round(4).to_dict(orient="index"),
        "flagged_fraction": summary["flagged_fraction"].round(4).to_dict(),
    }
    if truth is not None:
        metrics["ground_truth"] = {
            "samples": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in truth["samples"].items()},
            "flag_rate_by_defect": truth["by_defect"]["flag_rate"].round(4).to_dict(),
            "datasets": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in truth["datasets"].items()},
        }
    if agreement is not None:
        metrics["agreement"] = agreement.round(4).to_dict(orient="index")
    metrics = _clean(metrics)
    atomic_write_json(config.out_dir / "metrics.json", metrics)
    return metrics
