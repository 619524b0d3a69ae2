"""Where is the image signal lost? Four measurements on a trained model (Chapter 08).

A model that answers image questions near chance may fail at any step between the pixels and
the answer. Each measurement here isolates one step:

* :func:`~infimed_lib.eval.probes.linear_probes`: do the vision tower's and the projector's
  features carry the findings at all (a linear probe reads them)?
* :func:`image_swap_test`: does the model's answer depend on the image? The same questions are
  asked with their own image and with another image of the same benchmark and modality.
* :func:`oracle_caption_test`: can the language model answer when it is *told* the finding?
  The image marker is replaced by a line describing the image's true findings.
* :func:`~infimed_lib.eval.attention_share.image_attention_share`: how much attention does the
  position where the answer starts pay to the image tokens, layer by layer?

Prompts, generation and scoring are the evaluation's own (``generate.build_prompts``,
``generate.iter_answers``, ``scoring.score_item``), so these numbers sit on the same scale as
chapter 08's scores.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from infimed_lib.common import ParameterError, read_jsonl, require_path
from infimed_lib.data.benchmark_prompts import IMAGE_MARKER, build_prompt
from infimed_lib.data.benchmarks import BENCHMARKS
from infimed_lib.data.tokenizer import encode_prompt
from infimed_lib.eval.attention_share import attention_share_by_checkpoint, attention_shares, image_attention_share
from infimed_lib.eval.generate import (DEFAULT_MAX_NEW_TOKENS, Prompt, build_prompts, cpu_threads, iter_answers,
                                       resolve_max_new_tokens)
from infimed_lib.eval.probes import FACETS, FEATURE_SETS, fit_probe, linear_probes, probe_features, probe_images
from infimed_lib.eval.scoring import score_item
from infimed_lib.eval.summary import CLOSED_TYPES

__all__ = ["FACETS", "FEATURE_SETS", "attention_share_by_checkpoint", "attention_shares",
           "benchmark_captions", "benchmark_modalities", "caption_prompts", "closed_items", "diagnostic_headline",
           "fit_probe", "image_attention_share", "image_swap_test", "linear_probes", "oracle_caption_test",
           "probe_features", "probe_images", "swap_pairs"]

FINDINGS_FILE = "findings.jsonl"  # the corpus's sidecar beside each miniature benchmark
CAPTION_TEMPLATE = "Image: {caption}."


def closed_items(items: Sequence) -> list:
    """The items with a closed question type (multiple choice, yes/no, closed) and an image (Chapter 08)."""
    return [item for item in items if item.question_type in CLOSED_TYPES and item.images]


def _group_key(item, modalities: Mapping | None) -> tuple:
    modality = (modalities or {}).get((item.benchmark, item.id), item.modality)
    return item.benchmark, modality, len(item.images)


def swap_pairs(items: Sequence, seed: int = 0, modalities: Mapping[tuple[str, str], str] | None = None) -> dict[int, int]:
    """``{index: partner index}``: whose images each closed item gets in the swap test (Chapter 08).

    Partners share the benchmark, the modality (``modalities[(benchmark, id)]`` when given, e.g.
    from :func:`benchmark_modalities`, else ``item.modality``) and the number of images. Within
    each group a seeded random order is shifted by one place, so no item keeps its own image;
    an item alone in its group has no partner and is left out.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", f"expected an int, got {seed!r}")
    groups: dict[tuple, list[int]] = {}
    for index, item in enumerate(items):
        if item.question_type in CLOSED_TYPES and item.images:
            groups.setdefault(_group_key(item, modalities), []).append(index)
    rng, pairs = np.random.default_rng(seed), {}
    for key in sorted(groups, key=str):
        members = [groups[key][i] for i in rng.permutation(len(groups[key]))]
        if len(members) > 1:
            pairs.update({a: b for a, b in zip(members, members[1:] + members[:1])})
    return dict(sorted(pairs.items()))


def _answers(model, tokenizer, prompts: Sequence[Prompt], items: Sequence, batch_size: int, max_new_tokens,
             num_threads: int, seed: int, desc: str) -> list[dict]:
    """Score records of ``prompts`` (``prompts[i]`` asks ``items[i]``), generated and scored as chapter 08 does."""
    records: list[dict | None] = [None] * len(prompts)
    with cpu_threads(num_threads):
        for prompt, answer in iter_answers(model, tokenizer, prompts, batch_size=batch_size,
                                           max_new_tokens=resolve_max_new_tokens(max_new_tokens), desc=desc):
            records[prompt.index] = score_item(items[prompt.index], answer, seed=seed)
    return records


def _check_items(items: Sequence) -> None:
    if not items or isinstance(items, (str, bytes)):
        raise ParameterError("items", "is empty; give benchmark items (load_benchmark)")


