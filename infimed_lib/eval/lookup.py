"""Option-lookup probe: can a model find the letter of an option whose text it is told? (Chapter 08)

A multiple-choice answer takes two steps: work out the answer from the image, then find that
answer among the listed options and give the letter written beside it. The benchmarks score
only the end result, so a model stuck at chance does not say which step fails. This probe
isolates the second step. Its questions have no image and name the answer outright ("Which
option says 'MRI'?"); the options are the words the benchmarks' own options use, laid out by
the same MedEvalKit prompt builder and scored by the same rules. A pretrained language model
such as the paper's Qwen3 does this almost perfectly; a model that cannot do it here cannot
answer image questions by letter either, whatever it has learned about the images.

No benchmark suite ships such a probe, so the items are generated here (a few lines); the
generation, extraction and scoring are the evaluation's own.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from infimed_lib.common import ParameterError, atomic_write_text, require_positive_int
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.benchmarks import option_letters
from infimed_lib.data.corpus.corpus_questions import VALUES
from infimed_lib.eval.generate import build_prompts
from infimed_lib.eval.generate import cpu_threads
from infimed_lib.eval.generate import iter_answers
from infimed_lib.eval.generate import resolve_max_new_tokens
from infimed_lib.eval.run import load_for_eval
from infimed_lib.eval.scoring import score_item

# The option texts the miniature benchmarks use (modalities, body parts, tissues, places, sizes,
# diagnoses), from the corpus's own question bank; a real run can pass its own with ``values``.
DEFAULT_VALUES = tuple(dict.fromkeys(value for values in VALUES.values() for value in values))
# Prompt layouts: MedEvalKit's "Options:\nA. ..." (VQA-RAD, PMC-VQA, ...) and MMMU's "(A) ...".
LAYOUTS = {"options": "pmc-vqa", "mmmu": "mmmu-med"}
MAX_OPTIONS = 5  # the most any of the seven benchmarks lists (MedXpertQA)


def lookup_items(count: int, seed: int = 0, values: Sequence[str] = DEFAULT_VALUES,
                 option_counts: Sequence[int] = (2, 3, 4, 5)) -> list:
    """``count`` text-only multiple-choice items whose question names the right option (Chapter 08).

    Layouts and option counts alternate, and the gold letter cycles through every position, so
    a blind guess among the listed options scores ``chance_level`` on average, and so does
    always answering "A" (every item has an A; later letters are missing from short lists and
    score less): exactly when ``count`` is a multiple of 480 (2 layouts x 4 option counts x
    60), within a point or two at the book's 200.
    """
    require_positive_int("count", count)
    values = list(dict.fromkeys(str(v) for v in values))
    bad = [k for k in option_counts if not isinstance(k, int) or not 2 <= k <= min(MAX_OPTIONS, len(values))]
    if not option_counts or bad:
        raise ParameterError("option_counts", f"each must be an int in [2, {min(MAX_OPTIONS, len(values))}] "
                             f"(at most one option per distinct value), got {list(option_counts)!r}")
    rng, items = np.random.default_rng(seed), []
    for index in range(count):
        layout = list(LAYOUTS)[index % len(LAYOUTS)]
        n_options = option_counts[(index // len(LAYOUTS)) % len(option_counts)]
        gold = (index // (len(LAYOUTS) * len(option_counts))) % n_options
        texts = [values[i] for i in rng.permutation(len(values))[:n_options]]
        letters = option_letters(n_options)
        options = dict(zip(letters, texts))
        items.append(BenchmarkItem(LAYOUTS[layout], f"lookup_{index:04d}", f"Which option says '{texts[gold]}'?",
                                   [], options, letters[gold], "multiple_choice", meta={"layout": layout}))
    return items


def chance_level(items: Sequence) -> float:
    """Expected accuracy of a blind guess: the mean of 1 / number of options (Chapter 08)."""
    if not items:
        raise ValueError("no lookup items given")
    return float(np.mean([1 / len(item.options) for item in items]))


def lookup_records(model, tokenizer, items: Sequence, *, reasoning: bool = False, batch_size: int = 16,
                   max_new_tokens: int | Mapping[str, int] = 8, seed: int = 0) -> pd.DataFrame:
    """Ask ``model`` every item and score its answers by the benchmarks' rules (Chapter 08).

    One row per item: layout, number of options, gold letter, the raw response, the letter
    the rules read from it and whether it is correct.
    """
    prompts = build_prompts(items, tokenizer, model.config.num_visual_tokens, reasoning)
    answers = dict((p.index, a) for p, a in iter_answers(model, tokenizer, prompts, batch_size=batch_size,
                                                           max_new_tokens=resolve_max_new_tokens(max_new_tokens),
                                                           desc="option lookup"))
    rows = []
    for index, item in enumerate(items):
        verdict = score_item(item, answers[index], seed=seed)
        rows.append({"layout": item.meta["layout"], "options": len(item.options), "gold": item.answer,
                     "response": answers[index], "extracted": verdict.get("extracted"),
                     "correct": bool(verdict["correct"])})
    return pd.DataFrame(rows)


def lookup_table(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Accuracy (%) per model and number of options, with chance and the most frequent letter (Chapter 08)."""
    rows = {}
    for name, records in results.items():
        if records.empty:
            raise ValueError(f"model {name!r} has no lookup records")
        row = {f"{k} options": 100 * group["correct"].mean() for k, group in records.groupby("options")}
        letters = records["extracted"].fillna("none").value_counts(normalize=True)
        row.update({"all": 100 * records["correct"].mean(), "chance": 100 * float((1 / records["options"]).mean()),
                    "most frequent answer": f"{letters.index[0]} ({100 * letters.iloc[0]:.0f}%)"})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def lookup_probe(checkpoints: dict[str, str], tokenizer_dir: str, items: Sequence, out_path: str | Path, *,
                 reasoning: bool = False, batch_size: int = 16, max_new_tokens: int | Mapping[str, int] = 8,
                 seed: int = 0, device: str = "auto", dtype: str = "auto", num_threads: int = 0) -> dict[str, pd.DataFrame]:
    """Run the probe for each ``name -> checkpoint folder``; all records go to ``out_path`` as CSV (Chapter 08).

    The CSV (one row per model and item, with the raw response) is written atomically, so a
    reader can audit every verdict.
    """
    results = {}
    for name, checkpoint in checkpoints.items():
        model, tokenizer = load_for_eval(checkpoint, tokenizer_dir, device, dtype)
        with cpu_threads(num_threads):
            results[name] = lookup_records(model, tokenizer, items, reasoning=reasoning, batch_size=batch_size,
                                           max_new_tokens=max_new_tokens, seed=seed)
    table = pd.concat(results, names=["model", "item"])
    atomic_write_text(out_path, table.to_csv())
    return results


def lookup_headline(summary: pd.DataFrame, model: str, count: int) -> dict:
    """The numbers chapter 08's prose quotes for ``model``; nan and "not run" when the probe was skipped."""
    if summary.empty:
        return {"lookup_n": count, "lookup_final": float("nan"), "lookup_chance": float("nan"),
                "lookup_gap": float("nan"), "lookup_side": "not run", "lookup_answer": "not run"}
    row = summary.loc[model]
    gap = float(row["all"] - row["chance"])
    return {"lookup_n": count, "lookup_final": float(row["all"]), "lookup_chance": float(row["chance"]),
            "lookup_gap": abs(gap), "lookup_side": "above" if gap >= 0 else "below",
            "lookup_answer": row["most frequent answer"]}
