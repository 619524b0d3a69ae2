"""The InfiMed model: token counts, image splicing, frozen tower, presets, save/load, preprocessing."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (AutoModelForImageTextToText, Qwen3Config, Qwen3ForCausalLM, SiglipConfig,
                          SiglipModel)

from infimed_lib.common import ParameterError
from infimed_lib.model import InfiMedConfig, build_model, load_model, preprocess_images, save_checkpoint
from infimed_lib.train.steps import token_loss_sum

SMALL_LLM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16)
VISION = dict(image_size=54, patch_size=2, hidden_size=64, intermediate_size=128,
              num_hidden_layers=2, num_attention_heads=2)


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", seed=0, vocab_size=300, text_config=SMALL_LLM)


def prompt(num_images, tokens_per_image):
    return torch.tensor([[1, 20] + ([3] * tokens_per_image + [21]) * num_images + [22, 23]])


def test_tiny_preset_keeps_the_papers_patch_grid(model):
    vision = model.config.vision_config
    assert (vision.image_size // vision.patch_size) ** 2 == 729
    assert model.config.image_token_id == 3 and model.config.num_visual_tokens == 144
    assert model.config.text_config.vocab_size == 300


def test_144_and_729_tokens_from_one_model_by_switching_config(model):
    pixels = torch.randn(2, 3, 54, 54)
    assert model.get_image_features(pixels).shape == (2, 144, 64)
    ids = prompt(2, 144)
    assert model(ids, pixels).logits.shape == (1, ids.shape[1], 300)
    model.set_num_visual_tokens(729)
    try:
        assert model.get_image_features(pixels).shape == (2, 729, 64)
        ids = prompt(2, 729)
        assert model(ids, pixels).logits.shape == (1, ids.shape[1], 300)
        with pytest.raises(ValueError, match="perfect square"):
            model.set_num_visual_tokens(150)
        with pytest.raises(ValueError, match="exceeds"):
            model.set_num_visual_tokens(784)
    finally:
        model.set_num_visual_tokens(144)


def test_729_tokens_pass_the_patches_through_unpooled(model):
    """At 27x27 the pool is the identity: SFT's projector is the MLP alone (Table 5)."""
    pixels = torch.randn(1, 3, 54, 54)
    patches = model.vision_tower(pixel_values=pixels).last_hidden_state
    projector = model.projector
    direct = projector.linear_2(projector.act(projector.linear_1(patches)))
    torch.testing.assert_close(model.projector(patches, 27), direct)


def test_vision_feature_layer_picks_an_earlier_hidden_state():
    model = build_model("tiny", vocab_size=300, text_config=SMALL_LLM, vision_feature_layer=-2)
    pixels = torch.randn(1, 3, 54, 54)
    hidden = model.vision_tower(pixel_values=pixels, output_hidden_states=True).hidden_states[-2]
    torch.testing.assert_close(model.get_image_features(pixels), model.projector(hidden, 12))
    last = model.vision_tower(pixel_values=pixels).last_hidden_state
    assert not torch.allclose(model.projector(last, 12), model.projector(hidden, 12))


def test_image_token_count_mismatch_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"288 image placeholder tokens .* 1 images x num_visual_tokens=144"):
        model(prompt(2, 144), torch.randn(1, 3, 54, 54))
    with pytest.raises(ValueError, match="0 images"):
        model(prompt(1, 144))
    with pytest.raises(ValueError, match="729"):
        model(prompt(1, 729), torch.randn(1, 3, 54, 54))  # encoded at SFT length, model at 144


def test_images_land_on_their_placeholders_in_order(model):
    pixels = torch.randn(2, 3, 54, 54)
    ids = prompt(2, 144)
    embeds = model.embed(ids, pixels)
    features = model.get_image_features(pixels)
    torch.testing.assert_close(embeds[0, 2:146], features[0])
    torch.testing.assert_close(embeds[0, 147:291], features[1])
    torch.testing.assert_close(embeds[0, :2], model.get_input_embeddings()(ids[:, :2])[0])


def test_vision_tower_is_frozen_and_stays_in_eval_mode(model):
    model.train()
    assert model.training and not model.vision_tower.training
    assert not any(p.requires_grad for p in model.vision_tower.parameters())
    model.zero_grad()
    ids = prompt(1, 144)
    token_loss_sum(model(ids, torch.randn(1, 3, 54, 54)).logits, ids).backward()
    assert all(p.grad is None for p in model.vision_tower.parameters())
    assert model.projector.linear_1.weight.grad is not None
    assert model.language_model.lm_head.weight.grad is not None
    model.zero_grad()
    model.eval()


