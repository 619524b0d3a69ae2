"""Builds notebooks/09_ablation_case_studies.ipynb (no outputs). Run from the repository root:
.venv/bin/python tools/notebooks/nb09.py"""
import sys; sys.path.insert(0, "tools")
from nbbuild import write_notebook

cells = [
("md", r"""
# 09 · The SFT ablation and case studies

Section 5.3 of the paper {cite}`zhu2025infimedfoundation` asks what each of the three SFT stages
contributes. Starting every time
from the same pretrained checkpoint, it trains four combinations — stage 1 alone (general
instruction following), 1+2 (adding medical instruction following), 1+3 (adding the balanced
cross-distribution mixture straight away) and the full recipe 1+2+3 — and scores each on the
seven benchmarks (Table 3). Its reading: stage 2 brings the medical knowledge that PMC-VQA and
OmniMedVQA need, stage 3 brings the robustness that VQA-RAD, SLAKE and PathVQA reward, and only
all three together give the best average.

Three of those four models already exist in our run: the checkpoints of
[chapters 05](05_sft_general.ipynb), [06](06_sft_medical.ipynb) and
[07](07_sft_cross_distribution.ipynb) are exactly "1", "1+2" and "1+2+3". This chapter trains the
fourth, "1+3", with stage 3's data and settings but starting from the stage-1 checkpoint,
evaluates all four with [chapter 08](08_evaluation.ipynb)'s code, and sets our table beside the paper's. Then it puts our models next to the paper's Table 2
rows, and ends with case studies in the manner of the paper's Figures 4-8: single questions,
their images, the truth, and two models' answers side by side.
"""),
("params", r"""
run_dir = "runs/tiny"  # folder for everything this run writes
seed = 0  # seed of the case selection and of MMMU's random guess
corpus_dir = "runs/tiny/corpus"  # the corpus folder; its benchmarks/ sub-folder holds the held-out benchmarks
tokenizer_dir = ""  # the run's tokenizer folder; "": <run_dir>/tokenizer
baseline_checkpoint = ""  # the model after continual pretraining only; "": <run_dir>/stage0_cpt/checkpoint
stage1_checkpoint = ""  # SFT 1, chapter 05's model; "": <run_dir>/stage1/checkpoint
stage2_checkpoint = ""  # SFT 1+2, chapter 06's model; "": <run_dir>/stage2/checkpoint
stage3_checkpoint = ""  # SFT 1+2+3, chapter 07's model; "": <run_dir>/stage3/checkpoint
stage3_config = ""  # stage 3's resolved training config, reused by the 1+3 run; "": <run_dir>/stage3/config.json
benchmarks_dir = ""  # folder with one sub-folder per benchmark; "": <corpus_dir>/benchmarks
benchmark_paths = {}  # per-benchmark overrides, e.g. {"vqa-rad": "/data/VQA-RAD"} for the real files
benchmarks = ["mmmu-med", "vqa-rad", "slake", "pathvqa", "pmc-vqa", "omnimedvqa", "medxpertqa-mm"]  # which to evaluate
batch_size = 16  # prompts per generation batch (as in chapter 08, so its predictions are reused)
max_new_tokens = {"multiple_choice": 24, "yes_no": 8, "closed": 16, "open": 32}  # answer budget per question type (multiple choice: room for an option's text)
reasoning = False  # True: MedEvalKit's \boxed{} prompts
limit = None  # None: every question; N: the first N of each benchmark (a quick look, but a skewed sample)
judge_base_url = ""  # OpenAI-compatible endpoint of the open-question judge; "": no judge
judge_model = "gpt-4.1"  # model served at judge_base_url
judge_api_key_env = "OPENAI_API_KEY"  # environment variable holding the judge's API key; "": send none
device = "auto"  # auto (cuda if available) | cpu | cuda
dtype = "auto"  # auto (bfloat16 on GPU, the checkpoint's own on CPU) | float32 | bfloat16
num_threads = 1  # PyTorch CPU threads while generating; 0: PyTorch's default (one is fastest for the tiny model)
launcher = "inprocess"  # the 1+3 training run: "inprocess" (this kernel), "accelerate" or "torchrun"
accelerate_config = ""  # accelerate config for launcher accelerate: a file or ddp, fsdp, deepspeed_zero2, deepspeed_zero3
num_processes = 1  # processes (GPUs) for a launched 1+3 run
case_models = ["1+2+3", "1"]  # the two models the case studies compare (combinations, or "pretrained only")
case_count = 4  # how many case studies to show
"""),
("code", r"""
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display
from myst_nb import glue

from infimed_lib.common import ParameterError, atomic_write_json
from infimed_lib.eval import benchmark_folders, evaluate_majority, make_judge
from infimed_lib.report.ablation import (COMBINATIONS, ablation_side_by_side, ablation_table, combination_intervals,
                                         effect_agreement, effect_intervals,
                                         macro_standard_error, main_results_table, percent_row,
                                         plot_ablation_comparison, plot_loss_comparison, plot_main_comparison,
                                         run_extra_combination, stage_effects)
from infimed_lib.report.cases import case_images, case_table, kind_summary, load_predictions, pick_cases, plot_cases
from infimed_lib.report.paper import check_reported_averages, load_paper_table
from infimed_lib.eval.parallel import evaluate_many
from infimed_lib.train import STAGE_DIRS, load_metrics, load_result

run_dir = Path(run_dir)
eval_dir, report_dir = run_dir / "eval", run_dir / "report"
report_dir.mkdir(parents=True, exist_ok=True)
stage_dir = {stage: run_dir / folder for stage, folder in STAGE_DIRS.items()}
baseline_checkpoint = baseline_checkpoint or str(stage_dir["cpt"] / "checkpoint")
stage1_checkpoint = stage1_checkpoint or str(stage_dir["sft1"] / "checkpoint")
stage2_checkpoint = stage2_checkpoint or str(stage_dir["sft2"] / "checkpoint")
stage3_checkpoint = stage3_checkpoint or str(stage_dir["sft3"] / "checkpoint")
stage3_config = stage3_config or str(stage_dir["sft3"] / "config.json")
tokenizer_dir = tokenizer_dir or str(run_dir / "tokenizer")
paths = benchmark_folders(benchmarks, corpus_dir, benchmarks_dir, benchmark_paths)
judge = make_judge(judge_base_url, judge_model, judge_api_key_env)
settings = dict(batch_size=batch_size, max_new_tokens=max_new_tokens, reasoning=reasoning, limit=limit,
                seed=seed, device=device, dtype=dtype, num_threads=num_threads)
paper_ablation = load_paper_table("sft_ablation")
pd.set_option("display.max_colwidth", 80)
# SLAKE asks half its questions in Chinese; without a CJK font they render as boxes, which is all we need.
warnings.filterwarnings("ignore", message="Glyph .* missing from font")
"""),
("md", r"""
## The extra run: stage 3 straight after stage 1

The "1+3" model is stage 3 done differently in one respect only: it starts from the stage-1
checkpoint instead of the stage-2 one. Everything else — the balanced mixture, learning rate,
batch size, visual tokens, seed — is read from stage 3's own resolved configuration, so the
comparison isolates the missing stage. As in
[chapters 05](05_sft_general.ipynb)-[07](07_sft_cross_distribution.ipynb), the run happens in this kernel or,
with `launcher`, as an `accelerate` or `torchrun` job on several GPUs; a finished run with the
same configuration is reused.
"""),
("code", r"""
extra = run_extra_combination(stage3_config, stage1_checkpoint, run_dir / "ablation" / "sft1+3",
                              launcher=launcher, accelerate_config=accelerate_config, num_processes=num_processes)
runs = {"stage 3 after 1+2 (chapter 07)": Path(stage3_config).parent, "stage 3 after 1 (this chapter)": extra.output_dir}
fig = plot_loss_comparison({label: load_metrics(folder) for label, folder in runs.items()})
fig.savefig(report_dir / "ablation_training.png", dpi=110)
plt.show()
glue("loss_after_12", load_result(runs["stage 3 after 1+2 (chapter 07)"]).summary["first_loss"], display=False)
glue("loss_after_1", extra.summary["first_loss"], display=False)
"""),
("md", r"""
Both runs see the same batches in the same order. The first step's loss is
{glue:text}`loss_after_1:.3f` when stage 3 starts from stage 1 and {glue:text}`loss_after_12:.3f`
when it starts from stage 2. The difference measures how familiar the balanced medical mixture
already was to each starting model: whatever stage 2 taught, the "1+3" model has to pick up
within stage 3's much smaller budget, or go without.

## Evaluating the four combinations

Each model is evaluated exactly as in [chapter 08](08_evaluation.ipynb), with the same settings;
predictions chapter 08 already made (the final model, the pretrained-only model and the majority
class) are read back rather than generated again.
"""),
("code", r"""
checkpoints = {"1": stage1_checkpoint, "1+2": stage2_checkpoint, "1+3": extra.checkpoint_dir,
               "1+2+3": stage3_checkpoint, "pretrained only": baseline_checkpoint}
results = evaluate_many(checkpoints, tokenizer_dir, paths, eval_dir, judge=judge, **settings)
results["majority class"] = evaluate_majority(paths, eval_dir / "majority", limit=limit, seed=seed)
scores = {label: result.scores for label, result in results.items()}
print({label: result.resumed for label, result in results.items()})
"""),
("md", r"""
## Our Table 3 beside the paper's

Our table has the paper's layout: which stages were applied, accuracy (%) on each benchmark, and
the plain mean. The paper's row for the full recipe prints an average of
{glue:text}`paper_printed_avg:.1f` although its seven scores average
{glue:text}`paper_mean_avg:.1f` ([chapter 00](00_overview.ipynb)); the paper's printed values are
shown unchanged.
"""),
("code", r"""
ours = ablation_table({label: scores[label] for label in COMBINATIONS})
misprint = check_reported_averages(paper_ablation).iloc[0]
glue("paper_printed_avg", float(misprint["Avg."]), display=False)
glue("paper_mean_avg", float(misprint["mean of 7"]), display=False)
ours.to_csv(report_dir / "ablation_ours.csv", index=False)
display(ours.round(1))
side_by_side = ablation_side_by_side(ours, paper_ablation)
side_by_side.to_csv(report_dir / "ablation_side_by_side.csv")
side_by_side.round(1)
"""),
("figure", r"""
fig = plot_ablation_comparison(ours, paper_ablation, baseline=percent_row(scores["majority class"]))
fig.savefig(report_dir / "ablation_comparison.png", dpi=110)
glue("fig-ablation-comparison", fig, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-ablation-comparison
:name: "fig-ablation-comparison"

The four combinations of SFT stages per benchmark: the paper's 4B model on top, our miniature run
below, with the majority class as black ticks over our bars. Compare the order of the coloured
bars within each group, top against bottom, rather than their heights; and below, whether a bar
clears its tick at all.
```

## What adding a stage changes

Miniature accuracies cannot match the paper's in level: the model is tiny, the data are
generated, and the benchmarks are small held-out splits. What can be compared is direction. For
each comparison the paper draws in section 5.3, the table lists the paper's change and ours, per
benchmark and for the average, and whether they move the same way.
"""),
("code", r"""
agreement = effect_agreement(ours, paper_ablation)
agreement.to_csv(report_dir / "ablation_effects.csv", index=False)
per_effect = agreement.groupby("effect", sort=False)["same direction"].agg(["sum", "count"])
display(per_effect.rename(columns={"sum": "same direction", "count": "comparisons"}))
agreement.round(1)
"""),
("code", r"""
averages = ours.assign(combination=list(COMBINATIONS)).set_index("combination")["Avg."]
noise = max(macro_standard_error(scores[label]) for label in averages.index)
average_effects = stage_effects(ours)["Avg."]
glue("agree_count", int(agreement["same direction"].sum()), display=False)
glue("agree_total", len(agreement), display=False)
glue("agree_avg_count", int(agreement.query("benchmark == 'Avg.'")["same direction"].sum()), display=False)
glue("agree_avg_total", int((agreement["benchmark"] == "Avg.").sum()), display=False)
glue("best_combination", averages.idxmax(), display=False)
glue("best_average", float(averages.max()), display=False)
glue("full_average", float(averages["1+2+3"]), display=False)
glue("stage1_average", float(averages["1"]), display=False)
glue("noise_points", noise, display=False)
glue("stage2_gain", float(average_effects.iloc[0]), display=False)
glue("stage3_after2_gain", float(average_effects.iloc[2]), display=False)
averages.round(1)
"""),
("md", r"""
Across all comparisons and benchmarks, {glue:text}`agree_count` of {glue:text}`agree_total` changes
go the same way as the paper's; for the average alone, {glue:text}`agree_avg_count` of
{glue:text}`agree_avg_total`. Our best combination on average is SFT {glue:text}`best_combination`
({glue:text}`best_average:.1f`%); the full recipe reaches {glue:text}`full_average:.1f`%, against
{glue:text}`stage1_average:.1f`% for stage 1 alone. Adding stage 2 after stage 1 changes our
average by {glue:text}`stage2_gain:.1f` points, and adding stage 3 after 1+2 by
{glue:text}`stage3_after2_gain:.1f` points.

How much of that is noise? Each benchmark score is a proportion over a few dozen questions, so
the average of a run carries a standard error of up to {glue:text}`noise_points:.1f` points here.
Differences between combinations smaller than about twice that should not be read as effects of
a stage, and per-benchmark differences are noisier still.

## The stage effects against their noise

The table above averages all questions, open ones included, with the analytic standard error.
On the closed questions, which the rules score without a judge, [chapter 08](08_evaluation.ipynb)'s
bootstrap gives every model a 95% interval, and a comparison of two models a *paired* one: both
are scored on the same questions, so a resample that happens to draw hard questions draws them
for both, and only the difference between the two models remains.
"""),
("code", r"""
closed_predictions = {label: results[label].predictions for label in (*COMBINATIONS, "pretrained only", "majority class")}
intervals = combination_intervals(closed_predictions, seed=seed)
intervals.to_csv(report_dir / "ablation_intervals.csv", index=False)
display(intervals.round(1))
effects = effect_intervals(closed_predictions, seed=seed)
effects.to_csv(report_dir / "ablation_effect_intervals.csv", index=False)
shown = effects.set_index("comparison")
for key, name in (("stage2", "+ stage 2 (1 → 1+2)"), ("stage3", "+ stage 3 after 2 (1+2 → 1+2+3)"),
                  ("stage3_alone", "+ stage 3 (1 → 1+3)")):
    glue(f"{key}_closed", float(shown.loc[name, "change (points)"]), display=False)
    glue(f"{key}_low", float(shown.loc[name, "low"]), display=False)
    glue(f"{key}_high", float(shown.loc[name, "high"]), display=False)
glue("effects_beyond_noise", int(effects["beyond noise"].sum()), display=False)
glue("effects_total", len(effects), display=False)
effects.round(1)
"""),
("md", r"""
On the closed questions, adding stage 2 after stage 1 changes the macro accuracy by
{glue:text}`stage2_closed:.1f` points (95% interval {glue:text}`stage2_low:.1f` to
{glue:text}`stage2_high:.1f`), adding stage 3 after 1+2 by {glue:text}`stage3_closed:.1f`
({glue:text}`stage3_low:.1f` to {glue:text}`stage3_high:.1f`), and stage 3 alone after stage 1 by
{glue:text}`stage3_alone_closed:.1f` ({glue:text}`stage3_alone_low:.1f` to
{glue:text}`stage3_alone_high:.1f`). {glue:text}`effects_beyond_noise` of the
{glue:text}`effects_total` comparisons have an interval that excludes zero: those are effects of
a stage that this benchmark size can show; the others are not distinguishable from the luck of
which questions were drawn, whatever their sign, and agreement in direction with the paper
means little for them.

## A Table 2-style comparison

The paper's Table 2 compares its models with proprietary, general and medical open models. We
cannot run those; we put our own models and the two baselines [chapter 08](08_evaluation.ipynb)
introduced beside a few of the paper's rows: its two InfiMed models, the general model closest in
size (Qwen2.5-VL-3B {cite}`bai2025qwen25vl`) and the oldest medical baseline (LLaVA-Med-7B
{cite}`li2023llavamed`).
"""),
("code", r"""
ours_rows = {f"InfiMed miniature, SFT {label}": scores[label] for label in ("1+2+3", "1")}
ours_rows.update({"pretrained only": scores["pretrained only"], "majority class": scores["majority class"]})
comparison = main_results_table(ours_rows)
comparison.to_csv(report_dir / "main_comparison.csv", index=False)
comparison.round(1)
"""),
("figure", r"""
fig = plot_main_comparison(comparison)
fig.savefig(report_dir / "main_comparison.png", dpi=110)
glue("fig-main-comparison", fig, display=False)
plt.show()
"""),
("md", r"""
```{glue:figure} fig-main-comparison
:name: "fig-main-comparison"

Accuracy per benchmark of our models and baselines (solid lines) beside four rows of the paper's
Table 2 (dashed, hollow markers). The gap in level is expected of a miniature model; what to look
for is whether our lines rise and fall across the benchmarks where the paper's do.
```
"""),
("md", r"""
## Case studies

The paper's appendix A.6 shows five questions on which its 4B model and Qwen2.5-VL-7B disagree.
We do the same with two of our own models: the questions below are drawn (seeded) from those
the first model answers correctly and the second does not, one benchmark at a time (an MMMU
answer that is right only by the official parser's random guess does not count as correct here);
when there are too few, the opposite disagreements fill in, then agreements. The table holds the full
answers; the figure shows the image the model saw with each question.
"""),
("code", r"""
unknown = [label for label in case_models if label not in results]
if unknown or len(case_models) != 2:
    raise ParameterError("case_models", f"expected two of {list(results)}, got {case_models}")
first, second = case_models
cases = pick_cases(load_predictions(results[first].out_dir), load_predictions(results[second].out_dir),
                   n=case_count, seed=seed)
names = tuple(f"SFT {label}" if label in COMBINATIONS else label for label in case_models)
table = case_table(cases, names)
table.to_csv(report_dir / "case_studies.csv", index=False)
glue("case_kinds", kind_summary(cases, names), display=False)
fig = plot_cases(cases, case_images(cases, paths), names)
fig.savefig(report_dir / "case_studies.png", dpi=110)
plt.show()
table
"""),
("md", r"""
The cases shown: {glue:text}`case_kinds`. In a miniature run the answers are short — our
models are trained to answer in the requested format, not to reason aloud as the paper's 4B model
does in Figures 4-8 — but the questions are of the same kinds: modality, location, size and
presence of a finding, read from the image.

## What the miniature run does and does not reproduce

It reproduces the **procedure**: four SFT combinations from one pretrained checkpoint, stage 3's
recipe applied after stage 1 for the "1+3" row, every model scored with the same MedEvalKit-style
prompts and rules, and the results laid out as the paper's Tables 2 and 3. It measures the
**direction** of each stage's effect, {glue:text}`agree_count` of {glue:text}`agree_total` in
agreement with the paper, with the noise level above as the yardstick.

It does not reproduce the paper's **levels** — a miniature model trained from random weights on
generated data is not Qwen3 with SigLIP on real medical data — nor the per-benchmark **difficulty**
(our miniature MedXpertQA is not a board-exam question set), nor the **open-question judge** unless
`judge_base_url` is set. Conclusions about the paper's claims need the paper profile: the same
notebooks with the real checkpoints and benchmark files.
"""),
("code", r"""
summary = {"ablation_average": {k: float(v) for k, v in averages.items()},
           "same_direction": int(agreement["same direction"].sum()), "comparisons": len(agreement),
           "best_combination": averages.idxmax(), "average_standard_error_points": float(noise),
           "closed_macro_ci95": intervals.set_index("model")[["closed macro (%)", "low (%)", "high (%)"]].to_dict("index"),
           "stage_effects_closed_ci95": effects.set_index("comparison")[["change (points)", "low", "high"]].to_dict("index"),
           "extra_run": str(extra.output_dir), "cases": int(len(cases))}
atomic_write_json(report_dir / "metrics.json", summary)
summary
"""),
]
write_notebook("notebooks/09_ablation_case_studies.ipynb", cells)
