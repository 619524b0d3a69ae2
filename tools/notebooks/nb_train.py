"""Builds chapters 04-07 (the four training stages) from one template: they differ in prose and parameters."""
import sys; sys.path.insert(0, "tools")
from nbbuild import write_notebook

LAUNCH_PARAMS = r'''
launcher = "inprocess"  # inprocess runs in this kernel; accelerate or torchrun start a separate job on every device
accelerate_config = ""  # accelerate config for launcher accelerate: a file or ddp, fsdp, deepspeed_zero2, deepspeed_zero3
num_processes = 1  # processes (GPUs) for the launched job
mixed_precision = "auto"  # auto: bf16 on GPU, fp32 on CPU
gradient_checkpointing = "auto"  # auto: on for GPU, off on CPU
save_every = 0  # checkpoint every N optimizer steps for resuming; 0 saves only the final model
'''

CPT_INTRO = r"""
# 04 · Continual pretraining on packed rows

The first training stage (section 4.1.1 and Table 5 of {cite}`zhu2025infimedfoundation`) aligns
images with text and pours in medical caption knowledge. Three choices make it cheap: the vision
tower stays frozen, each image is pooled to 144 tokens instead of 729, and samples are packed into
rows of 4,096 tokens ([chapter 02](02_packing.ipynb)) so that almost no compute goes to padding.
Only the caption and document text carries loss ([chapter 00](00_overview.ipynb) shows the mask);
inside a row, each sample sees only itself ([chapter 03](03_model.ipynb)).

This chapter trains on the shards [chapter 02](02_packing.ipynb) wrote, starting from the random
initial checkpoint of [chapter 03](03_model.ipynb), and then measures the two efficiency claims on our own hardware: tokens per second
packed against padded, and step time at 144 against 729 visual tokens.
"""

SFT = {
    "05_sft_general": dict(stage="sft1", title="05 · SFT stage 1: general instruction following", section="4.1.2",
        intro=r"""
The first fine-tuning stage (paper section 4.1.2) teaches the pretrained model to follow
instructions in general, before any medical question: the paper trains one epoch on
Mammoth-VL-10M {cite}`guo2024mammothvl`, a general instruction set whose answers carry short
rationales. Our stand-in is
`mammoth-vl-mini`, questions about coloured-shape scenes with reasoning-style answers.

From here on the paper gives every image all 729 tokens (Table 5), for fine detail in 384-pixel
images. The miniature profile keeps 144: its images are 54 pixels wide, so 144 tokens (one per
4.5 pixels) still resolve every finding the questions ask about, and a step costs about a quarter
as much, which buys the tiny model four times as many fine-tuning samples in the same minutes
([chapter 04](04_pretraining.ipynb) measures the step times). The paper profile sets 729. Batches
are padded rather than packed: SFT samples are short and similar in length, and the chat
template's masks ([chapter 00](00_overview.ipynb)) restrict the loss to the assistant's turns.
"""),
    "06_sft_medical": dict(stage="sft2", title="06 · SFT stage 2: medical instruction following", section="4.1.3",
        intro=r"""
The second stage (paper section 4.1.3) is where medical question answering is learned: the
medical VQA and dialogue sets that passed curation ([chapter 01](01_curation.ipynb)), with general
instruction data mixed in so that what stage 1 taught is not forgotten. Table 4 calls the general part
"Mammoth-VL-10M-filtered": the same set without safety refusals ("Sorry, I can't ..."), which
would teach a medical assistant to refuse. Our mixture uses `mammoth-vl-mini-filtered` for that.

The curation keep-list decides which medical sources enter: the profile may list a dropped source,
and the mixture table below shows it skipped.
"""),
    "07_sft_cross_distribution": dict(stage="sft3", title="07 · SFT stage 3: cross-distribution instruction adaptation",
        section="4.1.4", intro=r"""
The last stage (paper section 4.1.4) answers a problem of stage 2: in a plain mixture, the largest
datasets dominate the gradient, and the model fits their question styles at the expense of the
small ones. Stage 3 trains briefly on a small mixture in which every medical source is
down-sampled to a similar size (Table 4: e.g. 13K from LLaVA-Med-Instruct, 20K from PMC-VQA, the
small sets whole), with a slice of the general data. Settings are otherwise the same as stage 2.

Here `balance_to` caps every medical source at the same number of samples, seeded.
"""),
}


LOSS_CAPTION = {
    "cpt": "Continual pretraining on the packed rows",
    "sft1": "Stage 1 on the general instruction mixture",
    "sft2": "Stage 2 on the medical mixture with general data mixed in",
    "sft3": "Stage 3 on the small balanced mixture",
}


