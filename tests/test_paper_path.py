"""The paper profile's code path on format-exact stand-ins of the real folders (tests/paper_standins.py):
a Qwen3-Instruct folder with its Qwen2Tokenizer and padded embeddings, a full SigLIP checkpoint at
384 px / patch 14. ``make paper-smoke`` runs the whole book this way; these are its fast parts."""
import pytest
import torch

from infimed_lib.data.tokenizer import IMAGE_TOKEN, load_tokenizer, model_token_ids
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
        return build_model("infimed-1.7b", model_token_ids(load_tokenizer(folders["llm"])), llm_path=str(folders["llm"]),
                           vision_path=str(folders["vision"]), tokenizer_dir=str(folders["llm"]), **overrides)


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
    from infimed_lib.report.model_anatomy import example_image, example_inputs, packed_vs_separate

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


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The stand-in sources, imported as a user imports the real ones."""
    from infimed_lib.data import importer

    root = tmp_path_factory.mktemp("paper_data")
    spec, benchmarks = paper_standins.sources_file(root, per_source=6)
    assert importer.main([str(spec), str(root / "corpus")]) == 0
    return root / "corpus"


def test_stand_in_sources_are_the_paper_sources_files(corpus):
    """make paper-smoke imports every source profiles/paper_sources.yaml names, in the same formats."""
    import yaml

    from infimed_lib.common import read_json

    wanted = {e["name"]: e for e in yaml.safe_load(open("profiles/paper_sources.yaml"))["sources"]}
    manifest = read_json(corpus / "manifest.json")
    assert set(manifest["sources"]) == set(wanted)
    for name, entry in wanted.items():
        info = manifest["sources"][name]
        assert (info["family"], info["kind"]) == (entry.get("family", "medical_instruction"), entry.get("kind", "vqa"))
    assert set(manifest["benchmarks"]) == set(yaml.safe_load(open("profiles/paper_sources.yaml"))["benchmarks"])


def test_an_sft_stage_trains_on_the_paper_path(folders, corpus, tmp_path):
    """Chapter 03's build from the real folders' formats in bf16, then chapter 06's stage on the
    imported corpus at 729 visual tokens: float32 masters in training, a bf16 checkpoint after."""
    import json

    from infimed_lib.common import read_json
    from infimed_lib.data.mixtures import is_refusal
    from infimed_lib.model import save_checkpoint
    from infimed_lib.train import stage_config
    from infimed_lib.train.stages import launch_stage, prepare_mixture

    run = tmp_path / "run"
    tokenizer = load_tokenizer(folders["llm"])
    tokenizer.save_pretrained(run / "tokenizer")
    save_checkpoint(build(folders, dtype="bfloat16"), run / "stage1" / "checkpoint")
    config = stage_config("sft2", run, global_batch_size=2, micro_batch_size=1, max_steps=1,
                          num_visual_tokens=729, mixed_precision="no", gradient_checkpointing="off")
    paper_mixture = {"mammoth-vl-filtered": 1.0, "llava-med-instruct": 1.0, "pubmedvision-instruct": 1.0,
                     "pathvqa": 1.0, "pmc-vqa": 1.0, "slake": 1.0, "vqa-rad": 1.0}
    built = prepare_mixture(config, paper_mixture, str(corpus))
    imported = read_json(corpus / "manifest.json")["sources"]["mammoth-vl"]["num_samples"]
    assert built.counts["mammoth-vl-filtered"] < imported  # the stand-in's unflagged refusals are left out
    assert not any(is_refusal(s) for s in built.samples)
    result = launch_stage(config)
    assert result.summary["num_visual_tokens"] == 729 and result.summary["trainable_parameters"] > 0
    assert torch.isfinite(torch.tensor(result.summary["first_loss"]))
    saved = json.loads((result.checkpoint_dir / "config.json").read_text())
    assert saved["dtype"] == "bfloat16" and saved["num_visual_tokens"] == 729
