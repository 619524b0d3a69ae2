"""Evaluate a checkpoint (or the majority baseline) on the benchmarks; write predictions and scores.

Chapter 08 (evaluation) runs it; chapter 09 runs it once per SFT-stage combination. Layout::

    <out_dir>/config.json                   the resolved EvalConfig
    <out_dir>/<benchmark>/predictions.jsonl one record per item: prompt, raw response, verdict, both rule
                                            sets' verdicts (``verdicts``: strict and medevalkit), ...
    <out_dir>/<benchmark>/state.json        what the predictions were made from (for resuming)
    <out_dir>/scores.json                   per benchmark / question type / modality, and the mean, under
                                            ``rules``; ``rule_sets`` holds the same under each rule set
    <out_dir>/metrics.json                  the headline numbers of scores.json
    <out_dir>/timing.json                   wall-clock seconds (the only file that is not reproducible)

A benchmark whose ``state.json`` matches the current inputs (checkpoint and tokenizer bytes,
items, settings) is read back instead of generated again, so an interrupted evaluation resumes
and a chapter that re-evaluates a model another chapter already scored costs nothing. Read-back
responses are scored again (unless a judge decided them), so verdicts follow the current rules.
"""
from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from infimed_lib.common import (
    ParameterError, atomic_write_json, atomic_write_jsonl, read_json, read_jsonl, require_path,
    seed_everything, write_config,
)
from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.data.benchmarks import load_benchmark
from infimed_lib.data.tokenizer import load_tokenizer
from infimed_lib.eval.baselines import majority_responses
from infimed_lib.eval.eval_config import EvalConfig, EvalResult, folder_digest
from infimed_lib.eval.generate import DEFAULT_MAX_NEW_TOKENS, build_prompts, cpu_threads, iter_answers
from infimed_lib.eval.scoring import RULES, score_item
from infimed_lib.eval.summary import records_under, summarize_records
from infimed_lib.model import load_model

def _state(config: EvalConfig, name: str, items: list, inputs: dict) -> dict:
    ids = hashlib.sha256("\n".join(f"{item.id}\t{item.answer}" for item in items).encode()).hexdigest()
    state = {"benchmark": name, "items": len(items), "items_sha256": ids, "model": config.model, **inputs,
             "reasoning": config.reasoning, "max_new_tokens": config.max_new_tokens, "batch_size": config.batch_size,
             "seed": config.seed, "judge": config.judge, "dtype": config.dtype, "num_threads": config.num_threads}
    if config.prompts != "book":  # the default stays out, so evaluations made before the setting still resume
        state["prompts"] = config.prompts
    return state


def _resumable(folder: Path, state: dict, items: list, seed: int, judge, rules: str) -> list[dict] | None:
    """The saved records if they were made from ``state``; re-scored from their responses when no
    judge is involved, so that a fix to a scoring rule reaches old predictions without generating."""
    try:
        if read_json(folder / "state.json") != state:
            return None
        records = read_jsonl(folder / "predictions.jsonl")
    except (OSError, ValueError):
        return None
    if [r.get("id") for r in records] != [item.id for item in items]:
        return None
    if judge is not None:  # judged records are kept as they are: asking the judge again costs money
        return records if all("verdicts" in r for r in records) else None
    return [_record(item, r["prompt"], r["response"], seed, None, rules) for item, r in zip(items, records)]


def _record(item: Any, prompt_text: str, response: str, seed: int, judge, rules: str = "strict") -> dict:
    """The record under ``rules`` plus ``verdicts``: the verdict under every rule set. The judge is
    asked once; the other rule set reuses its answer."""
    record = score_item(item, response, rules=rules, seed=seed, judge=judge)
    verdicts = {rules: record["verdict"]}
    for other in RULES:
        if other != rules:
            reuse = None if judge is None else (lambda question, answer, gold, said=record.get("judge"): said)
            verdicts[other] = score_item(item, response, rules=other, seed=seed, judge=reuse)["verdict"]
    record.update(verdicts={name: verdicts[name] for name in RULES}, prompt=prompt_text, question=item.question,
                  options=dict(item.options), num_images=len(item.images))
    return record


