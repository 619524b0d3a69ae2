"""Batches: label masks (SFT: assistant turns only; CPT: caption/document text only; image
placeholders never), packed-row positions and padding, truncation, image order, and the packed
row's loss equal to its samples' losses."""
import pytest
import torch

from infimed_lib.data.tokenizer import END_OF_TEXT, IGNORE_INDEX, IM_END, image_token_id
from infimed_lib.train.batches import build_batch, encode_for_training, packed_row
from infimed_lib.train.steps import predicting_positions, token_loss_sum

from test_train_support import VISUAL, caption_samples, sft_samples, tiny_model, tiny_tokenizer
from test_train_support import single_thread  # noqa: F401  (autouse fixture: one torch thread)


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def trained_text(tok, batch, row=0):
    ids, labels = batch.input_ids[row], batch.labels[row]
    return tok.decode([int(i) for i, label in zip(ids, labels) if label != IGNORE_INDEX])


def test_sft_labels_cover_only_assistant_turns(tok):
    sample = {"id": "m", "images": ["a.png"], "conversations": [
        {"from": "human", "value": "<image>\nIs there a lesion?"}, {"from": "gpt", "value": "yes left lung"},
        {"from": "human", "value": "What modality is this?"}, {"from": "gpt", "value": "ct"}]}
    batch = build_batch([sample], tok, packed=False, num_visual_tokens=VISUAL, row_length=256,
                        pad_id=tok.pad_token_id)
    assert trained_text(tok, batch) == "yes left lung" + IM_END + "ct" + IM_END
    image = batch.input_ids == image_token_id(tok)
    assert int(image.sum()) == VISUAL and (batch.labels[image] == IGNORE_INDEX).all()


def test_cpt_labels_cover_only_caption_and_document_text(tok, tmp_path):
    caption = caption_samples(tmp_path, 1)[0]
    document = {"id": "d", "images": caption["images"] * 2, "conversations": [
        {"from": "gpt", "value": "red circle <image> lung nodule <image> small"}]}
    prompted = {"id": "p", "images": caption["images"], "conversations": [
        {"from": "human", "value": "<image>\nDescribe the image."}, {"from": "gpt", "value": "blue square"}]}
    bin_ = {"data": [caption, document, prompted],
            "lengths": [len(encode_for_training(tok, s, VISUAL, "plain").input_ids)
                        for s in (caption, document, prompted)]}
    batch = build_batch([bin_], tok, packed=True, num_visual_tokens=VISUAL, row_length=128,
                        pad_id=tok.pad_token_id)
    text = trained_text(tok, batch)
    answer = caption["conversations"][1]["value"]
    # A document's first token has no predecessor inside its sample, so it is never a target.
    first = tok.decode(tok.encode("red", add_special_tokens=False)[:1])
    expected = (answer + END_OF_TEXT + "red circle  lung nodule  small"[len(first):] + END_OF_TEXT
                + "blue square" + END_OF_TEXT)
    assert text.replace(" ", "") == expected.replace(" ", "")
    assert "Describe" not in text
    image = batch.input_ids[0] == image_token_id(tok)
    assert int(image.sum()) == 4 * VISUAL and (batch.labels[0][image] == IGNORE_INDEX).all()


def test_packed_row_restarts_positions_and_pads_as_its_own_segment(tok, tmp_path):
    samples = caption_samples(tmp_path, 3)
    lengths = [len(encode_for_training(tok, s, VISUAL, "plain").input_ids) for s in samples]
    row = packed_row(tok, {"data": samples, "lengths": lengths}, VISUAL, sum(lengths) + 5, tok.pad_token_id)
    expected = [p for n in lengths for p in range(n)] + list(range(5))
    assert row.position_ids == expected and row.real_tokens == sum(lengths)
    assert row.input_ids[-5:] == [tok.pad_token_id] * 5 and row.labels[-5:] == [IGNORE_INDEX] * 5
    assert row.images == [s["images"][0] for s in samples]
    with pytest.raises(ValueError, match="packed length"):
        packed_row(tok, {"data": samples, "lengths": [n + 1 for n in lengths]}, VISUAL, 999, 0)
    with pytest.raises(ValueError, match="row length"):
        packed_row(tok, {"data": samples, "lengths": lengths}, VISUAL, sum(lengths) - 1, 0)


