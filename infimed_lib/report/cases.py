"""Case studies like the paper's Figures 4-8: one item, its image, the truth and two models' answers.

Chapter 09 (ablation and case studies) picks items where two evaluated models disagree -- one
right, the other wrong -- and shows them side by side. The paper's appendix A.6 compares its
4B model with Qwen2.5-VL-7B this way; we compare two of our own models (for example the full
SFT recipe against the pretrained-only model) from their ``predictions.jsonl`` files.
"""
from __future__ import annotations

import random
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import font_manager

from infimed_lib.common import ParameterError, read_jsonl, require_path
from infimed_lib.data.benchmark_prompts import prompt_images
from infimed_lib.data.benchmarks import load_benchmark
from infimed_lib.data.images import load_image

KINDS = ("a_right_b_wrong", "b_right_a_wrong", "both_right", "both_wrong")
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei", "PingFang SC")
_KEEP = ["benchmark", "id", "question_type", "modality", "question", "options", "gold", "response", "extracted", "verdict",
         "fallback"]


def load_predictions(eval_dir: str | Path) -> pd.DataFrame:
    """Every benchmark's ``predictions.jsonl`` under an evaluation folder, as one table (Chapter 09)."""
    folder = require_path("eval_dir", eval_dir, "dir")
    files = sorted(folder.glob("*/predictions.jsonl"))
    if not files:
        raise ParameterError("eval_dir", f"{folder} holds no <benchmark>/predictions.jsonl; run evaluate() first")
    frame = pd.DataFrame([row for file in files for row in read_jsonl(file)])
    if "fallback" not in frame.columns:
        frame["fallback"] = None
    return frame[[c for c in _KEEP if c in frame.columns]]


def compare_predictions(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Items both models answered, with ``_a``/``_b`` columns and a ``kind`` from :data:`KINDS` (Chapter 09).

    An MMMU answer that is correct only by the official parser's random guess (the answer named
    no option) counts as not right here: a case study should show what a model knew.
    """
    shared = ["benchmark", "id", "question_type", "modality", "question", "options", "gold"]
    own = ["response", "extracted", "verdict", "fallback"]
    merged = a[shared + own].merge(b[["benchmark", "id", *own]], on=["benchmark", "id"], suffixes=("_a", "_b"))
    if merged.empty:
        raise ParameterError("b", "the two prediction sets share no (benchmark, id); were they run on the same items?")
    right_a, right_b = ((merged[f"verdict_{m}"] == "correct") & (merged[f"fallback_{m}"] != "random") for m in "ab")
    merged["kind"] = [KINDS[0] if ra and not rb else KINDS[1] if rb and not ra else KINDS[2] if ra else KINDS[3]
                      for ra, rb in zip(right_a, right_b)]
    return merged


def pick_cases(a: pd.DataFrame, b: pd.DataFrame, n: int = 4, kind: str = "a_right_b_wrong", seed: int = 0) -> pd.DataFrame:
    """``n`` items of one ``kind``, spread over benchmarks (round robin), chosen by ``seed`` (Chapter 09).

    Falls back to the other disagreement kind, then to any item, when too few exist, so a
    chapter always has something to show; the ``kind`` column says which each case is.
    """
    if kind not in KINDS:
        raise ParameterError("kind", f"{kind!r} is not one of {list(KINDS)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError("n", f"expected a positive int, got {n!r}")
    merged = compare_predictions(a, b)
    rng = random.Random(seed)
    order = [kind] + [k for k in KINDS if k != kind]
    chosen: list[int] = []
    for current in order:
        pool = merged[merged["kind"] == current]
        queues = {bench: rng.sample(list(group.index), len(group)) for bench, group in pool.groupby("benchmark", sort=True)}
        while len(chosen) < n and any(queues.values()):
            for bench in sorted(queues):
                if queues[bench] and len(chosen) < n:
                    chosen.append(queues[bench].pop())
        if len(chosen) >= n:
            break
    return merged.loc[chosen].reset_index(drop=True)


def kind_summary(cases: pd.DataFrame, names: Sequence[str] = ("model A", "model B")) -> str:
    """How many cases of each kind, in words: "3 where SFT 1+2+3 is right and SFT 1 is not, ..." (Chapter 09)."""
    a, b = names
    words = {KINDS[0]: f"where {a} is right and {b} is not", KINDS[1]: f"where {b} is right and {a} is not",
             KINDS[2]: "where both are right", KINDS[3]: "where both are wrong"}
    counts = cases["kind"].value_counts()
    return ", ".join(f"{counts[kind]} {words[kind]}" for kind in KINDS if kind in counts) or "none"


def case_table(cases: pd.DataFrame, names: Sequence[str] = ("model A", "model B")) -> pd.DataFrame:
    """The cases as a readable table: question, truth, each model's answer and verdict (Chapter 09)."""
    name_a, name_b = names
    return pd.DataFrame({
        "benchmark": cases["benchmark"], "id": cases["id"], "question": cases["question"],
        "options": [_options_text(o) for o in cases["options"]],
        "ground truth": [_gold_text(r) for _, r in cases.iterrows()],
        f"{name_a} answer": cases["response_a"], f"{name_a} verdict": [_verdict(r, "a") for _, r in cases.iterrows()],
        f"{name_b} answer": cases["response_b"], f"{name_b} verdict": [_verdict(r, "b") for _, r in cases.iterrows()],
    })


