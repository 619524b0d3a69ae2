"""`InfiMedConfig`: a SigLIP vision config, a Qwen3 text config and the projector settings.

Chapter 03 (model anatomy) walks through every field. The number of visual tokens per image is a
plain config field, read at forward time, so one checkpoint can run at 144 tokens (continual
pretraining) and at 729 tokens (SFT) without rebuilding anything (paper section 4, Table 5).
"""
from __future__ import annotations

import math

from transformers import PreTrainedConfig, Qwen3Config, SiglipVisionConfig


def patch_grid_side(vision_config: SiglipVisionConfig) -> int:
    """Patches per side of the SigLIP grid (27 for so400m-patch14-384 and for the tiny preset)."""
    return vision_config.image_size // vision_config.patch_size


def pool_side(num_visual_tokens: int, vision_config: SiglipVisionConfig) -> int:
    """Side N of the N x N pooled grid for ``num_visual_tokens``; ValueError if impossible. Chapter 03."""
    if isinstance(num_visual_tokens, bool) or not isinstance(num_visual_tokens, int) or num_visual_tokens < 1:
        raise ValueError(f"num_visual_tokens must be a positive int, got {num_visual_tokens!r}")
    side = math.isqrt(num_visual_tokens)
    if side * side != num_visual_tokens:
        raise ValueError(f"num_visual_tokens={num_visual_tokens} is not a perfect square "
                         "(adaptive pooling makes an N x N grid: 144 = 12x12, 729 = 27x27)")
    grid = patch_grid_side(vision_config)
    if side > grid:
        raise ValueError(f"num_visual_tokens={num_visual_tokens} ({side}x{side}) exceeds the vision "
                         f"tower's {grid}x{grid} = {grid * grid} patches; pooling can only shrink")
    return side


class InfiMedConfig(PreTrainedConfig):
    """Config of `InfiMedForConditionalGeneration` (model_type ``"infimed"``). Chapter 03.

    ``vision_feature_layer=-1`` takes SigLIP's last hidden state (after its final layer norm);
    another index takes that entry of the tower's hidden states instead. ``packed_attention``
    picks how packed rows are isolated: ``"mask"`` (a block-diagonal 4D mask), ``"varlen"``
    (flatten the batch and let the kernel split it at restarting positions) or ``"auto"``
    (varlen for flash-attention kernels, which take no dense mask; mask otherwise).
    """

    model_type = "infimed"
    sub_configs_defaults = {"vision_config": SiglipVisionConfig, "text_config": Qwen3Config}

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    image_token_id: int = 3
    num_visual_tokens: int = 144
    projector_hidden_act: str = "gelu"
    projector_bias: bool = True
    vision_feature_layer: int = -1
    packed_attention: str = "auto"
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        # The composite follows its LLM: tied input/output embeddings are a property of the LLM.
        self.tie_word_embeddings = bool(self.text_config.tie_word_embeddings)
        pool_side(self.num_visual_tokens, self.vision_config)
        if not 0 <= self.image_token_id < self.text_config.vocab_size:
            raise ValueError(f"image_token_id={self.image_token_id} is outside the LLM vocabulary "
                             f"(vocab_size={self.text_config.vocab_size})")
        if self.packed_attention not in ("auto", "mask", "varlen"):
            raise ValueError(f"packed_attention={self.packed_attention!r} is not one of 'auto', 'mask', 'varlen'")
        layers = self.vision_config.num_hidden_layers
        if not -(layers + 1) <= self.vision_feature_layer <= layers:
            raise ValueError(f"vision_feature_layer={self.vision_feature_layer} is not a hidden-state index "
                             f"of a {layers}-layer vision tower")

    @property
    def pool_side(self) -> int:
        return pool_side(self.num_visual_tokens, self.vision_config)
