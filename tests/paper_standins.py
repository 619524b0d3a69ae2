"""Tiny stand-ins with the exact formats of the paper profile's real folders (tests and make paper-smoke).

- ``qwen_folder``: a ``Qwen3ForCausalLM`` checkpoint as Qwen3-*-Instruct ships it: bf16
  safetensors, a ``Qwen2Tokenizer`` whose special tokens follow the byte-level BPE vocabulary
  (``<|endoftext|>`` first, ``<|image_pad|>`` among them), and an embedding matrix padded past
  the tokenizer's size.
- ``siglip_folder``: a full ``SiglipModel`` (vision and text towers) at 384 px / patch 14, so 729
  patches, with its ``preprocessor_config.json``.
- ``llava_sources``: LLaVA-style JSON / JSONL files (LLaVA-Med, PubMedVision, Mammoth-VL with
  unflagged refusals and text-only records, captions and interleaved documents) with JPEG images.
- ``benchmark_folders``: the seven benchmarks in their published layouts; VQA-RAD, PathVQA,
  SLAKE and PMC-VQA also hold a train split, as published.

Widths are tiny so that everything runs on a CPU; the formats, the 729-token geometry and the
token ids are the real ones' kind.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Qwen2/Qwen3 special tokens, in the order the real tokenizer appends them after the BPE vocabulary.
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                 "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
                 "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                 "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>"]
QWEN_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
                 "+ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                 "{% endif %}")
WORDS = ("the image shows a chest radiograph with a nodule in the right upper lobe; the heart is normal. "
         "axial ct of the abdomen: liver lesion, kidney cyst, no fracture. histopathology with dense "
         "lymphocytes and granulomas. which organ is shown? answer yes or no. mri of the brain, t2 "
         "hyperintense white matter. the chart peaks in 2019; a red square beside a blue circle.").split()
MODALITIES = ("CT", "MRI", "X-ray", "histopathology")


def text(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, n)).capitalize() + "."


def jpeg(path: Path, rng: np.random.Generator, size: int = 48) -> Path:
    """A small JPEG: a coloured block on a noisy background."""
    pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    x, y = rng.integers(0, size // 2, 2)
    pixels[y:y + size // 3, x:x + size // 3] = rng.integers(80, 255, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)
    return path


def qwen_folder(folder: Path, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A Qwen3-Instruct-format folder: config, bf16 safetensors, Qwen2Tokenizer files."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, Qwen2Tokenizer, Qwen3Config, Qwen3ForCausalLM
    from transformers.tokenization_utils_base import AddedToken

    rng = np.random.default_rng(seed)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator([text(rng, 40) for _ in range(300)], trainer=trainer)
    vocab = bpe.get_vocab()
    merges = [tuple(pair) for pair in json.loads(bpe.to_str())["model"]["merges"]]
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token="<|endoftext|>",
                               pad_token="<|endoftext|>", errors="replace", model_max_length=131072)
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIALS[1:]])
    tokenizer.eos_token = "<|im_end|>"  # the Instruct models end a turn with <|im_end|>
    tokenizer.chat_template = QWEN_TEMPLATE
    assert tokenizer.convert_tokens_to_ids("<|endoftext|>") == len(vocab), "specials must follow the BPE vocabulary"
    padded = -(-len(tokenizer) // 128) * 128 + 128  # Qwen pads its embeddings well past the tokenizer
    config = Qwen3Config(vocab_size=padded, hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                         max_position_embeddings=40960, rope_theta=1000000.0, tie_word_embeddings=True,
                         bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
                         eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(eos_token_id=[config.eos_token_id, config.bos_token_id],
                                               pad_token_id=config.bos_token_id, do_sample=True, temperature=0.7)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def siglip_folder(folder: Path, seed: int = 0, hidden: int = 32) -> Path:
    """A full SiglipModel checkpoint (both towers) at 384 px / patch 14, with its preprocessor config."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(seed)
    config = SiglipConfig(
        vision_config=dict(image_size=384, patch_size=14, hidden_size=hidden, intermediate_size=2 * hidden,
                           num_hidden_layers=2, num_attention_heads=2),
        text_config=dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                         num_attention_heads=2, vocab_size=200, max_position_embeddings=64,
                         pad_token_id=1, bos_token_id=198, eos_token_id=199))
    SiglipModel(config).save_pretrained(folder, safe_serialization=True)
    SiglipImageProcessor(size={"height": 384, "width": 384}, resample=3, image_mean=[0.5] * 3,
                         image_std=[0.5] * 3).save_pretrained(folder)
    return folder