def image_swap_test(model, tokenizer, items: Sequence, seed: int = 0,
                    modalities: Mapping[tuple[str, str], str] | None = None, *, batch_size: int = 16,
                    max_new_tokens: int | Mapping[str, int] = DEFAULT_MAX_NEW_TOKENS, reasoning: bool = False,
                    num_threads: int = 0) -> pd.DataFrame:
    """Closed questions answered with their own image and with a partner's (:func:`swap_pairs`) (Chapter 08).

    One row per benchmark plus ``"all"`` (every item pooled): ``benchmark, n, own_image_accuracy_pct,
    swapped_image_accuracy_pct, answers_changed_pct, responses_changed_pct``. An answer "changes"
    when what the scoring rules read from it (letter, yes/no, normalised phrase) differs; a
    response when its raw text does (a model may react to the image in words the rules cannot
    read). A model that reads its images changes many answers and loses accuracy; one that
    ignores them changes none.
    """
    _check_items(items)
    pairs = swap_pairs(items, seed, modalities)
    if not pairs:
        raise ParameterError("items", "no two closed questions share a benchmark and modality; nothing to swap")
    own = [items[i] for i in pairs]
    swapped = [dataclasses.replace(items[i], images=list(items[j].images)) for i, j in pairs.items()]
    prompts = build_prompts(own + swapped, tokenizer, model.config.num_visual_tokens, reasoning)
    records = _answers(model, tokenizer, prompts, own + swapped, batch_size, max_new_tokens, num_threads, seed,
                       "image swap")
    frame = pd.DataFrame({"benchmark": [item.benchmark for item in own],
                          "own": [r["correct"] for r in records[:len(own)]],
                          "swapped": [r["correct"] for r in records[len(own):]],
                          "changed": [a["extracted"] != b["extracted"]
                                      for a, b in zip(records[:len(own)], records[len(own):])],
                          "reworded": [a["response"] != b["response"]
                                       for a, b in zip(records[:len(own)], records[len(own):])]})
    return _per_benchmark(frame, {"own": "own_image_accuracy_pct", "swapped": "swapped_image_accuracy_pct",
                                  "changed": "answers_changed_pct", "reworded": "responses_changed_pct"})