def _load_model(config: EvalConfig):
    return load_for_eval(config.checkpoint_dir, config.tokenizer_dir, config.device, config.dtype)


def load_for_eval(checkpoint_dir: str | Path, tokenizer_dir: str | Path, device: str = "auto", dtype: str = "auto"):
    """``(model, tokenizer)`` ready to generate: cuda when available, bfloat16 on GPU (Chapter 08)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else None
    model = load_model(checkpoint_dir, dtype=dtype).to(device).eval()
    return model, load_tokenizer(tokenizer_dir)


def _model_records(config, name, items, model, tokenizer, judge) -> list[dict]:
    prompts = build_prompts(items, tokenizer, model.config.num_visual_tokens, config.reasoning, config.prompts)
    records: list[dict | None] = [None] * len(items)
    with cpu_threads(config.num_threads):
        answers = list(iter_answers(model, tokenizer, prompts, batch_size=config.batch_size,
                                    max_new_tokens=config.max_new_tokens, desc=name))
    # A remote judge answers in seconds: ask it about several answers at once (map keeps the order).
    workers = getattr(getattr(judge, "client", None), "max_concurrency", 8) if judge is not None else 1

    def score(pair):
        prompt, answer = pair
        return prompt.index, _record(items[prompt.index], prompt.text, answer, config.seed, judge, config.rules)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, record in pool.map(score, answers):
            records[index] = record
    return records


def _majority_records(config, items) -> list[dict]:
    return [_record(item, build_prompt(item, config.reasoning, config.prompts), response, config.seed, None,
                    config.rules) for item, response in zip(items, majority_responses(items))]


def _run(config: EvalConfig, judge=None) -> EvalResult:
    out = Path(config.out_dir)
    seed_everything(config.seed)
    items = {name: load_benchmark(name, path, config.limit) for name, path in config.benchmarks.items()}
    inputs = {}
    if config.model == "checkpoint":
        inputs = {"checkpoint_sha256": folder_digest(config.checkpoint_dir, ("*.safetensors", "*.bin", "config.json")),
                  "tokenizer_sha256": folder_digest(config.tokenizer_dir, ("tokenizer*.json", "*.txt", "*.model"))}
    write_config(config, out)
    model = tokenizer = None
    records, paths, resumed, seconds = {}, {}, [], {}
    for name, bench_items in items.items():
        folder, began = out / name, time.perf_counter()
        state = _state(config, name, bench_items, inputs)
        records[name] = _resumable(folder, state, bench_items, config.seed, judge, config.rules)
        if records[name] is not None:
            resumed.append(name)
            atomic_write_jsonl(folder / "predictions.jsonl", records[name])  # same bytes unless a rule changed
        elif config.model == "majority":
            records[name] = _majority_records(config, bench_items)
        else:
            if model is None:
                model, tokenizer = _load_model(config)
            records[name] = _model_records(config, name, bench_items, model, tokenizer, judge)
        if name not in resumed:
            atomic_write_jsonl(folder / "predictions.jsonl", records[name])
            atomic_write_json(folder / "state.json", state)  # written last: marks the predictions complete
        paths[name], seconds[f"{name}_seconds"] = folder / "predictions.jsonl", time.perf_counter() - began
    every = [r for name in items for r in records[name]]
    scores = summarize_records(records_under(every, config.rules))
    scores.update(model=config.model, rules=config.rules,
                  rule_sets={rules: summarize_records(records_under(every, rules)) for rules in RULES})
    if judge is not None and hasattr(judge, "stats"):
        scores["judge"] = judge.stats()
    atomic_write_json(out / "scores.json", scores)
    atomic_write_json(out / "metrics.json", {k: scores[k] for k in ("average", "closed_macro_accuracy", "n")})
    atomic_write_json(out / "timing.json", {**seconds, "total_seconds": sum(seconds.values())})
    return EvalResult(out, scores, paths, resumed, seconds)


def evaluate(checkpoint_dir: str | Path, tokenizer_dir: str | Path, benchmarks: Mapping[str, str | Path],
             out_dir: str | Path, *, batch_size: int = 8, max_new_tokens: int | Mapping[str, int] = DEFAULT_MAX_NEW_TOKENS,
             reasoning: bool = False, limit: int | None = None, judge=None, seed: int = 0,
             device: str = "auto", dtype: str = "auto", num_threads: int = 0, rules: str = "strict",
             prompts: str = "book") -> EvalResult:
    """Generate, score and summarise a checkpoint's answers on ``benchmarks`` (Chapter 08).

    ``benchmarks`` maps registry names to their published files; ``max_new_tokens`` is one
    budget or one per question type; ``reasoning`` uses the ``\\boxed{}`` prompts; ``judge``
    (e.g. :func:`~infimed_lib.eval.judge.make_open_judge`) decides open questions; ``num_threads``
    sets PyTorch's CPU threads while generating (0: unchanged); ``rules`` picks the rule set of
    the headline scores (``scores["rule_sets"]`` has both; quote "medevalkit" beside the paper's
    Table 2); ``prompts="medevalkit"`` generates with MedEvalKit's prompt text. Writes the layout
    in this module's docstring; the same inputs give byte-identical predictions and scores.
    """
    judge_id = None if judge is None else getattr(judge, "judge_id", type(judge).__name__)
    config = EvalConfig(benchmarks={k: str(v) for k, v in dict(benchmarks).items()}, out_dir=str(out_dir),
                        checkpoint_dir=str(checkpoint_dir), tokenizer_dir=str(tokenizer_dir), batch_size=batch_size,
                        max_new_tokens=max_new_tokens, reasoning=reasoning, limit=limit, seed=seed,
                        judge=judge_id, device=device, dtype=dtype, num_threads=num_threads, rules=rules,
                        prompts=prompts)
    return _run(config, judge)


def evaluate_majority(benchmarks: Mapping[str, str | Path], out_dir: str | Path, *, limit: int | None = None,
                      seed: int = 0, rules: str = "strict", prompts: str = "book") -> EvalResult:
    """The majority-class baseline, written in :func:`evaluate`'s layout (Chapter 08)."""
    config = EvalConfig(benchmarks={k: str(v) for k, v in dict(benchmarks).items()}, out_dir=str(out_dir),
                        model="majority", limit=limit, seed=seed, rules=rules, prompts=prompts)
    return _run(config)


