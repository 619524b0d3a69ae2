"""Mixed precision as the field does it: float32 master weights whatever dtype the checkpoint was
saved in, bf16 only in the arithmetic (autocast) and, optionally, on disk."""
import json

import torch
from safetensors.torch import load_file

from infimed_lib.train import run_stage
from infimed_lib.train.checkpoint import list_checkpoints

from test_train_support import make_config, tiny_model, tiny_tokenizer, write_run_inputs
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


def test_a_small_update_survives_a_step_from_a_bf16_checkpoint(tmp_path):
    inputs = write_run_inputs(tmp_path / "inputs", stage="sft1", count=8)
    tiny_model(tiny_tokenizer()).to(torch.bfloat16).save_pretrained(tmp_path / "bf16")  # as chapter 03 saves
    inputs["init_from"] = str(tmp_path / "bf16")
    start = load_file(tmp_path / "bf16" / "model.safetensors")
    # lr 1e-5: AdamW's first step moves each weight by about 1e-5, below bf16's spacing (~1e-4 at 0.02).
    config = make_config(tmp_path, inputs, learning_rate=1e-5, warmup_ratio=0.0, lr_schedule="constant",
                         save_every=1, max_steps=2, weight_decay=0.0)
    result = run_stage(config)
    after_one_step = load_file(list_checkpoints(config.output_dir)[0][1] / "model.safetensors")
    trainable = [n for n in start if not n.startswith("vision_tower.")]
    assert all(after_one_step[n].dtype == torch.float32 for n in trainable)
    changed = [n for n in trainable if not torch.equal(after_one_step[n], start[n].float())]
    assert changed == trainable, f"unchanged after one step: {sorted(set(trainable) - set(changed))}"
    # The release keeps the checkpoint's own dtype on disk, and says so in its config.
    final = load_file(result.checkpoint_dir / "model.safetensors")
    assert {t.dtype for t in final.values() if t.is_floating_point()} == {torch.bfloat16}
    saved = json.loads((result.checkpoint_dir / "config.json").read_text())
    assert saved["dtype"] == "bfloat16" and saved["text_config"]["dtype"] == "bfloat16"


def test_a_float32_checkpoint_is_written_back_in_float32(tmp_path):
    inputs = write_run_inputs(tmp_path / "inputs", stage="sft1", count=8)
    result = run_stage(make_config(tmp_path, inputs, max_steps=1))
    final = load_file(result.checkpoint_dir / "model.safetensors")
    assert {t.dtype for t in final.values() if t.is_floating_point()} == {torch.float32}
