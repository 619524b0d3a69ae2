"""make gpu-check on a machine without a GPU: the degraded run finishes, says what it skipped, and
writes the documented report."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", Path("benchmarks/gpu_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_mode_runs_the_tiny_shape_and_lists_what_it_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert load_script().main(["--out", str(tmp_path / "r.json"), "--steps", "1", "--row-length", "512"]) == 0
    finally:
        torch.set_num_threads(before)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["format"] == "infimed-gpu-check/1" and report["mode"] == "cpu-degraded" and report["ok"]
    assert any("MFU" in s for s in report["skipped"]) and any("flash-attention" in s for s in report["skipped"])
    assert report["model"]["shape"] == "tiny"
    [check] = report["packed_equals_separate"]
    assert check["attention"] == "sdpa" and check["passed"] and check["max_abs_logit_diff"] <= check["tolerance"]
    cpt, sft = report["training_steps"]["cpt"], report["training_steps"]["sft"]
    assert (cpt["row_length"], cpt["visual_tokens_per_image"], sft["visual_tokens_per_image"]) == (512, 144, 729)
    assert cpt["tokens_per_s"] > 0 and cpt["mfu"] is None and cpt["model_tflops_per_step"] > 0
    assert report["generation"]["new_tokens"] == 8 * 32


def test_flops_of_the_published_shape_are_dominated_by_six_n_t():
    """At 1.7B parameters and 2 x 4,096 tokens the 6·N·T term is most of a step's FLOPs."""
    from infimed_lib.model import build_model
    from infimed_lib.model.presets import PUBLISHED_SHAPES

    script = load_script()
    with torch.device("meta"):
        model = build_model("tiny", **PUBLISHED_SHAPES["infimed-1.7b"])
    flops = script.flops_per_step(model, [[455] * 9, [455] * 9], images=18, kept_positions=2 * 9 * 300)
    six_nt = 6 * 1.41e9 * 2 * 9 * 455  # Qwen3-1.7B without its embedding matrix: ~1.41B matrix weights
    assert 1.0 < flops / six_nt < 1.6
    assert script.peak_tflops("NVIDIA H100 80GB HBM3", None) == 989.4
    assert script.peak_tflops("NVIDIA H100 PCIe", None) == 756.0 and script.peak_tflops("Unknown", None) is None
