"""Batched multimodal lengths equal encode_sample's; over-long samples are truncated or dropped."""
import random

import numpy as np
import pytest

from infimed_lib.common import ParameterError
from infimed_lib.data.tokenizer import encode_sample, train_tokenizer
from infimed_lib.packing import handle_overlong, length_parts, multimodal_lengths, truncate_sample

WORDS = ["the", "CT", "scan", "shows", "a", "lesion", "in", "left", "lung", "这是", "什么", "yes", "no",
         "<image>", "\n", "", "histopathology", "  "]


def random_samples(count, seed=0):
    rnd = random.Random(seed)
    samples = []
    for index in range(count):
        turns = [{"from": ("human", "gpt")[t % 2], "value": " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 25)))}
                 for t in range(rnd.randint(1, 4))]
        markers = sum(turn["value"].count("<image>") for turn in turns)
        samples.append({"id": f"s{index}", "images": [f"img{k}.png" for k in range(markers)], "conversations": turns})
    return samples


@pytest.fixture(scope="module")
def samples():
    return random_samples(120)


@pytest.fixture(scope="module")
def tok(samples):
    return train_tokenizer((t["value"] for s in samples for t in s["conversations"]), vocab_size=400)


@pytest.mark.parametrize("template", ["plain", "chat"])
@pytest.mark.parametrize("per_image", [0, 7, 144])
def test_batched_lengths_equal_encode_sample(tok, samples, template, per_image):
    expected = [len(encode_sample(tok, s, per_image, template)) for s in samples]
    assert multimodal_lengths(tok, samples, per_image, template, batch_size=17).tolist() == expected


def test_length_parts_split_text_and_images(tok, samples):
    text, images = length_parts(tok, samples)
    assert images.tolist() == [len(s["images"]) for s in samples]
    assert (text + 729 * images).tolist() == [len(encode_sample(tok, s, 729, "plain")) for s in samples]


def test_bad_samples_and_parameters_raise(tok):
    with pytest.raises(ValueError, match="'x': 1 <image> markers but 0 images"):
        multimodal_lengths(tok, [{"id": "x", "images": [], "conversations": [{"from": "human", "value": "<image>"}]}], 144)
    with pytest.raises(ValueError, match="unknown speaker"):
        multimodal_lengths(tok, [{"id": "y", "conversations": [{"from": "robot", "value": "hi"}]}], 144, "chat")
    with pytest.raises(ParameterError, match="template"):
        multimodal_lengths(tok, [], 144, "jinja")
    with pytest.raises(ParameterError, match="num_visual_tokens"):
        multimodal_lengths(tok, [], -1)


def caption(sample_id, words, images=1):
    return {"id": sample_id, "images": [f"i{k}.png" for k in range(images)],
            "conversations": [{"from": "human", "value": "<image>" * images},
                              {"from": "gpt", "value": " ".join(["lesion in the left lung"] * words)}]}


def test_truncate_keeps_the_longest_prefix_that_fits(tok):
    long = caption("c", 60)
    capacity = 150
    full = len(encode_sample(tok, long, 20, "plain"))
    assert full > capacity
    short = truncate_sample(tok, long, 20, capacity)
    length = len(encode_sample(tok, short, 20, "plain"))
    assert length <= capacity and length >= capacity - 8  # only the tail of one text piece is lost
    assert short["images"] == long["images"] and short["meta"]["truncated_from"] == full
    assert long["conversations"][1]["value"].startswith(short["conversations"][1]["value"])


def test_truncate_never_cuts_an_image(tok):
    document = {"id": "d", "images": ["a.png", "b.png"], "conversations": [
        {"from": "gpt", "value": "first page <image> middle text <image> last words"}]}
    short = truncate_sample(tok, document, 50, 80)
    assert short["images"] == ["a.png"] and short["conversations"][0]["value"].count("<image>") == 1
    assert len(encode_sample(tok, short, 50, "plain")) <= 80
    assert truncate_sample(tok, caption("big", 1), 100, 60) is None  # the image alone is too long


def test_handle_overlong_counts_and_policies(tok):
    document = {"id": "two-images", "images": ["a.png", "b.png"],
                "conversations": [{"from": "gpt", "value": "intro <image>" + " the left lung" * 5 + " <image> the end"}]}
    batch = [caption("ok", 1), caption("long", 60), document]
    lengths = multimodal_lengths(tok, batch, 40)
    capacity = 90
    kept, new_lengths, report = handle_overlong(tok, batch, lengths, 40, capacity, "truncate")
    assert [s["id"] for s in kept] == ["ok", "long", "two-images"] and len(kept[2]["images"]) == 1
    assert report["overlong"] == 2 and report["truncated"] == 2 and report["dropped"] == 0
    assert report["truncated_ids"] == ["long", "two-images"]
    assert new_lengths.tolist() == [len(encode_sample(tok, s, 40, "plain")) for s in kept]
    assert new_lengths.max() <= capacity
    assert report["tokens_removed"] == int(lengths.sum() - new_lengths.sum())
    kept, new_lengths, report = handle_overlong(tok, batch, lengths, 40, capacity, "drop")
    assert [s["id"] for s in kept] == ["ok"] and report["dropped"] == 2 and report["truncated"] == 0
    assert report["dropped_ids"] == ["long", "two-images"]
    with pytest.raises(ParameterError, match="overlong"):
        handle_overlong(tok, batch, lengths, 40, capacity, "clip")
    assert np.array_equal(lengths, multimodal_lengths(tok, batch, 40))  # inputs untouched


def test_truncation_that_keeps_nothing_drops_and_counts(tok):
    batch = [caption("text", 2, images=0), caption("image", 1)]
    lengths = multimodal_lengths(tok, batch, 100)
    kept, _, report = handle_overlong(tok, batch, lengths, 100, 90, "truncate")
    assert [s["id"] for s in kept] == ["text"]
    assert report["dropped"] == 1 and report["dropped_ids"] == ["image"] and report["tokens_removed"] == lengths[1]