def _conversation(rng, images: int, answer: str) -> list[dict]:
    return [{"from": "human", "value": "<image>\n" * images + text(rng, 8).rstrip(".") + "?"},
            {"from": "gpt", "value": answer}]


def llava_sources(root: Path, seed: int = 0, per_source: int = 12) -> list[dict]:
    """LLaVA-format files of every source the paper profile names; returns importer entries."""
    rng = np.random.default_rng(seed)
    images = root / "images"
    entries = []

    def write(name, family, kind, records, jsonl=False):
        path = root / f"{name}.{'jsonl' if jsonl else 'json'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records) if jsonl else json.dumps(records, indent=1))
        entries.append({"name": name, "format": "llava", "path": str(path), "image_root": str(images),
                        "family": family, "kind": kind})

    def image(name, i, k=0):
        return str(jpeg(images / name / f"{i:04d}_{k}.jpg", rng).relative_to(images))

    captions = {"datacomp": "general_caption", "ccs": "general_caption", "llava-med-60k-im-text": "medical_caption",
                "llava-med-alignment": "medical_caption", "llava-med-fig-caption": "medical_caption",
                "medtrinity": "medical_caption", "pubmedvision-alignment": "medical_caption",
                "roco": "medical_caption", "rocov2": "medical_caption"}
    for name, family in captions.items():
        write(name, family, "caption", [{"id": f"{name}_{i}", "image": image(name, i),
                                         "conversations": [{"from": "human", "value": "<image>"},
                                                           {"from": "gpt", "value": text(rng, 25)}]}
                                        for i in range(per_source)])
    for name in ("obelics", "mmc4"):  # interleaved documents: several images inside the text
        write(name, "general_interleaved", "interleaved", [
            {"id": f"{name}_{i}", "image": [image(name, i, 0), image(name, i, 1)],
             "conversations": [{"from": "human", "value": f"{text(rng, 20)} <image> {text(rng, 20)} <image>"},
                               {"from": "gpt", "value": text(rng, 30)}]} for i in range(per_source)], jsonl=True)
    mammoth = []
    for i in range(3 * per_source):  # Mammoth-VL: no refusal flag; some refusals, some text-only records
        answer = "Sorry, I can't help with that." if i % 6 == 5 else f"{text(rng, 15)} So the answer is B."
        record = {"id": f"mammoth_{i}", "source": "chartqa", "conversations": _conversation(rng, int(i % 4 != 3), answer)}
        if i % 4 != 3:
            record["image"] = image("mammoth", i)
        mammoth.append(record)
    write("mammoth-vl", "general_instruction", "instruction", mammoth, jsonl=True)
    write("llava-med-instruct", "medical_instruction", "dialogue", [
        {"id": f"llava_med_{i}", "image": image("llava-med", i),
         "conversations": _conversation(rng, 1, text(rng, 20)) + [
             {"from": "human", "value": "And the modality?"}, {"from": "gpt", "value": str(rng.choice(MODALITIES))}]}
        for i in range(per_source)])
    write("pubmedvision-instruct", "medical_instruction", "instruction", [
        {"id": f"pmv_{i}", "image": [image("pubmedvision", i, 0), image("pubmedvision", i, 1)],
         "modality": str(rng.choice(MODALITIES)), "body_part": "Chest",
         "conversations": _conversation(rng, 2, text(rng, 20))} for i in range(per_source)])
    return entries


