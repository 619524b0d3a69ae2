"""How much attention does the answer position pay to the image tokens? (Chapter 08)

The last prompt position is where the answer's first token is predicted. Its attention weights
in each layer (averaged over heads) say how much of what it reads comes from the image
placeholder positions. Uniform attention over the prompt would give each position the same
weight, so the image tokens' share of the sequence is the reference: a model that reads its
images puts more than that share on them in some layer; one that ignores them puts less.

Attention weights exist only in `transformers`' eager attention (SDPA and flash kernels never
form them), so the language model is switched to eager for the measurement and back after it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from infimed_lib.common import ParameterError, require_positive_int
from infimed_lib.eval.generate import _open_image
from infimed_lib.eval.generate import build_prompts
from infimed_lib.eval.generate import cpu_threads
from infimed_lib.eval.run import load_for_eval
from infimed_lib.eval.summary import CLOSED_TYPES
from infimed_lib.model import preprocess_images


@contextmanager
def eager_attention(model):
    """Run the block with the language model on eager attention, then restore its implementation (Chapter 08)."""
    language_model = model.language_model
    previous = language_model.config._attn_implementation
    language_model.set_attn_implementation("eager")
    try:
        yield model
    finally:
        language_model.set_attn_implementation(previous)


def attention_shares(attentions: Sequence[torch.Tensor], is_image: torch.Tensor) -> np.ndarray:
    """Per layer, the share (0-1) of the last query position's attention on ``is_image`` keys (Chapter 08).

    ``attentions``: one ``(1, heads, queries, keys)`` tensor per layer, as a forward pass with
    ``output_attentions=True`` returns them; ``is_image``: a boolean mask over the keys. Shares are
    averaged over heads.
    """
    if not attentions:
        raise ParameterError("attentions", "is empty; run the model with output_attentions=True on eager attention")
    shares = []
    for layer in attentions:
        if layer.dim() != 4 or layer.shape[0] != 1 or layer.shape[-1] != is_image.numel():
            raise ParameterError("attentions", f"expected (1, heads, queries, {is_image.numel()}) per layer, "
                                 f"got {tuple(layer.shape)}")
        last = layer[0, :, -1, :].float()  # (heads, keys)
        shares.append(float((last[:, is_image.to(last.device)].sum(-1) / last.sum(-1)).mean()))
    return np.array(shares)


def _spread(items: Sequence, count: int) -> list:
    """Up to ``count`` closed single-image items, taken from each benchmark in turn."""
    groups: dict[str, list] = {}
    for item in items:
        if item.question_type in CLOSED_TYPES and len(item.images) == 1:
            groups.setdefault(item.benchmark, []).append(item)
    chosen, depth = [], 0
    while len(chosen) < count and any(depth < len(g) for g in groups.values()):
        chosen += [g[depth] for g in groups.values() if depth < len(g)][: count - len(chosen)]
        depth += 1
    return chosen


@torch.no_grad()
def image_attention_share(model, tokenizer, items: Sequence, count: int = 32, reasoning: bool = False) -> pd.DataFrame:
    """Attention of the answer position on the image tokens, per layer, over ``count`` prompts (Chapter 08).

    Prompts are closed single-image questions taken from each benchmark in turn, built as the
    evaluation builds them; one unpadded forward pass each. One row per layer: ``layer``
    (1 = first), ``prompts``, ``attention_on_image_pct`` (mean over prompts and heads) and
    ``image_token_share_pct`` (image tokens / prompt length: the uniform-attention reference).
    """
    require_positive_int("count", count)
    chosen = _spread(items, count)
    if not chosen:
        raise ParameterError("items", "holds no closed question with one image")
    device = next(model.parameters()).device
    shares, reference = [], []
    with eager_attention(model):
        for prompt in tqdm(build_prompts(chosen, tokenizer, model.config.num_visual_tokens, reasoning),
                           desc="attention", unit="prompt"):
            ids = torch.tensor([prompt.input_ids], device=device)
            pixels = preprocess_images([_open_image(i) for i in prompt.images], model.config).to(device)
            output = model(input_ids=ids, pixel_values=pixels, output_attentions=True, use_cache=False)
            is_image = ids[0] == model.config.image_token_id
            shares.append(attention_shares(output.attentions, is_image))
            reference.append(float(is_image.float().mean()))
    mean = np.mean(shares, axis=0)
    return pd.DataFrame({"layer": np.arange(1, len(mean) + 1), "prompts": len(chosen),
                         "attention_on_image_pct": 100 * mean, "image_token_share_pct": 100 * float(np.mean(reference))})


def attention_share_by_checkpoint(checkpoints: Mapping[str, str | Path], tokenizer_dir: str | Path, items: Sequence,
                                  count: int = 32, *, reasoning: bool = False, device: str = "auto",
                                  dtype: str = "auto", num_threads: int = 0) -> pd.DataFrame:
    """:func:`image_attention_share` for each ``name -> checkpoint folder``, in one tidy table (Chapter 08).

    Columns: ``checkpoint, layer, prompts, attention_on_image_pct, image_token_share_pct``. Each
    checkpoint keeps its own number of visual tokens, so the reference differs between them.
    """
    if not isinstance(checkpoints, Mapping) or not checkpoints:
        raise ParameterError("checkpoints", "expected a non-empty mapping name -> checkpoint folder")
    tables = []
    for name, folder in checkpoints.items():
        model, tokenizer = load_for_eval(folder, tokenizer_dir, device, dtype)
        with cpu_threads(num_threads):
            tables.append(image_attention_share(model, tokenizer, items, count, reasoning).assign(checkpoint=name))
        del model
    table = pd.concat(tables, ignore_index=True)
    return table[["checkpoint", *[c for c in table.columns if c != "checkpoint"]]]
