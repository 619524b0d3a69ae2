"""`InfiMedForConditionalGeneration`: frozen SigLIP -> adaptive-pool + MLP projector -> Qwen3.

Chapter 03 (model anatomy) follows one image through this file; the paper's section 4 and
Table 5 describe the architecture. Every transformer block comes from `transformers`
(`SiglipVisionModel`, `Qwen3ForCausalLM`); this file only wires them together, pools the
27 x 27 patch grid to N x N, and writes the projected image features into the LLM's input
embeddings at the ``<|image_pad|>`` positions.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel, Qwen3ForCausalLM, SiglipVisionModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import CausalLMOutputWithPast

try:
    from transformers.modeling_utils import slice_logits_to_keep
except ImportError as missing:  # seen on a GPU image with transformers 5.17: name the fix, not the symbol
    import transformers

    raise ImportError(f"transformers {transformers.__version__} is too old for infimed_lib (it lacks "
                      "modeling_utils.slice_logits_to_keep); install the pinned version from "
                      "requirements.txt (transformers==5.23.0)") from missing

from infimed_lib.model import attention
from infimed_lib.model.configuration import InfiMedConfig, patch_grid_side, pool_side


class InfiMedProjector(nn.Module):
    """Adaptive average pooling of the patch grid to N x N, then Linear-GELU-Linear. Chapter 03."""

    def __init__(self, config: InfiMedConfig):
        super().__init__()
        vision_width, text_width = config.vision_config.hidden_size, config.text_config.hidden_size
        self.grid_side = patch_grid_side(config.vision_config)
        self.pool = nn.AdaptiveAvgPool2d(config.pool_side)
        self.linear_1 = nn.Linear(vision_width, text_width, bias=config.projector_bias)
        self.act = ACT2FN[config.projector_hidden_act]
        self.linear_2 = nn.Linear(text_width, text_width, bias=config.projector_bias)

    def forward(self, patch_features: torch.Tensor, pool_side: int) -> torch.Tensor:
        images, patches, width = patch_features.shape
        if patches != self.grid_side ** 2:
            raise ValueError(f"vision tower gave {patches} patches per image, expected "
                             f"{self.grid_side}x{self.grid_side}; check the image size")
        grid = patch_features.transpose(1, 2).reshape(images, width, self.grid_side, self.grid_side)
        # The pooled size is read from the config at every call, so switching 144 <-> 729 tokens
        # between stages needs no new module (the pool has no weights).
        self.pool.output_size = pool_side
        pooled = self.pool(grid).flatten(2).transpose(1, 2)  # row-major, like SigLIP's patch order
        return self.linear_2(self.act(self.linear_1(pooled.to(self.linear_1.weight.dtype))))


class InfiMedPreTrainedModel(PreTrainedModel):
    """What `transformers` needs to save, load, shard and checkpoint the model (chapter 03)."""

    config_class = InfiMedConfig
    config: InfiMedConfig
    base_model_prefix = ""
    main_input_name = "input_ids"
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["Qwen3DecoderLayer", "SiglipEncoderLayer"]
    _skip_keys_device_placement = "past_key_values"
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True


class InfiMedForConditionalGeneration(InfiMedPreTrainedModel, GenerationMixin):
    """The InfiMed vision-language model (chapter 03); trained in chapters 04-07.

    ``vision_tower`` and ``language_model`` may be given already built (the ``infimed-*``
    presets pass pretrained ones); otherwise they are made from ``config``. The vision tower is
    frozen: no gradients, always in eval mode, run under ``torch.no_grad``.
    """

    def __init__(self, config: InfiMedConfig, vision_tower: SiglipVisionModel | None = None,
                 language_model: Qwen3ForCausalLM | None = None):
        super().__init__(config)
        self.vision_tower = vision_tower if vision_tower is not None else SiglipVisionModel(config.vision_config)
        self.projector = InfiMedProjector(config)
        self.language_model = (language_model if language_model is not None
                               else Qwen3ForCausalLM(config.text_config))
        self.post_init()
        self.freeze_vision_tower()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        model = super().from_pretrained(*args, **kwargs)
        # Loading may swap in fresh Parameters (requires_grad=True); the tower must stay frozen.
        model.freeze_vision_tower()
        return model

    def freeze_vision_tower(self) -> None:
        self.vision_tower.requires_grad_(False)
        self.vision_tower.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.vision_tower.eval()  # no dropout or other train-time behaviour in the frozen tower
        return self

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_output_embeddings(value)

    def set_num_visual_tokens(self, num_visual_tokens: int) -> None:
        """Switch tokens per image (144 in pretraining, 729 in SFT) in place. Chapter 03."""
        pool_side(num_visual_tokens, self.config.vision_config)
        self.config.num_visual_tokens = num_visual_tokens

    def vision_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The frozen tower's patch features ``(num_images, patches, vision_width)``. Chapters 03 and 10.

        The tower never trains, so these can be computed once per image and passed back as
        ``vision_features`` wherever ``pixel_values`` go: chapter 10's GRPO step reuses them for
        every sampled answer to a question and for each forward pass of the step.
        """
        with torch.no_grad():
            tower_dtype = next(self.vision_tower.parameters()).dtype
            layer = self.config.vision_feature_layer
            output = self.vision_tower(pixel_values=pixel_values.to(tower_dtype),
                                       output_hidden_states=layer != -1)
            return output.last_hidden_state if layer == -1 else output.hidden_states[layer]

    def get_image_features(self, pixel_values: torch.Tensor | None = None,
                           vision_features: torch.Tensor | None = None) -> torch.Tensor:
        """``(num_images, num_visual_tokens, llm_width)`` features for ``pixel_values`` (or for the
        tower's precomputed ``vision_features``). Chapter 03."""
        patches = vision_features if vision_features is not None else self.vision_features(pixel_values)
        return self.projector(patches, self.config.pool_side)

    def embed(self, input_ids: torch.LongTensor, pixel_values: torch.Tensor | None,
              vision_features: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings with image features written over the placeholder tokens. Chapter 03.

        Images fill the placeholders in order (row by row, left to right); the count must match.
        ``vision_features`` (from :meth:`vision_features`) may stand in for ``pixel_values``.
        """
        if pixel_values is not None and vision_features is not None:
            raise ValueError("give pixel_values or vision_features, not both")
        embeds = self.get_input_embeddings()(input_ids)
        is_image = input_ids == self.config.image_token_id
        found = int(is_image.sum())
        source = vision_features if vision_features is not None else pixel_values
        images = 0 if source is None else int(source.shape[0])
        expected = images * self.config.num_visual_tokens
        if found != expected:
            raise ValueError(
                f"input_ids hold {found} image placeholder tokens (id {self.config.image_token_id}) but "
                f"pixel_values holds {images} images x num_visual_tokens={self.config.num_visual_tokens} "
                f"= {expected}; encode the text with the same num_visual_tokens as the model config")
        if images == 0:
            return embeds
        features = self.get_image_features(pixel_values, vision_features).to(embeds.dtype)
        return embeds.masked_scatter(is_image.unsqueeze(-1), features.reshape(-1, embeds.shape[-1]))

    def forward(self, input_ids: torch.LongTensor | None = None, pixel_values: torch.Tensor | None = None,
                position_ids: torch.LongTensor | None = None, attention_mask: torch.Tensor | None = None,
                labels: torch.LongTensor | None = None, past_key_values=None,
                inputs_embeds: torch.Tensor | None = None, use_cache: bool | None = None,
                logits_to_keep: int | torch.Tensor = 0, vision_features: torch.Tensor | None = None,
                **kwargs) -> CausalLMOutputWithPast:
        """Logits over every position of ``input_ids``. Chapter 03.

        ``position_ids`` that restart inside a row mark packed samples: each sample then attends
        only to itself (see `attention`). Without ``position_ids`` they follow ``attention_mask``,
        so right- and left-padded batches need nothing more. ``vision_features`` (the frozen tower's
        output, :meth:`vision_features`) may replace ``pixel_values``. Extra keyword arguments go to
        the language model. There is no ``labels``: the loss has one home, the trainer's
        (:func:`infimed_lib.train.steps.token_loss_sum`, chapter 04), which normalises it over the
        global batch and reads labels whose first token of every packed sample is already ignored.
        """
        if labels is not None:
            raise ValueError("the model computes no loss: compute it from .logits with "
                             "infimed_lib.train.steps.token_loss_sum, as the trainer does")
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        if inputs_embeds is not None and (pixel_values is not None or vision_features is not None):
            raise ValueError("pixel_values need input_ids (to find the image placeholders), not inputs_embeds")
        prefill = past_key_values is None or past_key_values.get_seq_length() == 0
        if inputs_embeds is None and prefill:
            inputs_embeds = self.embed(input_ids, pixel_values, vision_features)
        elif inputs_embeds is None:
            # After prefill the image lives in the KV cache; decoded tokens are plain text.
            inputs_embeds = self.get_input_embeddings()(input_ids)
        use_cache = bool(use_cache) if use_cache is not None else past_key_values is not None
        batch, length = inputs_embeds.shape[:2]
        flat = False
        if prefill and (attention_mask is None or attention_mask.dim() == 2):
            inputs_embeds, attention_mask, position_ids, flat = self._attention_layout(
                inputs_embeds, attention_mask, position_ids, use_cache)
        out = self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                  position_ids=position_ids, past_key_values=past_key_values,
                                  use_cache=use_cache,
                                  logits_to_keep=0 if flat else logits_to_keep, **kwargs)
        logits = out.logits
        if flat:
            logits = slice_logits_to_keep(logits.reshape(batch, length, -1), logits_to_keep)
        return CausalLMOutputWithPast(logits=logits, past_key_values=out.past_key_values,
                                      hidden_states=out.hidden_states, attentions=out.attentions)

    def _attention_layout(self, embeds, attention_mask, position_ids, use_cache):
        """Positions and mask for a prefill over packed and/or padded rows (`attention`)."""
        if position_ids is None:
            position_ids = attention.positions_from_attention_mask(attention_mask, embeds.shape, embeds.device)
        position_ids = position_ids.expand(embeds.shape[0], -1)  # callers may pass one shared row
        segments = attention.segment_ids(position_ids, attention_mask)
        if attention.is_plain_causal(segments, attention_mask):
            return embeds, attention_mask, position_ids, False
        llm_config = self.language_model.config
        flash = llm_config._attn_implementation.startswith("flash_attention")
        if flash and self.config.packed_attention == "mask":
            raise ValueError("flash-attention kernels take no dense mask: use packed_attention='auto' or "
                             "'varlen', or attn_implementation='sdpa'")
        if not (flash or self.config.packed_attention == "varlen"):
            if not use_cache and attention.only_right_padding(segments, attention_mask):
                # A right-padded SFT batch: real tokens keep positions 0..n-1; the pads continue
                # the count, so `transformers` does not read a restart as a packed second sample.
                plain = attention.positions_from_attention_mask(None, embeds.shape, embeds.device)
                return embeds, None, plain, False
            mask = attention.block_causal_mask(llm_config, embeds, segments, attention_mask)
            return embeds, mask, position_ids, False
        if use_cache:
            if attention.several_samples_per_row(segments, attention_mask):
                raise ValueError("packed rows cannot fill a KV cache with varlen attention; pass use_cache=False")
            # A generation prefill holds one left-padded sample per row: the 2D mask is enough.
            return embeds, attention_mask, position_ids, False
        flat_embeds, flat_positions = attention.flatten_for_varlen(embeds, segments)
        return flat_embeds, None, flat_positions, True
