"""The first-GPU check (``make gpu-check``): the paper-sized model on one GPU, one JSON report.

With a CUDA GPU it builds the InfiMed model at the published Qwen3-1.7B + siglip-so400m shapes
(random weights: nothing is downloaded) and measures, each in its own section of the report:

1. packed-equals-separate in bf16: two image+text samples in one packed row against each alone,
   with sdpa and, when ``flash_attn`` is installed, flash-attention's varlen kernel;
2. a continual-pretraining step (micro-batch of packed 4,096-token rows, 144 visual tokens per
   image) and an SFT step (right-padded samples with 729 visual tokens per image), each as the
   trainer runs it: float32 master weights, bf16 autocast, gradient checkpointing, AdamW; their
   tokens/s, model FLOPs utilisation (MFU) and peak memory;
3. batched generation (left-padded prompts with one 729-token image each, KV cache).

Without a GPU it runs the same code on the tiny shape on the CPU, in float32, and lists what it
skipped (MFU, flash-attention, bf16). The run stops starting new sections after ``--budget-s``
seconds (default 420, so the whole check stays under 8 minutes). The report format is in the
README ("GPU check"). Exit status 1 if a packed-equals-separate comparison fails.

Run: ``make gpu-check`` or ``.venv/bin/python benchmarks/gpu_check.py --out build/gpu_check.json``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

for _name, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_name, _value)  # offline, as the Makefile runs everything
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import torch  # noqa: E402

from infimed_lib.common import atomic_write_json  # noqa: E402
from infimed_lib.data.tokenizer import IGNORE_INDEX  # noqa: E402
from infimed_lib.model import build_model  # noqa: E402
from infimed_lib.report.model_anatomy import packed_vs_separate  # noqa: E402
from infimed_lib.model.presets import PUBLISHED_SHAPES  # noqa: E402
from infimed_lib.train.batches import Row, collate_packed, collate_padded  # noqa: E402
from infimed_lib.train.steps import predicting_positions, token_loss_sum, to_device  # noqa: E402

FORMAT = "infimed-gpu-check/1"
# Dense bf16 peak of common training GPUs (vendor data sheets, TFLOP/s), matched on the device name.
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100 PCIe": 756.0, "H100": 989.4, "H800": 989.4, "H20": 148.0,
                    "A100": 312.0, "A800": 312.0, "L40S": 362.1, "L40": 181.0, "A10": 125.0, "4090": 165.2}
FIRST_TEXT_ID = 10  # ids below are special in the tiny vocabulary (pad 0, eos 2, image 3)


def peak_tflops(name: str, given: float | None) -> float | None:
    if given:
        return given
    return next((tflops for key, tflops in PEAK_BF16_TFLOPS.items() if key in name), None)


def flops_per_step(model, batches_tokens: list[list[int]], images: int, kept_positions: int) -> float:
    """Model FLOPs of one training step (forward + backward), the usual MFU convention (PaLM, app. B):
    6 x matrix parameters x tokens for the LLM and projector, 12 x layers x width x sum(segment
    length^2) for attention (no causal discount, no recomputation), the LM head only at the
    positions that predict a target (the trainer computes logits there only), and the frozen
    vision tower's forward pass (2 x parameters x patches + its attention)."""
    text, vision = model.config.text_config, model.config.vision_config
    llm_matrices = sum(p.numel() for n, p in model.language_model.model.named_parameters()
                       if p.dim() == 2 and "embed_tokens" not in n)
    projector = sum(p.numel() for p in model.projector.parameters() if p.dim() == 2)
    tokens = sum(sum(row) for row in batches_tokens)
    attention = 12 * text.num_hidden_layers * text.num_attention_heads * text.head_dim * sum(
        length ** 2 for row in batches_tokens for length in row)
    head = 6 * text.hidden_size * text.vocab_size * kept_positions
    patches = (vision.image_size // vision.patch_size) ** 2
    tower = sum(p.numel() for p in model.vision_tower.parameters() if p.dim() == 2)
    vision_flops = images * (2 * tower * patches + 4 * vision.num_hidden_layers * vision.hidden_size * patches ** 2)
    return 6 * llm_matrices * tokens + 6 * projector * images * patches + attention + head + vision_flops


def sample_ids(generator, count: int, vocab: int) -> list[int]:
    return torch.randint(FIRST_TEXT_ID, vocab, (count,), generator=generator).tolist()


def cpt_batch(model, rows: int, row_length: int, visual: int, generator):
    """Packed rows like chapter 04's: samples of (image, caption) laid end to end, positions restarting."""
    image_id, vocab = model.config.image_token_id, model.config.text_config.vocab_size
    built, segments = [], []
    for _ in range(rows):
        ids, labels, positions, lengths = [], [], [], []
        while True:
            caption = int(torch.randint(60, 400, (1,), generator=generator))
            length = visual + caption + 1
            if len(ids) + length > row_length:
                break
            text = sample_ids(generator, caption, vocab) + [2]
            ids += [image_id] * visual + text
            labels += [IGNORE_INDEX] * (visual + 1) + text[1:]
            positions += range(length)
            lengths.append(length)
        pad = row_length - len(ids)
        built.append(Row(ids + [0] * pad, labels + [IGNORE_INDEX] * pad, ["image"] * len(lengths),
                         positions + list(range(pad)), len(ids)))
        segments.append(lengths + ([pad] if pad else []))
    return collate_packed(built), segments


def sft_batch(model, samples: int, visual: int, generator):
    """Right-padded chat samples with one image each, like chapters 05-07's batches."""
    image_id, vocab = model.config.image_token_id, model.config.text_config.vocab_size
    rows, segments = [], []
    for _ in range(samples):
        prompt, answer = int(torch.randint(20, 80, (1,), generator=generator)), int(
            torch.randint(50, 300, (1,), generator=generator))
        ids = [1] + [image_id] * visual + sample_ids(generator, prompt, vocab) + [1]
        target = sample_ids(generator, answer, vocab) + [2]
        rows.append(Row(ids + target, [IGNORE_INDEX] * len(ids) + target, ["image"], None, len(ids) + len(target)))
        segments.append([len(ids) + len(target)])
    batch = collate_padded(rows, 0)
    return batch, [[batch.input_ids.shape[1]] for _ in rows]  # padded: every row costs its full width


def time_training(model, batch, segments, device, autocast, steps: int, peak) -> dict:
    """Median step time of forward + backward + AdamW on one micro-batch, as ``train_step`` runs it."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    side = model.config.vision_config.image_size
    pixels = torch.randn(len(batch.images), 3, side, side, device=device)
    kept = predicting_positions(batch.labels)
    inputs = to_device(batch.model_inputs(pixels), device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(steps + 1):  # the first step is a warm-up (allocations, kernel choice)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        began = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(**inputs, logits_to_keep=kept.to(device)).logits
        loss = token_loss_sum(logits, batch.labels, kept) / max(batch.label_tokens, 1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step:
            times.append(time.perf_counter() - began)
    seconds = statistics.median(times)
    flops = flops_per_step(model, segments, len(batch.images), len(kept) * batch.input_ids.shape[0])
    result = {"micro_batch": int(batch.input_ids.shape[0]), "row_length": int(batch.input_ids.shape[1]),
              "images": len(batch.images), "tokens": batch.num_tokens, "non_pad_tokens": batch.real_tokens,
              "loss": float(loss.detach()), "step_time_s": seconds, "timed_steps": steps,
              "tokens_per_s": batch.num_tokens / seconds, "non_pad_tokens_per_s": batch.real_tokens / seconds,
              "model_tflops_per_step": flops / 1e12, "achieved_tflops": flops / seconds / 1e12,
              "mfu": flops / seconds / 1e12 / peak if peak else None}
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    del optimizer
    return result


def packed_check(model, device, attention: str, visual: int, generator, tolerance: float) -> dict:
    """Packed-equals-separate (chapter 03's `packed_vs_separate`) in the model's dtype."""
    model.set_attn_implementation(attention)
    model.set_num_visual_tokens(visual)
    side = model.config.vision_config.image_size
    vocab = model.config.text_config.vocab_size
    samples = []
    for length in (40, 90):
        ids = [1] + [model.config.image_token_id] * visual + sample_ids(generator, length, vocab)
        samples.append({"input_ids": torch.tensor([ids]), "pixel_values": torch.randn(1, 3, side, side)})
    result = packed_vs_separate(model, samples, pad=7)
    with torch.no_grad():
        scale = float(model(input_ids=samples[0]["input_ids"].to(device),
                            pixel_values=samples[0]["pixel_values"].to(device, model.dtype)).logits.abs().max())
    difference = result["max |logit difference|"]
    return {"attention": attention, "dtype": str(model.dtype).removeprefix("torch."), "row_length": result["row length"],
            "max_abs_logit_diff": difference, "max_abs_logit": scale, "tolerance": tolerance * max(scale, 1.0),
            "passed": difference <= tolerance * max(scale, 1.0)}


@torch.inference_mode()
def time_generation(model, device, batch: int, visual: int, new_tokens: int, generator) -> dict:
    from infimed_lib.eval.generate import left_pad

    side, vocab = model.config.vision_config.image_size, model.config.text_config.vocab_size
    prompts = [[1] + [model.config.image_token_id] * visual + sample_ids(generator, 20 + 7 * i, vocab) + [1]
               for i in range(batch)]
    ids, mask = left_pad(prompts, 0)
    pixels = torch.randn(batch, 3, side, side, device=device, dtype=model.dtype)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    began = time.perf_counter()
    out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), pixel_values=pixels,
                         max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, use_cache=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - began
    made = int(out.shape[1] - ids.shape[1]) * batch
    result = {"batch": batch, "prompt_tokens": int(mask.sum()), "new_tokens": made, "seconds": seconds,
              "new_tokens_per_s": made / seconds}
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="build/gpu_check.json", help="where the JSON report goes")
    parser.add_argument("--shape", default="infimed-1.7b", choices=sorted(PUBLISHED_SHAPES))
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per measurement")
    parser.add_argument("--row-length", type=int, default=None,
                        help="packed row length of the CPT step (default 4096 on a GPU, 1024 on the CPU)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="start no new section after this")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, for MFU")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    gpu = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if gpu else platform.processor() or platform.machine()
    peak = peak_tflops(name, args.peak_tflops) if gpu else None
    flash = gpu and importlib.util.find_spec("flash_attn") is not None
    skipped = [] if gpu else [f"{args.shape} shape (no GPU: the tiny shape runs instead)", "bf16 (float32 on the CPU)",
                              "MFU (no GPU peak to divide by)", "peak memory (CUDA only)"]
    if not flash:
        skipped.append("flash-attention varlen (" + ("flash_attn is not installed" if gpu else "no GPU") + ")")
    if gpu and peak is None:
        skipped.append(f"MFU (unknown peak for {name!r}: pass --peak-tflops)")
    report = {"format": FORMAT, "mode": "gpu" if gpu else "cpu-degraded", "skipped": skipped,
              "environment": {"torch": torch.__version__, "cuda": torch.version.cuda, "device": name,
                              "peak_bf16_tflops": peak, "flash_attn": flash, "python": platform.python_version()}}
    generator = torch.Generator().manual_seed(0)
    steps_timed = args.steps if gpu else min(args.steps, 1)  # the CPU run only shows the code path works
    shape = PUBLISHED_SHAPES[args.shape] if gpu else {}
    with torch.device(device):  # random init on the GPU itself: seconds instead of minutes
        model = build_model("tiny", seed=0, **shape)
    report["model"] = {"shape": args.shape if gpu else "tiny", "attention": "sdpa",
                       "parameters": {part: sum(p.numel() for p in getattr(model, part).parameters())
                                      for part in ("vision_tower", "projector", "language_model")}}
    checks_dtype = torch.bfloat16 if gpu else torch.float32
    sections = []

    def within_budget(section: str) -> bool:
        if time.perf_counter() - started > args.budget_s:
            skipped.append(f"{section} (over the {args.budget_s:.0f} s budget)")
            return False
        sections.append(section)
        return True

    model.to(checks_dtype).eval()
    tolerance = 0.03 if gpu else 1e-4  # bf16 keeps 8 significant bits; 28 layers add them up
    report["packed_equals_separate"] = [packed_check(model, device, attention, 729, generator, tolerance)
                                        for attention in (["sdpa"] + (["flash_attention_2"] if flash else []))
                                        if within_budget(f"packed_equals_separate {attention}")]
    model.to(torch.float32).train()  # float32 master weights, as prepare_model_for_training leaves them
    if gpu:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    attention = "flash_attention_2" if flash else "sdpa"
    model.set_attn_implementation(attention)
    steps = {}
    if within_budget("cpt_step"):
        model.set_num_visual_tokens(144)
        row_length = args.row_length or (4096 if gpu else 1024)  # the tiny profile's CPU rows are 1,024
        batch, segments = cpt_batch(model, rows=2, row_length=row_length, visual=144, generator=generator)
        steps["cpt"] = {"attention": attention, "visual_tokens_per_image": 144,
                        **time_training(model, batch, segments, device, gpu, steps_timed, peak)}
    if within_budget("sft_step"):
        model.set_num_visual_tokens(729)
        batch, segments = sft_batch(model, samples=4, visual=729, generator=generator)
        steps["sft"] = {"attention": attention, "visual_tokens_per_image": 729,
                        **time_training(model, batch, segments, device, gpu, steps_timed, peak)}
    report["training_steps"] = steps
    if within_budget("generation"):
        if gpu:
            model.activation_checkpointing_disable()
        model.to(checks_dtype).eval()
        report["generation"] = {"attention": attention, "visual_tokens_per_image": 729,
                                **time_generation(model, device, 8, 729, 32, generator)}
    report["ok"] = all(check["passed"] for check in report["packed_equals_separate"])
    report["wall_s"] = time.perf_counter() - started
    atomic_write_json(args.out, report)
    print(json.dumps(report, indent=2, sort_keys=True))
    if skipped:
        print("skipped: " + "; ".join(skipped), file=sys.stderr)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
