"""infimed_lib.model: the InfiMed vision-language model (chapter 03; paper section 4, Table 5).

Importing this package registers the ``"infimed"`` model type with `transformers`' Auto classes,
so ``AutoModelForImageTextToText.from_pretrained(<checkpoint>)`` loads our checkpoints.
"""
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText

from infimed_lib.model.configuration import InfiMedConfig, patch_grid_side, pool_side
from infimed_lib.model.loading import load_model, save_checkpoint
from infimed_lib.model.modeling import InfiMedForConditionalGeneration, InfiMedProjector
from infimed_lib.model.presets import PRESETS, ModelSpec, build_model, model_spec
from infimed_lib.model.processing import ImageProcessor, preprocess_images

AutoConfig.register(InfiMedConfig.model_type, InfiMedConfig, exist_ok=True)
AutoModel.register(InfiMedConfig, InfiMedForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(InfiMedConfig, InfiMedForConditionalGeneration, exist_ok=True)

__all__ = [
    "ImageProcessor", "InfiMedConfig", "InfiMedForConditionalGeneration",
    "InfiMedProjector", "ModelSpec", "PRESETS", "build_model", "load_model", "model_spec",
    "patch_grid_side", "pool_side", "preprocess_images", "save_checkpoint",
]
