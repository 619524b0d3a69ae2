"""Time one SFT training step of the tiny model under the speed settings of chapters 04-07.

Prints, from one process and interleaved runs (so a busy machine slows every variant alike):
- a right-padded batch through a dense attention mask vs plain causal attention (`attention.only_right_padding`);
- logits at every position vs only where the next token is a target (`steps.predicting_positions`);
- PyTorch's CPU thread count (1 vs 2);
- how much of a step the frozen vision tower takes (what caching its features could save).
The batch imitates stage 2: four short-answer VQA samples, 144 visual tokens each, the tiny
preset with a 2,048-token vocabulary. Run: ``.venv/bin/python benchmarks/bench_train_step.py``.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from infimed_lib.data.corpus.corpus_questions import open_question, yes_no
from infimed_lib.data.images import MEDICAL_MODALITIES, medical_image
from infimed_lib.data.tokenizer import model_token_ids, train_tokenizer
from infimed_lib.model import attention
from infimed_lib.model.presets import build_model
from infimed_lib.model.processing import preprocess_images
from infimed_lib.train.batches import build_batch
from infimed_lib.train.steps import predicting_positions, token_loss_sum

BATCH, STEPS, REPEATS = 4, 6, 3


def samples(count: int, rng: np.random.Generator) -> tuple[list[dict], list]:
    records, images = [], []
    for index in range(count):
        image, attrs = medical_image(rng, MEDICAL_MODALITIES[index % len(MEDICAL_MODALITIES)])
        qa = yes_no(attrs, "modality", "yes", rng) if index % 2 else open_question(attrs, "modality", rng)
        records.append({"id": str(index), "images": ["unused"], "conversations": [
            {"from": "human", "value": f"<image>\n{qa.question}\nAnswer the question using a single word or phrase."},
            {"from": "gpt", "value": qa.answer}]})
        images.append(image)
    return records, images


def step(model, optimizer, batch, pixels, label_only: bool, features=None) -> None:
    kept = predicting_positions(batch.labels) if label_only else None
    inputs = batch.model_inputs(None if features is not None else pixels)
    if features is not None:  # image features already computed: the tower and projector input are skipped
        embeds = model.get_input_embeddings()(batch.input_ids)
        mask = (batch.input_ids == model.config.image_token_id).unsqueeze(-1)
        inputs = {"inputs_embeds": embeds.masked_scatter(mask, model.projector(features, model.config.pool_side)),
                  "attention_mask": batch.attention_mask}
    outputs = model(**inputs, logits_to_keep=kept if kept is not None else 0)
    loss = token_loss_sum(outputs.logits, batch.labels, kept) / max(batch.label_tokens, 1)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def tower_features(model, pixels):
    with torch.no_grad():
        patches = model.vision_tower(pixel_values=pixels).last_hidden_state
    return patches


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="CPU threads of the compared settings (default: PyTorch's, here %(default)s)")
    threads = parser.parse_args().threads
    other = 1 if threads > 1 else 2
    rng = np.random.default_rng(0)
    records, images = samples(BATCH * STEPS, rng)
    texts = [turn["value"] for r in records for turn in r["conversations"]]
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = train_tokenizer(texts * 50, vocab_size=2048, out_dir=folder)
    model = build_model("tiny", token_ids=model_token_ids(tokenizer), seed=0, vocab_size=2048)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    # Short and long questions alternate, so every batch has right padding as in stage 2.
    batches = [build_batch(records[i:i + BATCH], tokenizer, packed=False, num_visual_tokens=144,
                           row_length=4096, pad_id=tokenizer.pad_token_id) for i in range(0, len(records), BATCH)]
    pixels = [preprocess_images(images[i:i + BATCH], model.config) for i in range(0, len(images), BATCH)]
    features = [tower_features(model, p) for p in pixels]
    kept = sum(len(predicting_positions(b.labels)) for b in batches) / sum(b.input_ids.shape[1] for b in batches)
    print(f"batch: {BATCH} samples, {batches[0].input_ids.shape[1]} tokens per row; logits needed at "
          f"{100 * kept:.1f}% of positions")

    right_padding = attention.only_right_padding

    def run(label_only: bool, cached: bool = False, dense_mask: bool = False):
        def go():
            attention.only_right_padding = (lambda *a: False) if dense_mask else right_padding
            for b, p, f in zip(batches, pixels, features):
                step(model, optimizer, b, p, label_only, f if cached else None)
        return go
    variants = {"dense mask, all logits (before)": (run(False, dense_mask=True), threads),
                "plain causal, all logits": (run(False), threads),
                "plain causal, label logits (after)": (run(True), threads),
                f"after, {other} thread{'s' if other > 1 else ''} instead of {threads}": (run(True), other),
                "after, with the tower's features precomputed": (run(True, cached=True), threads)}
    results = {name: [] for name in variants}
    for _ in range(REPEATS):  # interleaved, so load from other jobs hits every variant alike
        for name, (fn, threads) in variants.items():
            torch.set_num_threads(threads)
            results[name].append(timed(fn, 1) / STEPS)
    base = statistics.median(results["dense mask, all logits (before)"])
    print(f"{'setting (' + str(threads) + ' threads unless named)':<46} {'ms/step':>8} {'speed-up':>9}")
    for name, values in results.items():
        ms = statistics.median(values)
        print(f"{name:<46} {1000 * ms:8.1f} {base / ms:8.2f}x")


if __name__ == "__main__":
    main()