def training_cells(stage, title):
    """Run a stage; then its loss curve as a numbered figure, gluing the loss drop and step count
    as <stage>_first_loss, <stage>_last_loss, <stage>_steps."""
    return [
        ("code", "result = launch_stage(config, launcher, accelerate_config, num_processes)"),
        ("figure", f'''
frame, drop, ax = stage_outcome(result, "{title}")
glue("{stage}_first_loss", drop["first_loss"], display=False)
glue("{stage}_last_loss", drop["last_loss"], display=False)
glue("{stage}_steps", len(frame), display=False)
glue("fig-{stage}-loss", ax.figure, display=False)
plt.show()
'''),
        ("md", f'''
```{{glue:figure}} fig-{stage}-loss
:name: "fig-{stage}-loss"

{LOSS_CAPTION[stage]}.
The loss of every optimizer step (light blue), its rolling mean (dark blue) and the learning rate
(dashed orange, right axis): read the dark curve for the trend; the light one shows how much single
small batches scatter around it.
```
'''),
    ]


def cpt_cells():
    return [
        ("md", CPT_INTRO),
        ("params", r'''
run_dir = "runs/tiny"  # folder for everything this run writes
seed = 0  # seed of the data order
global_batch_size = 4  # packed rows per optimizer step (paper: 256)
micro_batch_size = 1  # rows per forward pass on each device
learning_rate = 0.001  # peak learning rate (paper: 5e-5 for pretrained Qwen3; the tiny model starts from random weights)
weight_decay = 0.01  # AdamW weight decay (Table 5)
warmup_ratio = 0.03  # share of steps with linear warm-up (Table 5)
num_epochs = 1  # passes over the packed shards (paper: 1)
num_visual_tokens = 144  # tokens per image after pooling (Table 5: 144 in pretraining)
''' + LAUNCH_PARAMS + r'''
measure_throughput = True  # run the packed-vs-padded and 144-vs-729 measurements
throughput_rows = 4  # packed rows timed in the packed-vs-padded comparison
throughput_samples = 8  # samples timed in the 144-vs-729 comparison
'''),
        ("code", r'''
import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue

from infimed_lib.common import atomic_write_json
from infimed_lib.report.training import plot_throughput, stage_outcome
from infimed_lib.train import stage_config
from infimed_lib.train.stages import launch_stage

config = stage_config("cpt", run_dir, seed=seed, global_batch_size=global_batch_size,
                      micro_batch_size=micro_batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
                      warmup_ratio=warmup_ratio, num_epochs=num_epochs, num_visual_tokens=num_visual_tokens,
                      mixed_precision=mixed_precision, gradient_checkpointing=gradient_checkpointing,
                      save_every=save_every)
pd.Series(config.to_dict(), name="value").to_frame()
'''),
        ("md", "## Training\n\nOne pass over the packed shards; the metrics file grows one line per optimizer step."),
        *training_cells("cpt", "Continual pretraining (packed rows, 144 tokens per image)"),
        ("md", r"""
Over {glue:text}`cpt_steps` optimizer steps the loss (mean over the first and last tenth of the steps)
went from {glue:text}`cpt_first_loss:.2f` to {glue:text}`cpt_last_loss:.2f` nats per token. A
random model starts near the log of the vocabulary size; the first drop is the model learning
which words exist, the slower part after it is the model learning what the captions say.
"""),
        ("code", r'''
pd.Series(result.summary, name="value").to_frame()
'''),
        ("md", r"""
## What packing and pooling buy

The same model and the same samples, one run each, timed on this machine. *Packed* trains the
rows as [chapter 02](02_packing.ipynb) packed them; *padded* trains the same samples in batches padded to their
longest member, the way SFT batches are built. Only non-padding tokens are useful work.
"""),
        ("code", r'''
from infimed_lib.train.throughput_report import measure_stage_throughput

packed_vs_padded, visual_tokens = measure_stage_throughput(
    config, rows=throughput_rows, samples=throughput_samples, enabled=measure_throughput)
packed_vs_padded
'''),
        ("code", r'''
if packed_vs_padded is not None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    plot_throughput(packed_vs_padded, "non_pad_tokens_per_s", "non-pad tokens / s", "Packed vs padded", ax=axes[0])
    plot_throughput(visual_tokens, "mean_step_time_s", "seconds per step", "144 vs 729 visual tokens", ax=axes[1])
    fig.tight_layout()
    fig.savefig(f"{config.output_dir}/throughput.png", dpi=110)
    plt.show()
visual_tokens
'''),
    ]