def test_padded_batch_masks_padding_and_keeps_image_order(tok, tmp_path):
    samples = sft_samples(tmp_path, 3)
    batch = build_batch(samples, tok, packed=False, num_visual_tokens=VISUAL, row_length=256,
                        pad_id=tok.pad_token_id)
    lengths = batch.attention_mask.sum(1)
    assert batch.input_ids.shape[1] == int(lengths.max()) and batch.position_ids is None
    pads = batch.attention_mask == 0
    assert (batch.labels[pads] == IGNORE_INDEX).all() and (batch.input_ids[pads] == tok.pad_token_id).all()
    assert batch.images == [s["images"][0] for s in samples]
    assert batch.real_tokens == int(lengths.sum())


def test_truncation_never_cuts_an_image(tok):
    sample = {"id": "t", "images": ["a.png", "b.png"], "conversations": [
        {"from": "human", "value": "<image>\nlesion <image>"}, {"from": "gpt", "value": "left lung " * 20}]}
    full = encode_for_training(tok, sample, VISUAL, "chat")
    second_start = [i for i, t in enumerate(full.input_ids) if t == image_token_id(tok)][VISUAL]
    cut = encode_for_training(tok, sample, VISUAL, "chat", max_length=second_start + 2)
    assert cut.images == ["a.png"] and len(cut.input_ids) == second_start
    assert cut.input_ids.count(image_token_id(tok)) == VISUAL
    long = encode_for_training(tok, sample, VISUAL, "chat", max_length=len(full.input_ids) - 3)
    assert long.images == ["a.png", "b.png"] and len(long.input_ids) == len(full.input_ids) - 3


def test_packed_row_loss_equals_the_samples_one_by_one(tok, tmp_path):
    from infimed_lib.model import preprocess_images

    model = tiny_model(tok).eval()
    samples = caption_samples(tmp_path, 3)
    lengths = [len(encode_for_training(tok, s, VISUAL, "plain").input_ids) for s in samples]

    def loss_of(batch):
        from infimed_lib.train.batches import load_batch_images

        pixels = load_batch_images(batch, None, lambda images: preprocess_images(images, model.config))
        with torch.no_grad():
            return token_loss_sum(model(**batch.model_inputs(pixels)).logits, batch.labels), batch.label_tokens

    packed, packed_count = loss_of(build_batch([{"data": samples, "lengths": lengths}], tok, packed=True,
                                               num_visual_tokens=VISUAL, row_length=sum(lengths) + 3,
                                               pad_id=tok.pad_token_id))
    alone = [loss_of(build_batch([{"data": [s], "lengths": [n]}], tok, packed=True, num_visual_tokens=VISUAL,
                                 row_length=n, pad_id=tok.pad_token_id)) for s, n in zip(samples, lengths)]
    assert packed_count == sum(count for _, count in alone)
    assert float(packed) == pytest.approx(sum(float(loss) for loss, _ in alone), rel=1e-5)


def test_open_shards_refuses_changed_files_and_reads_every_bin(tok, tmp_path):
    from infimed_lib.packing import read_bins
    from infimed_lib.train.data_order import open_shards

    from test_train_support import write_shards

    folder = write_shards(tmp_path / "shards", tok, caption_samples(tmp_path / "img", 10), capacity=40)
    records, manifest = open_shards(folder, tok)
    assert [records[i] for i in range(len(records))] == list(read_bins(folder))
    shard = folder / manifest["shards"][0]["file"]
    shard.write_text(shard.read_text().replace("}\n", "} \n", 1))  # same bins, other bytes
    with pytest.raises(ValueError, match="sha256"):
        open_shards(folder, tok)
    assert len(open_shards(folder, tok, validate=False)[0]) == manifest["num_bins"]


def test_logits_at_predicting_positions_give_the_full_loss():
    torch.manual_seed(0)
    labels = torch.full((3, 9), IGNORE_INDEX)
    labels[0, 4:6], labels[1, 7:9], labels[2, 1] = 5, 6, 7  # targets at different places per row
    logits = torch.randn(3, 9, 11)
    kept = predicting_positions(labels)
    assert kept.tolist() == [0, 3, 4, 6, 7]  # a logit at p predicts the token at p + 1
    full = token_loss_sum(logits, labels)
    assert torch.allclose(token_loss_sum(logits[:, kept], labels, kept), full)
    assert not torch.allclose(token_loss_sum(logits[:, kept[1:]], labels, kept[1:]), full)
    none = torch.full((2, 4), IGNORE_INDEX)
    empty = predicting_positions(none)
    assert empty.numel() == 0 and token_loss_sum(logits[:2, empty], none, empty).item() == 0
