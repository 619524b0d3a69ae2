"""Batched greedy generation with left padding and a KV cache equals one-by-one generation."""
import pytest
import torch

from infimed_lib.model import build_model

# Untied, wider-initialised output weights make a random model's greedy text vary from step to
# step, so the comparison covers more than a repeated token.
SMALL_LLM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, tie_word_embeddings=False, initializer_range=0.1)
TOKENS = 16
PAD = 0


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", seed=2, vocab_size=300, text_config=SMALL_LLM, num_visual_tokens=TOKENS).eval()


def prompts():
    """Prompts of different lengths with 1, 0 and 2 images."""
    image = [3] * TOKENS
    return [[1, 40, 41] + image + [42, 43, 44, 45, 1], [1, 50, 51, 1],
            [1, 60] + image + [61] + image + [62, 63, 1]]


def left_padded(rows):
    width = max(len(r) for r in rows)
    ids = torch.tensor([[PAD] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


def one_by_one(model, rows, pixels, counts, **kwargs):
    outs, start = [], 0
    for row, count in zip(rows, counts):
        px = pixels[start:start + count] if count else None
        start += count
        out = model.generate(input_ids=torch.tensor([row]), pixel_values=px, max_new_tokens=8, **kwargs)
        outs.append(out[0, len(row):].tolist())
    return outs


def strip(tokens, eos):
    return tokens[:tokens.index(eos) + 1] if eos in tokens else tokens


def test_batched_left_padded_greedy_equals_one_by_one(model):
    rows, counts = prompts(), [1, 0, 2]
    pixels = torch.randn(sum(counts), 3, 54, 54, generator=torch.Generator().manual_seed(0))
    singles = one_by_one(model, rows, pixels, counts)
    assert len({tuple(s) for s in singles}) == 3  # the prompts and images matter
    ids, mask = left_padded(rows)
    batched = model.generate(input_ids=ids, pixel_values=pixels, attention_mask=mask, max_new_tokens=8)
    assert [row[ids.shape[1]:].tolist() for row in batched] == singles
    assert all(3 not in s for s in singles)  # the image placeholder is never generated


def test_generation_stops_at_end_of_turn_and_pads(model):
    rows, counts = prompts(), [1, 0, 2]
    pixels = torch.randn(sum(counts), 3, 54, 54, generator=torch.Generator().manual_seed(1))
    free = one_by_one(model, rows, pixels, counts)
    eos = free[0][2]  # make the third token of the first answer the end-of-turn token
    stopped = one_by_one(model, rows, pixels, counts, eos_token_id=eos)
    assert stopped[0] == free[0][:3]
    ids, mask = left_padded(rows)
    batched = model.generate(input_ids=ids, pixel_values=pixels, attention_mask=mask,
                             max_new_tokens=8, eos_token_id=eos)
    new = [row[ids.shape[1]:].tolist() for row in batched]
    assert new[0] == free[0][:3] + [PAD] * (len(new[0]) - 3)
    assert [strip(n, eos) for n in new] == [strip(s, eos) for s in stopped]