def eval_name(checkpoint_dir: str | Path) -> str:
    """The evaluation folder name of a checkpoint: its stage folder ("runs/tiny/stage3/checkpoint" -> "stage3")."""
    path = Path(checkpoint_dir)
    return path.parent.name if path.name == "checkpoint" and path.parent.name else path.name


def load_scores(eval_dir: str | Path) -> dict:
    """``scores.json`` of a finished evaluation folder (Chapters 08-09)."""
    path = require_path("eval_dir", eval_dir, "dir") / "scores.json"
    if not path.exists():
        raise ParameterError("eval_dir", f"{eval_dir} holds no scores.json; run evaluate() first")
    return read_json(path)


def benchmark_folders(benchmarks, corpus_dir: str | Path, benchmarks_dir: str | Path = "",
                      overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Where each benchmark's files are, first match wins: an override; ``<benchmarks_dir>/<name>``
    when ``benchmarks_dir`` is given; the folder the corpus manifest records (an imported
    corpus's ``benchmarks:`` section, or the miniature corpus's own, relative to the corpus);
    else ``<corpus_dir>/benchmarks/<name>``. Chapters 08-09."""
    overrides = overrides or {}
    if benchmarks_dir:
        recorded = {}
    else:
        manifest = Path(corpus_dir) / "manifest.json"
        listed = read_json(manifest).get("benchmarks", {}) if manifest.is_file() else {}
        recorded = {name: Path(corpus_dir) / entry["path"] for name, entry in listed.items()
                    if isinstance(entry, dict) and entry.get("path")}  # an absolute path replaces the corpus
    root = Path(benchmarks_dir or Path(corpus_dir) / "benchmarks")
    return {name: str(overrides.get(name, recorded.get(name, root / name))) for name in benchmarks}
