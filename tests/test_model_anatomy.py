"""Chapter 03's measurements: parameter table, shape trace, token counts, pooling bins."""
import pytest
import torch
from PIL import Image

from infimed_lib.data.tokenizer import model_token_ids, train_tokenizer
from infimed_lib.model import build_model
from infimed_lib.report.model_anatomy import example_inputs, parameter_table, shape_trace, token_count_table
from infimed_lib.report.model_figures import pool_bins

SMALL_LLM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16)


@pytest.fixture(scope="module")
def parts():
    tok = train_tokenizer(["A CT scan of the chest.", "Is there a lesion? yes", "What modality?"] * 10,
                          vocab_size=320)
    model = build_model("tiny", token_ids=model_token_ids(tok), text_config=SMALL_LLM)
    return model, tok, [Image.new("RGB", (80, 60), (120, 30, 200))] * 2


def test_parameter_table_adds_up_and_shows_the_frozen_tower(parts):
    model = parts[0]
    table = parameter_table(model).set_index("part")
    assert table.loc["total", "parameters"] == sum(p.numel() for p in model.parameters())
    assert table.loc["vision tower (SigLIP)", "trainable"] == 0
    assert table.loc["projector (pool + MLP)", "frozen"] == 0
    assert table.loc["total", "trainable"] == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_shape_trace_follows_pixels_to_logits(parts):
    model, tok, images = parts
    inputs = example_inputs(model, tok, images, "What modality?", "CT")
    trace = shape_trace(model, inputs["input_ids"], inputs["pixel_values"])
    length, vocab = inputs["input_ids"].shape[1], model.config.text_config.vocab_size
    assert trace["step"].iloc[0] == "pixel_values" and trace["shape"].iloc[0] == (2, 3, 54, 54)
    assert trace["shape"].iloc[-1] == (1, length, vocab)
    shapes = dict(zip(trace["step"], trace["shape"]))
    assert shapes["final layer norm (729 patch features)"] == (2, 729, 64)
    assert shapes["adaptive average pool (N x N grid)"] == (2, 64, 12, 12)
    assert shapes["linear 2 (visual tokens)"] == (2, 144, 64)
    assert shapes["embeddings with image features spliced in"] == (1, length, 64)
    assert len(trace) == 1 + 1 + 2 + 1 + 4 + 1 + 1 + 2 + 2


def test_token_count_table_measures_both_counts_and_restores(parts):
    model, tok, images = parts
    table = token_count_table(model, tok, images[:1], "What modality?", "CT", repeats=1)
    lengths = table.set_index("visual tokens")["sequence length"]
    assert lengths[729] - lengths[144] == 729 - 144
    assert (table["forward (ms)"] > 0).all()
    assert model.config.num_visual_tokens == 144


def test_pool_bins_cover_the_grid_like_adaptive_pooling():
    bins = pool_bins(27, 12)
    assert bins[0][0] == 0 and bins[-1][1] == 27 and len(bins) == 12
    grid = torch.arange(27.0).reshape(1, 1, 27)
    pooled = torch.nn.functional.adaptive_avg_pool1d(grid, 12)[0, 0]
    torch.testing.assert_close(pooled, torch.tensor([sum(range(a, b)) / (b - a) for a, b in bins]))
    assert pool_bins(27, 27) == [(i, i + 1) for i in range(27)]
