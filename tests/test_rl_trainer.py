"""The GRPO trainer on the tiny model: two steps change the weights, an interrupted run resumes
exactly (same weights and metrics as an uninterrupted one), and bad settings are refused (chapter 10)."""
import json

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from infimed_lib.common import ParameterError, atomic_write_jsonl
from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.data.images import image_to_data_url
from infimed_lib.data.benchmark_prompts import build_prompt
from infimed_lib.rl import RLConfig, load_rl_config, run_grpo, write_tasks
from infimed_lib.train import load_metrics, run_stage
from infimed_lib.train.checkpoint import list_checkpoints
from infimed_lib.train.train_config import TrainConfig

from test_train_support import VISUAL, tiny_model, tiny_tokenizer
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny model taught by a few SFT steps to answer the reasoning prompt with "yes" or "no" (about
    as often as not, whatever the image), so that groups of sampled answers differ in reward."""
    root = tmp_path_factory.mktemp("rl_inputs")
    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(root / "tokenizer")
    tiny_model(tokenizer).save_pretrained(root / "init")
    tasks = [BenchmarkItem("vqa-rad", f"t{i}", "Is there a lesion?",
                           [Image.new("RGB", (12, 12), ((i * 67) % 256, (i * 131) % 256, 90))],
                           answer="yes" if i % 2 else "no", question_type="yes_no") for i in range(8)]
    write_tasks(root / "tasks.jsonl", tasks)
    sft = [{"id": f"s{i}", "images": [image_to_data_url(tasks[i % 8].images[0])],
            "conversations": [{"from": "human", "value": build_prompt(tasks[i % 8], reasoning=True)},
                              {"from": "gpt", "value": "yes" if (i // 8) % 2 else "no"}]} for i in range(32)]
    atomic_write_jsonl(root / "sft.jsonl", sft)
    run_stage(TrainConfig(stage="warmup", output_dir=str(root / "sft"), init_from=str(root / "init"),
                          tokenizer_path=str(root / "tokenizer"), data_path=str(root / "sft.jsonl"),
                          global_batch_size=4, micro_batch_size=4, learning_rate=1e-2, num_epochs=4,
                          num_visual_tokens=VISUAL, max_length=128, mixed_precision="no",
                          gradient_checkpointing="off"))
    return {"init_from": str(root / "sft" / "checkpoint"), "tokenizer_path": str(root / "tokenizer"),
            "tasks_path": str(root / "tasks.jsonl")}


def make_config(folder, inputs, **overrides):
    # Weight decay 0: a change of weights then means the GRPO gradient moved them.
    values = dict(output_dir=str(folder), max_steps=2, prompts_per_step=4, group_size=4, updates_per_step=2,
                  micro_batch_size=4, learning_rate=5e-3, weight_decay=0.0, max_new_tokens=6, format_weight=0.0,
                  kl_coef=0.05, mixed_precision="no", gradient_checkpointing="off", seed=3, **inputs)
    values.update(overrides)
    return RLConfig(**values)


def weights(folder):
    return load_file(folder / "checkpoint" / "model.safetensors")


def test_two_steps_change_the_weights_and_log_every_metric(tmp_path, inputs):
    result = run_grpo(make_config(tmp_path / "run", inputs))
    before, after = load_file(f"{inputs['init_from']}/model.safetensors"), weights(result.output_dir)
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert changed and all(not name.startswith("vision_tower") for name in changed)  # the tower stays frozen
    frame = load_metrics(result.metrics_path)
    assert frame["step"].tolist() == [1, 2] and (frame["answers"] == 16).all()
    assert (frame["flat_groups"] < 1).any()  # some group had a reward signal to learn from
    assert frame["kl"].iloc[-1] > 0 and frame["lr"].iloc[0] == pytest.approx(5e-3)
    for column in ("reward", "correct", "format", "answer_tokens", "clip_fraction", "loss", "grad_norm"):
        assert frame[column].notna().all(), column
    written = json.loads((result.output_dir / "config.json").read_text())
    assert load_rl_config(result.output_dir / "config.json") == make_config(tmp_path / "run", inputs)
    assert written["group_size"] == 4 and result.summary["steps"] == 2 and result.summary["answers"] == 32
    again = run_grpo(make_config(tmp_path / "run", inputs), resume=True)  # a finished run is kept as it is
    assert again.summary == result.summary


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(tmp_path, inputs):
    full = run_grpo(make_config(tmp_path / "full", inputs, save_every=1))
    broken = run_grpo(make_config(tmp_path / "broken", inputs, save_every=1), stop_after_steps=1)
    assert not broken.completed and not (tmp_path / "broken" / "checkpoint").exists()
    assert [step for step, _ in list_checkpoints(tmp_path / "broken")] == [1]
    resumed = run_grpo(make_config(tmp_path / "broken", inputs, save_every=1), resume=True)
    first, second = load_metrics(full.metrics_path), load_metrics(resumed.metrics_path)
    assert second["step"].tolist() == [1, 2]
    for column in ("reward", "answer_tokens", "kl", "loss", "grad_norm"):
        assert second[column].tolist() == pytest.approx(first[column].tolist(), rel=1e-5, abs=1e-7), column
    a, b = weights(full.output_dir), weights(resumed.output_dir)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)
    assert resumed.summary["resumed_from_step"] == 1


def test_resume_refuses_a_changed_config(tmp_path, inputs):
    run_grpo(make_config(tmp_path, inputs, save_every=1), stop_after_steps=1)
    with pytest.raises(ParameterError, match="'kl_coef'"):
        run_grpo(make_config(tmp_path, inputs, save_every=1, kl_coef=0.5), resume=True)


@pytest.mark.parametrize("field, value, message", [
    ("group_size", 1, "group_size"), ("updates_per_step", 3, "updates_per_step"), ("clip_low", 1.5, "clip_low"),
    ("loss_aggregation", "mean", "loss_aggregation"), ("top_p", 0.0, "top_p"), ("rollout_engine", "sglang", "rollout"),
])
def test_bad_settings_are_refused_with_their_name(tmp_path, inputs, field, value, message):
    with pytest.raises(ParameterError, match=message):
        make_config(tmp_path, inputs, **{field: value})


def test_auto_engine_samples_with_generate_without_a_gpu_or_vllm():
    from infimed_lib.rl.grpo_trainer import resolve_engine

    assert resolve_engine("transformers") == "transformers" and resolve_engine("vllm") == "vllm"
    if not torch.cuda.is_available():
        assert resolve_engine("auto") == "transformers"


def test_vllm_sampling_asks_for_vllm_by_name():
    from infimed_lib.rl.vllm_rollout import require_vllm

    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ParameterError, match="rollout_engine"):
            require_vllm()
    else:
        pytest.skip("vllm is installed here")
