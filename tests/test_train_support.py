"""Shared builders for the training tests: a tiny tokenizer, samples with images, packed shards,
a tiny model, and a config. (Other test_train_* files import from here; the few tests below
check the builders themselves.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from infimed_lib.common import atomic_write_jsonl
from infimed_lib.data.images import image_to_data_url
from infimed_lib.data.tokenizer import encode_sample, model_token_ids, train_tokenizer
from infimed_lib.train.train_config import TrainConfig

WORDS = ["lesion", "left", "right", "lung", "liver", "small", "large", "ct", "mri", "x-ray",
         "yes", "no", "red", "blue", "circle", "square", "nodule", "normal", "tissue", "slide"]
VISUAL = 4  # visual tokens per image in the tests (a perfect square, so the tiny model pools to 2x2)


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """One torch thread while these tests run: on a shared 2-core machine, several OpenMP threads
    per process spin against each other and make tiny models ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_tokenizer():
    texts = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))] * 5
    texts += ["Describe the image.", "Is there a lesion?", "What modality is this?"] * 5
    return train_tokenizer(texts, vocab_size=320)


def _image(index: int, folder: Path) -> str:
    colour = ((index * 67) % 256, (index * 131) % 256, (index * 29) % 256)
    path = folder / f"img-{index:04d}.png"
    Image.new("RGB", (16, 16), colour).save(path)
    return str(path)


def sft_samples(folder: Path, count: int, seed: int = 0) -> list[dict]:
    """Schema samples: one image, a question, a short answer; answers depend on the colour."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(count):
        words = [WORDS[int(j)] for j in torch.randint(len(WORDS), (2 + i % 5,), generator=rng)]
        samples.append({
            "id": f"s{i}", "source": "toy", "family": "medical_instruction", "kind": "vqa",
            "images": [_image(i, folder)],
            "conversations": [{"from": "human", "value": "<image>\nIs there a lesion?"},
                              {"from": "gpt", "value": " ".join(words)}],
        })
    return samples


def caption_samples(folder: Path, count: int) -> list[dict]:
    samples = sft_samples(folder, count, seed=1)
    for s in samples:
        s["conversations"][0]["value"] = "<image>"
        s["images"] = [image_to_data_url(s["images"][0])]
    return samples


def write_shards(folder: Path, tokenizer, samples: list[dict], capacity: int,
                 num_visual_tokens: int = VISUAL, bins_per_shard: int = 4) -> Path:
    """Packed shards written by the packing step's own FFD and shard writer (chapter 02)."""
    from infimed_lib.packing import bins_from_assignment, ffd
    from infimed_lib.packing import write_shards as write_packed

    lengths = [len(encode_sample(tokenizer, s, num_visual_tokens, template="plain")) for s in samples]
    bins = bins_from_assignment(ffd(lengths, capacity), lengths)
    write_packed(folder, samples, lengths, bins, capacity=capacity, num_visual_tokens=num_visual_tokens,
                 tokenizer=tokenizer, bins_per_shard=bins_per_shard)
    return folder


def tiny_model(tokenizer, seed: int = 0):
    """The library's tiny model (``build_model("tiny")``) with the tests' visual-token count."""
    from infimed_lib.model import build_model

    # The tiny preset shrunk further (6x6 patches, 2 narrow layers) so that tests stay fast.
    return build_model("tiny", token_ids=model_token_ids(tokenizer), seed=seed, num_visual_tokens=VISUAL,
                       vision_config=dict(image_size=12, patch_size=2, hidden_size=16, intermediate_size=32),
                       text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=1, head_dim=16))


def write_run_inputs(root: Path, stage: str = "sft1", count: int = 16, capacity: int = 64) -> dict:
    """Tokenizer, model init and data on disk, as earlier chapters would leave them."""
    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(root / "tokenizer")
    tiny_model(tokenizer).save_pretrained(root / "init")
    if stage == "cpt":
        data = write_shards(root / "shards", tokenizer, caption_samples(root / "images", count), capacity)
    else:
        data = root / "mixture.jsonl"
        atomic_write_jsonl(data, sft_samples(root / "images", count))
    return {"init_from": str(root / "init"), "tokenizer_path": str(root / "tokenizer"),
            "data_path": str(data)}


def make_config(root: Path, inputs: dict, stage: str = "sft1", **overrides) -> TrainConfig:
    values = dict(stage=stage, output_dir=str(root / "out"), global_batch_size=4, micro_batch_size=2,
                  learning_rate=1e-3, num_visual_tokens=VISUAL, max_length=64, warmup_ratio=0.1,
                  mixed_precision="no", gradient_checkpointing="off", **inputs)
    values.update(overrides)
    return TrainConfig(**values)


def test_shards_follow_the_contract(tmp_path):
    tokenizer = tiny_tokenizer()
    folder = write_shards(tmp_path / "shards", tokenizer, caption_samples(tmp_path / "img", 6), 48)
    from infimed_lib.packing import read_bins

    manifest = json.loads((folder / "manifest.json").read_text())
    bins = list(read_bins(folder, tokenizer=tokenizer))
    assert manifest["num_bins"] == len(bins) and sum(len(b["data"]) for b in bins) == 6
    assert all(sum(b["lengths"]) <= 48 for b in bins)
    assert all(ref.startswith("data:image/png;base64,") for b in bins for s in b["data"] for ref in s["images"])
