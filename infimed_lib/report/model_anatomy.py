"""Looking inside the model: parameter counts, tensor shapes from pixels to logits, timings.

Chapter 03 (model anatomy) shows these tables; the measurements behind them are made here so
that the notebook only calls and displays. Nothing is estimated: counts come from the modules,
shapes from forward hooks on a real forward pass, times from a clock around real forwards.
"""
from __future__ import annotations

import statistics
import time

import pandas as pd
import torch
from PIL import Image

from infimed_lib.data.corpus.dicom_images import convert_dicom
from infimed_lib.data.corpus.dicom_images import dicom_path
from infimed_lib.data.tokenizer import encode_sample
from infimed_lib.model.processing import preprocess_images
from infimed_lib.train.steps import token_loss_sum

PARTS = {"vision_tower": "vision tower (SigLIP)", "projector": "projector (pool + MLP)",
         "language_model": "language model (Qwen3)"}


def parameter_table(model) -> pd.DataFrame:
    """Parameters per part, trainable vs frozen (tied weights counted once). Chapter 03."""
    rows = []
    for attribute, label in PARTS.items():
        params = list(getattr(model, attribute).parameters())
        trainable = sum(p.numel() for p in params if p.requires_grad)
        frozen = sum(p.numel() for p in params if not p.requires_grad)
        rows.append({"part": label, "parameters": trainable + frozen, "trainable": trainable, "frozen": frozen})
    table = pd.DataFrame(rows)
    total = table[["parameters", "trainable", "frozen"]].sum()
    table.loc[len(table)] = {"part": "total", **total.to_dict()}
    table["share %"] = (100 * table["parameters"] / total["parameters"]).round(2)
    return table


def example_image(path: str = "") -> Image.Image:
    """The image chapter 03 follows: ``path``, or a real CT slice shipped with pydicom. Chapter 03."""
    if path:
        with Image.open(path) as image:
            return image.convert("RGB")
    return convert_dicom(dicom_path("pydicom/CT_small.dcm"), "pydicom")[0].image


def example_inputs(model, tokenizer, images: list[Image.Image], question: str, answer: str) -> dict:
    """``input_ids``, ``labels`` and ``pixel_values`` of one chat sample at the model's token count. Chapter 03."""
    sample = {"id": "example", "images": ["image"] * len(images),
              "conversations": [{"from": "human", "value": "<image>\n" * len(images) + question},
                                {"from": "gpt", "value": answer}]}
    encoded = encode_sample(tokenizer, sample, model.config.num_visual_tokens)
    return {"input_ids": torch.tensor([encoded.input_ids]), "labels": torch.tensor([encoded.labels]),
            "pixel_values": preprocess_images(images, model.config).to(model.device)}


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).replace("torch.", "")


def _shape(value) -> tuple | None:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape), _dtype(value)
    if isinstance(value, (tuple, list)) and value:
        return _shape(value[0])
    if hasattr(value, "to_tuple"):  # transformers ModelOutput
        return _shape(value.to_tuple())
    return None


def _traced_modules(model) -> list[tuple[str, str, torch.nn.Module]]:
    vision = model.vision_tower.vision_model if hasattr(model.vision_tower, "vision_model") else model.vision_tower
    llm = model.language_model
    steps = [("vision", "patch + position embeddings", vision.embeddings)]
    steps += [("vision", f"encoder layer {i}", layer) for i, layer in enumerate(vision.encoder.layers)]
    steps += [("vision", "final layer norm (729 patch features)", vision.post_layernorm),
              ("projector", "adaptive average pool (N x N grid)", model.projector.pool),
              ("projector", "linear 1", model.projector.linear_1), ("projector", "GELU", model.projector.act),
              ("projector", "linear 2 (visual tokens)", model.projector.linear_2),
              ("LLM", "token embeddings (placeholders still in)", llm.get_input_embeddings())]
    steps += [("LLM", f"decoder layer {i}", layer) for i, layer in enumerate(llm.model.layers)]
    steps += [("LLM", "final RMS norm", llm.model.norm), ("LLM", "LM head (logits)", llm.lm_head)]
    return steps


