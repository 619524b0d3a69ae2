"""Tokenizer: special tokens, chat template agreement, label masks, determinism."""
import pytest

from infimed_lib.data.tokenizer import (
    END_OF_TEXT, IGNORE_INDEX, IM_END, IM_START, IMAGE_TOKEN, encode_prompt, encode_sample,
    image_token_id, load_tokenizer, train_tokenizer,
)

TEXTS = [
    "The CT scan shows a large lesion in the left lung.", "Is there a lesion? yes", "no",
    "A red circle above a blue square.", "Which modality is this? A. CT B. MRI C. X-ray",
    "这是什么成像方式？ CT", "Histopathology slide with dense purple nuclei.",
] * 20

SAMPLE = {
    "id": "s1", "images": ["a.png"],
    "conversations": [
        {"from": "human", "value": "<image>\nIs there a lesion?"},
        {"from": "gpt", "value": "yes"},
        {"from": "human", "value": "Where is it?"},
        {"from": "gpt", "value": "left lung"},
    ],
}


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=400)


def test_special_tokens_are_single_ids(tok):
    for token in (END_OF_TEXT, IM_START, IM_END, IMAGE_TOKEN):
        ids = tok.encode(token, add_special_tokens=False)
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids[0]) == token


def test_chinese_roundtrip_without_unknowns(tok):
    text = "这是什么成像方式？ 磁共振"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_chat_encoding_matches_jinja_template(tok):
    enc = encode_sample(tok, SAMPLE, num_visual_tokens=5)
    messages = [{"role": "user" if t["from"] == "human" else "assistant",
                 "content": t["value"].replace("<image>", IMAGE_TOKEN * 5)} for t in SAMPLE["conversations"]]
    rendered = tok.apply_chat_template(messages, tokenize=False)
    assert enc.input_ids == tok.encode(rendered, add_special_tokens=False)


def test_labels_cover_only_assistant_text_and_im_end(tok):
    enc = encode_sample(tok, SAMPLE, num_visual_tokens=5)
    trained = [i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX]
    assert tok.decode(trained) == "yes" + IM_END + "left lung" + IM_END
    image_id = image_token_id(tok)
    assert enc.input_ids.count(image_id) == 5 and enc.num_images == 1
    assert all(label == IGNORE_INDEX for i, label in zip(enc.input_ids, enc.labels) if i == image_id)
    start, end = enc.image_spans[0]
    assert enc.input_ids[start:end] == [image_id] * 5


def test_plain_template_trains_caption_and_eos(tok):
    sample = {"id": "c", "images": ["x.png"],
              "conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "A red circle."}]}
    enc = encode_sample(tok, sample, num_visual_tokens=144, template="plain")
    assert len(enc) == 144 + len(tok.encode("A red circle.", add_special_tokens=False)) + 1
    trained = [i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX]
    assert tok.decode(trained) == "A red circle." + END_OF_TEXT


def test_marker_count_mismatch_is_an_error(tok):
    bad = dict(SAMPLE, images=[])
    with pytest.raises(ValueError, match="1 <image> markers but 0 images"):
        encode_sample(tok, bad, num_visual_tokens=4)


def test_generation_prompt_ends_with_assistant_header(tok):
    ids = encode_prompt(tok, "<image>\nIs there a lesion?", num_visual_tokens=3)
    rendered = tok.apply_chat_template([{"role": "user", "content": IMAGE_TOKEN * 3 + "\nIs there a lesion?"}],
                                       tokenize=False, add_generation_prompt=True)
    assert ids == tok.encode(rendered, add_special_tokens=False)


def test_training_is_deterministic_and_save_load_roundtrips(tmp_path):
    a = train_tokenizer(TEXTS, vocab_size=400, out_dir=tmp_path / "a")
    train_tokenizer(TEXTS, vocab_size=400, out_dir=tmp_path / "b")
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()
    loaded = load_tokenizer(tmp_path / "a")
    assert encode_sample(loaded, SAMPLE, 7).input_ids == encode_sample(a, SAMPLE, 7).input_ids


def test_load_tokenizer_missing_folder_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_tokenizer(tmp_path)
