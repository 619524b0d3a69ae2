"""Two CPU processes (torchrun, gloo) through the command line give the same losses and weights
as one process on the same global batch."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from infimed_lib.train import load_metrics, run_stage

from test_train_support import make_config, write_run_inputs
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    inputs = write_run_inputs(tmp_path, stage="sft1", count=8)
    # Warm-up 0 so that both steps move the weights and step 2's loss sees step 1's update.
    settings = dict(max_steps=2, warmup_ratio=0.0, micro_batch_size=1, find_unused_parameters=False)
    single = run_stage(make_config(tmp_path / "one", inputs, **settings))

    config = make_config(tmp_path / "two", inputs, **settings)
    path = tmp_path / "two.json"
    path.write_text(json.dumps(config.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
               "-m", "infimed_lib.train", "--stage", "sft1", "--config", str(path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    summary = json.loads((tmp_path / "two" / "out" / "summary.json").read_text())
    assert summary["num_processes"] == 2 and summary["gradient_accumulation_steps"] == 2
    one, two = load_metrics(single.metrics_path), load_metrics(tmp_path / "two" / "out")
    assert two["step"].tolist() == [1, 2]  # one metrics writer, not one per process
    assert two["loss"].tolist() == pytest.approx(one["loss"].tolist(), rel=1e-5)
    assert two["label_tokens"].tolist() == one["label_tokens"].tolist()
    a = load_file(single.checkpoint_dir / "model.safetensors")
    b = load_file(tmp_path / "two" / "out" / "checkpoint" / "model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-5, msg=name)
