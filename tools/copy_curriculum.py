"""Re-run chapter 08's copy-curriculum experiment on a finished default run (levers table, issue 16).

The option-lookup probe (chapter 08) asks text-only questions that name their answer ("Which
option says 'MRI'?"). The miniature language model starts from random weights and never learns
to copy the named word from the book's own stages. This script measures what it takes, on the
checkpoints of a finished ``make book`` run, without touching them:

1. **copy**: from the stage-2 model, text-only "repeat these words" lists and "Say 'X'." copies
   over the corpus's own vocabulary, at batch 16, until an attention head fetches earlier words
   (the loss falls from about 6 to under 0.3);
2. **stage 3 + drills**: stage 3 again, with its own mixture and config, plus as many
   name-the-option drills (16 phrasings, none of them the probe's) and copies as it has samples;
   in MMMU's layout a drill's answer quotes the option ("... best is 'MRI'."), so the copied word
   is the same token as the quoted one in the question;
3. the probe, and the closed-question margin over the majority class with its paired interval,
   scored as chapter 08 scores them.

Everything goes to ``<run_dir>/experiments/copy_curriculum/`` (``result.json`` at the end). About
eight minutes on two cores. The numbers it printed for the book's run are a row of
``infimed_lib/resources/miniature_levers.csv``.

Run: ``.venv/bin/python tools/copy_curriculum.py runs/tiny``.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infimed_lib.common import atomic_write_json, atomic_write_jsonl, read_jsonl, require_path  # noqa: E402
from infimed_lib.data.benchmarks import BENCHMARKS  # noqa: E402
from infimed_lib.data.corpus.corpus_general import NAME_OPTION, name_option_prompt  # noqa: E402
from infimed_lib.data.corpus.corpus_questions import mc_answer  # noqa: E402
from infimed_lib.eval import closed_verdicts, lookup_items, lookup_probe, lookup_table, macro_interval  # noqa: E402
from infimed_lib.eval import margin_interval  # noqa: E402
from infimed_lib.eval.generate import DEFAULT_MAX_NEW_TOKENS  # noqa: E402
from infimed_lib.eval.parallel import evaluate_many  # noqa: E402
from infimed_lib.eval.run import benchmark_folders, evaluate_majority  # noqa: E402
from infimed_lib.train import stage_config  # noqa: E402
from infimed_lib.train.stages import launch_stage  # noqa: E402
from infimed_lib.train.train_config import load_config  # noqa: E402

# Phrasings of the drill: the corpus's own four and twelve more; the probe's own ("Which option
# says 'X'?") is not among them.
PHRASES = NAME_OPTION + (
    "Which choice reads '{v}'?", "Which of these is '{v}'?", "Point to the option '{v}'.",
    "One option is written '{v}'. Which one?", "Which answer is '{v}'?", "Give the option that matches '{v}'.",
    "Look for '{v}' in the options.", "Which listed option is the word '{v}'?", "Name the choice spelled '{v}'.",
    "Which one of the options reads '{v}'?", "Tell me which option is '{v}'.", "Where is '{v}' in this list?")
COPIES = ("Say '{v}'.", "Repeat the word '{v}'.", "Write '{v}' back to me.", "Copy this: '{v}'.",
          "Which words are in quotes here: '{v}'?", "The answer is '{v}'. What is the answer?")


def corpus_vocabulary(mixtures: list[Path], min_count: int = 3) -> list[str]:
    """Words of the stage mixtures' conversations and the option texts they list, each seen ``min_count`` times."""
    words, options = collections.Counter(), collections.Counter()
    for path in mixtures:
        for sample in read_jsonl(path):
            for turn in sample["conversations"]:
                words.update(re.findall(r"[A-Za-z][A-Za-z\-]+", turn["value"]))
                options.update(m.strip() for m in re.findall(r"^[A-E]\. (.+)$", turn["value"], flags=re.M))
    kept = [w for w, c in words.items() if c >= min_count] + [o for o, c in options.items() if c >= min_count and len(o) < 30]
    return list(dict.fromkeys(kept))