def sft_cells(stem, spec):
    defaults = {
        "sft1": ('{"mammoth-vl-mini": 1500}', "None"),
        "sft2": ('{"mammoth-vl-mini-filtered": 400, "vqa-rad-mini": 1.0, "slake-mini": 1.0, "pathvqa-mini": 1.0, '
                 '"pmc-vqa-mini": 1.0, "pubmedvision-instruct-mini": 0.2, "llava-med-instruct-mini": 0.2, '
                 '"vqa-med-2019-mini": 1.0}', "None"),
        "sft3": ('{"mammoth-vl-mini-filtered": 100, "vqa-rad-mini": 1.0, "slake-mini": 1.0, "pathvqa-mini": 1.0, '
                 '"pmc-vqa-mini": 1.0, "pubmedvision-instruct-mini": 1.0, "llava-med-instruct-mini": 1.0}', "300"),
    }[spec["stage"]]
    stage = spec["stage"]
    return [
        ("md", f"# {spec['title']}\n" + spec["intro"]),
        ("params", f'''
run_dir = "runs/tiny"  # folder for everything this run writes
corpus_dir = "runs/tiny/corpus"  # the corpus the mixture is drawn from
seed = 0  # seed of the mixture sampling and the data order
mixture = {defaults[0]}  # source: fraction (float) or count (int); a -filtered suffix drops refusals (Table 4)
balance_to = {defaults[1]}  # cap every medical source at this many samples (stage 3's balancing), or None
keep_list = ""  # curation keep-list; sources not on it are skipped; empty means run_dir/curation/keep_list.json if present
init_from = ""  # checkpoint to start from; empty means the previous stage checkpoint
output_dir = ""  # where this stage writes; empty means the standard stage folder
global_batch_size = 4  # samples per optimizer step (paper: 128)
micro_batch_size = 4  # samples per forward pass on each device
learning_rate = 0.001  # peak learning rate (paper: 2e-5 for pretrained Qwen3; the tiny model starts from scratch)
weight_decay = 0.01  # AdamW weight decay (Table 5; Appendix A.5 says 0.1, see chapter 00)
warmup_ratio = 0.03  # share of steps with linear warm-up (Table 5)
num_epochs = 1  # passes over the mixture (paper: 1 per stage)
num_visual_tokens = 144  # tokens per image (Table 5: 729 in SFT; the tiny profile keeps 144, chapter 05)
max_length = 4096  # longest sample in tokens (Table 5's context length)
''' + LAUNCH_PARAMS),
        ("code", f'''
import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue

from infimed_lib.report.training import stage_outcome
from infimed_lib.train import stage_config
from infimed_lib.train.stages import launch_stage, prepare_mixture

paths = {{k: v for k, v in dict(init_from=init_from, output_dir=output_dir).items() if v}}
keep_list = keep_list or f"{{run_dir}}/curation/keep_list.json"
config = stage_config("{stage}", run_dir, seed=seed, global_batch_size=global_batch_size,
                      micro_batch_size=micro_batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
                      warmup_ratio=warmup_ratio, num_epochs=num_epochs, num_visual_tokens=num_visual_tokens,
                      max_length=max_length, mixed_precision=mixed_precision,
                      gradient_checkpointing=gradient_checkpointing, save_every=save_every, **paths)
if output_dir:
    config.data_path = f"{{output_dir}}/mixture.jsonl"
'''),
        ("md", "## The mixture\n\nWhich sources enter this stage and how many samples each contributes (Table 4's row for this stage, miniaturised):"),
        ("code", f'''
mixture_built = prepare_mixture(config, mixture, corpus_dir, keep_list, balance_to, seed)
glue("{stage}_samples", len(mixture_built.samples), display=False)
mixture_built.table()
'''),
        ("md", "## Training"),
        *training_cells(stage, spec["title"][5:]),
        ("md", f'''
{{glue:text}}`{stage}_samples` samples, one epoch, {{glue:text}}`{stage}_steps` optimizer steps; the loss
(mean over the first and last tenth of the steps) went from {{glue:text}}`{stage}_first_loss:.2f` to
{{glue:text}}`{stage}_last_loss:.2f` nats per assistant token. The throughput and step time of the run:
'''),
        ("code", '''
pd.Series(result.summary, name="value").to_frame()
'''),
    ]


write_notebook("notebooks/04_pretraining.ipynb", cpt_cells())
for stem, spec in SFT.items():
    write_notebook(f"notebooks/{stem}.ipynb", sft_cells(stem, spec))
