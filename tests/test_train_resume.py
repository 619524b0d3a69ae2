"""The trainer on the tiny InfiMed model: exact resume, metrics without duplicates, the final
save_pretrained folder, token-weighted loss independent of how the global batch is split, and
continual pretraining on packed shards."""
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from infimed_lib.common import ParameterError, write_config
from infimed_lib.data.tokenizer import train_tokenizer
from infimed_lib.model import load_model
from infimed_lib.train import load_metrics, load_result, run_stage
from infimed_lib.train.checkpoint import list_checkpoints

from test_train_support import make_config, write_run_inputs
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_run_inputs(tmp_path_factory.mktemp("inputs"), stage="sft1", count=8)


def weights(result):
    return load_file(result.checkpoint_dir / "model.safetensors")


def assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=atol, msg=name)


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(tmp_path, inputs):
    settings = dict(num_epochs=2, save_every=2, keep_checkpoints=1)  # 2 epochs of 2 steps of 4 samples
    full = run_stage(make_config(tmp_path / "full", inputs, **settings))
    broken = run_stage(make_config(tmp_path / "broken", inputs, **settings), stop_after_steps=3)
    assert not broken.completed and not (tmp_path / "broken" / "out" / "checkpoint").exists()
    assert [s for s, _ in list_checkpoints(tmp_path / "broken" / "out")] == [2]
    assert load_metrics(broken.metrics_path)["step"].tolist() == [1, 2, 3]
    resumed = run_stage(make_config(tmp_path / "broken", inputs, **settings), resume=True)

    curve, again = load_metrics(full.metrics_path), load_metrics(resumed.metrics_path)
    assert again["step"].tolist() == [1, 2, 3, 4]  # step 3 re-run once, not duplicated
    for column in ("loss", "lr", "grad_norm", "label_tokens"):
        assert again[column].tolist() == pytest.approx(curve[column].tolist(), rel=1e-6, abs=1e-9)
    assert_same_weights(weights(full), weights(resumed), atol=1e-6)
    assert resumed.summary["resumed_from_step"] == 2 and resumed.summary["steps"] == 4
    assert resumed.summary["last_loss"] < resumed.summary["first_loss"]


def test_resume_refuses_a_changed_config(tmp_path, inputs):
    run_stage(make_config(tmp_path, inputs, save_every=1), stop_after_steps=2)
    with pytest.raises(ParameterError, match="'learning_rate'"):
        run_stage(make_config(tmp_path, inputs, save_every=1, learning_rate=5e-4), resume=True)


def test_final_checkpoint_and_summary(tmp_path, inputs):
    config = make_config(tmp_path, inputs, max_steps=2)
    result = run_stage(config)
    model = load_model(result.checkpoint_dir)
    assert model.config.num_visual_tokens == 4 and model.config.text_config.use_cache
    assert (result.checkpoint_dir / "tokenizer.json").exists()
    assert (result.checkpoint_dir / "preprocessor_config.json").exists()
    assert not list(result.output_dir.glob(".checkpoint*"))
    summary = json.loads((result.output_dir / "summary.json").read_text())
    for key in ("first_loss", "last_loss", "steps", "tokens", "non_pad_tokens", "wall_time_s",
                "non_pad_tokens_per_s", "mean_step_time_s"):
        assert key in summary
    assert summary["frozen_parameters"] > 0  # the vision tower stays out of the optimizer
    rows = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["non_pad_tokens_per_s"] > 0 for r in rows)
    written = json.loads((result.output_dir / "config.json").read_text())
    assert written["stage"] == "sft1" and written["global_batch_size"] == 4
    again = run_stage(config, resume=True)  # a finished run of the same config is kept as it is
    assert again.summary == summary and again.metrics_path.read_text() == result.metrics_path.read_text()


def test_loss_is_averaged_over_the_global_batch_not_per_micro_batch(tmp_path, inputs):
    settings = dict(max_steps=2, warmup_ratio=0.0)
    split_in_four = run_stage(make_config(tmp_path / "a", inputs, micro_batch_size=1, **settings))
    split_in_two = run_stage(make_config(tmp_path / "b", inputs, micro_batch_size=2, **settings))
    a, b = load_metrics(split_in_four.metrics_path), load_metrics(split_in_two.metrics_path)
    assert a["loss"].tolist() == pytest.approx(b["loss"].tolist(), rel=1e-5)
    assert_same_weights(weights(split_in_four), weights(split_in_two), atol=1e-5)


def test_continual_pretraining_on_packed_shards(tmp_path):
    inputs = write_run_inputs(tmp_path, stage="cpt", count=16, capacity=48)
    result = run_stage(make_config(tmp_path, inputs, stage="cpt", global_batch_size=2, micro_batch_size=1,
                                   max_length=48, warmup_ratio=0.0))
    frame = load_metrics(result.metrics_path)
    assert (frame["tokens"] == 2 * 48).all()  # every row is padded to the packing capacity
    assert (frame["non_pad_tokens"] <= frame["tokens"]).all() and result.summary["packed"]
    assert frame["loss"].iloc[-1] < frame["loss"].iloc[0]
    with pytest.raises(ParameterError, match="'num_visual_tokens'"):
        run_stage(make_config(tmp_path / "other", inputs, stage="cpt", global_batch_size=2,
                              max_length=48, num_visual_tokens=9))
    other_tokenizer = train_tokenizer(["a different corpus entirely"] * 10, vocab_size=300)
    with pytest.raises(ParameterError, match="'tokenizer_path'"):
        run_stage(make_config(tmp_path / "other", inputs, stage="cpt", global_batch_size=2, max_length=48),
                  tokenizer=other_tokenizer)


def run_in_own_process(config, tmp_path):
    """A stage as a launched job runs it: its own process, through ``python -m infimed_lib.train``."""
    path = write_config(config, tmp_path, name=f"{config.stage}-{config.mixed_precision}.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "infimed_lib.train", "--stage", config.stage, "--config", str(path)],
                   check=True, env=env, capture_output=True)
    return load_result(config.output_dir)


def test_checkpointing_and_bf16_switches(tmp_path, inputs):
    # accelerate fixes the precision once per process, so the bf16 stage runs in its own.
    bf16 = run_in_own_process(make_config(tmp_path / "c", inputs, max_steps=2, mixed_precision="bf16"), tmp_path)
    plain = run_stage(make_config(tmp_path / "a", inputs, max_steps=2))
    recomputed = run_stage(make_config(tmp_path / "b", inputs, max_steps=2, gradient_checkpointing="on"))
    losses = [load_metrics(r.metrics_path)["loss"].tolist() for r in (plain, recomputed, bf16)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)  # recomputation changes memory, not math
    assert losses[2] == pytest.approx(losses[0], rel=1e-2) and bf16.summary["mixed_precision"] == "bf16"
    with pytest.raises(ParameterError, match="'mixed_precision'.*once per process"):
        run_stage(make_config(tmp_path / "d", inputs, max_steps=2, mixed_precision="bf16"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_run_uses_bf16_and_gradient_checkpointing(tmp_path, inputs):
    result = run_in_own_process(make_config(tmp_path, inputs, max_steps=2, mixed_precision="auto",
                                            gradient_checkpointing="auto"), tmp_path)
    assert result.summary["mixed_precision"] == "bf16"
    assert all(map(torch.isfinite, torch.tensor(load_metrics(result.metrics_path)["loss"].tolist())))
