"""Packed and padded rows give the same per-sample logits, loss and gradients as single samples.

The loss is the trainer's (`train.steps.token_loss_sum`, a sum over label tokens) on labels laid
out as the trainer lays them out: each packed sample's first label ignored (`train.batches`)."""
import pytest
import torch

from infimed_lib.data.tokenizer import IGNORE_INDEX, encode_sample, model_token_ids, train_tokenizer
from infimed_lib.model import build_model
from infimed_lib.train.steps import token_loss_sum

TEXTS = ["A chest X-ray with a small nodule in the right upper lobe.", "Is there a fracture? no",
         "Histology slide stained with H&E showing dense nuclei.", "MRI of the brain, axial view."] * 10
SMALL_LLM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, tie_word_embeddings=False)


def sample(i, images, text):
    return {"id": f"s{i}", "images": ["x.png"] * images,
            "conversations": [{"from": "human", "value": "<image>\n" * images + "Describe."},
                              {"from": "gpt", "value": text}]}


# An interleaved document starts with trained text: packing must not train the previous sample's
# last token to predict it.
DOCUMENT = {"id": "doc", "images": ["y.png"],
            "conversations": [{"from": "gpt", "value": "Findings: <image> a small nodule."}]}
SAMPLES = [sample(0, 1, "A chest X-ray with a nodule."), DOCUMENT, sample(1, 2, "Two MRI views of the brain."),
           sample(2, 1, "no")]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=360)


@pytest.fixture(scope="module")
def setup(tok):
    torch.manual_seed(0)
    pixels = [torch.randn(len(s["images"]), 3, 54, 54) for s in SAMPLES]
    return pixels


def make_model(tok, **overrides):
    model = build_model("tiny", token_ids=model_token_ids(tok), seed=3, text_config=SMALL_LLM,
                        num_visual_tokens=16, **overrides)
    return model.train()


def encoded(tok, template, num_visual_tokens=16):
    return [encode_sample(tok, s, num_visual_tokens, template=template) for s in SAMPLES]


def first_ignored(labels):
    """A sample's labels as the trainer packs them: its first label never trained (`train.batches`)."""
    return [IGNORE_INDEX] + list(labels[1:])


def single_runs(model, encs, pixels, with_grads=True):
    """Per-sample logits, summed loss and summed-loss gradients, one sample at a time."""
    logits, losses, grads = [], [], None
    for enc, px in zip(encs, pixels):
        model.zero_grad()
        with torch.set_grad_enabled(with_grads):
            out = model(torch.tensor([enc.input_ids]), px)
            loss = token_loss_sum(out.logits, torch.tensor([first_ignored(enc.labels)]))  # sums add up
        logits.append(out.logits[0].detach())
        losses.append(loss.detach())
        if with_grads:
            loss.backward()
            step = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
            grads = step if grads is None else {n: grads[n] + g for n, g in step.items()}
    return logits, torch.stack(losses).sum(), grads


@pytest.mark.parametrize("packed_attention", ["mask", "varlen"])
def test_packed_row_equals_samples_one_by_one(tok, setup, packed_attention):
    model = make_model(tok, packed_attention=packed_attention)
    encs = encoded(tok, "plain")
    lengths = [len(e) for e in encs]
    pad = 5  # a packed bin is right-padded to its capacity
    ids = sum((e.input_ids for e in encs), []) + [tok.pad_token_id] * pad
    labels = sum((first_ignored(e.labels) for e in encs), []) + [IGNORE_INDEX] * pad
    positions = sum((list(range(n)) for n in lengths), []) + list(range(pad))
    mask = [1] * sum(lengths) + [0] * pad
    ref_logits, ref_loss, ref_grads = single_runs(model, encs, setup)

    model.zero_grad()
    out = model(torch.tensor([ids]), torch.cat(setup), position_ids=torch.tensor([positions]),
                attention_mask=torch.tensor([mask]))
    loss = token_loss_sum(out.logits, torch.tensor([labels]))
    loss.backward()
    start = 0
    for n, ref in zip(lengths, ref_logits):
        torch.testing.assert_close(out.logits[0, start:start + n], ref, atol=2e-5, rtol=1e-4)
        start += n
    torch.testing.assert_close(loss, ref_loss, atol=1e-4, rtol=1e-5)
    for name, param in model.named_parameters():
        if param.grad is not None:
            torch.testing.assert_close(param.grad, ref_grads[name], atol=1e-5, rtol=1e-3, msg=name)
    assert not any(p.grad is not None for p in model.vision_tower.parameters())


