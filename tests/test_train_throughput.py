"""The chapter 04 measurements: packed vs padded rows, and few vs many visual tokens."""
import pytest
import torch

from infimed_lib.packing import read_bins
from infimed_lib.train import compare_packed_padded, compare_visual_tokens

from test_train_support import (VISUAL, caption_samples, sft_samples, tiny_model, tiny_tokenizer,
                                write_shards)
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


@pytest.fixture(scope="module")
def tok_model():
    tok = tiny_tokenizer()
    return tok, tiny_model(tok)


def test_packed_rows_carry_less_padding_than_padded_batches(tmp_path, tok_model):
    tok, model = tok_model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    samples = caption_samples(tmp_path / "img", 16)
    for index, sample in enumerate(samples):  # captions of 1 to 16 words, as real captions vary
        sample["conversations"][1]["value"] = " ".join(["lung"] * (1 + index))
    folder = write_shards(tmp_path / "shards", tok, samples, capacity=80)
    bins = list(read_bins(folder))
    frame = compare_packed_padded(model, tok, bins, num_visual_tokens=VISUAL, capacity=80)
    packed, padded = frame.set_index("mode").loc["packed"], frame.set_index("mode").loc["padded"]
    assert packed["non_pad_tokens"] == padded["non_pad_tokens"] and packed["batches"] == padded["batches"]
    assert packed["pad_fraction"] < padded["pad_fraction"]
    assert (frame["non_pad_tokens_per_s"] > 0).all() and (frame["seconds"] > 0).all()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # measured on a copy


def test_more_visual_tokens_make_longer_sequences(tmp_path, tok_model):
    tok, model = tok_model
    frame = compare_visual_tokens(model, tok, sft_samples(tmp_path, 4), visual_tokens=(4, 36),
                                  batch_size=2, steps=2)
    assert frame["num_visual_tokens"].tolist() == [4, 36]
    lengths = frame["mean_sequence_length"].tolist()
    assert lengths[1] - lengths[0] == pytest.approx(32)  # one image per sample: 36 - 4 more tokens
    assert (frame["mean_step_time_s"] > 0).all()
    with pytest.raises(ValueError, match="need batch_size"):
        compare_visual_tokens(model, tok, sft_samples(tmp_path, 1), visual_tokens=(4,), steps=2)


def test_stage_measurement_runs_on_the_gpu_when_there_is_one(monkeypatch, tmp_path):
    """Chapter 04's measurement must not time the model on the CPU while a GPU sits idle."""
    from infimed_lib.train import stage_config
    from infimed_lib.train import throughput_report as report

    class Model:
        def to(self, device):
            self.device = torch.device(device)
            return self

    seen = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(report, "load_tokenizer", lambda path: "tokenizer")
    monkeypatch.setattr(report, "load_model", lambda path, dtype=None: seen.setdefault("model", Model()))
    monkeypatch.setattr(report, "read_manifest", lambda path: {"num_visual_tokens": 144, "capacity": 4096})
    monkeypatch.setattr(report, "read_bins", lambda path, validate: iter([{"data": [{"images": ["a"]}] * 2}]))
    monkeypatch.setattr(report, "compare_packed_padded", lambda model, *a, **k: seen.update(packed=(model, k)))
    monkeypatch.setattr(report, "compare_visual_tokens", lambda model, *a, **k: seen.update(tokens=(model, k)))
    report.measure_stage_throughput(stage_config("cpt", tmp_path))
    assert seen["model"].device.type == "cuda"
    assert seen["packed"][1]["autocast"] == torch.bfloat16 and seen["tokens"][1]["autocast"] == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    seen.clear()
    report.measure_stage_throughput(stage_config("cpt", tmp_path))
    assert seen["model"].device.type == "cpu" and seen["packed"][1]["autocast"] is None