def shape_trace(model, input_ids: torch.Tensor, pixel_values: torch.Tensor) -> pd.DataFrame:
    """Every tensor from pixels to logits in one forward, recorded by forward hooks. Chapter 03."""
    rows = [{"part": "input", "step": "pixel_values", "module": "", "shape": tuple(pixel_values.shape),
             "dtype": _dtype(pixel_values)}]
    handles = []

    def record(part, step, module):
        def hook(_module, _inputs, output):
            shape = _shape(output)
            if shape is not None:
                rows.append({"part": part, "step": step, "module": type(module).__name__,
                             "shape": shape[0], "dtype": shape[1]})
        return hook

    def record_splice(_module, _args, kwargs):
        embeds = kwargs.get("inputs_embeds")
        rows.append({"part": "LLM", "step": "embeddings with image features spliced in",
                     "module": "(splice)", "shape": tuple(embeds.shape), "dtype": _dtype(embeds)})

    try:
        for part, step, module in _traced_modules(model):
            handles.append(module.register_forward_hook(record(part, step, module)))
        handles.append(model.language_model.register_forward_pre_hook(record_splice, with_kwargs=True))
        with torch.no_grad():
            model(input_ids=input_ids.to(model.device), pixel_values=pixel_values.to(model.device))
    finally:
        for handle in handles:
            handle.remove()
    # Execution order differs from reading order (the token lookup runs before the vision
    # tower, and the splice hook fires last), so rows are sorted into the data's path.
    table = pd.DataFrame(rows)
    rank = table["part"].map({"input": 0, "vision": 1, "projector": 2, "LLM": 5})
    rank[table["step"].str.startswith("token embeddings")] = 3
    rank[table["step"].str.startswith("embeddings with")] = 4
    return table.assign(rank=rank).sort_values("rank", kind="stable").drop(columns="rank").reset_index(drop=True)


def time_forward(model, input_ids: torch.Tensor, pixel_values: torch.Tensor, repeats: int = 5,
                 backward: bool = False) -> float:
    """Median seconds of a forward (and backward when asked) on these inputs, after one warm-up. Chapter 03."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    input_ids, pixel_values = input_ids.to(model.device), pixel_values.to(model.device)
    times = []
    for index in range(repeats + 1):
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.set_grad_enabled(backward):
            out = model(input_ids=input_ids, pixel_values=pixel_values)
            if backward:  # the trainer's loss: every next token a target
                token_loss_sum(out.logits, input_ids).backward()
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        if index:  # the first call pays one-time allocation costs
            times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    return statistics.median(times)


def token_count_table(model, tokenizer, images: list[Image.Image], question: str, answer: str,
                      counts=(144, 729), repeats: int = 5) -> pd.DataFrame:
    """Sequence length and step times of one sample at each visual-token count. Chapter 03.

    The model's own ``num_visual_tokens`` is switched for each row and restored afterwards.
    """
    original, rows = model.config.num_visual_tokens, []
    try:
        for count in counts:
            model.set_num_visual_tokens(count)
            inputs = example_inputs(model, tokenizer, images, question, answer)
            ids, pixels = inputs["input_ids"], inputs["pixel_values"]
            forward = time_forward(model, ids, pixels, repeats)
            both = time_forward(model, ids, pixels, repeats, backward=True)
            rows.append({"visual tokens": count, "sequence length": ids.shape[1],
                         "forward (ms)": 1000 * forward, "forward + backward (ms)": 1000 * both})
    finally:
        model.set_num_visual_tokens(original)
    return pd.DataFrame(rows).round(1)


def packed_vs_separate(model, samples: list[dict], pad: int = 0) -> dict:
    """Run samples packed in one row and one by one; the largest logit difference. Chapter 03.

    ``samples`` hold ``input_ids`` (1, n) and ``pixel_values`` as `example_inputs` makes them.
    A difference at float rounding level shows that packed samples do not see each other.
    """
    device = model.device
    ids = torch.cat([s["input_ids"][0] for s in samples] + [torch.zeros(pad, dtype=torch.long)])
    positions = torch.cat([torch.arange(s["input_ids"].shape[1]) for s in samples] + [torch.arange(pad)])
    mask = torch.cat([torch.ones(ids.shape[0] - pad, dtype=torch.long), torch.zeros(pad, dtype=torch.long)])
    pixels = torch.cat([s["pixel_values"] for s in samples])
    with torch.no_grad():
        packed = model(input_ids=ids[None].to(device), pixel_values=pixels.to(device),
                       position_ids=positions[None].to(device), attention_mask=mask[None].to(device)).logits[0]
        start, worst = 0, 0.0
        for sample in samples:
            length = sample["input_ids"].shape[1]
            alone = model(input_ids=sample["input_ids"].to(device),
                          pixel_values=sample["pixel_values"].to(device)).logits[0]
            worst = max(worst, float((packed[start:start + length] - alone).abs().max()))
            start += length
    return {"row length": int(ids.shape[0]), "samples": len(samples), "max |logit difference|": worst}