def text_sample(kind: str, vocab: list[str], rng: np.random.Generator, index: int) -> dict:
    """One text-only training sample: a word list to repeat, a quoted word to copy, or a name-the-option drill."""
    if kind == "list":
        answer = " ".join(vocab[j] for j in rng.integers(0, len(vocab), int(rng.integers(3, 9))))
        question = "Repeat these words:\n" + answer
    elif kind == "copy":
        answer = vocab[int(rng.integers(0, len(vocab)))]
        question = COPIES[int(rng.integers(0, len(COPIES)))].format(v=answer)
    else:
        k = int(rng.integers(2, 6))
        gold, texts = int(rng.integers(0, k)), [vocab[j] for j in rng.permutation(len(vocab))[:k]]
        layout = "pmc-vqa" if rng.uniform() < 0.5 else "mmmu-med"
        question = name_option_prompt(PHRASES[int(rng.integers(0, len(PHRASES)))], texts, gold, layout)
        answer = mc_answer(f"'{texts[gold]}'" if layout == "mmmu-med" else texts[gold], layout)
    conversation = [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
    return {"id": f"copy_{index:06d}", "source": "copy-curriculum", "family": "general_instruction",
            "kind": "instruction", "domain": "general", "images": [], "conversations": conversation,
            "meta": {"text_only": True}}


def text_samples(count: int, shares: dict[str, float], vocab: list[str], seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    kinds, weights = list(shares), np.array(list(shares.values()), dtype=float)
    picks = rng.choice(len(kinds), size=count, p=weights / weights.sum())
    return [text_sample(kinds[k], vocab, rng, i) for i, k in enumerate(picks)]


def stage3_recipe(run: Path, **overrides):
    """The run's saved stage-3 config, its relative paths read against the run's project root."""
    saved = load_config(run / "stage3" / "config.json")
    stage_dir, recorded = str((run / "stage3").resolve()), str(Path(saved.output_dir))
    root = Path(stage_dir[: -len(recorded)] if stage_dir.endswith(recorded) else run.resolve().parents[1])
    paths = {name: str(root / getattr(saved, name)) for name in ("tokenizer_path", "image_root")
             if getattr(saved, name) and not Path(getattr(saved, name)).is_absolute()}
    return load_config(run / "stage3" / "config.json", **{**paths, **overrides})


def train_copy_then_stage3(run: Path, out: Path, copy_steps: int, drill_ratio: float, seed: int) -> Path:
    """Steps 1 and 2 of the module docstring; returns the new stage-3 checkpoint."""
    vocab = corpus_vocabulary([run / "stage2" / "mixture.jsonl", run / "stage3" / "mixture.jsonl"])
    recipe = stage3_recipe(run)
    copy = stage_config("sft3", run, seed=seed, global_batch_size=16, micro_batch_size=16,
                        learning_rate=recipe.learning_rate, num_visual_tokens=recipe.num_visual_tokens,
                        init_from=str(run / "stage2" / "checkpoint"), output_dir=str(out / "copy"))
    copy.data_path, copy.tokenizer_path, copy.image_root = str(out / "copy" / "mixture.jsonl"), recipe.tokenizer_path, recipe.image_root
    atomic_write_jsonl(copy.data_path, text_samples(copy_steps * 16, {"list": 0.7, "copy": 0.3}, vocab, seed))
    launch_stage(copy)
    stage3 = stage3_recipe(run, init_from=str(out / "copy" / "checkpoint"), output_dir=str(out / "stage3"),
                           data_path=str(out / "stage3" / "mixture.jsonl"))
    medical = list(read_jsonl(run / "stage3" / "mixture.jsonl"))
    drills = text_samples(round(drill_ratio * len(medical)), {"drill": 0.6, "copy": 0.2, "list": 0.2}, vocab, seed + 1)
    order = np.random.default_rng(seed).permutation(len(medical) + len(drills))
    atomic_write_jsonl(stage3.data_path, [(medical + drills)[i] for i in order])
    launch_stage(stage3)
    return out / "stage3" / "checkpoint"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a finished default run, e.g. runs/tiny")
    parser.add_argument("--copy-steps", type=int, default=1200, help="optimizer steps of step 1 (batch 16)")
    parser.add_argument("--drill-ratio", type=float, default=1.0, help="text-only samples added to stage 3 per medical sample")
    parser.add_argument("--out", default="", help="output folder; default <run_dir>/experiments/copy_curriculum")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run = require_path("run_dir", args.run_dir, "dir")
    for needed in ("stage2/checkpoint", "stage3/config.json", "stage3/mixture.jsonl", "tokenizer", "corpus"):
        require_path("run_dir", run / needed)
    if args.copy_steps < 1 or not args.drill_ratio >= 0:
        parser.error("--copy-steps must be >= 1 and --drill-ratio >= 0")
    out, start = Path(args.out) if args.out else run / "experiments" / "copy_curriculum", time.time()
    checkpoint = train_copy_then_stage3(run, out, args.copy_steps, args.drill_ratio, args.seed)
    tokenizer = str(run / "tokenizer")
    probe = lookup_probe({"copy curriculum": str(checkpoint)}, tokenizer, lookup_items(200, seed=args.seed),
                         out / "option_lookup.csv", max_new_tokens=DEFAULT_MAX_NEW_TOKENS, device="cpu")
    print(lookup_table(probe).to_string())
    paths = benchmark_folders(list(BENCHMARKS), run / "corpus")
    final = evaluate_many({"copy": str(checkpoint)}, tokenizer, paths, out / "eval", max_new_tokens=DEFAULT_MAX_NEW_TOKENS,
                          device="cpu", num_threads=1)["copy"]
    majority = evaluate_majority(paths, out / "eval" / "majority")
    ours, floor = closed_verdicts(final.predictions, "strict"), closed_verdicts(majority.predictions, "strict")
    closed, margin = macro_interval(ours, seed=args.seed), margin_interval(ours, floor, seed=args.seed)
    result = {"probe_pct": float(probe["copy curriculum"]["correct"].mean() * 100), "closed_macro_pct": closed.estimate,
              "margin_points": margin.estimate, "margin_low": margin.low, "margin_high": margin.high,
              "minutes": (time.time() - start) / 60, "copy_steps": args.copy_steps, "drill_ratio": args.drill_ratio}
    atomic_write_json(out / "result.json", result)
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
