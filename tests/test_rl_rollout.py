"""Sampling groups and scoring their tokens (chapter 10): precomputed vision features give the same
logits as pixels, answer log-probs match a plain forward pass, and a rollout is laid out as the
update expects (whole groups, answers cut after the stop token)."""
import pytest
import torch
from PIL import Image

from infimed_lib.data.benchmarks import BenchmarkItem
from infimed_lib.eval.generate import stop_token_ids
from infimed_lib.model import preprocess_images
from infimed_lib.rl.rollout import answer_logprobs, sample_groups

from test_train_support import tiny_model, tiny_tokenizer
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


@pytest.fixture(scope="module")
def parts():
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer).eval()
    items = [BenchmarkItem("vqa-rad", f"q{i}", "Is there a lesion?", [Image.new("RGB", (12, 12), (40 * i, 90, 200))],
                           answer="yes", question_type="yes_no") for i in range(3)]
    return model, tokenizer, items


def test_vision_features_stand_in_for_pixels(parts):
    model, tokenizer, items = parts
    pixels = preprocess_images([item.images[0] for item in items[:2]], model.config)
    ids = torch.tensor([[5, 3, 3, 3, 3, 7, 8]] * 2)  # 4 image placeholders (id 3) per row
    ids[:, 1:5] = model.config.image_token_id
    with torch.no_grad():
        direct = model(input_ids=ids, pixel_values=pixels).logits
        cached = model(input_ids=ids, vision_features=model.vision_features(pixels)).logits
    torch.testing.assert_close(cached, direct)
    with pytest.raises(ValueError, match="not both"):
        model.embed(ids, pixels, model.vision_features(pixels))


def test_rollout_holds_whole_groups_cut_after_the_stop(parts):
    model, tokenizer, items = parts
    torch.manual_seed(0)
    rollout = sample_groups(model, tokenizer, items, [10, 11, 12], group_size=3, max_new_tokens=5)
    assert rollout.task_indices == [10] * 3 + [11] * 3 + [12] * 3 and len(rollout.texts) == 9
    answers = rollout.input_ids[:, rollout.prompt_width:]
    stops = stop_token_ids(tokenizer)
    for row, mask, length in zip(answers, rollout.answer_mask, rollout.answer_lengths):
        kept = row[mask].tolist()
        assert all(token not in stops for token in kept[:-1])  # only the last kept token may be a stop
        assert length == len(kept) - (kept[-1] in stops)
        assert model.config.image_token_id not in kept
    assert rollout.attention_mask[:, rollout.prompt_width:].equal(rollout.answer_mask.long())


def test_answer_logprobs_match_a_plain_forward_pass(parts):
    model, tokenizer, items = parts
    torch.manual_seed(1)
    rollout = sample_groups(model, tokenizer, items[:2], [0, 1], group_size=2, max_new_tokens=4)
    got = answer_logprobs(model, rollout, temperature=0.7)
    with torch.no_grad():
        logits = model(**rollout.model_inputs("cpu")).logits.float() / 0.7
    width = rollout.input_ids.shape[1] - rollout.prompt_width
    targets = rollout.input_ids[:, rollout.prompt_width:]
    expected = torch.log_softmax(logits[:, -width - 1:-1], dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mask = rollout.answer_mask
    torch.testing.assert_close(got.detach()[mask], expected[mask], rtol=1e-4, atol=1e-5)
