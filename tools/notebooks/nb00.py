import sys; sys.path.insert(0, "tools")
from nbbuild import write_notebook

cells = [
("md", r"""
# 00 · Overview: what the paper claims, and how this book re-runs it

InfiMed-Foundation {cite}`zhu2025infimedfoundation` builds two medical vision-language models,
1.7B and 4B parameters, from a Qwen3 language model {cite}`yang2025qwen3` and a SigLIP image
encoder {cite}`zhai2023siglip`. The paper's argument has three legs:

1. **Curated data** (section 3): every candidate medical dataset is sampled and graded by a strong
   LLM on five quality dimensions; low-scoring datasets are left out ([chapter 01](01_curation.ipynb)).
2. **Compute-efficient pretraining** (sections 3.3 and 4.1.1): image-text samples of very
   different lengths are packed into 4,096-token rows with First-Fit-Decreasing, and each image
   is pooled to 144 tokens instead of 729 during pretraining
   ([chapters 02](02_packing.ipynb)-[04](04_pretraining.ipynb)).
3. **Three supervised fine-tuning stages** (sections 4.1.2-4.1.4): general instruction following,
   then medical instruction following with general data mixed in, then a small balanced mixture
   so that no large dataset dominates
   ([chapters 05](05_sft_general.ipynb)-[07](07_sft_cross_distribution.ipynb)).

The claim that ties them together is Table 2: the 4B model averages 56.4% over seven medical
benchmarks, ahead of larger open medical models, and Table 3 attributes gains to each SFT
stage ([chapters 08](08_evaluation.ipynb)-[09](09_ablation_case_studies.ipynb)).

The same authors' earlier InfiMed models {cite}`liu2025infimed` reached medical reasoning by a
different route: fine-tuning on reasoning-style data, then reinforcement learning with verifiable
rewards. InfiMed-Foundation has no reinforcement-learning stage; its gains come from data
curation, cheaper pretraining and the staged fine-tuning, and those are what this book re-runs.

This chapter sets the stage: the paper's reported numbers (kept as data files), the places where
the paper contradicts itself and what this book chooses, the two profiles the notebooks run
under, and the two artefacts every later chapter reads — the miniature corpus and the tokenizer.
"""),
("params", r"""
run_dir = "runs/tiny"  # folder for everything this run writes
corpus_dir = "runs/tiny/corpus"  # the corpus folder (generated here in the tiny profile)
generate_corpus = True  # make the bundled miniature corpus if missing; False: corpus_dir must already exist
corpus_scale = 1.0  # size multiplier of the miniature corpus
vqa_scale = 3.0  # multiplier of the short-answer VQA training sources (more distinct images: chapter 08)
tokenizer_path = ""  # a local Qwen3 tokenizer folder; empty: train a byte-level BPE on the corpus
tokenizer_vocab_size = 2048  # vocabulary size of the trained tokenizer
profiles_dir = "profiles"  # where the profile files live, to compare them below
seed = 0  # seed of the corpus generator
"""),
("code", r"""
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue

from infimed_lib.common import ParameterError, atomic_write_json, require_path
from infimed_lib.data.corpus import ensure_corpus
from infimed_lib.data.tokenizer import encode_sample, prepare_tokenizer, show_label_mask
from infimed_lib.report import load_paper_table, paper_table_source, plot_ablation, plot_benchmark_heatmap
from infimed_lib.report import plot_main_results, plot_pipeline
from infimed_lib.report.overview import corpus_summary, first_sample, plot_corpus_gallery, profile_comparison

if generate_corpus:
    corpus = ensure_corpus(corpus_dir, seed=seed, scale=corpus_scale, vqa_scale=vqa_scale)
else:
    corpus = require_path("corpus_dir", corpus_dir, "dir")
run_dir = Path(run_dir)
out_dir = run_dir / "overview"
out_dir.mkdir(parents=True, exist_ok=True)
pd.set_option("display.max_colwidth", 120)
"""),
("md", r"""
## The pipeline, one chapter per step

Each arrow is a set of files under the run folder, so any chapter can be re-run on its own or on
another machine, and the book can be rebuilt without re-training.
"""),
("figure", r"""
ax = plot_pipeline()
ax.figure.savefig(out_dir / "pipeline.png", bbox_inches="tight", dpi=120)
glue("fig-pipeline", ax.figure, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-pipeline
:name: "fig-pipeline"

The book's pipeline, left to right, with the chapter that runs each step. Curation decides which
sources the stage mixtures may use; only the pretraining mixture is packed; the model of
[chapter 03](03_model.ipynb) is trained four times in a row, and every trained checkpoint is evaluated.
```

## What the paper reports

The numbers below are read from `infimed_lib/resources/paper/`, copied exactly as printed; each
file names the table it comes from. Nothing in this book is compared against numbers typed into
prose.
"""),
("code", r"""
main = load_paper_table("main_results")
print(paper_table_source("main_results"))
ours = main[main["ours"]].set_index("model")
glue("paper_avg_4b", float(ours.loc["InfiMed-Foundation-4B", "Avg."]), display=False)
glue("paper_avg_17b", float(ours.loc["InfiMed-Foundation-1.7B", "Avg."]), display=False)
glue("paper_best_avg", float(main["Avg."].max()), display=False)
glue("paper_best_model", main.loc[main["Avg."].idxmax(), "model"], display=False)
"""),
("figure", r"""
fig, axes = plt.subplots(1, 2, figsize=(17, 6), gridspec_kw={"width_ratios": [1, 1.2]})
plot_main_results(main, ax=axes[0])
plot_benchmark_heatmap(main, ax=axes[1])
fig.tight_layout()
fig.savefig(out_dir / "paper_table2.png", dpi=110)
glue("fig-paper-table2", fig, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-paper-table2
:name: "fig-paper-table2"

The paper's Table 2, read from its data file. Left: each model's average over the seven
benchmarks, InfiMed's two models in orange. Right: the same models per benchmark. Read it by
column: MedXVQA (MedXpertQA-MM) is dark for every open model, large or small, and it is where the
proprietary models pull furthest ahead.
```

InfiMed-Foundation-4B averages {glue:text}`paper_avg_4b:.1f`% and the 1.7B model
{glue:text}`paper_avg_17b:.1f`%; the best system in the table, {glue:text}`paper_best_model`, averages
{glue:text}`paper_best_avg:.1f`%. The heat map shows why a single average hides a lot: every model
does well on SLAKE and OmniMedVQA and poorly on MedXpertQA-MM, whose five-way expert questions keep
even most large open models near 20-25%, barely above the 20% a random guess gets.

Table 3 is the paper's ablation of the three SFT stages, all starting from the same pretrained
4B model. [Chapter 09](09_ablation_case_studies.ipynb) runs the same four combinations at miniature
scale and draws ours beside it.
"""),
("code", r"""
ablation = load_paper_table("sft_ablation")
print(paper_table_source("sft_ablation"))
"""),
("figure", r"""
ax = plot_ablation(ablation)
ax.figure.savefig(out_dir / "paper_table3.png", bbox_inches="tight", dpi=110)
glue("fig-paper-table3", ax.figure, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-paper-table3
:name: "fig-paper-table3"

The paper's Table 3: one line per combination of SFT stages, all from the same pretrained 4B
model. Where two lines cross, neither of the two combinations is better on every benchmark.
```

The paper's "Avg." is the plain mean of the seven benchmark scores (section 5.2). Recomputing it
for every row of both tables finds one row where the printed value is not the mean of the printed
scores, and it is the paper's own headline model:
"""),
("code", r"""
from infimed_lib.report import check_reported_averages

pd.concat([check_reported_averages(main).assign(table="Table 2"),
           check_reported_averages(ablation).assign(table="Table 3")])
"""),
("md", r"""
## Where the paper contradicts itself, and what we do

Reproducing a paper means making every decision it leaves open. These are the places where the
text disagrees with itself; each choice is a parameter, so a reader who decides otherwise can
re-run with one line changed.
"""),
("code", r"""
load_paper_table("inconsistencies")
"""),
("md", r"""
The hyperparameters of Table 5, for reference (the SFT weight decay row is the first item above):
"""),
("code", r"""
load_paper_table("hyperparameters")
"""),
("md", r"""
## Two scales, one code path

The notebooks take every path and size as a papermill parameter, read from a profile file. The
`tiny` profile builds random-initialised miniature models and a generated corpus, so the whole
book runs on a laptop CPU in minutes; the `paper` profile points the very same notebooks at local
Qwen3 and SigLIP weights and the real datasets, and runs training under `accelerate launch`.
Here are the settings that differ:
"""),
("code", r"""
profile_comparison(profiles_dir)
"""),
("md", r"""
## The miniature corpus

Real medical datasets are large and many need a signed data-use agreement, so the tiny profile
generates its own: procedurally drawn CT, MRI, X-ray, histopathology and dermoscopy images whose
findings (a lesion or not, where, how large, which organ) are visible in the pixels, a set of real
DICOM images from the `pydicom` test data converted to PNG with their true modality, and simple
coloured-shape scenes for the general-domain families. Every family of the paper's Table 1 has
several named sources, and a few sources carry deliberately injected defects at known rates
(their labels are stored apart from the samples), so that [chapter 01](01_curation.ipynb) can measure
how well a judge finds them. Held-out splits in each evaluation benchmark's own file format are written beside it.
"""),
("code", r"""
summary = corpus_summary(corpus)
glue("corpus_samples", int(summary["samples"].sum()), display=False)
glue("corpus_sources", len(summary), display=False)
glue("corpus_images", int(summary["images"].sum()), display=False)
summary
"""),
("md", r"""
The corpus holds {glue:text}`corpus_samples` training samples with {glue:text}`corpus_images` images in
{glue:text}`corpus_sources` sources. One image per modality, with the finding the generator drew:
"""),
("figure", r"""
fig = plot_corpus_gallery(corpus, seed=seed)
fig.savefig(out_dir / "corpus_gallery.png", bbox_inches="tight", dpi=110)
glue("fig-corpus-gallery", fig, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-corpus-gallery
:name: "fig-corpus-gallery"

One training image per modality of the miniature corpus, with the start of the text that goes
with it. In the generated images the findings the text names (a lesion, its side and size) are
drawn into the pixels, so a model can answer such questions only by looking; the nuclear-medicine
and ultrasound images are real DICOM scans from the `pydicom` test data.
```

## The tokenizer

The paper uses Qwen3's tokenizer. The tiny profile trains a byte-level BPE of the same kind on
the corpus (seconds), with Qwen's special tokens: `<|im_start|>` and `<|im_end|>` frame each chat
turn, `<|endoftext|>` ends a pretraining document, and `<|image_pad|>` holds one place for each
visual token. Given `tokenizer_path`, the real Qwen3 tokenizer is used instead.

Which tokens carry loss matters as much as the tokenizer itself: a mask that silently covers the
prompt, or nothing at all, is one of the most common failures users of LLaVA-style training code
report. Below, the spans in `[[...]]` are the only ones the loss sees: the assistant's words and
the `<|im_end|>` that closes them. Image placeholders and the user's turn never carry loss.
"""),
("code", r"""
tokenizer = prepare_tokenizer(run_dir / "tokenizer", corpus, tokenizer_path, tokenizer_vocab_size)
example = first_sample(corpus, "vqa-rad-mini")
encoded = encode_sample(tokenizer, example, num_visual_tokens=729)
glue("vocab_size", len(tokenizer), display=False)
glue("example_tokens", len(encoded), display=False)
print(show_label_mask(tokenizer, encoded))
"""),
("md", r"""
The vocabulary has {glue:text}`vocab_size` entries. With 729 visual tokens per image, the SFT setting,
this one short question and answer already takes {glue:text}`example_tokens` tokens, almost all of
them image placeholders — the reason the paper pools images to 144 tokens during pretraining.
"""),
("code", r"""
metrics = {"corpus_samples": int(summary["samples"].sum()), "corpus_sources": len(summary),
           "corpus_images": int(summary["images"].sum()), "vocab_size": len(tokenizer),
           "example_tokens_729": len(encoded)}
atomic_write_json(out_dir / "metrics.json", metrics)
metrics
"""),
]
write_notebook("notebooks/00_overview.ipynb", cells)
