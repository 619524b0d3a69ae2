"""Model presets: `tiny` (random init, CPU) and `infimed-1.7b` / `infimed-4b` (local weights).

Chapter 03 (model anatomy) builds the model through `build_model`; the paper profile points
``llm_path`` and ``vision_path`` at local copies of Qwen3-1.7B/4B-Instruct and
siglip-so400m-patch14-384 (paper section 4, Table 5). Nothing is ever downloaded.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields
from typing import Mapping

import torch
from transformers import GenerationConfig, Qwen3ForCausalLM, SiglipVisionModel

from infimed_lib.common import ParameterError, require_choice, require_path, require_type

from infimed_lib.model.configuration import InfiMedConfig
from infimed_lib.model.modeling import InfiMedForConditionalGeneration

PRESETS = ("tiny", "infimed-1.7b", "infimed-4b")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
ATTENTION = ("sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3")

# Small widths, but the paper's geometry: 54 px / 2 px patches = 27 x 27 = 729 patches, pooled
# to 12 x 12 = 144 or kept at 729, so token counts and sequence lengths match the real model.
TINY_VISION = dict(image_size=54, patch_size=2, hidden_size=64, intermediate_size=128,
                   num_hidden_layers=2, num_attention_heads=2, vision_use_head=False)
TINY_TEXT = dict(hidden_size=160, intermediate_size=448, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=40, max_position_embeddings=8192,
                 tie_word_embeddings=True)
# Hidden sizes of the published checkpoints, to warn when a path points at another model.
EXPECTED_WIDTHS = {"infimed-1.7b": (2048, 1152), "infimed-4b": (2560, 1152)}
# The published checkpoints' shapes (config.json of Qwen3-1.7B/4B and siglip-so400m-patch14-384),
# for building a random-weight model of the paper's size without the weights (make gpu-check):
# build_model("tiny", vocab_size=..., text_config=..., vision_config=...).
SIGLIP_SO400M = dict(image_size=384, patch_size=14, hidden_size=1152, intermediate_size=4304,
                     num_hidden_layers=27, num_attention_heads=16, vision_use_head=False)
PUBLISHED_SHAPES = {
    "infimed-1.7b": {"vocab_size": 151936, "vision_config": SIGLIP_SO400M, "text_config": dict(
        hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
        num_key_value_heads=8, head_dim=128, max_position_embeddings=40960, rope_theta=1000000.0,
        tie_word_embeddings=True)},
    "infimed-4b": {"vocab_size": 151936, "vision_config": SIGLIP_SO400M, "text_config": dict(
        hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32,
        num_key_value_heads=8, head_dim=128, max_position_embeddings=40960, rope_theta=1000000.0,
        tie_word_embeddings=True)},
}
# Ids our trained tokenizers give their special tokens (specials come first in the vocabulary).
DEFAULT_SPECIAL_IDS = {"pad": 0, "eos": 2, "image": 3}
TOKEN_ID_KEYS = ("pad", "eos", "image", "vocab_size")


@dataclass
class ModelSpec:
    """Everything `build_model` needs, validated; written as ``<run_dir>/model/config.json``."""

    preset: str = "tiny"
    seed: int = 0
    num_visual_tokens: int = 144
    vocab_size: int | None = None  # tiny only; default: the tokenizer's size, else 2048
    image_token_id: int | None = None  # default: from the tokenizer, else 3
    tokenizer_dir: str | None = None
    llm_path: str | None = None
    vision_path: str | None = None
    dtype: str = "float32"
    attn_implementation: str = "sdpa"
    packed_attention: str = "auto"
    vision_feature_layer: int = -1
    text_config: dict = field(default_factory=dict)  # tiny only: Qwen3Config fields to override
    vision_config: dict = field(default_factory=dict)  # tiny only: SiglipVisionConfig overrides

    def __post_init__(self):
        require_choice("preset", self.preset, PRESETS)
        require_type("seed", self.seed, int)
        require_type("num_visual_tokens", self.num_visual_tokens, int)
        require_choice("dtype", self.dtype, DTYPES)
        require_choice("attn_implementation", self.attn_implementation, ATTENTION)
        require_choice("packed_attention", self.packed_attention, ("auto", "mask", "varlen"))
        for name in ("vocab_size", "image_token_id"):
            if getattr(self, name) is not None and require_type(name, getattr(self, name), int) < 0:
                raise ParameterError(name, f"must be >= 0, got {getattr(self, name)}")
        for name in ("text_config", "vision_config"):
            require_type(name, getattr(self, name), dict)
        if self.preset == "tiny":
            for name in ("llm_path", "vision_path"):
                if getattr(self, name):
                    raise ParameterError(name, "is only for the infimed-* presets; tiny is random-init")
        else:
            for name in ("llm_path", "vision_path"):
                require_path(name, getattr(self, name), "dir")
            sized = [n for n in ("text_config", "vision_config", "vocab_size") if getattr(self, n) not in ({}, None)]
            if sized:
                raise ParameterError(sized[0], f"the {self.preset} preset takes its sizes from the checkpoints; "
                                     "text_config, vision_config and vocab_size are tiny-only")
            if self.image_token_id is None and not self.tokenizer_dir:
                raise ParameterError("tokenizer_dir", f"the {self.preset} preset needs the tokenizer "
                                     "(or image_token_id) to know the image placeholder id")


def build_model(preset: str = "tiny", token_ids: Mapping[str, int] | None = None,
                **overrides) -> InfiMedForConditionalGeneration:
    """Build the InfiMed model from a preset; ``overrides`` are `ModelSpec` fields. Chapter 03.

    ``token_ids`` (``pad``, ``eos``, ``image`` and ``vocab_size``, as
    ``infimed_lib.data.tokenizer.model_token_ids`` reads them off a tokenizer) fix the vocabulary,
    the image placeholder id and the end-of-turn id that stops generation; the built model carries
    them in its config, so the model package never needs the tokenizer. ``tokenizer_dir`` only
    records where that tokenizer lives. Initialisation is seeded by ``seed`` without touching the
    global random state.
    """
    spec = model_spec(preset, **overrides)
    if token_ids is None and spec.tokenizer_dir:
        raise ParameterError("token_ids", "build_model reads no tokenizer folder (tokenizer_dir only records it); "
                             "pass token_ids=infimed_lib.data.tokenizer.model_token_ids(tokenizer)")
    if token_ids is not None:
        missing = [key for key in TOKEN_ID_KEYS if not isinstance(token_ids.get(key), int)]
        if missing:
            raise ParameterError("token_ids", f"needs integer {missing} (see data.tokenizer.model_token_ids)")
    ids = _special_ids(spec, token_ids)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        build = _build_tiny if spec.preset == "tiny" else _build_pretrained
        model = build(spec, token_ids, ids)
    model.generation_config = GenerationConfig(
        eos_token_id=ids["eos"], pad_token_id=ids["pad"], do_sample=False, suppress_tokens=[ids["image"]])
    model.config.text_config.eos_token_id = ids["eos"]
    model.config.text_config.pad_token_id = ids["pad"]
    return model.to(DTYPES[spec.dtype])


def model_spec(preset: str = "tiny", **overrides) -> ModelSpec:
    """The validated `ModelSpec` for these arguments (for ``common.write_config``). Chapter 03."""
    known = {f.name for f in fields(ModelSpec)} - {"preset"}
    for name in overrides:
        if name not in known:
            raise ParameterError(name, f"unknown build_model override; known: {sorted(known)}")
    return ModelSpec(preset=preset, **overrides)


def _special_ids(spec: ModelSpec, token_ids: Mapping[str, int] | None) -> dict:
    if token_ids is None:
        ids = dict(DEFAULT_SPECIAL_IDS)
    else:
        ids = {key: token_ids[key] for key in ("pad", "eos", "image")}
    if spec.image_token_id is not None:
        ids["image"] = spec.image_token_id
    return ids


def _build_tiny(spec: ModelSpec, token_ids: Mapping[str, int] | None, ids: dict) -> InfiMedForConditionalGeneration:
    tokens = token_ids["vocab_size"] if token_ids is not None else None
    vocab = spec.vocab_size if spec.vocab_size is not None else (tokens if tokens is not None else 2048)
    if tokens is not None and vocab < tokens:
        raise ParameterError("vocab_size", f"{vocab} is smaller than the tokenizer's {tokens} tokens")
    vision = {**TINY_VISION, **spec.vision_config}
    text = {**TINY_TEXT, **spec.text_config, "vocab_size": vocab}
    config = _config(spec, vision, text, ids)
    model = InfiMedForConditionalGeneration(config)
    model.set_attn_implementation(spec.attn_implementation)
    return model


def _config(spec: ModelSpec, vision, text, ids: dict) -> InfiMedConfig:
    try:
        return InfiMedConfig(vision_config=vision, text_config=text, image_token_id=ids["image"],
                             num_visual_tokens=spec.num_visual_tokens, packed_attention=spec.packed_attention,
                             vision_feature_layer=spec.vision_feature_layer)
    except ValueError as error:  # the config names the field; say which override to change
        name = "num_visual_tokens" if "num_visual_tokens" in str(error) else "image_token_id" \
            if "image_token_id" in str(error) else "vision_feature_layer"
        raise ParameterError(name, str(error)) from None


class SiglipVisionTower(SiglipVisionModel):
    """`SiglipVisionModel` read from a full ``SiglipModel`` checkpoint (siglip-so400m-patch14-384
    ships both towers). Its text tower, contrastive logit scale and bias, and the pooling head
    (we keep all patches) are expected leftovers: naming them here keeps `transformers` from
    reporting hundreds of skipped keys, while any other missing or unexpected key is still
    reported. Chapter 03."""

    _keys_to_ignore_on_load_unexpected = [r"^text_model\.", r"^logit_(scale|bias)$", r"(^|\.)head\."]


def _build_pretrained(spec: ModelSpec, token_ids: Mapping[str, int] | None, ids: dict) -> InfiMedForConditionalGeneration:
    load = dict(local_files_only=True, dtype=DTYPES[spec.dtype], attn_implementation=spec.attn_implementation)
    vision = SiglipVisionTower.from_pretrained(str(spec.vision_path), vision_use_head=False, **load)
    llm = Qwen3ForCausalLM.from_pretrained(str(spec.llm_path), **load)
    expected_text, expected_vision = EXPECTED_WIDTHS[spec.preset]
    if (llm.config.hidden_size, vision.config.hidden_size) != (expected_text, expected_vision):
        warnings.warn(f"preset {spec.preset} expects LLM width {expected_text} and SigLIP width "
                      f"{expected_vision}; the checkpoints have {llm.config.hidden_size} and "
                      f"{vision.config.hidden_size}", stacklevel=3)
    if token_ids is not None and token_ids["vocab_size"] > llm.get_input_embeddings().num_embeddings:
        llm.resize_token_embeddings(token_ids["vocab_size"])
    config = _config(spec, vision.config, llm.config, ids)
    model = InfiMedForConditionalGeneration(config, vision_tower=vision, language_model=llm)
    # The composite config's sub-configs replace the towers' own; without this they would carry
    # no attention implementation (the packed-attention code reads it).
    model.set_attn_implementation(spec.attn_implementation)
    return model

