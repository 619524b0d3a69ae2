"""What the trainer needs from a model: loading, image preprocessing, training switches.

The trainer only calls ``model(**inputs)`` and reads ``.logits``, so any causal LM that accepts
``pixel_values`` trains; this module holds the few places where it touches the model's config.
Chapter 03 describes the InfiMed model itself.
"""
from __future__ import annotations

from pathlib import Path

import torch

from infimed_lib.common import ParameterError, require_path
from infimed_lib.data.tokenizer import load_tokenizer
from infimed_lib.model import ImageProcessor
from infimed_lib.model import load_model
from infimed_lib.model import preprocess_images


def load_stage_tokenizer(path: str | Path):
    """The tokenizer of the run (ours, or a real Qwen3 folder). Chapter 00."""
    return load_tokenizer(require_path("tokenizer_path", path, kind="dir"))


def load_stage_model(path: str | Path):
    """Load the starting weights of a stage from a ``save_pretrained`` folder. Chapters 03-07."""
    return load_model(require_path("init_from", path, kind="dir"))


def pixel_function(model):
    """``images -> pixel_values`` for this model, from ``infimed_lib.model.preprocess_images``."""
    config = model.config
    return lambda images: preprocess_images(images, config)


def _configs(model):
    """The model's config and its text sub-config (where ``use_cache`` lives in composites)."""
    config = model.config
    sub = getattr(config, "text_config", None)
    return [c for c in (config, sub) if c is not None]


def storage_dtype(model) -> torch.dtype:
    """The dtype the model's floating-point weights arrived in (the checkpoint's, e.g. bfloat16)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def prepare_model_for_training(model, config, device: torch.device) -> dict:
    """Upcast to float32 master weights, set the stage's visual tokens, turn the KV cache off,
    enable gradient checkpointing. Chapter 04.

    Master weights are float32 whatever dtype the checkpoint was saved in: AdamW's update of a
    bfloat16 weight is rounded to 8 significant bits, so at a learning rate of 2e-5 most updates
    vanish. bfloat16 arithmetic comes from autocast instead (``mixed_precision``, bf16 on GPUs).
    ``use_cache=False`` matters beyond memory: with a cache object present, `transformers`
    stops treating restarting positions as packed samples (see chapter 04). Returns the
    settings to restore before saving (the saved checkpoint generates with a cache and keeps the
    dtype the weights were stored in).
    """
    stored = storage_dtype(model)
    if stored != torch.float32:
        model.to(torch.float32)
    if hasattr(model, "set_num_visual_tokens"):
        try:
            model.set_num_visual_tokens(config.num_visual_tokens)
        except ValueError as error:
            raise ParameterError("num_visual_tokens", str(error)) from None
    settings = {"use_cache": {id(c): getattr(c, "use_cache", None) for c in _configs(model)},
                "storage_dtype": stored}
    for sub in _configs(model):
        sub.use_cache = False
    wanted = config.gradient_checkpointing == "on" or (
        config.gradient_checkpointing == "auto" and device.type == "cuda")
    if wanted:
        if not getattr(model, "supports_gradient_checkpointing", False):
            raise ParameterError("gradient_checkpointing", f"{type(model).__name__} does not support it")
        # Non-reentrant checkpointing works with a frozen vision tower feeding trainable layers.
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    settings["checkpointing"] = wanted
    return settings


def restore_inference_settings(model, settings: dict) -> None:
    """Undo ``prepare_model_for_training``'s cache switch (checkpointing is not saved)."""
    for sub in _configs(model):
        if settings["use_cache"].get(id(sub)) is not None:
            sub.use_cache = settings["use_cache"][id(sub)]
    if settings["checkpointing"]:
        model.activation_checkpointing_disable()


def save_companions(model, tokenizer, folder: str | Path) -> None:
    """Save the tokenizer and, for models with a vision tower, the image processor beside the
    weights, so the folder loads in `transformers` and in the next stage on its own."""
    if tokenizer is not None:
        tokenizer.save_pretrained(str(folder))
    if getattr(model.config, "vision_config", None) is not None:
        ImageProcessor(model.config).save_pretrained(folder)