def test_save_load_round_trip_gives_equal_outputs(model, tmp_path):
    model.eval()
    ids, pixels = prompt(1, 144), torch.randn(1, 3, 54, 54)
    expected = model(ids, pixels).logits
    save_checkpoint(model, tmp_path / "init")
    save_checkpoint(model, tmp_path / "init")  # replacing an existing checkpoint
    assert sorted(p.name for p in (tmp_path / "init").iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors", "preprocessor_config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["init"]  # no temp folders left
    for loaded in (load_model(tmp_path / "init"), AutoModelForImageTextToText.from_pretrained(tmp_path / "init")):
        assert type(loaded) is type(model)
        assert not any(p.requires_grad for p in loaded.vision_tower.parameters())
        assert loaded.language_model.lm_head.weight is loaded.get_input_embeddings().weight  # still tied
        torch.testing.assert_close(loaded.eval()(ids, pixels).logits, expected, rtol=0, atol=0)
    switched = load_model(tmp_path / "init", num_visual_tokens=729)
    assert switched.config.num_visual_tokens == 729
    with pytest.raises(ParameterError, match="not a save_pretrained folder"):
        load_model(tmp_path)


def test_seeded_builds_repeat_and_differ_by_seed():
    a, b = (build_model("tiny", seed=5, vocab_size=300, text_config=SMALL_LLM) for _ in range(2))
    c = build_model("tiny", seed=6, vocab_size=300, text_config=SMALL_LLM)
    weight = "projector.linear_1.weight"
    assert torch.equal(a.state_dict()[weight], b.state_dict()[weight])
    assert not torch.equal(a.state_dict()[weight], c.state_dict()[weight])


def test_bad_overrides_name_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="'hiden_size'"):
        build_model("tiny", hiden_size=3)
    with pytest.raises(ParameterError, match="'preset'"):
        build_model("infimed-7b")
    with pytest.raises(ParameterError, match="'num_visual_tokens'"):
        build_model("tiny", num_visual_tokens=150)
    with pytest.raises(ParameterError, match="'llm_path'"):
        build_model("infimed-1.7b", llm_path=str(tmp_path / "missing"), vision_path=str(tmp_path))
    with pytest.raises(ParameterError, match="'vision_path'"):
        build_model("tiny", vision_path=str(tmp_path))
    with pytest.raises(ValueError, match="image_token_id"):
        InfiMedConfig(vision_config=VISION, text_config=dict(SMALL_LLM, vocab_size=10), image_token_id=50)


def test_pretrained_preset_loads_local_weights_unchanged(tmp_path):
    siglip = SiglipModel(SiglipConfig(vision_config=VISION, text_config=dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=99,
        bos_token_id=0, eos_token_id=1, pad_token_id=1)))
    llm = Qwen3ForCausalLM(Qwen3Config(vocab_size=280, tie_word_embeddings=True, **SMALL_LLM))
    siglip.save_pretrained(tmp_path / "siglip")
    llm.save_pretrained(tmp_path / "qwen")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build_model("infimed-4b", llm_path=str(tmp_path / "qwen"), vision_path=str(tmp_path / "siglip"),
                            image_token_id=3, num_visual_tokens=729)
    assert any("expects LLM width 2560" in str(w.message) for w in caught)
    for name, value in siglip.vision_model.state_dict().items():
        if not name.startswith("head."):
            torch.testing.assert_close(model.vision_tower.state_dict()[name], value, rtol=0, atol=0)
    for name, value in llm.state_dict().items():
        torch.testing.assert_close(model.language_model.state_dict()[name], value, rtol=0, atol=0)
    assert not any(p.requires_grad for p in model.vision_tower.parameters())
    with pytest.raises(ParameterError, match="'tokenizer_dir'"):
        build_model("infimed-1.7b", llm_path=str(tmp_path / "qwen"), vision_path=str(tmp_path / "siglip"))


def test_checkpointing_and_bf16_switches_run_on_cpu():
    model = build_model("tiny", vocab_size=300, text_config=SMALL_LLM, dtype="bfloat16").train()
    assert model.projector.linear_1.weight.dtype == torch.bfloat16
    with warnings.catch_warnings():  # transformers 5 renamed it; the old name must keep working
        warnings.simplefilter("ignore", FutureWarning)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    assert model.is_activation_checkpointing
    assert model.language_model.model.layers[0].gradient_checkpointing
    ids = prompt(1, 144)
    out = model(ids, torch.randn(1, 3, 54, 54))
    loss = token_loss_sum(out.logits, ids)
    loss.backward()
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    assert model.language_model.model.layers[0].mlp.up_proj.weight.grad is not None
    model.activation_checkpointing_disable()
    assert not model.is_activation_checkpointing


def test_preprocess_images_resizes_and_normalises_like_siglip(model):
    white = Image.new("RGB", (40, 30), (255, 255, 255))
    gray = np.full((20, 20), 0, dtype=np.uint8)
    pixels = preprocess_images([white, gray], model.config)
    assert pixels.shape == (2, 3, 54, 54)
    torch.testing.assert_close(pixels[0], torch.ones(3, 54, 54))
    torch.testing.assert_close(pixels[1], -torch.ones(3, 54, 54))
    assert preprocess_images([], model.config).shape == (0, 3, 54, 54)
    with pytest.raises(TypeError, match="image 0"):
        preprocess_images([42], model.config)
