"""The paper profile's code path on format-exact stand-ins of the real folders (tests/paper_standins.py):
a Qwen3-Instruct folder with its Qwen2Tokenizer and padded embeddings, a full SigLIP checkpoint at
384 px / patch 14. ``make paper-smoke`` runs the whole book this way; these are its fast parts."""
import pytest
import torch

from infimed_lib.data.tokenizer import IMAGE_TOKEN, load_tokenizer
from infimed_lib.model import build_model

import paper_standins
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("standins")
    return {"llm": paper_standins.qwen_folder(root / "Qwen3-1.7B"),
            "vision": paper_standins.siglip_folder(root / "siglip-so400m-patch14-384")}


def build(folders, **overrides):
    with pytest.warns(UserWarning, match="expects LLM width 2048"):  # stand-ins are narrow
        return build_model("infimed-1.7b", llm_path=str(folders["llm"]), vision_path=str(folders["vision"]),
                           tokenizer_dir=str(folders["llm"]), **overrides)


def test_stand_ins_have_the_real_folders_formats(folders):
    tokenizer = load_tokenizer(folders["llm"])
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    assert tokenizer.convert_tokens_to_ids("<|endoftext|>") == len(tokenizer) - len(paper_standins.QWEN_SPECIALS)
    model = build(folders)
    assert model.language_model.get_input_embeddings().num_embeddings > len(tokenizer)  # padded, as Qwen ships it
    assert model.config.image_token_id == tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    vision = model.config.vision_config
    assert (vision.image_size, vision.patch_size) == (384, 14) and (384 // 14) ** 2 == 729


def test_pretrained_preset_sets_attention_on_every_sub_config_and_packs(folders):
    from infimed_lib.model.anatomy import example_image, example_inputs, packed_vs_separate

    model = build(folders, num_visual_tokens=729, attn_implementation="sdpa").eval()
    configs = [model.config, model.config.text_config, model.config.vision_config,
               model.language_model.config, model.vision_tower.config]
    assert [c._attn_implementation for c in configs] == ["sdpa"] * 5
    tokenizer = load_tokenizer(folders["llm"])
    image = example_image("")
    samples = [example_inputs(model, tokenizer, [image], q, a) for q, a in [("Which?", "CT"), ("Describe.", "A slice.")]]
    result = packed_vs_separate(model, samples, pad=4)
    assert result["row length"] > 2 * 729 and result["max |logit difference|"] < 1e-4


def test_siglip_load_reports_no_skipped_text_tower_keys(folders, capfd, caplog):
    model = build(folders)
    captured = capfd.readouterr()
    shown = captured.err + captured.out + caplog.text
    assert "text_model" not in shown and "LOAD REPORT" not in shown
    from safetensors.torch import load_file

    saved = load_file(folders["vision"] / "model.safetensors")
    for name, value in model.vision_tower.state_dict().items():
        torch.testing.assert_close(value, saved[f"vision_model.{name}"], rtol=0, atol=0)