def _items(name: str, split: str, n: int, rng, folder: Path) -> list:
    from infimed_lib.data.benchmarks import MMMU_MED_SUBJECTS, BenchmarkItem

    def picture(i, k=0):
        return str(jpeg(folder / ".source" / f"{split}-{i}-{k}.jpg", rng))

    items = []
    for i in range(n):
        ident, options = f"{split}_{i:04d}", dict(zip("ABCD", ("CT", "MRI", "X-ray", "Ultrasound")))
        answer = str(rng.choice(list(options)))
        if name in ("vqa-rad", "pathvqa"):
            yes = i % 2 == 0
            items.append(BenchmarkItem(name, ident, text(rng, 6) + "?", [picture(i)],
                                       answer=("yes" if i % 4 == 0 else "no") if yes else "right upper lobe",
                                       question_type="yes_no" if yes else "open"))
        elif name == "slake":
            kind = ("yes_no", "closed", "open")[i % 3]
            items.append(BenchmarkItem(name, str((1000 if split == "train" else 5000) + i), text(rng, 6) + "?", [picture(i)],
                                       answer={"yes_no": "Yes", "closed": "Lung", "open": "Right lung"}[kind],
                                       question_type=kind, modality="CT", meta={"location": "Lung"}))
        elif name == "pmc-vqa":
            items.append(BenchmarkItem(name, ident, text(rng, 6) + "?", [picture(i)], options, answer,
                                       "multiple_choice", meta={"Caption": text(rng, 10)}))
        elif name == "omnimedvqa":
            items.append(BenchmarkItem(name, ident, text(rng, 6) + "?", [picture(i)], options, answer,
                                       "multiple_choice", modality="CT",
                                       meta={"dataset": "Chest CT Scan", "question_type": "Modality Recognition"}))
        elif name == "medxpertqa-mm":
            items.append(BenchmarkItem(name, f"MM-{i}", text(rng, 12), [picture(i), picture(i, 1)], options,
                                       answer, "multiple_choice", meta={"medical_task": "Diagnosis"}))
        else:  # mmmu-med
            items.append(BenchmarkItem(name, f"validation_{MMMU_MED_SUBJECTS[i % 5]}_{i}", "<image 1> " + text(rng, 8),
                                       [picture(i)], options, answer, "multiple_choice", modality="CT scans",
                                       meta={"subject": MMMU_MED_SUBJECTS[i % 5]}))
    return items


# Where write_benchmark puts the test split -> where the publishers put the train split.
TRAIN_FILES = {"vqa-rad": ("data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"),
               "pathvqa": ("data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"),
               "slake": ("test.json", "train.json"), "pmc-vqa": ("test_2.csv", "train_2.csv")}


def benchmark_folders(root: Path, seed: int = 0, per_benchmark: int = 10, train_size: int = 16) -> dict[str, Path]:
    """The seven benchmarks in their published layouts; the four VQA sets also get a train split."""
    from infimed_lib.data.benchmarks import BENCHMARKS, write_benchmark

    rng = np.random.default_rng(seed)
    folders = {}
    for name in BENCHMARKS:
        folder = root / name
        if name in TRAIN_FILES:  # written first as a test split, then moved to the train file name
            write_benchmark(name, _items(name, "train", train_size, rng, folder), folder)
            test_name, train_name = TRAIN_FILES[name]
            (folder / test_name).rename(folder / train_name)
        write_benchmark(name, _items(name, "test", per_benchmark, rng, folder), folder)
        shutil.rmtree(folder / ".source")
        folders[name] = folder
    return folders


def sources_file(root: Path, seed: int = 0, per_source: int = 12) -> tuple[Path, dict[str, Path]]:
    """Everything the importer needs: LLaVA files, benchmark folders, and the sources YAML naming them."""
    import yaml

    entries = llava_sources(root / "llava", seed, per_source)
    benchmarks = benchmark_folders(root / "benchmarks", seed)
    entries += [{"name": name, "format": name, "path": str(benchmarks[name])} for name in TRAIN_FILES]
    spec = root / "sources.yaml"
    spec.write_text(yaml.safe_dump({"sources": entries, "benchmarks": {k: str(v) for k, v in benchmarks.items()}},
                                   sort_keys=False))
    return spec, benchmarks