def _per_benchmark(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Percentages of boolean columns per benchmark (registry order) and over all rows."""
    order = [b for b in BENCHMARKS if b in set(frame["benchmark"])]
    parts = [(name, frame[frame["benchmark"] == name]) for name in order] + [("all", frame)]
    return pd.DataFrame([{"benchmark": name, "n": len(part),
                          **{label: 100 * float(part[col].mean()) for col, label in columns.items()}}
                         for name, part in parts])


def caption_prompts(items: Sequence, captions: Mapping[tuple[str, str], str], tokenizer, num_visual_tokens: int,
                    reasoning: bool = False, template: str = CAPTION_TEMPLATE) -> list[Prompt]:
    """Prompts with the image marker replaced by ``template`` filled with the item's caption (Chapter 08).

    The text is :func:`~infimed_lib.data.benchmark_prompts.build_prompt`'s, so layout and instruction are
    the benchmark's own; only the ``<image>`` marker becomes the caption line, and no image is
    attached. Every item needs exactly one image and a caption under ``(benchmark, id)``.
    """
    absent = [f"{item.benchmark}/{item.id}" for item in items if (item.benchmark, item.id) not in captions]
    if absent:
        raise ParameterError("captions", f"no caption for {len(absent)} item(s), e.g. {absent[:3]}")
    prompts = []
    for index, item in enumerate(items):
        if len(item.images) != 1:
            raise ParameterError("items", f"{item.id!r} has {len(item.images)} images; the caption test needs one")
        text = build_prompt(item, reasoning)
        text = text.replace(IMAGE_MARKER, template.format(caption=captions[(item.benchmark, item.id)]), 1)
        prompts.append(Prompt(index, item.question_type, text, encode_prompt(tokenizer, text, num_visual_tokens), []))
    return prompts


def oracle_caption_test(model, tokenizer, items: Sequence, captions: Mapping[tuple[str, str], str], *,
                        batch_size: int = 16, max_new_tokens: int | Mapping[str, int] = DEFAULT_MAX_NEW_TOKENS,
                        reasoning: bool = False, seed: int = 0, num_threads: int = 0,
                        template: str = CAPTION_TEMPLATE) -> pd.DataFrame:
    """Closed questions asked with their image and with the image's true findings as text (Chapter 08).

    ``captions`` maps ``(benchmark, id)`` to a one-line finding (:func:`benchmark_captions`);
    closed single-image items without one are left out. One row per benchmark plus ``"all"``:
    ``benchmark, n, image_accuracy_pct, caption_accuracy_pct``. Much better with the caption:
    the language model can answer and the pixels-to-language path loses the signal; near chance
    with the caption too: the language model itself is the bottleneck.
    """
    _check_items(items)
    if not isinstance(captions, Mapping):
        raise ParameterError("captions", f"expected a mapping (benchmark, id) -> text, got {type(captions).__name__}")
    asked = [item for item in closed_items(items) if len(item.images) == 1 and (item.benchmark, item.id) in captions]
    if not asked:
        raise ParameterError("captions", "covers none of the closed single-image items; check the keys "
                             "(tuples (benchmark, id)) and the benchmark folders")
    with_image = build_prompts(asked, tokenizer, model.config.num_visual_tokens, reasoning)
    with_text = caption_prompts(asked, captions, tokenizer, model.config.num_visual_tokens, reasoning, template)
    for prompt in with_text:
        prompt.index += len(asked)
    records = _answers(model, tokenizer, with_image + with_text, asked + asked, batch_size, max_new_tokens,
                       num_threads, seed, "oracle caption")
    frame = pd.DataFrame({"benchmark": [item.benchmark for item in asked],
                          "image": [r["correct"] for r in records[:len(asked)]],
                          "caption": [r["correct"] for r in records[len(asked):]]})
    return _per_benchmark(frame, {"image": "image_accuracy_pct", "caption": "caption_accuracy_pct"})


def _findings(corpus_dir: str | Path, field: str) -> dict[tuple[str, str], str]:
    root = require_path("corpus_dir", corpus_dir, "dir") / "benchmarks"
    found = {}
    for name in BENCHMARKS:
        if (root / name).is_dir():
            path = root / name / FINDINGS_FILE
            if not path.is_file():
                raise ParameterError("corpus_dir", f"{path} is missing: the corpus predates the findings sidecar "
                                     "(generator version 2); regenerate it with generate_corpus / ensure_corpus")
            found.update({(name, str(row["id"])): str(row[field]) for row in read_jsonl(path)})
    if not found:
        raise ParameterError("corpus_dir", f"{root} holds no benchmark folders")
    return found


def benchmark_captions(corpus_dir: str | Path) -> dict[tuple[str, str], str]:
    """``{(benchmark, id): finding line}`` from the miniature corpus's ``findings.jsonl`` sidecars (Chapter 08)."""
    return _findings(corpus_dir, "finding")


def benchmark_modalities(corpus_dir: str | Path) -> dict[tuple[str, str], str]:
    """``{(benchmark, id): true modality}`` of the miniature benchmarks' images, for :func:`swap_pairs` (Chapter 08).

    VQA-RAD, PathVQA, PMC-VQA and MedXpertQA record no modality in their published formats.
    """
    return _findings(corpus_dir, "modality")


def diagnostic_headline(probes: pd.DataFrame | None = None, swap: pd.DataFrame | None = None,
                        oracle: pd.DataFrame | None = None, attention: pd.DataFrame | None = None) -> dict:
    """The numbers chapter 08's prose quotes from the four diagnostics; nan and "not run" for a
    measurement that was skipped (None), so the book builds either way (Chapter 08)."""
    nan = float("nan")
    out = {"probe_n": 0, "probe_pixels": nan, "probe_tower": nan, "probe_projector": nan,
           "probe_weakest": "not run", "probe_weakest_acc": nan, "swap_n": 0, "swap_own": nan, "swap_swapped": nan,
           "swap_changed": nan, "swap_reworded": nan, "caption_n": 0, "caption_image": nan, "caption_text": nan}
    if probes is not None:
        means = probes.groupby("features")["accuracy_pct"].mean()
        weakest = probes[probes["features"] == "projector output"].nsmallest(1, "accuracy_pct").iloc[0]
        out.update(probe_n=int(probes.drop_duplicates("facet")[["n_train", "n_test"]].sum(axis=1).max()),
                   probe_pixels=float(means["pixels (pooled)"]), probe_tower=float(means["vision tower (pooled)"]),
                   probe_projector=float(means["projector output"]), probe_weakest=str(weakest["facet"]),
                   probe_weakest_acc=float(weakest["accuracy_pct"]))
    if swap is not None:
        row = swap.set_index("benchmark").loc["all"]
        out.update(swap_n=int(row["n"]), swap_own=float(row["own_image_accuracy_pct"]),
                   swap_swapped=float(row["swapped_image_accuracy_pct"]), swap_changed=float(row["answers_changed_pct"]),
                   swap_reworded=float(row["responses_changed_pct"]))
    if oracle is not None:
        row = oracle.set_index("benchmark").loc["all"]
        out.update(caption_n=int(row["n"]), caption_image=float(row["image_accuracy_pct"]),
                   caption_text=float(row["caption_accuracy_pct"]))
    for tag in ("first", "last"):
        out.update({f"attention_{tag}": "not run", f"attention_{tag}_peak": nan, f"attention_{tag}_reference": nan})
    if attention is not None and not attention.empty:
        peak = attention.groupby("checkpoint", sort=False)[["attention_on_image_pct", "image_token_share_pct"]].max()
        for tag, name in (("first", peak.index[0]), ("last", peak.index[-1])):
            out.update({f"attention_{tag}": str(name), f"attention_{tag}_peak": float(peak.loc[name].iloc[0]),
                        f"attention_{tag}_reference": float(peak.loc[name].iloc[1])})
    return out