def _options_text(options) -> str:
    return "  ".join(f"{k}: {v}" for k, v in (options or {}).items())


def _gold_text(row) -> str:
    options = row["options"] or {}
    return f"{row['gold']}: {options[row['gold']]}" if row["gold"] in options else str(row["gold"])


def case_images(cases: pd.DataFrame, benchmark_paths: Mapping[str, str | Path]) -> list:
    """The first image (in prompt order) of each case, read from its benchmark's files (Chapter 09)."""
    images, cache = [], {}
    for _, row in cases.iterrows():
        bench = row["benchmark"]
        if bench not in benchmark_paths:
            raise ParameterError("benchmark_paths", f"no path for benchmark {bench!r}")
        if bench not in cache:
            cache[bench] = {item.id: item for item in load_benchmark(bench, benchmark_paths[bench])}
        item = cache[bench].get(row["id"])
        if item is None:
            raise ParameterError("benchmark_paths", f"{bench} at {benchmark_paths[bench]} has no item {row['id']!r}")
        first = prompt_images(item)[0] if item.images else None
        images.append(None if first is None else first if hasattr(first, "size") else load_image(first))
    return images


def _verdict(row, model: str) -> str:
    verdict = row[f"verdict_{model}"]
    return "guess" if verdict == "correct" and row.get(f"fallback_{model}") == "random" else verdict


def _wrap(text: str, width: int = 70, lines: int = 6) -> str:
    wrapped = textwrap.wrap(str(text).replace("\n", " "), width) or [""]
    return "\n".join(wrapped[:lines]) + (" ..." if len(wrapped) > lines else "")


def _text_fonts() -> list[str]:
    """DejaVu Sans, then any installed font with Chinese glyphs (SLAKE asks half its questions in Chinese)."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return ["DejaVu Sans"] + [name for name in _CJK_FONTS if name in installed]


def plot_cases(cases: pd.DataFrame, images: Sequence, names: Sequence[str] = ("model A", "model B")):
    """One row per case: the image, then question, truth and both answers with ✓/✗ (Chapter 09).

    Without a font that has Chinese glyphs, SLAKE's Chinese text shows as boxes in the figure
    (the table from :func:`case_table` keeps the text).
    """
    if len(images) != len(cases):
        raise ParameterError("images", f"{len(images)} images for {len(cases)} cases")
    fig, axes = plt.subplots(len(cases), 2, figsize=(12, 3.2 * len(cases)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 3.2]})
    mark = {"correct": "✓", "incorrect": "✗", "unanswered": "✗ (no answer)", "guess": "✓ (MMMU's random guess)"}
    for (_, row), image, (ax_img, ax_txt) in zip(cases.iterrows(), images, axes):
        if image is not None:
            ax_img.imshow(image)
        ax_img.set_title(f"{row['benchmark']} · {row['id']}", fontsize=8)
        ax_img.axis("off")
        options = _options_text(row["options"])
        text = (f"Question: {_wrap(row['question'])}\n" + (f"Options: {_wrap(options)}\n" if options else "")
                + f"Ground truth: {_gold_text(row)}\n\n"
                + f"{names[0]} {mark[_verdict(row, 'a')]}: {_wrap(row['response_a'], lines=3)}\n"
                + f"{names[1]} {mark[_verdict(row, 'b')]}: {_wrap(row['response_b'], lines=3)}")
        ax_txt.text(0, 1, text, va="top", ha="left", fontsize=8.5, family=_text_fonts(), wrap=True)
        ax_txt.axis("off")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
    return fig