def test_cross_sample_attention_would_change_logits(tok, setup):
    """The same row with positions running on (no packing) differs: the equivalence test can fail."""
    model = make_model(tok)
    encs = encoded(tok, "plain")
    ids = torch.tensor([sum((e.input_ids for e in encs), [])])
    with torch.no_grad():
        single = model(torch.tensor([encs[1].input_ids]), setup[1]).logits[0]
        joined = model(ids, torch.cat(setup)).logits[0, len(encs[0]):len(encs[0]) + len(encs[1])]
    assert (joined - single).abs().max() > 1e-3


def test_layouts_that_cannot_isolate_samples_are_refused(tok, setup):
    model = make_model(tok, packed_attention="varlen")
    encs = encoded(tok, "plain")
    ids = torch.tensor([encs[0].input_ids + encs[2].input_ids])
    positions = torch.tensor([list(range(len(encs[0]))) + list(range(len(encs[2])))])
    pixels = torch.cat([setup[0], setup[2]])
    with pytest.raises(ValueError, match="use_cache=False"):
        model(ids, pixels, position_ids=positions, use_cache=True)
    model.config.packed_attention = "mask"
    model.language_model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="no dense mask"):
        model(ids, pixels, position_ids=positions)


@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_batch_equals_samples_one_by_one(tok, setup, side):
    model = make_model(tok).eval()
    encs = encoded(tok, "chat")
    width = max(len(e) for e in encs)
    rows, masks, labels = [], [], []
    for enc in encs:
        fill = width - len(enc)
        pad_ids, pad_mask = [tok.pad_token_id] * fill, [0] * fill
        rows.append(enc.input_ids + pad_ids if side == "right" else pad_ids + enc.input_ids)
        masks.append([1] * len(enc) + pad_mask if side == "right" else pad_mask + [1] * len(enc))
        pad_labels = [IGNORE_INDEX] * fill
        own = first_ignored(enc.labels)
        labels.append(own + pad_labels if side == "right" else pad_labels + own)
    with torch.no_grad():
        out = model(torch.tensor(rows), torch.cat(setup), attention_mask=torch.tensor(masks))
        loss = token_loss_sum(out.logits, torch.tensor(labels))
    ref_logits, ref_loss, _ = single_runs(model, encs, setup, with_grads=False)
    for row, enc, ref in zip(range(len(encs)), encs, ref_logits):
        got = out.logits[row, :len(enc)] if side == "right" else out.logits[row, width - len(enc):]
        torch.testing.assert_close(got, ref, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(loss, ref_loss, atol=1e-4, rtol=1e-5)


def test_right_padded_batch_needs_no_dense_mask_but_left_padded_and_packed_do(tok, setup, monkeypatch):
    from infimed_lib.model import attention

    built = []
    real = attention.block_causal_mask
    monkeypatch.setattr(attention, "block_causal_mask", lambda *a: built.append(1) or real(*a))
    model = make_model(tok).eval()
    ids = [[5, 6, 7, 8], [5, 6, 0, 0]]
    for mask, dense in (([[1, 1, 1, 1], [1, 1, 0, 0]], False), ([[1, 1, 1, 1], [0, 0, 1, 1]], True)):
        built.clear()
        with torch.no_grad():
            model(torch.tensor(ids), attention_mask=torch.tensor(mask))
        assert bool(built) == dense
    built.clear()
    with torch.no_grad():  # two samples in one row: the mask is what keeps them apart
        model(torch.tensor([[5, 6, 7, 8]]), position_ids=torch.tensor([[0, 1, 0, 1]]))
    assert built
    assert attention.only_right_padding(torch.zeros(2, 4, dtype=torch.long), torch.tensor(mask)) is False


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_packed_row_on_gpu_in_bf16(tok, setup):
    model = make_model(tok, dtype="bfloat16").cuda()
    encs = encoded(tok, "plain")
    lengths = [len(e) for e in encs]
    ids = torch.tensor([sum((e.input_ids for e in encs), [])]).cuda()
    positions = torch.tensor([sum((list(range(n)) for n in lengths), [])]).cuda()
    packed = model(ids, torch.cat(setup).cuda(), position_ids=positions).logits[0].float()
    start = 0
    for enc, px, n in zip(encs, setup, lengths):
        single = model(torch.tensor([enc.input_ids]).cuda(), px.cuda()).logits[0].float()
        torch.testing.assert_close(packed[start:start + n], single, atol=5e-2, rtol=5e-2)
        start += n
