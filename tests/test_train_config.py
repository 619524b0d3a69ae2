"""Training config: paper defaults, validation messages, global-batch arithmetic, LR schedule,
and the seeded data order that exact resume relies on."""
import json

import pytest

from infimed_lib.common import ParameterError
from infimed_lib.train import TrainConfig, load_config, schedule_curve, stage_config, warmup_steps
from infimed_lib.train.__main__ import main
from infimed_lib.train.data_order import global_batch, process_share

PATHS = dict(output_dir="out", init_from="init", tokenizer_path="tok", data_path="data")


def test_stage_defaults_follow_table_5():
    cpt, sft = TrainConfig(stage="cpt", **PATHS), TrainConfig(stage="sft2", **PATHS)
    assert (cpt.learning_rate, cpt.global_batch_size, cpt.num_visual_tokens) == (5e-5, 256, 144)
    assert (sft.learning_rate, sft.global_batch_size, sft.num_visual_tokens) == (2e-5, 128, 729)
    assert cpt.weight_decay == sft.weight_decay == 0.01 and cpt.warmup_ratio == 0.03
    assert (cpt.template, sft.template) == ("plain", "chat")


@pytest.mark.parametrize("field, value, words", [
    ("stage", "sft4", "'stage'"),
    ("learning_rate", 0.0, "'learning_rate'"),
    ("warmup_ratio", 1.5, "'warmup_ratio'"),
    ("micro_batch_size", 0, "'micro_batch_size'"),
    ("micro_batch_size", 3, "'global_batch_size'"),
    ("mixed_precision", "fp8", "'mixed_precision'"),
    ("max_steps", 0, "'max_steps'"),
    ("data_path", "", "'data_path'"),
])
def test_bad_values_name_the_parameter(field, value, words):
    values = {**PATHS, "stage": "sft1", "global_batch_size": 8, field: value}
    with pytest.raises(ParameterError, match=words):
        TrainConfig(**values)


def test_accumulation_keeps_the_global_batch():
    config = TrainConfig(stage="sft1", global_batch_size=128, micro_batch_size=4, **PATHS)
    assert [config.accumulation_steps(n) for n in (1, 2, 8, 32)] == [32, 16, 4, 1]
    with pytest.raises(ParameterError, match="not divisible"):
        config.accumulation_steps(3)


def test_config_round_trip_and_unknown_keys(tmp_path):
    config = TrainConfig(stage="cpt", seed=3, **PATHS)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    assert load_config(path) == config
    path.write_text(json.dumps({**config.to_dict(), "lr": 1.0}))
    with pytest.raises(ParameterError, match="'lr'"):
        load_config(path)


def test_cli_rejects_a_stage_that_contradicts_the_config(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TrainConfig(stage="sft1", **PATHS).to_dict()))
    assert main(["--stage", "sft2", "--config", str(path)]) == 2
    assert "'stage'" in capsys.readouterr().err


def test_schedule_warms_up_then_decays_to_zero():
    rates = schedule_curve(100, peak_lr=2e-5, warmup_ratio=0.03)
    assert warmup_steps(100, 0.03) == 3 and warmup_steps(10, 0.03) == 1
    assert rates[0] == 0.0 and rates[3] == pytest.approx(2e-5)
    assert all(a <= b for a, b in zip(rates[:4], rates[1:4]))
    assert all(a >= b for a, b in zip(rates[3:], rates[4:]))
    # Cosine: half the peak at the middle of the decay, (almost) zero at the last step.
    assert rates[3 + 97 // 2] == pytest.approx(1e-5, rel=0.05) and rates[-1] < 1e-8


def test_data_order_is_seeded_and_split_evenly():
    first = [global_batch(50, 8, seed=1, step=s) for s in range(6)]
    assert first == [global_batch(50, 8, seed=1, step=s) for s in range(6)]
    assert len({i for b in first for i in b}) == 48  # one epoch: no unit twice
    assert global_batch(50, 8, seed=1, step=6) != first[0]  # epoch 2 reshuffles
    shares = [process_share(first[0], 2, 2, rank) for rank in (0, 1)]
    assert all(len(s) == 2 for s in shares)
    assert sorted(i for s in shares for m in s for i in m) == sorted(first[0])
    with pytest.raises(ParameterError, match="global_batch_size"):
        global_batch(5, 8, seed=0, step=0)
    assert all(len(m) == 2 for s in shares for m in s)


def test_stage_config_fills_the_run_folder_layout(tmp_path):
    cpt, sft3 = stage_config("cpt", tmp_path), stage_config("sft3", tmp_path, seed=7)
    assert cpt.output_dir == str(tmp_path / "stage0_cpt") and cpt.init_from == str(tmp_path / "model" / "init")
    assert cpt.data_path == str(tmp_path / "packing" / "shards")
    assert sft3.init_from == str(tmp_path / "stage2" / "checkpoint") and sft3.seed == 7
    assert sft3.data_path == str(tmp_path / "stage3" / "mixture.jsonl")
    with pytest.raises(ParameterError, match="'batch'"):
        stage_config("sft1", tmp_path, batch=4)


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3", "cpu_2proc"])
def test_shipped_accelerate_configs_load(name):
    from pathlib import Path

    from accelerate.commands.config.config_args import load_config_from_file

    import infimed_lib.train

    path = Path(infimed_lib.train.__file__).parent / "accelerate_configs" / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert config.num_processes >= 2 and config.num_machines == 1
    if name.startswith("deepspeed"):
        assert config.deepspeed_config["gradient_accumulation_steps"] == "auto"
