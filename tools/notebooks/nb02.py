"""Builds notebooks/02_packing.ipynb (no outputs). Run from the repository root:
.venv/bin/python tools/notebooks/nb02.py"""
import sys; sys.path.insert(0, "tools")
from nbbuild import write_notebook

cells = [
("md", r"""
# 02 · Multimodal sequence packing

A pretraining corpus mixes very different samples: a one-line caption under a single image, a long
figure description, a web page with several images between its paragraphs. Training on them one
per row means padding every row to the longest sample, and most of what the model then processes is
padding. Section 3.3 of the paper {cite}`zhu2025infimedfoundation` removes that waste by
*packing*: several samples share one row of 4,096 tokens, in three steps.

1. **Measure** every sample's multimodal length: its text tokens plus the tokens that stand for
   its images (144 per image during continual pretraining).
2. **Pack** the samples into bins of at most 4,096 tokens with First-Fit-Decreasing (FFD)
   {cite}`johnson1973binpacking`: longest sample first, each into the first bin that still has room.
3. **Store** every bin as JSON, `{"data": [...], "lengths": [...]}`, with the images inlined as
   base64, so the training job reads self-contained rows.

This chapter runs the three steps on the continual-pretraining mixture and writes the shards that
[chapter 04](04_pretraining.ipynb) trains on. It also answers what the paper leaves open: how much padding packing saves
and how much the choice of algorithm matters, what happens to samples longer than a row, how the
144 or 729 visual tokens per image change the picture, and whether FFD keeps up with a corpus of
tens of millions of samples (the paper's is about 30 billion tokens).

Two deliberate differences from the Open-Qwen2VL code {cite}`wang2025openqwen2vl` the paper
follows (see `reference/anchors.md`): a sample longer than the row is never put into a bin that overflows; a
parameter decides whether it is truncated or dropped, and the count is reported. And our FFD gives
exactly the textbook result in a small multiple of the time it takes to sort the lengths, where the
usual loop over all open bins for every sample grows with samples x bins.
"""),
("params", r"""
run_dir = "runs/tiny"  # folder for everything this run writes
corpus_dir = "runs/tiny/corpus"  # the corpus folder written by chapter 00
tokenizer_dir = ""  # the tokenizer chapter 00 saved; empty means run_dir/tokenizer
seed = 0  # seed of the mixture sampling and of the synthetic lengths
cpt_mixture = {"datacomp-mini": 1.0, "ccs-mini": 1.0, "obelics-mini": 1.0, "mmc4-mini": 1.0, "llava-med-60k-im-text-mini": 1.0, "llava-med-alignment-mini": 1.0, "medtrinity-mini": 1.0, "pubmedvision-alignment-mini": 1.0, "roco-mini": 1.0, "rocov2-mini": 1.0}  # continual-pretraining mixture: source -> fraction or count (Table 4)
capacity = 4096  # tokens per packed row (paper section 3.3)
num_visual_tokens_pretrain = 144  # visual tokens per image in continual pretraining (12 x 12 pooled)
num_visual_tokens_sft = 729  # visual tokens per image in SFT (27 x 27), for comparison only
template = "plain"  # how pretraining text is rendered: "plain" (text, then <|endoftext|>) or "chat"
overlong = "truncate"  # samples longer than capacity: "truncate" (keep what fits) or "drop"
shard_bins = 64  # bins per shard file
comparison_n = 1000000  # synthetic lengths for the comparison of algorithms at scale
timing_max_n = 3000000  # largest number of synthetic lengths in the timing plot
timing_budget_s = 2.0  # an algorithm stops at sizes predicted to take longer than this
"""),
("code", r"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from infimed_lib.common import atomic_write_json, seed_everything, write_config
from infimed_lib.data.mixtures import MixtureSpec, build_mixture
from infimed_lib.data.tokenizer import encode_sample, load_tokenizer
from infimed_lib.packing import (PackingConfig, compare_algorithms, length_parts, pack_corpus, plot_comparison,
                                 plot_length_histogram, plot_timing, read_bins, synthetic_lengths, timing_curve,
                                 visual_token_effect)

seed_everything(seed)
run_dir = Path(run_dir)
out_dir = run_dir / "packing"
shard_dir = out_dir / "shards"
keep_list = run_dir / "curation" / "keep_list.json"
config = PackingConfig(capacity=capacity, num_visual_tokens=num_visual_tokens_pretrain, template=template,
                       overlong=overlong, bins_per_shard=shard_bins)
spec = MixtureSpec.from_dict(cpt_mixture, name="cpt_mixture", seed=seed)
tokenizer = load_tokenizer(tokenizer_dir or f"{run_dir}/tokenizer")
out_dir.mkdir(parents=True, exist_ok=True)
write_config(config, out_dir)
write_config(spec, out_dir, "mixture.json")
pd.set_option("display.max_colwidth", 80)
"""),
("md", r"""
## The continual-pretraining mixture

Table 4 of the paper lists general image-caption and interleaved web data (DataComp, CCS, OBELICS,
MMC4) and medical caption data (LLaVA-Med, MedTrinity, PubMedVision, ROCO) for continual
pretraining. The miniature corpus has one small stand-in source for each. When
[chapter 01](01_curation.ipynb) has written a keep-list, the sources its quality assessment rejected are left out here.
"""),
("code", r"""
mixture = build_mixture(spec, corpus_dir, keep_list if keep_list.exists() else None)
samples = mixture.samples
glue("n_samples", len(samples), display=False)
mixture.table()
"""),
("md", r"""
## Step 1: multimodal length

A sample's length is what the model will actually see: its text rendered by the template and
tokenized, plus one placeholder token for every visual token of every image. The text part does not
depend on the number of visual tokens, so we tokenize once and derive both the pretraining length
(144 per image) and the SFT length (729 per image). All text pieces of a batch go to the tokenizer in
one call, which matters for tens of millions of samples; the check below confirms that the batched
numbers equal encoding the samples one at a time.
"""),
("code", r"""
text_tokens, num_images = length_parts(tokenizer, samples, template, progress=True)
lengths_pretrain = text_tokens + num_images * num_visual_tokens_pretrain
lengths_sft = text_tokens + num_images * num_visual_tokens_sft
one_by_one = [len(encode_sample(tokenizer, s, num_visual_tokens_pretrain, template)) for s in samples[:300]]
assert one_by_one == lengths_pretrain[:300].tolist(), "batched lengths disagree with encode_sample"
by_kind = pd.DataFrame({"kind": [s["kind"] for s in samples], "images": num_images,
                        "text tokens": text_tokens, "length [tokens]": lengths_pretrain})
by_kind.groupby("kind").agg(["mean", "max"]).round(1)
"""),
("figure", r"""
ax = plot_length_histogram({f"{num_visual_tokens_pretrain} visual tokens per image": lengths_pretrain,
                            f"{num_visual_tokens_sft} visual tokens per image": lengths_sft}, capacity)
ax.set_title("Multimodal length of the continual-pretraining samples")
ax.figure.savefig(out_dir / "length_histogram.png", bbox_inches="tight", dpi=120)
glue("fig-length-histogram", ax.figure, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-length-histogram
:name: "fig-length-histogram"

How long the pretraining samples are, measured both ways, against the row length (the dashed
line). At 144 tokens per image the lengths bunch well below one row, which is what lets several
samples share a row. At 729 the whole distribution moves right, because the image tokens dominate,
and a sample with several images no longer fits in a row at all.
```

## 144 or 729 tokens per image

Section 4 of the paper pools the 729 SigLIP patch features of an image to 144 tokens for
pretraining and keeps all 729 for fine-tuning. For packing, the image tokens dominate: the table
shows the same samples measured both ways, the share of all tokens that are image placeholders,
how many samples would no longer fit in one row, and how many packed rows the mixture needs.
"""),
("code", r"""
visual = visual_token_effect(text_tokens, num_images, capacity, (num_visual_tokens_pretrain, num_visual_tokens_sft))
glue("row_ratio", float(visual["rows"].iloc[1] / visual["rows"].iloc[0]), display=False)
glue("overlong_sft", int(visual["overlong_samples"].iloc[1]), display=False)
visual.rename(columns={"image_share_pct": "image share [%]", "fill_pct": "fill [%]"}).set_index("visual_tokens_per_image")
"""),
("md", r"""
With 729 tokens per image the same mixture needs {glue:text}`row_ratio:.1f` times as many rows, and
{glue:text}`overlong_sft` samples would no longer fit in one row (a real interleaved web page with
six or more images would not). That is one reason the paper pretrains at 144 tokens per image: the
compute per sample drops by about the same factor.

## Step 2: pack with First-Fit-Decreasing

FFD sorts the samples by length, longest first, and puts each into the lowest-numbered row that
still has room, opening a new row only when none has. Our implementation (`infimed_lib.packing.ffd`)
returns exactly what that loop returns, with ties broken by the original order, and the tests compare
it against a plain item-by-item version on thousands of random inputs with many equal lengths. Its
speed comes from two facts about lengths: they are small integers, so sorting is counting, and all
samples of one length arrive together, so FFD can fill a row with several of them in one step and
needs one search per (length, row) rather than per sample.

First the over-long samples: with the `overlong` parameter set to `truncate`, a sample keeps the
longest beginning that fits (text cut at a token boundary, never an image cut in half); with `drop` it
is left out. Either way the number is reported and stored with the shards.
"""),
("code", r"""
result = pack_corpus(samples, tokenizer, config, shard_dir, progress=True)
glue("rows", result.stats["rows"], display=False)
glue("lower_bound", result.stats["lower_bound_rows"], display=False)
glue("fill_pct", 100 * result.stats["fill_ratio"], display=False)
glue("overlong_count", result.overlong["overlong"], display=False)
report = {key: value for key, value in result.overlong.items() if not key.endswith("_ids")}
pd.concat([pd.Series(result.stats), pd.Series(report)]).to_frame("value")
"""),
("md", r"""
The {glue:text}`n_samples` samples fill {glue:text}`rows` rows of {glue:text}`lower_bound` that the
total length requires at the very least; {glue:text}`fill_pct:.2f`% of all row positions hold real
tokens. {glue:text}`overlong_count` samples were longer than a row.

## Step 3: the shards

Every bin becomes one line of a shard file, in the paper's layout: `data` holds the samples
(schema of CONTRIBUTING.md, images inlined as `data:image/png;base64,...`) in the order FFD placed
them, `lengths` their multimodal lengths. A manifest records the capacity, the visual tokens per
image, the template, a fingerprint of the tokenizer and a sha256 per shard. Reading the shards back
checks every bin: the lengths fit the row, every image decodes, and every recorded length equals the
length recomputed with the tokenizer. Any mismatch stops with the file and bin named, so
[chapter 04](04_pretraining.ipynb) cannot silently train on a stale or edited shard. The first bin:
"""),
("code", r"""
packed = list(read_bins(shard_dir, tokenizer=tokenizer))
assert len(packed) == result.manifest["num_bins"] and sum(len(b["data"]) for b in packed) == len(result.samples)
first = packed[0]
pd.DataFrame({"id": [s["id"] for s in first["data"]], "source": [s["source"] for s in first["data"]],
              "images": [len(s["images"]) for s in first["data"]], "length [tokens]": first["lengths"]})
"""),
("md", r"""
In training ([chapter 04](04_pretraining.ipynb)) the samples of a bin are concatenated into one
row, but each keeps its own positions, starting again at 0, and attends only to itself
([chapter 03](03_model.ipynb) draws the mask). Open-Qwen2VL {cite}`wang2025openqwen2vl` (and nanoVLM) let packed
samples attend to each other, which quietly changes what is learned; the training library tests
that a packed row gives the same per-sample loss as the samples run one by one.

## How much the algorithm matters

The table compares FFD with what else is in use: no packing (every sample padded to the longest),
next-fit (fill the current row, start a new one when the next sample does not fit), first-fit in the
original order, best-fit-decreasing, and the greedy knapsack LLaMA-Factory packs with (fill one row
at a time with the longest sample that still fits). `rows over bound` compares the rows used with the
least possible, the total length divided by the row length; `compute saved` is the share of processed
positions saved against padding every sample to the longest.
"""),
("code", r"""
columns = {"rows": "rows", "lower_bound_rows": "lower bound [rows]", "rows_over_lower_bound_pct": "rows over bound [%]",
           "fill_pct": "fill [%]", "padding_tokens": "padding [tokens]", "compute_saved_pct": "compute saved [%]",
           "pack_time_s": "time [s]"}
on_corpus = compare_algorithms(result.lengths, capacity)
on_corpus.set_index("algorithm")[list(columns)].rename(columns=columns).round(3)
"""),
("md", r"""
On the miniature mixture every sample is short compared with the row, so every packing method fills
its rows almost completely and only padding wastes most of the compute. Differences between the
packing methods show up when lengths spread over the whole row, as in a real corpus. Below, the same comparison on synthetic lengths: a log-normal
distribution around 500 tokens with a long tail, clipped to the row.
"""),
("code", r"""
synthetic = synthetic_lengths(comparison_n, median=500, sigma=1.0, capacity=capacity, seed=seed)
at_scale = compare_algorithms(synthetic, capacity)
extra = at_scale.set_index("algorithm")["rows_over_lower_bound_pct"]
for name, key in [("ffd", "ffd"), ("next_fit", "nf"), ("first_fit", "ff"), ("best_fit_decreasing", "bfd"), ("greedy_knapsack", "gk")]:
    glue(f"{key}_extra_pct", float(extra[name]), display=False)
at_scale.set_index("algorithm")[list(columns)].rename(columns=columns).round(3)
"""),
("figure", r"""
ax = plot_comparison(at_scale)
ax.set_title(f"{comparison_n:,} synthetic lengths, rows of {capacity} tokens")
ax.figure.savefig(out_dir / "algorithms.png", bbox_inches="tight", dpi=120)
glue("fig-algorithms", ax.figure, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-algorithms
:name: "fig-algorithms"

The methods of the table above on the synthetic lengths: the share of row positions that hold
real tokens, with the padding left written beside each bar. Padding every sample to the longest
wastes a large share of all positions; next-fit, which never returns to an earlier row, wastes
less, first-fit in the original order less still, and the three methods that place the long
samples first fill their rows almost completely.
```

FFD needs {glue:text}`ffd_extra_pct:.3f`% more rows than the lower bound; next-fit, which never
looks back, needs {glue:text}`nf_extra_pct:.1f`% more, and first-fit in the original order
{glue:text}`ff_extra_pct:.2f`%. Best-fit-decreasing ({glue:text}`bfd_extra_pct:.3f`%) and the greedy
knapsack ({glue:text}`gk_extra_pct:.3f`%) land next to FFD: all three place the long samples first
and fill the gaps with short ones, and on this distribution that matters more than which gap a
sample goes into. What separates them at the paper's scale is time.

## Time against corpus size

Each algorithm runs on growing synthetic corpora, after one warm-up call so that compiling the
kernels is not counted; `numpy_sort` (sorting the same lengths) is the yardstick. An algorithm stops
when its own earlier timings predict more than `timing_budget_s` seconds for the next size: the
item-by-item FFD (`linear_scan_ffd`, what a plain loop over all open rows does) grows with
samples x rows and drops out early.
"""),
("code", r"""
sizes = np.unique(np.geomspace(1000, timing_max_n, 8).astype(int))
timing = timing_curve(sizes, capacity=capacity, seed=seed, budget_s=timing_budget_s)
largest = timing[timing["n"] == timing["n"].max()].set_index("algorithm")["seconds"]
glue("largest_n", int(timing["n"].max()), display=False)
glue("ffd_over_sort", float(largest["ffd"] / largest["numpy_sort"]), display=False)
timing.pivot(index="n", columns="algorithm", values="seconds")
"""),
("figure", r"""
ax = plot_timing(timing)
ax.set_title("Packing time against number of samples")
ax.figure.savefig(out_dir / "timing.png", bbox_inches="tight", dpi=120)
glue("fig-packing-timing", ax.figure, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-packing-timing
:name: "fig-packing-timing"

Seconds per call against the number of samples, both axes logarithmic, measured on this machine.
Compare each line's slope with that of `numpy_sort` (dotted): a parallel line grows like sorting,
a steeper one faster. Our `ffd` is the thick line; `linear_scan_ffd`, the plain loop over all open
rows, climbs steeply and stops early, once its next size would pass the time budget.
```

At {glue:text}`largest_n` samples our FFD takes {glue:text}`ffd_over_sort:.1f` times as long as
sorting the lengths with NumPy. `benchmarks/bench_ffd.py` repeats the measurement at 10 million
lengths and against the `binpacking` package from PyPI; the README quotes its numbers.

## What this step leaves for the next ones
"""),
("code", r"""
metrics = {"samples_in": len(samples), "packing": result.stats, "overlong": result.overlong,
           "shards": {k: result.manifest[k] for k in ("num_bins", "num_samples", "num_tokens", "capacity", "num_visual_tokens")}
           | {"files": len(result.manifest["shards"])},
           "visual_tokens": visual.to_dict(orient="records"),
           "algorithms_corpus": on_corpus.drop(columns="pack_time_s").to_dict(orient="records"),
           "algorithms_synthetic": at_scale.drop(columns="pack_time_s").to_dict(orient="records")}
atomic_write_json(out_dir / "metrics.json", metrics)
atomic_write_json(out_dir / "timing.json", {"curve": timing.to_dict(orient="records"), "steps_seconds": result.seconds,
                                            "algorithms_corpus_seconds": dict(zip(on_corpus["algorithm"], on_corpus["pack_time_s"])),
                                            "algorithms_synthetic_seconds": dict(zip(at_scale["algorithm"], at_scale["pack_time_s"]))})
print(f"{result.manifest['num_bins']} bins in {len(result.manifest['shards'])} shard files under {shard_dir}")
"""),
]

write_notebook("notebooks/02_packing.ipynb", cells)
